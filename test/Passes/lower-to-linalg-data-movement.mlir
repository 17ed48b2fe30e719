// Slices with strides (a negative one reads backwards from the offset) and
// their gradient (each position tests whether it was read, branch-free),
// nn.broadcast_to (a broadcast map, scaled), nn.pow (powf; integers through
// double and truncated back), the exponent's gradient term (0 where the
// base is 0) and nn.cast.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK: #[[BMAP:.*]] = affine_map<(d0, d1, d2) -> (d1, 0)>

// CHECK-LABEL: func.func @slice_back
// CHECK: ^bb0(%[[I:.*]]: index, %[[J:.*]]: index):
// CHECK: %[[I2:.*]] = arith.muli %[[I]], %c2
// CHECK: %[[R:.*]] = arith.addi %[[I2]], %c1
// CHECK: %[[JN:.*]] = arith.muli %[[J]], %c-2
// CHECK: %[[C:.*]] = arith.addi %[[JN]], %c5
// CHECK: tensor.extract %arg0[%[[R]], %[[C]]]
func.func @slice_back(%x: tensor<4x6xf32>) -> tensor<2x3xf32> {
  %s = nn.slice %x {offsets = array<i64: 1, 5>, strides = array<i64: 2, -2>} : (tensor<4x6xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @slice_grad_back
// Rows: (i - 1) % 2 == 0, then (i - 1) / 2 < 2.
// CHECK: %[[R0:.*]] = arith.subi %{{.*}}, %c1_i32
// CHECK: arith.remsi %[[R0]], %c2_i32
// CHECK: %[[Q0:.*]] = arith.divsi %[[R0]]
// CHECK: arith.cmpi slt, %[[Q0]], %c2_i32
// Columns read backwards: the negated position less -5.
// CHECK: %[[NJ:.*]] = arith.subi %c0_i32{{.*}}, %{{.*}} : i32
// CHECK: %[[R1:.*]] = arith.subi %[[NJ]], %c-5_i32
// CHECK: arith.remsi %[[R1]], %c2_i32
// CHECK: %[[G:.*]] = tensor.extract %arg0
// CHECK: arith.select %{{.*}}, %[[G]], %cst
// CHECK: } : tensor<4x6xf32>
func.func @slice_grad_back(%d: tensor<2x3xf32>) -> tensor<4x6xf32> {
  %s = nn.slice_grad %d {offsets = array<i64: 1, 5>, strides = array<i64: 2, -2>} : (tensor<2x3xf32>) -> tensor<4x6xf32>
  return %s : tensor<4x6xf32>
}

// CHECK-LABEL: func.func @bcast
// CHECK: linalg.generic {indexing_maps = [#[[BMAP]], #{{.*}}]
// CHECK-SAME: ins(%arg0 : tensor<3x1xf32>)
// CHECK: arith.mulf %in, %cst
func.func @bcast(%x: tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  %s = nn.broadcast_to %x {scale = 0.5 : f32} : (tensor<3x1xf32>) -> tensor<2x3x4xf32>
  return %s : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @pow
// CHECK: math.powf %in, %in_0 : f32
func.func @pow(%x: tensor<2x3xf32>, %e: tensor<3xf32>) -> tensor<2x3xf32> {
  %s = nn.pow %x, %e : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @ipow
// CHECK: %[[B:.*]] = arith.sitofp %in : i32 to f64
// CHECK: %[[E:.*]] = arith.sitofp %in_0 : i32 to f64
// CHECK: %[[P:.*]] = math.powf %[[B]], %[[E]] : f64
// CHECK: arith.fptosi %[[P]] : f64 to i32
func.func @ipow(%x: tensor<3xi32>, %e: tensor<3xi32>) -> tensor<3xi32> {
  %s = nn.pow %x, %e : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  return %s : tensor<3xi32>
}

// CHECK-LABEL: func.func @pow_grad_exp
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[B:.*]]: f32, %[[E:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[P:.*]] = math.powf %[[B]], %[[E]]
// CHECK: %[[L:.*]] = math.log %[[B]]
// CHECK: %[[T:.*]] = arith.mulf %[[P]], %[[L]]
// CHECK: %[[Z:.*]] = arith.cmpf oeq, %[[B]]
// CHECK: %[[D:.*]] = arith.mulf %[[DY]], %[[T]]
// CHECK: arith.select %[[Z]], %{{.*}}, %[[D]]
func.func @pow_grad_exp(%d: tensor<2x3xf32>, %x: tensor<2x3xf32>, %e: tensor<3xf32>) -> tensor<2x3xf32> {
  %s = nn.pow_grad %d, %x, %e {wrt_exponent} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @cast
// CHECK: arith.uitofp %in : i8 to f32
func.func @cast(%x: tensor<3xi8>) -> tensor<3xf32> {
  %s = nn.cast %x {is_unsigned} : (tensor<3xi8>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}
