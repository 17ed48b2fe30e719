// RUN: mcutrain-opt %s | mcutrain-opt | FileCheck %s

// CHECK-LABEL: func.func @roundtrip
func.func @roundtrip(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %l: tensor<1xi32>) -> tensor<f32> {
  // CHECK: nn.conv2d %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
  %c = nn.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  // CHECK: nn.relu
  %r = nn.relu %c : tensor<1x4x8x8xf32>
  // CHECK: nn.max_pool2d
  %p = nn.max_pool2d %r {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  // CHECK: nn.avg_pool2d
  %a = nn.avg_pool2d %p {kernel = array<i64: 4, 4>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x1x1xf32>
  // CHECK: nn.reshape
  %f = nn.reshape %a : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
  // CHECK: nn.add
  %s = nn.add %f, %b : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  // CHECK: train.cross_entropy_loss
  %loss = train.cross_entropy_loss %s, %l : (tensor<1x4xf32>, tensor<1xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
