// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop" | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop2:0.2,0.8,0.25,0.1" | FileCheck %s --check-prefix=V2
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=combined:0.5" | FileCheck %s --check-prefix=COMB
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop:0.9,0.1,0.5" 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop:0.1,0.9" 2>&1 | FileCheck %s --check-prefix=FIELDS
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop3" 2>&1 | FileCheck %s --check-prefix=KIND
// RUN: sed 's/1x4x5x5/2x4x5x5/g; s/1x2x3x3/2x2x3x3/g; s/1x2x2x2/2x2x2x2/g; s/1x8xf32/2x8xf32/g; s/1x3xf32/2x3xf32/g' %s | not mcutrain-opt --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop" 2>&1 | FileCheck %s --check-prefix=BATCH

// State and statistics of the two sparse layers, zeroed by init().
// (The skip flag is derive-backward's: the non-finite loss guard.)
// CHECK-DAG: memref.global "private" @mcutrain_tinyprop_ymax : memref<2xf32> {mcutrain.zero_at_init}
// CHECK-DAG: memref.global "private" @mcutrain_tinyprop_ratio : memref<2xf32> {mcutrain.zero_at_init}
// CHECK-DAG: memref.global "private" @mcutrain_skip_step : memref<1xi32> {mcutrain.zero_at_init}
// CHECK-DAG: memref.global "private" @mcutrain_dynamic_macs : memref<1xi64> {mcutrain.zero_at_init}
// CHECK-LABEL: func.func @train_step
// The output layer (depth 0): 3 errors, kmax = round(3 x 0.9) = 3; as a 1x1
// convolution.
// CHECK: %[[SEED:.*]] = train.cross_entropy_loss_grad
// CHECK-NEXT: %[[KEPT:.*]], %[[IDX:.*]], %[[CNT:.*]] = train.topk_error %[[SEED]] {depth = 0 : i64, layer = 0 : i64, mcutrain.backward, s_max = 0.899999976 : f32, s_min = 1.000000e-01 : f32, zeta = 5.000000e-01 : f32} : tensor<1x3xf32> -> tensor<3xi32>, tensor<1xi32>
// CHECK: %[[DY:.*]] = nn.reshape %[[KEPT]] {{.*}} -> tensor<1x3x1x1xf32>
// CHECK: %[[W:.*]] = nn.reshape %fw {{.*}} -> tensor<3x8x1x1xf32>
// CHECK: train.sparse_conv2d_grad_input %[[DY]], %[[W]], %[[IDX]], %[[CNT]] {{.*}} -> tensor<1x8x1x1xf32>
// CHECK: train.sparse_conv2d_grad_weight %{{.*}}, %{{.*}}, %[[IDX]], %[[CNT]] {{.*}} -> tensor<3x8x1x1xf32>
// CHECK-NOT: nn.gemm {{.*}}mcutrain.backward
// The conv layer (depth 1): 18 errors, kmax = round(18 x 0.45) = 8; its
// input needs no gradient; the bias gradient sums the kept errors.
// CHECK: %[[CKEPT:.*]], %[[CIDX:.*]], %[[CCNT:.*]] = train.topk_error %{{.*}} {depth = 1 : i64, layer = 1 : i64, {{.*}}} : tensor<1x2x3x3xf32> -> tensor<8xi32>, tensor<1xi32>
// CHECK-DAG: train.sparse_conv2d_grad_weight %[[CKEPT]], %arg0, %[[CIDX]], %[[CCNT]] {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x2x3x3xf32>, tensor<1x4x5x5xf32>, tensor<8xi32>, tensor<1xi32>) -> tensor<2x4x1x1xf32>
// CHECK-DAG: nn.reduce_sum_to %[[CKEPT]]
// CHECK-NOT: nn.conv2d_grad

// TinyPropv2: only the output layer decides the skip (tau); kmax follows
// S_max zeta^depth: round(18 x 0.8 x 0.25) = 4.
// V2: train.topk_error %{{.*}} {depth = 0 : i64, {{.*}}tau = 1.000000e-01 : f32, zeta = 2.500000e-01 : f32} : tensor<1x3xf32> -> tensor<2xi32>
// V2: train.topk_error %{{.*}} {depth = 1 : i64, layer = 1 : i64, mcutrain.backward, s_max = 8.000000e-01 : f32, s_min = 2.000000e-01 : f32, zeta = 2.500000e-01 : f32} : tensor<1x2x3x3xf32> -> tensor<4xi32>

// Combined: the fc weight gradient loops over the kept errors and the
// DGSU-gathered half of its input channels.
// COMB: %[[SEL:.*]] = train.dgsu_select {{.*}} : tensor<4xi32>
// COMB: %[[X:.*]] = train.gather_channels %{{.*}}, %[[SEL]] {axis = 1 : i64} : (tensor<1x8xf32>, tensor<4xi32>) -> tensor<1x4xf32>
// COMB: train.topk_error {{.*}}tau = 5.000000e-02
// COMB: %[[X4:.*]] = nn.reshape %[[X]] {{.*}} -> tensor<1x4x1x1xf32>
// COMB: %[[GW:.*]] = train.sparse_conv2d_grad_weight %{{.*}}, %[[X4]], {{.*}} -> tensor<3x4x1x1xf32>
// COMB: %[[G:.*]] = nn.reshape %[[GW]] {{.*}} -> tensor<3x4xf32>
// COMB: train.update @fw, %[[G]] channels(%[[SEL]] : tensor<4xi32>)

// ORDER: tinyprop: need 0 <= SMIN <= SMAX <= 1, SMAX > 0
// FIELDS: tinyprop: expected SMIN,SMAX,ZETA
// KIND: expected tinyprop or tinyprop2
// BATCH: tinyprop selects errors per sample: compile with batch 1

module {
  ml_program.global private @cw(dense<[[[[1.0]], [[0.1]], [[2.0]], [[0.5]]], [[[1.0]], [[0.1]], [[2.0]], [[0.5]]]]> : tensor<2x4x1x1xf32>) : tensor<2x4x1x1xf32> {onnx.name = "conv.weight"}
  ml_program.global private @cb(dense<0.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "conv.bias"}
  ml_program.global private @fw(dense<0.05> : tensor<3x8xf32>) : tensor<3x8xf32> {onnx.name = "fc.weight"}
  func.func @forward(%x: tensor<1x4x5x5xf32>) -> tensor<1x3xf32> {
    %cw = ml_program.global_load @cw : tensor<2x4x1x1xf32>
    %cb = ml_program.global_load @cb : tensor<2xf32>
    %fw = ml_program.global_load @fw : tensor<3x8xf32>
    %c = nn.conv2d %x, %cw, %cb {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x5x5xf32>, tensor<2x4x1x1xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
    %p = nn.avg_pool2d %c {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x2x3x3xf32>) -> tensor<1x2x2x2xf32>
    %f = nn.reshape %p : (tensor<1x2x2x2xf32>) -> tensor<1x8xf32>
    %y = nn.gemm %f, %fw {trans_b = true} : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
    return %y : tensor<1x3xf32>
  }
}
