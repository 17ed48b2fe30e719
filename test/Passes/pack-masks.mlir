// pack-masks: a forward tensor whose every backward read is a predicate of
// it is read through bit-packed masks (packed right where it is made), so
// it dies with its last forward reader. Reads of its values (a weight
// gradient, sigmoid's gradient), overlapping pooling windows, per-axis
// quantization and --pack-masks=false leave it alone.
// RUN: mcutrain-opt %s --mcutrain-pack-masks | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-pack-masks=pack-masks=false | FileCheck %s --check-prefix=OFF
// RUN: mcutrain-opt %s --mcutrain-pack-masks --mcutrain-lower-to-linalg | FileCheck %s --check-prefix=LOWER

// ReLU then a disjoint 2x2 max pool: a bit per element (6272 / 32 words)
// and 2 bits of window position per output (1568 x 2 / 32 words), packed
// before the pool; relu and pool gradients read them, not %r.
// CHECK-LABEL: func.func @relu_pool
// CHECK: %[[R:.*]] = nn.relu %arg0
// CHECK-NEXT: %[[M:.*]] = nn.pack_mask %[[R]] {lo = 0.000000e+00 : f64} : (tensor<1x8x28x28xf32>) -> tensor<196xi32>
// CHECK-NEXT: %[[P:.*]] = nn.max_pool2d_mask %[[R]] {kernel = array<i64: 2, 2>, output_shape = array<i64: 1, 8, 14, 14>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x8x28x28xf32>) -> tensor<98xi32>
// CHECK-NEXT: nn.max_pool2d %[[R]]
// CHECK: %[[G:.*]] = nn.max_pool2d_masked_grad %arg1, %[[P]] {kernel = array<i64: 2, 2>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>}
// CHECK-NEXT: nn.masked_grad %[[G]], %[[M]] {mcutrain.backward} : (tensor<1x8x28x28xf32>, tensor<196xi32>) -> tensor<1x8x28x28xf32>
// CHECK-NOT: nn.relu_grad
// CHECK-NOT: nn.max_pool2d_grad
// CHECK: return
// OFF-LABEL: func.func @relu_pool
// OFF-NOT: mask
// OFF: nn.max_pool2d_grad
// OFF: nn.relu_grad
// LOWER-LABEL: func.func @relu_pool
// The packs: words in parallel, an or over their 32 bits / 16 fields.
// LOWER: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<32xi32>)
// LOWER: arith.cmpf ogt
// LOWER: arith.shli
// LOWER: arith.ori
// LOWER: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<16xi32>)
// LOWER: arith.fptosi
// LOWER: arith.shli
// LOWER: arith.ori
func.func @relu_pool(%x: tensor<1x8x28x28xf32>, %dy: tensor<1x8x14x14xf32>) -> tensor<1x8x28x28xf32> {
  %r = nn.relu %x : tensor<1x8x28x28xf32>
  %p = nn.max_pool2d %r {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x8x28x28xf32>) -> tensor<1x8x14x14xf32>
  %g = nn.max_pool2d_grad %dy, %r {kernel = array<i64: 2, 2>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x8x14x14xf32>, tensor<1x8x28x28xf32>) -> tensor<1x8x28x28xf32>
  %dx = nn.relu_grad %g, %r {mcutrain.backward} : tensor<1x8x28x28xf32>
  return %dx : tensor<1x8x28x28xf32>
}

// A trained layer's weight gradient reads its input whole: no mask (it
// would only add bits to a tensor kept anyway).
// CHECK-LABEL: func.func @read_whole
// CHECK-NOT: mask
// CHECK: nn.conv2d_grad_weight
// CHECK: nn.relu_grad
func.func @read_whole(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x1x1xf32>, %dy: tensor<1x2x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) {
  %r = nn.relu %x : tensor<1x2x4x4xf32>
  %y = nn.conv2d %r, %w {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %dw = nn.conv2d_grad_weight %dy, %r {dilations = array<i64: 1, 1>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<2x2x1x1xf32>
  %dx = nn.relu_grad %dy, %r {mcutrain.backward} : tensor<1x2x4x4xf32>
  return %dx, %dw : tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>
}

// ReLU6 (clip, from its output) and leaky ReLU (from its input, the off
// side scaled): 10 elements fit one word. Sigmoid's gradient reads its
// output's values (its input, the clip's output, it does not read).
// CHECK-LABEL: func.func @activations
// CHECK: %[[C:.*]] = nn.activation clip %arg0
// CHECK-NEXT: %[[CM:.*]] = nn.pack_mask %[[C]] {hi = 6.000000e+00 : f64, lo = 0.000000e+00 : f64} : (tensor<1x10xf32>) -> tensor<1xi32>
// CHECK: nn.masked_grad %arg1, %[[CM]] {mcutrain.backward}
// CHECK: %[[N:.*]] = nn.neg %arg0
// CHECK-NEXT: %[[LM:.*]] = nn.pack_mask %[[N]] {lo = 0.000000e+00 : f64}
// CHECK-NOT: pack_mask
// CHECK: nn.masked_grad %arg1, %[[LM]] {mcutrain.backward, off_slope = 1.000000e-01 : f32}
// CHECK: nn.activation_grad sigmoid
// LOWER-LABEL: func.func @activations
// LOWER: arith.cmpf ogt
// LOWER: arith.cmpf olt
// The masked gradient reads bit i % 32 of word i / 32.
// LOWER: arith.shrui
// LOWER: tensor.extract
// LOWER: arith.shrui
// LOWER: arith.cmpi ne
// LOWER: arith.select
func.func @activations(%x: tensor<1x10xf32>, %dy: tensor<1x10xf32>) -> (tensor<1x10xf32>, tensor<1x10xf32>, tensor<1x10xf32>) {
  %c = nn.activation clip %x {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<1x10xf32>
  %s = nn.activation sigmoid %c : tensor<1x10xf32>
  %d0 = nn.activation_grad clip %dy, %x, %c {alpha = 0.0 : f32, beta = 6.0 : f32, mcutrain.backward} : tensor<1x10xf32>
  %n = nn.neg %x : tensor<1x10xf32>
  %l = nn.activation leaky_relu %n {alpha = 0.1 : f32} : tensor<1x10xf32>
  %d1 = nn.activation_grad leaky_relu %dy, %n, %l {alpha = 0.1 : f32, mcutrain.backward} : tensor<1x10xf32>
  %d2 = nn.activation_grad sigmoid %dy, %c, %s {mcutrain.backward} : tensor<1x10xf32>
  return %d0, %d1, %d2 : tensor<1x10xf32>, tensor<1x10xf32>, tensor<1x10xf32>
}

// Overlapping windows (3x3, stride 2) route some inputs twice: the pool's
// gradient keeps reading %r, so the ReLU's mask would save nothing either.
// CHECK-LABEL: func.func @overlapping_pool
// CHECK-NOT: mask
// CHECK: return
func.func @overlapping_pool(%x: tensor<1x1x5x5xf32>, %dy: tensor<1x1x2x2xf32>) -> tensor<1x1x5x5xf32> {
  %r = nn.relu %x : tensor<1x1x5x5xf32>
  %p = nn.max_pool2d %r {kernel = array<i64: 3, 3>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x1x5x5xf32>) -> tensor<1x1x2x2xf32>
  %g = nn.max_pool2d_grad %dy, %r {kernel = array<i64: 3, 3>, mcutrain.backward, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x1x2x2xf32>, tensor<1x1x5x5xf32>) -> tensor<1x1x5x5xf32>
  %dx = nn.relu_grad %g, %r {mcutrain.backward} : tensor<1x1x5x5xf32>
  return %dx : tensor<1x1x5x5xf32>
}

// int8: an int8 layer's clamp (uint8 output in (3, 255)) and a per-tensor
// QuantizeLinear's saturation; 40 int8 values, 2 words each. A per-axis
// quantization's test stays a read of the tensor.
// CHECK-LABEL: func.func @int8
// CHECK: %[[Q:.*]] = nn.quantize %arg0
// CHECK-NEXT: %[[QM:.*]] = nn.pack_mask %[[Q]] {hi = 2.550000e+02 : f64, is_unsigned, lo = 3.000000e+00 : f64} : (tensor<1x40xi8>) -> tensor<2xi32>
// CHECK: nn.masked_grad %arg1, %[[QM]]
// CHECK: %[[F:.*]] = nn.neg %arg0
// CHECK-NEXT: %[[FM:.*]] = nn.pack_mask %[[F]] {quant_type = !quant.uniform<u8:f32, 5.000000e-01:3>} : (tensor<1x40xf32>) -> tensor<2xi32>
// CHECK: nn.masked_grad %arg1, %[[FM]]
// CHECK: nn.quantize_grad %arg1, %arg0
// LOWER-LABEL: func.func @int8
// LOWER: arith.extui
// LOWER: arith.cmpi sgt
// LOWER: arith.cmpi slt
// LOWER: math.roundeven
// LOWER: arith.cmpf oge
// LOWER: arith.cmpf ole
func.func @int8(%x: tensor<1x40xf32>, %dy: tensor<1x40xf32>) -> (tensor<1x40xf32>, tensor<1x40xf32>, tensor<1x40xf32>) {
  %q = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<1x40xf32>) -> tensor<1x40xi8>
  %d0 = nn.qoutput_grad %dy, %q {mcutrain.backward, output_max = 255 : i64, output_min = 3 : i64, output_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<1x40xf32>, tensor<1x40xi8>) -> tensor<1x40xf32>
  %f = nn.neg %x : tensor<1x40xf32>
  %q2 = nn.quantize %f {quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<1x40xf32>) -> tensor<1x40xi8>
  %d1 = nn.quantize_grad %dy, %f {mcutrain.backward, quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<1x40xf32>, tensor<1x40xf32>) -> tensor<1x40xf32>
  %d2 = nn.quantize_grad %dy, %x {mcutrain.backward, quant_type = !quant.uniform<i8:f32:1, {0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25}>} : (tensor<1x40xf32>, tensor<1x40xf32>) -> tensor<1x40xf32>
  return %d0, %d1, %d2 : tensor<1x40xf32>, tensor<1x40xf32>, tensor<1x40xf32>
}

// A signed int8 output whose fused ReLU bound is its zero point -128: the
// mask keeps the negative bound (it was read as 2^64 - 128, so every
// element's gradient was dropped; found by bench/difftest.py, seed 73).
// CHECK-LABEL: func.func @int8_signed
// CHECK: %[[Q:.*]] = nn.quantize %arg0
// CHECK-NEXT: nn.pack_mask %[[Q]] {hi = 1.270000e+02 : f64, lo = -1.280000e+02 : f64} : (tensor<1x40xi8>) -> tensor<2xi32>
func.func @int8_signed(%x: tensor<1x40xf32>, %dy: tensor<1x40xf32>) -> tensor<1x40xf32> {
  %q = nn.quantize %x {quant_type = !quant.uniform<i8:f32, 0.5:-128>} : (tensor<1x40xf32>) -> tensor<1x40xi8>
  %d = nn.qoutput_grad %dy, %q {mcutrain.backward, output_max = 127 : i64, output_min = -128 : i64, output_type = !quant.uniform<i8:f32, 0.5:-128>} : (tensor<1x40xf32>, tensor<1x40xi8>) -> tensor<1x40xf32>
  return %d : tensor<1x40xf32>
}
