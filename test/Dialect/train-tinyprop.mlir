// RUN: mcutrain-opt %s -split-input-file | mcutrain-opt -split-input-file | FileCheck %s

// The TinyProp ops round-trip.
// CHECK-LABEL: func.func @selected
// CHECK: %{{.*}}, %[[IDX:.*]], %[[CNT:.*]] = train.topk_error %arg0 {depth = 1 : i64, layer = 1 : i64, s_max = 0.899999976 : f32, s_min = 1.000000e-01 : f32, zeta = 5.000000e-01 : f32} : tensor<1x4x3x3xf32> -> tensor<16xi32>, tensor<1xi32>
// CHECK: train.sparse_conv2d_grad_weight %{{.*}}, %arg1, %[[IDX]], %[[CNT]] {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x4x3x3xf32>, tensor<1x2x3x3xf32>, tensor<16xi32>, tensor<1xi32>) -> tensor<4x2x3x3xf32>
// CHECK: train.sparse_conv2d_grad_input %{{.*}}, %arg2, %[[IDX]], %[[CNT]] {{.*}} -> tensor<1x2x3x3xf32>
func.func @selected(%e: tensor<1x4x3x3xf32>, %x: tensor<1x2x3x3xf32>, %w: tensor<4x2x3x3xf32>) -> (tensor<4x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %kept, %idx, %n = train.topk_error %e {layer = 1, depth = 1, s_min = 0.1 : f32, s_max = 0.9 : f32, zeta = 0.5 : f32} : tensor<1x4x3x3xf32> -> tensor<16xi32>, tensor<1xi32>
  %dw = train.sparse_conv2d_grad_weight %kept, %x, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x4x3x3xf32>, tensor<1x2x3x3xf32>, tensor<16xi32>, tensor<1xi32>) -> tensor<4x2x3x3xf32>
  %dx = train.sparse_conv2d_grad_input %kept, %w, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x4x3x3xf32>, tensor<4x2x3x3xf32>, tensor<16xi32>, tensor<1xi32>) -> tensor<1x2x3x3xf32>
  return %dw, %dx : tensor<4x2x3x3xf32>, tensor<1x2x3x3xf32>
}
