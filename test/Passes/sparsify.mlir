// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:0.5" | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:conv.weight=0.25" | FileCheck %s --check-prefix=NAMED
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=dgsu:conv.weight=0.5" | FileCheck %s --check-prefix=DGSU
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=dgsu:conv*=0.5" | FileCheck %s --check-prefix=GLOB
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=dgsu:op:Conv=0.5" | FileCheck %s --check-prefix=GLOB
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:op:Gemm=1,op:Conv=0.5" | FileCheck %s --check-prefix=OPORDER
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:op:Relu=0.5" 2>&1 | FileCheck %s --check-prefix=OPKIND
// RUN: mcutrain-opt %s --mcutrain-derive-backward="trainable=fc.weight" --mcutrain-sparsify="sparsity=static:conv.weight=0.5,op:Conv=0.5" 2>&1 | FileCheck %s --check-prefix=FROZEN
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:*.bias=0.5" 2>&1 | FileCheck %s --check-prefix=GLOBBIAS
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:1.5" 2>&1 | FileCheck %s --check-prefix=RATIO
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:nothing*=0.5" 2>&1 | FileCheck %s --check-prefix=NOMATCH
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:conv.bias=0.5" 2>&1 | FileCheck %s --check-prefix=BIAS
// RUN: not mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=dense-ish" 2>&1 | FileCheck %s --check-prefix=KIND

// The conv weight has 4 input channels; their L2 norms rank 2 > 0 > 3 > 1,
// so ratio 0.5 keeps channels 0 and 2. The fc weight [3, 8] keeps 4 of 8
// (all equal norms: the lowest indices).
// CHECK-LABEL: func.func @train_step
// CHECK-DAG: %[[FCIDX:.*]] = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi32>
// CHECK-DAG: %[[CIDX:.*]] = arith.constant dense<[0, 2]> : tensor<2xi32>
// The saved feature: only the selected channels of the conv input, gathered
// where the input is (here: the step's argument).
// CHECK: train.gather_channels %arg0, %[[CIDX]] {axis = 1 : i64} : (tensor<1x4x5x5xf32>, tensor<2xi32>) -> tensor<1x2x5x5xf32>
// CHECK: %[[FCIN:.*]] = nn.reshape
// CHECK: %[[FCSEL:.*]] = train.gather_channels %[[FCIN]], %[[FCIDX]] {axis = 1 : i64} : (tensor<1x8xf32>, tensor<4xi32>) -> tensor<1x4xf32>
// The weight gradients cover the selected channels only (channel_axis 1,
// the default, is not printed).
// CHECK: %[[FCG:.*]] = nn.gemm %{{.*}}, %[[FCSEL]] {{.*}} -> tensor<3x4xf32>
// CHECK: %[[CG:.*]] = nn.conv2d_grad_weight {{.*}} -> tensor<2x2x1x1xf32>
// CHECK: train.update @cw, %[[CG]] channels(%[[CIDX]] : tensor<2xi32>)
// Biases stay dense.
// CHECK: train.update @cb, %{{.*}} <sgd, lr
// CHECK: train.update @fw, %[[FCG]] channels(%[[FCIDX]] : tensor<4xi32>)

// NAMED: arith.constant dense<2> : tensor<1xi32>
// NAMED: train.update @cw, %{{.*}} channels(
// NAMED: train.update @fw, %{{.*}} <sgd, lr

// Run-time selection: the controller's state as zero-initialised RAM globals, its choice
// at the top of the step, the importance from the forward input and weight.
// DGSU: memref.global "private" @cw__dgsu_age : memref<4xi16> {mcutrain.zero_at_init}
// DGSU: memref.global "private" @cw__dgsu_importance : memref<4xf32> {mcutrain.zero_at_init}
// DGSU: memref.global "private" @cw__dgsu_selection : memref<2xi32> {mcutrain.zero_at_init}
// DGSU: memref.global "private" @cw__dgsu_scratch : memref<4xi32> {mcutrain.zero_at_init}
// DGSU-LABEL: func.func @train_step
// DGSU: %[[SEL:.*]] = train.dgsu_select {age = @cw__dgsu_age, importance = @cw__dgsu_importance, ratio = 5.000000e-01 : f32, scratch = @cw__dgsu_scratch, selection = @cw__dgsu_selection} : tensor<2xi32>
// DGSU: train.gather_channels %arg0, %[[SEL]] {axis = 1 : i64}
// DGSU: train.dgsu_importance %arg0, %{{.*}} {decay = 0.899999976 : f32, importance = @cw__dgsu_importance, weight_axis = 1 : i64}
// DGSU: train.update @cw, %{{.*}} channels(%[[SEL]] : tensor<2xi32>)

// A glob skips the weights it cannot select (conv* also matches conv.bias),
// but must select at least one; op:Conv selects every convolution weight
// whatever its name (GLOB), op:Gemm every Gemm weight; the first matching
// entry decides (op:Gemm=1 first: the Gemm weight stays dense).
// GLOB: train.update @cw, %{{.*}} channels(
// GLOB: train.update @cb, %{{.*}} <sgd, lr
// GLOB: train.update @fw, %{{.*}} <sgd, lr
// OPORDER: train.update @cw, %{{.*}} channels(
// OPORDER: train.update @cb, %{{.*}} <sgd, lr
// OPORDER: train.update @fw, %{{.*}} <sgd, lr
// OPKIND: --sparsity: 'op:Relu' is not a layer kind (op:Conv, op:Gemm)
// A pattern matching only frozen weights (--trainable, or a trial of
// --update auto) is said, not refused.
// FROZEN: warning: --sparsity pattern 'conv.weight' selects nothing: the weights it matches are frozen
// FROZEN: warning: --sparsity pattern 'op:Conv' selects nothing: the weights it matches are frozen
// FROZEN: train.update @fw
// GLOBBIAS: --sparsity pattern '*.bias' matches no Conv (group 1) or Gemm weight

// RATIO: --sparsity: ratio '1.5' must be a number in (0, 1]
// NOMATCH: --sparsity pattern 'nothing*' matches no Conv (group 1) or Gemm weight
// BIAS: --sparsity cannot select channels of 'conv.bias' (its gradient is not that of a Conv with group 1 or a Gemm)
// KIND: --sparsity 'dense-ish' is not supported

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
