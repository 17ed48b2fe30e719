// Verifier diagnostics of nn and train ops.
// RUN: mcutrain-opt %s -split-input-file -verify-diagnostics > /dev/null
func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+1 {{input has 3 channels but the weight expects 2}}
  %c = nn.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %c : tensor<1x4x6x6xf32>
}

// -----

func.func @conv_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{result shape does not match the convolution (1x4x6x6)}}
  %c = nn.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %c : tensor<1x4x8x8xf32>
}

// -----

func.func @gemm_inner(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{inner dimensions differ: 3 vs 4}}
  %y = nn.gemm %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @add_broadcast(%a: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{operand shapes do not broadcast}}
  %y = nn.add %a, %b : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @pool_pads(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  // expected-error @+1 {{pads must be smaller than the kernel}}
  %y = nn.max_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 2, 2, 2, 2>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  return %y : tensor<1x1x4x4xf32>
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{changes the number of elements}}
  %y = nn.reshape %x : (tensor<2x3xf32>) -> tensor<7xf32>
  return %y : tensor<7xf32>
}

// -----

func.func @reduce_to(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{result shape does not broadcast to the input}}
  %y = nn.reduce_sum_to %x : (tensor<2x3xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

func.func @loss_batch(%x: tensor<2x3xf32>, %l: tensor<3xi32>) -> tensor<f32> {
  // expected-error @+1 {{logits and labels disagree on the batch size}}
  %y = train.cross_entropy_loss %x, %l : (tensor<2x3xf32>, tensor<3xi32>) -> tensor<f32>
  return %y : tensor<f32>
}

// -----

ml_program.global private @frozen(dense<1.0> : tensor<2xf32>) : tensor<2xf32>
func.func @update_frozen(%g: tensor<2xf32>) {
  // expected-error @+1 {{parameter @frozen is frozen (immutable global)}}
  train.update @frozen, %g <sgd, lr = 0.1> : tensor<2xf32>
  return
}

// -----

ml_program.global private mutable @w(dense<1.0> : tensor<3x4xf32>) : tensor<3x4xf32>
func.func @update_outer_shape(%dy: tensor<1x3xf32>, %x: tensor<1x5xf32>) {
  // expected-error @+1 {{gradient shape differs from parameter @w}}
  train.update @w, %dy outer(%x : tensor<1x5xf32>) <sgd, lr = 0.1> : tensor<1x3xf32>
  return
}

// -----

ml_program.global private mutable @w(dense<1.0> : tensor<3x4xf32>) : tensor<3x4xf32>
func.func @update_outer_rows(%dy: tensor<2x3xf32>, %x: tensor<3x4xf32>) {
  // expected-error @+1 {{outer-product factors must be K x M and K x N (K >= 1)}}
  train.update @w, %dy outer(%x : tensor<3x4xf32>) <sgd, lr = 0.1> : tensor<2x3xf32>
  return
}

// -----

// A rank-K (K > 1) gradient is formed only by dense float steps.
ml_program.global private mutable @w(dense<1.0> : tensor<3x4xf32>) : tensor<3x4xf32>
func.func @update_low_rank_channels(%dy: tensor<2x2xf32>, %x: tensor<2x4xf32>, %c: tensor<2xi32>) {
  // expected-error @+1 {{a rank-2 gradient (K > 1) needs a dense float update}}
  train.update @w, %dy channels(%c : tensor<2xi32>) outer(%x : tensor<2x4xf32>) <sgd, lr = 0.1> {channel_axis = 0 : i64} : tensor<2x2xf32>
  return
}

// -----

ml_program.global private mutable @w(dense<1.0> : tensor<3x4xf32>) : tensor<3x4xf32>
func.func @update_low_rank_input_grad(%dy: tensor<2x3xf32>, %x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{input_grad needs a rank-1 (outer product) gradient}}
  %dx = train.update @w, %dy outer(%x : tensor<2x4xf32>) <sgd, lr = 0.1> : tensor<2x3xf32> -> tensor<2x4xf32>
  return %dx : tensor<2x4xf32>
}

// -----

// A channel-sparse outer product cannot yield the input gradient: grad P
// reads every channel of P, the outer factor only the selected ones.
ml_program.global private mutable @w(dense<1.0> : tensor<3x4xf32>) : tensor<3x4xf32>
func.func @update_input_grad_channels(%dy: tensor<1x3xf32>, %x: tensor<1x2xf32>, %c: tensor<2xi32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{input_grad and channels are exclusive}}
  %dx = train.update @w, %dy channels(%c : tensor<2xi32>) outer(%x : tensor<1x2xf32>) <sgd, lr = 0.1> : tensor<1x3xf32> -> tensor<1x2xf32>
  return %dx : tensor<1x2xf32>
}

// -----

func.func @prelu_slope(%x: tensor<1x3x2x2xf32>, %s: tensor<4xf32>) -> tensor<1x3x2x2xf32> {
  // expected-error @+1 {{slope does not broadcast to the input}}
  %y = nn.prelu %x, %s : (tensor<1x3x2x2xf32>, tensor<4xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// -----

// The slope may not grow the input: ONNX's broadcasting here is one-way.
func.func @prelu_slope_grows(%x: tensor<3x1x1xf32>, %s: tensor<1x3x2x2xf32>) -> tensor<3x1x1xf32> {
  // expected-error @+1 {{slope does not broadcast to the input}}
  %y = nn.prelu %x, %s : (tensor<3x1x1xf32>, tensor<1x3x2x2xf32>) -> tensor<3x1x1xf32>
  return %y : tensor<3x1x1xf32>
}

// -----

func.func @prelu_grad_types(%dy: tensor<1x3xf32>, %x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{output_grad must have the input's type}}
  %dx = nn.prelu_grad_input %dy, %x, %s : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %dx : tensor<2x3xf32>
}

// -----

func.func @neg_bool(%x: tensor<3xi1>) -> tensor<3xi1> {
  // expected-error @+1 {{does not take i1 (boolean) operands}}
  %y = nn.neg %x : tensor<3xi1>
  return %y : tensor<3xi1>
}

// -----

func.func @quantize_not_uniform(%x: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{quant_type must be a !quant.uniform type, got 'f32'}}
  %q = nn.quantize %x {quant_type = f32} : (tensor<4xf32>) -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @quantize_storage(%x: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{the integer tensor's element type must be the storage type 'i8'}}
  %q = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<4xf32>) -> tensor<4xi32>
  return %q : tensor<4xi32>
}

// -----

func.func @dequantize_axis_size(%q: tensor<2x3xi8>) -> tensor<2x3xf32> {
  // expected-error @+1 {{needs one scale per element of dimension 1 (3)}}
  %x = nn.dequantize %q {quant_type = !quant.uniform<i8:f32:1, {0.5,0.25}>} : (tensor<2x3xi8>) -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}

// -----

func.func @dequantize_axis_range(%q: tensor<2x3xi8>) -> tensor<2x3xf32> {
  // expected-error @+1 {{quantized dimension 2 is out of range}}
  %x = nn.dequantize %q {quant_type = !quant.uniform<i8:f32:2, {0.5,0.25}>} : (tensor<2x3xi8>) -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}

// -----

func.func @dequantize_shape(%q: tensor<2x3xi8>) -> tensor<3x2xf32> {
  // expected-error @+1 {{input and result shapes differ}}
  %x = nn.dequantize %q {quant_type = !quant.uniform<i8:f32, 0.5>} : (tensor<2x3xi8>) -> tensor<3x2xf32>
  return %x : tensor<3x2xf32>
}

// -----

func.func @qconv_weight_axis(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8> {
  // expected-error @+1 {{a per-axis weight_type must quantize the output channel dimension 0}}
  %y = nn.qconv2d %x, %w {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:1, {0.1,0.2}>} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8>
  return %y : tensor<1x3x4x4xi8>
}

// -----

func.func @qconv_float_bias_i32(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x1x1xi8>, %b: tensor<3xf32>) -> tensor<1x3x4x4xi32> {
  // expected-error @+1 {{a float bias needs an output_type}}
  %y = nn.qconv2d %x, %w, %b {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.1>} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi32>
  return %y : tensor<1x3x4x4xi32>
}

// -----

func.func @qconv_clamp(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8> {
  // expected-error @+1 {{output_min/output_max must lie in the output range}}
  %y = nn.qconv2d %x, %w {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = -1 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.1>} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8>
  return %y : tensor<1x3x4x4xi8>
}

// -----

func.func @qgemm_i8_without_output_type(%a: tensor<2x4xi8>, %b: tensor<4x5xi8>) -> tensor<2x5xi8> {
  // expected-error @+1 {{without output_type the result is the int32 accumulator, unclamped}}
  %y = nn.qgemm %a, %b {input_type = !quant.uniform<u8:f32, 0.1:3>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<2x4xi8>, tensor<4x5xi8>) -> tensor<2x5xi8>
  return %y : tensor<2x5xi8>
}

// -----

func.func @qgemm_input_per_axis(%a: tensor<2x4xi8>, %b: tensor<4x5xi8>) -> tensor<2x5xi32> {
  // expected-error @+1 {{input_type must be a per-tensor 8-bit !quant.uniform of f32}}
  %y = nn.qgemm %a, %b {input_type = !quant.uniform<u8:f32:1, {0.1,0.1,0.1,0.1}>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<2x4xi8>, tensor<4x5xi8>) -> tensor<2x5xi32>
  return %y : tensor<2x5xi32>
}

// -----

// Backwards from offset 1 by 2, three elements would reach index -3.
func.func @slice_backwards_out(%x: tensor<6xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{slice exceeds the input}}
  %s = nn.slice %x {offsets = array<i64: 1>, strides = array<i64: -2>} : (tensor<6xf32>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}

// -----

func.func @slice_zero_stride(%x: tensor<6xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{strides must not be 0}}
  %s = nn.slice %x {offsets = array<i64: 1>, strides = array<i64: 0>} : (tensor<6xf32>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}

// -----

func.func @broadcast_to_bad(%x: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{input shape does not broadcast to the result}}
  %s = nn.broadcast_to %x : (tensor<3xf32>) -> tensor<2x4xf32>
  return %s : tensor<2x4xf32>
}

// -----

func.func @cast_bool(%x: tensor<3xi1>) -> tensor<3xf32> {
  // expected-error @+1 {{casts between float32 and a non-boolean integer type only}}
  %s = nn.cast %x : (tensor<3xi1>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}

// -----

func.func @cast_same(%x: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{casts between float32 and a non-boolean integer type only}}
  %s = nn.cast %x : (tensor<3xf32>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}

// -----

func.func @gather_axis(%t: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<3x4xf32> {
  // expected-error @+1 {{axis 2 is not a dimension of 'tensor<10x4xf32>'}}
  %y = nn.gather %t, %i {axis = 2 : i64} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @gather_shape(%t: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<4x3xf32> {
  // expected-error @+1 {{the gathered shape must be data's with the indices' shape in place of the axis}}
  %y = nn.gather %t, %i {axis = 0 : i64} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

func.func @gather_grad_shape(%dy: tensor<3x4xf32>, %i: tensor<3xi32>) -> tensor<10x5xf32> {
  // expected-error @+1 {{the gathered shape must be data's with the indices' shape in place of the axis}}
  %g = nn.gather_grad %dy, %i {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3xi32>) -> tensor<10x5xf32>
  return %g : tensor<10x5xf32>
}

// -----

func.func @row_indices_count(%i: tensor<2x3xi64>) -> tensor<5xi32> {
  // expected-error @+1 {{one row per index}}
  %r = nn.row_indices %i {extent = 10 : i64} : (tensor<2x3xi64>) -> tensor<5xi32>
  return %r : tensor<5xi32>
}
