// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// Pooling gradients gather, for every input position, the windows that hold
// it. Disjoint windows (stride >= extent, or one window per dimension as in
// a global pool) hold it at most once: its window and kernel position are a
// division and a remainder, with no try per kernel position.

// CHECK-LABEL: func.func @global_avg
// CHECK: tensor.generate
// CHECK: arith.divsi %{{.*}}, %c25_i32
// CHECK: arith.remsi %{{.*}}, %c25_i32
// CHECK: arith.divsi %{{.*}}, %c5_i32
// CHECK: arith.remsi %{{.*}}, %c5_i32
// CHECK: tensor.extract
// CHECK-NOT: tensor.extract
// CHECK: tensor.yield
func.func @global_avg(%dy: tensor<1x2x1x1xf32>) -> tensor<1x2x25x5xf32> {
  %dx = nn.avg_pool2d_grad %dy {kernel = array<i64: 25, 5>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x2x1x1xf32>) -> tensor<1x2x25x5xf32>
  return %dx : tensor<1x2x25x5xf32>
}

// Overlapping 3x3 windows, stride 2: all nine kernel positions are tried.
// CHECK-LABEL: func.func @overlapping_avg
// CHECK: tensor.generate
// CHECK-COUNT-9: tensor.extract
// CHECK: tensor.yield
func.func @overlapping_avg(%dy: tensor<1x1x3x3xf32>) -> tensor<1x1x7x7xf32> {
  %dx = nn.avg_pool2d_grad %dy {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x1x3x3xf32>) -> tensor<1x1x7x7xf32>
  return %dx : tensor<1x1x7x7xf32>
}

// 2x2 windows with stride 2: one window per position.
// CHECK-LABEL: func.func @disjoint_avg
// CHECK: tensor.generate
// CHECK: arith.divsi %{{.*}}, %c2_i32
// CHECK: tensor.extract
// CHECK-NOT: tensor.extract
// CHECK: tensor.yield
func.func @disjoint_avg(%dy: tensor<1x1x2x2xf32>) -> tensor<1x1x4x4xf32> {
  %dx = nn.avg_pool2d_grad %dy {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x1x2x2xf32>) -> tensor<1x1x4x4xf32>
  return %dx : tensor<1x1x4x4xf32>
}
