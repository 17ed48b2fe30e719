// The exp/log family of nn.activation: one linalg.generic each. Softplus is
// max(x, 0) + log(1 + exp(-|x|)) (finite for large x); exp's and 1/x's
// gradients read the forward output, the others the input; SELU scales
// ELU by gamma (beta).
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @softplus
// CHECK: ^bb0(%[[X:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[A:.*]] = math.absf %[[X]]
// CHECK: %[[N:.*]] = arith.negf %[[A]]
// CHECK: %[[E:.*]] = math.exp %[[N]]
// CHECK: %[[S:.*]] = arith.addf %{{.*}}, %[[E]]
// CHECK: %[[L:.*]] = math.log %[[S]]
// CHECK: %[[P:.*]] = arith.cmpf ogt, %[[X]]
// CHECK: %[[R:.*]] = arith.select %[[P]], %[[X]]
// CHECK: %[[Y:.*]] = arith.addf %[[R]], %[[L]]
// CHECK: linalg.yield %[[Y]]
func.func @softplus(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.activation softplus %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// CHECK-LABEL: func.func @exp_grad
// CHECK: ins(%arg0, %arg2 : tensor<4xf32>, tensor<4xf32>)
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[Y:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[D:.*]] = arith.mulf %[[DY]], %[[Y]]
// CHECK: linalg.yield %[[D]]
func.func @exp_grad(%dy: tensor<4xf32>, %x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %d = nn.activation_grad exp %dy, %x, %y : tensor<4xf32>
  return %d : tensor<4xf32>
}

// CHECK-LABEL: func.func @reciprocal_grad
// CHECK: ins(%arg0, %arg2 : tensor<4xf32>, tensor<4xf32>)
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[Y:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[YY:.*]] = arith.mulf %[[Y]], %[[Y]]
// CHECK: %[[D:.*]] = arith.mulf %[[DY]], %[[YY]]
// CHECK: %[[N:.*]] = arith.negf %[[D]]
// CHECK: linalg.yield %[[N]]
func.func @reciprocal_grad(%dy: tensor<4xf32>, %x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %d = nn.activation_grad reciprocal %dy, %x, %y : tensor<4xf32>
  return %d : tensor<4xf32>
}

// CHECK-LABEL: func.func @selu_grad
// CHECK: ins(%arg0, %arg1 : tensor<4xf32>, tensor<4xf32>)
// CHECK: ^bb0(%[[DY:.*]]: f32, %[[X:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[P:.*]] = arith.cmpf ogt, %[[X]]
// CHECK: %[[E:.*]] = math.exp %[[X]]
// CHECK: %[[AE:.*]] = arith.mulf %{{.*}}, %[[E]]
// CHECK: %[[NEG:.*]] = arith.mulf %[[DY]], %[[AE]]
// CHECK: %[[G:.*]] = arith.select %[[P]], %[[DY]], %[[NEG]]
// CHECK: %[[S:.*]] = arith.mulf %[[G]], %{{.*}}
// CHECK: linalg.yield %[[S]]
func.func @selu_grad(%dy: tensor<4xf32>, %x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %d = nn.activation_grad selu %dy, %x, %y {alpha = 1.67326319 : f32, beta = 1.05070102 : f32} : tensor<4xf32>
  return %d : tensor<4xf32>
}

// CHECK-LABEL: func.func @erf
// CHECK: math.erf
func.func @erf(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.activation erf %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
