// Verifier errors of the TinyProp ops.
// RUN: mcutrain-opt %s -split-input-file -verify-diagnostics > /dev/null

func.func @batch(%e: tensor<2x4xf32>) {
  // expected-error @below {{selects per sample: the batch must be 1}}
  %kept, %idx, %n = train.topk_error %e {layer = 0, depth = 0, s_min = 0.1 : f32, s_max = 0.9 : f32, zeta = 0.5 : f32} : tensor<2x4xf32> -> tensor<2xi32>, tensor<1xi32>
  return
}

// -----

func.func @kmax(%e: tensor<1x4xf32>) {
  // expected-error @below {{kmax 5 outside [1, 4]}}
  %kept, %idx, %n = train.topk_error %e {layer = 0, depth = 0, s_min = 0.1 : f32, s_max = 0.9 : f32, zeta = 0.5 : f32} : tensor<1x4xf32> -> tensor<5xi32>, tensor<1xi32>
  return
}

// -----

func.func @count(%e: tensor<1x4x1x1xf32>, %x: tensor<1x2x1x1xf32>, %idx: tensor<2xi32>, %n: tensor<2xi32>) {
  // expected-error @below {{count holds one value}}
  %dw = train.sparse_conv2d_grad_weight %e, %x, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x4x1x1xf32>, tensor<1x2x1x1xf32>, tensor<2xi32>, tensor<2xi32>) -> tensor<4x2x1x1xf32>
  return
}
