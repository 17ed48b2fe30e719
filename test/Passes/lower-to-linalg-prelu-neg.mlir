// nn.prelu and nn.prelu_grad_input are one linalg.generic each that reads the
// slope through a broadcast map (a [C, 1, 1] slope indexed by the channel
// only); nn.neg is negf on floats and 0 - x on integers.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[CHAN:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>
// CHECK-DAG: #[[ONE:.*]] = affine_map<(d0, d1, d2, d3) -> (0)>

// CHECK-LABEL: func.func @prelu
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[CHAN]], #[[ID]]]
// CHECK-SAME: ins(%arg0, %arg1 : tensor<1x3x2x2xf32>, tensor<3x1x1xf32>)
// CHECK: ^bb0(%[[X:.*]]: f32, %[[S:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[SX:.*]] = arith.mulf %[[S]], %[[X]]
// CHECK: %[[POS:.*]] = arith.cmpf ogt, %[[X]]
// CHECK: %[[R:.*]] = arith.select %[[POS]], %[[X]], %[[SX]]
// CHECK: linalg.yield %[[R]]
// CHECK-NOT: nn.prelu
func.func @prelu(%x: tensor<1x3x2x2xf32>, %s: tensor<3x1x1xf32>) -> tensor<1x3x2x2xf32> {
  %y = nn.prelu %x, %s : (tensor<1x3x2x2xf32>, tensor<3x1x1xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// One shared slope (PyTorch's default PReLU()): a [1] slope.
// CHECK-LABEL: func.func @prelu_grad_input
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ID]], #[[ONE]], #[[ID]]]
// CHECK-SAME: ins(%arg0, %arg1, %arg2 : tensor<1x3x2x2xf32>, tensor<1x3x2x2xf32>, tensor<1xf32>)
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[X:.*]]: f32, %[[S:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[SDY:.*]] = arith.mulf %[[S]], %[[DY]]
// CHECK: %[[POS:.*]] = arith.cmpf ogt, %[[X]]
// CHECK: %[[R:.*]] = arith.select %[[POS]], %[[DY]], %[[SDY]]
// CHECK: linalg.yield %[[R]]
func.func @prelu_grad_input(%dy: tensor<1x3x2x2xf32>, %x: tensor<1x3x2x2xf32>, %s: tensor<1xf32>) -> tensor<1x3x2x2xf32> {
  %dx = nn.prelu_grad_input %dy, %x, %s : (tensor<1x3x2x2xf32>, tensor<1x3x2x2xf32>, tensor<1xf32>) -> tensor<1x3x2x2xf32>
  return %dx : tensor<1x3x2x2xf32>
}

// CHECK-LABEL: func.func @neg_f32
// CHECK: arith.negf
// CHECK-LABEL: func.func @neg_i32
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK: arith.subi %[[ZERO]], %{{.*}} : i32
// CHECK-NOT: nn.neg
func.func @neg_f32(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = nn.neg %x : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
func.func @neg_i32(%x: tensor<2x3xi32>) -> tensor<2x3xi32> {
  %y = nn.neg %x : tensor<2x3xi32>
  return %y : tensor<2x3xi32>
}
