// nn.max / nn.min: arith.maximumf / minimumf (NaN propagates, as ONNX's Max
// and Min), unsigned integers by maxui / minui; lower-to-emitc expands the
// float forms into compares and selects. An operand's gradient share is dy
// where it was picked, dy / 2 on a tie, 0 elsewhere.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-lowering | FileCheck %s --check-prefix=EMITC

// CHECK-LABEL: func.func @max
// CHECK: arith.maximumf %in, %in_0 : f32
// EMITC-LABEL: emitc.func @max
// EMITC-NOT: maximumf
// EMITC: cmp ne
// EMITC: conditional
func.func @max(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<2x3xf32> {
  %s = nn.max %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @umin
// CHECK: arith.minui %in, %in_0 : i8
func.func @umin(%x: tensor<3xi8>, %y: tensor<3xi8>) -> tensor<3xi8> {
  %s = nn.min %x, %y {is_unsigned} : (tensor<3xi8>, tensor<3xi8>) -> tensor<3xi8>
  return %s : tensor<3xi8>
}

// CHECK-LABEL: func.func @min_grad_rhs
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[X:.*]]: f32, %[[Y:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[WON:.*]] = arith.cmpf olt, %[[Y]], %[[X]]
// CHECK: %[[TIE:.*]] = arith.cmpf oeq, %[[Y]], %[[X]]
// CHECK: %[[HALF:.*]] = arith.mulf %[[DY]], %cst
// CHECK: %[[LOST:.*]] = arith.select %[[TIE]], %[[HALF]]
// CHECK: arith.select %[[WON]], %[[DY]], %[[LOST]]
func.func @min_grad_rhs(%d: tensor<2x3xf32>, %x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<2x3xf32> {
  %s = nn.select_grad %d, %x, %y {is_min, wrt_rhs} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}
