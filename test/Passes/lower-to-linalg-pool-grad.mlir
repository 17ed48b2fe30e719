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

// Max pooling's gradient: the first maximum of every window as a tensor of
// its own (a linalg.generic: as a tensor.generate, canonicalization folded
// each read of it into a copy of the window scan), then the gather over
// the input positions, a generic marked as the max_pool_grad kernel on x
// and dy (N C H W KH KW OH OW SH SW PT PL DH DW), which scatters from the
// windows.
// CHECK-LABEL: func.func @overlapping_max
// CHECK: %[[POS:.*]] = linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<1x2x4x4xf32>)
// CHECK-COUNT-9: arith.cmpf ogt
// CHECK: linalg.yield
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X:.*]], %[[DY:.*]] : tensor<1x2x9x9xf32>, tensor<1x2x4x4xf32>)
// CHECK-SAME: outs(%{{.*}} : tensor<1x2x9x9xf32>)
// CHECK-SAME: mcutrain.kernel = #train.kernel<max_pool_grad<1, 2, 9, 9, 3, 3, 4, 4, 2, 2, 1, 1, 1, 1>>
// CHECK-SAME: mcutrain.kernel_operands = array<i64: 0, 1, 2>
// CHECK-COUNT-9: tensor.extract %[[POS]]
// CHECK: linalg.yield
func.func @overlapping_max(%dy: tensor<1x2x4x4xf32>, %x: tensor<1x2x9x9xf32>) -> tensor<1x2x9x9xf32> {
  %dx = nn.max_pool2d_grad %dy, %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>} : (tensor<1x2x4x4xf32>, tensor<1x2x9x9xf32>) -> tensor<1x2x9x9xf32>
  return %dx : tensor<1x2x9x9xf32>
}
