// The adjoints of the data-movement and reduction ops torchvision models
// use: a (strided, backwards) slice's gradient is nn.slice_grad (zeros
// elsewhere), ReduceSum/Mean's (nn.reduce_sum_to, scale 1/count) is
// nn.broadcast_to with the same scale and back, nn.pow's are nn.pow_grad
// terms summed to each operand's shape, and an integer-to-float cast
// (nothing trains through it) needs no gradient.
// RUN: mcutrain-opt %s --mcutrain-derive-backward | FileCheck %s

module {
  ml_program.global private @w(dense<0.5> : tensor<1x4x1x1xf32>) : tensor<1x4x1x1xf32> {onnx.name = "w"}
  ml_program.global private @e(dense<1.5> : tensor<1x1x1x3xf32>) : tensor<1x1x1x3xf32> {onnx.name = "e"}
  ml_program.global private @k(dense<2> : tensor<1x2x4x3xi32>) : tensor<1x2x4x3xi32> {onnx.name = "k"}
  func.func @forward(%x: tensor<1x4x4x6xf32>) -> tensor<1x2xf32> {
    %w = ml_program.global_load @w : tensor<1x4x1x1xf32>
    %e = ml_program.global_load @e : tensor<1x1x1x3xf32>
    %k = ml_program.global_load @k : tensor<1x2x4x3xi32>
    %a = nn.mul %x, %w : (tensor<1x4x4x6xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x4x6xf32>
    %s = nn.slice %a {offsets = array<i64: 0, 1, 0, 5>, strides = array<i64: 1, 2, 1, -2>} : (tensor<1x4x4x6xf32>) -> tensor<1x2x4x3xf32>
    %p = nn.pow %s, %e : (tensor<1x2x4x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x4x3xf32>
    %kf = nn.cast %k : (tensor<1x2x4x3xi32>) -> tensor<1x2x4x3xf32>
    %q = nn.add %p, %kf : (tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32>
    %m = nn.reduce_sum_to %q {scale = 0.0833333358 : f32} : (tensor<1x2x4x3xf32>) -> tensor<1x2x1x1xf32>
    %b = nn.broadcast_to %m : (tensor<1x2x1x1xf32>) -> tensor<1x2x4x3xf32>
    %t = nn.mul %b, %q : (tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x4x3xf32>
    %r = nn.reduce_sum_to %t : (tensor<1x2x4x3xf32>) -> tensor<1x2x1x1xf32>
    %y = nn.reshape %r : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
    return %y : tensor<1x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// The last sum's gradient spreads over what it summed.
// CHECK: %[[DT:.*]] = nn.broadcast_to %{{.*}} {mcutrain.backward} : (tensor<1x2x1x1xf32>) -> tensor<1x2x4x3xf32>
// The broadcast's gradient sums back; the mean's spreads with its scale.
// CHECK: %[[DM:.*]] = nn.reduce_sum_to %{{.*}} {mcutrain.backward} : (tensor<1x2x4x3xf32>) -> tensor<1x2x1x1xf32>
// CHECK: nn.broadcast_to %[[DM]] {mcutrain.backward, scale = 0.0833333358 : f32} : (tensor<1x2x1x1xf32>) -> tensor<1x2x4x3xf32>
// Both operands of the power: the exponent's term summed to its shape.
// CHECK-DAG: %[[DB:.*]] = nn.pow_grad %[[DP:.*]], %{{.*}}, %{{.*}} {mcutrain.backward} : (tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x4x3xf32>
// CHECK-DAG: %[[DE:.*]] = nn.pow_grad %[[DP]], %{{.*}}, %{{.*}} {mcutrain.backward, wrt_exponent} : (tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x4x3xf32>
// CHECK-DAG: nn.reduce_sum_to %[[DE]] {mcutrain.backward} : (tensor<1x2x4x3xf32>) -> tensor<1x1x1x3xf32>
// The slice's gradient puts each element back where it was read.
// CHECK: nn.slice_grad %[[DB]] {mcutrain.backward, offsets = array<i64: 0, 1, 0, 5>, strides = array<i64: 1, 2, 1, -2>} : (tensor<1x2x4x3xf32>) -> tensor<1x4x4x6xf32>
// CHECK-NOT: nn.cast {{.*}}mcutrain.backward
// CHECK: return
