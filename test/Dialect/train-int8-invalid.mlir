// Verifier errors of the train ops that read int8 tensors in sparse int8
// training: an int8 operand needs its !quant.uniform type, whose storage
// must be the operand's (signedness included); an input's is per tensor (a
// weight's per axis along its output channels, any dimension); a gather
// keeps the element type.
// RUN: mcutrain-opt %s -split-input-file -verify-diagnostics > /dev/null

func.func @untyped(%e: tensor<1x2x1x1xf32>, %x: tensor<1x3x1x1xi8>, %idx: tensor<2xi32>, %n: tensor<1xi32>) {
  // expected-error @below {{operand of element type 'i8' needs its quant_type}}
  %g = train.sparse_conv2d_grad_weight %e, %x, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x2x1x1xf32>, tensor<1x3x1x1xi8>, tensor<2xi32>, tensor<1xi32>) -> tensor<2x3x1x1xf32>
  return
}

// -----

func.func @per_axis_input(%e: tensor<1x2x1x1xf32>, %x: tensor<1x3x1x1xi8>, %idx: tensor<2xi32>, %n: tensor<1xi32>) {
  // expected-error @below {{quant_type must be per tensor}}
  %g = train.sparse_conv2d_grad_weight %e, %x, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, quant_type = !quant.uniform<i8:f32:1, {0.1,0.2,0.3}>} : (tensor<1x2x1x1xf32>, tensor<1x3x1x1xi8>, tensor<2xi32>, tensor<1xi32>) -> tensor<2x3x1x1xf32>
  return
}

// -----

func.func @storage(%e: tensor<1x2x1x1xf32>, %w: tensor<2x3x1x1xi8>, %idx: tensor<2xi32>, %n: tensor<1xi32>) {
  // expected-error @below {{quant_type must be an 8-bit !quant.uniform whose storage is the operand's element type}}
  %g = train.sparse_conv2d_grad_input %e, %w, %idx, %n {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, quant_type = !quant.uniform<i16:f32, 0.1>} : (tensor<1x2x1x1xf32>, tensor<2x3x1x1xi8>, tensor<2xi32>, tensor<1xi32>) -> tensor<1x3x1x1xf32>
  return
}

// -----

func.func @gather(%x: tensor<1x4xi8>, %idx: tensor<2xi32>) {
  // expected-error @below {{result element type must be the input's}}
  %g = train.gather_channels %x, %idx {axis = 1} : (tensor<1x4xi8>, tensor<2xi32>) -> tensor<1x2xf32>
  return
}
