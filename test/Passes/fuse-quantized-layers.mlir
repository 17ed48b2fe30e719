// fuse-quantized-layers: a QDQ convolution (input and weight through 8-bit
// dequantize, result quantized to 8 bits, through a ReLU) becomes
// nn.qconv2d on the integers, the ReLU a clamp at the output zero point;
// a Linear-style Gemm with a Clip(0, 6) becomes nn.qgemm clamped to
// [zero, quantize(6)] = [3, 3 + 6/0.05 = 123]; a Clip after a second
// dequantize/quantize of the layer's own type (torch's FX output) folds into
// the layer's clamp. Layers that do not fit stay float.
// RUN: mcutrain-opt %s --mcutrain-fuse-quantized-layers | FileCheck %s

// CHECK-LABEL: func.func @conv_relu
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x4x4xf32>, %[[W:.*]]: tensor<3x2x3x3xf32>, %[[B:.*]]: tensor<3xf32>)
// CHECK: %[[XQ:.*]] = nn.quantize %[[X]]
// CHECK: %[[WQ:.*]] = nn.quantize %[[W]]
// CHECK-NOT: nn.dequantize
// CHECK: %[[Y:.*]] = nn.qconv2d %[[XQ]], %[[WQ]], %[[B]] {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 1.000000e-01:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 2.000000e-01:5>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>} : (tensor<1x2x4x4xi8>, tensor<3x2x3x3xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
// CHECK-NOT: nn.relu
// CHECK: %[[D:.*]] = nn.dequantize %[[Y]]
// CHECK: return %[[D]]
func.func @conv_relu(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x3x3xf32>, %b: tensor<3xf32>) -> tensor<1x3x4x4xf32> {
  %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi8>
  %xd = nn.dequantize %xq {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32>
  %wq = nn.quantize %w {quant_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<3x2x3x3xf32>) -> tensor<3x2x3x3xi8>
  %wd = nn.dequantize %wq {quant_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<3x2x3x3xi8>) -> tensor<3x2x3x3xf32>
  %c = nn.conv2d %xd, %wd, %b {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
  %r = nn.relu %c : tensor<1x3x4x4xf32>
  %yq = nn.quantize %r {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %yd = nn.dequantize %yq {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x4x4xf32>
  return %yd : tensor<1x3x4x4xf32>
}

// CHECK-LABEL: func.func @gemm_clip
// CHECK: nn.qgemm %{{.*}}, %{{.*}}, %{{.*}} {input_type = {{.*}}, output_max = 123 : i64, output_min = 3 : i64, output_type = !quant.uniform<u8:f32, 5.000000e-02:3>, trans_b = true, weight_type = !quant.uniform<i8:f32, 1.000000e-02>} : (tensor<2x4xi8>, tensor<5x4xi8>, tensor<5xf32>) -> tensor<2x5xi8>
// CHECK-NOT: nn.gemm
// CHECK-NOT: nn.activation
func.func @gemm_clip(%a: tensor<2x4xf32>, %w: tensor<5x4xf32>, %b: tensor<5xf32>) -> tensor<2x5xi8> {
  %aq = nn.quantize %a {quant_type = !quant.uniform<i8:f32, 0.1:-3>} : (tensor<2x4xf32>) -> tensor<2x4xi8>
  %ad = nn.dequantize %aq {quant_type = !quant.uniform<i8:f32, 0.1:-3>} : (tensor<2x4xi8>) -> tensor<2x4xf32>
  %wq = nn.quantize %w {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<5x4xf32>) -> tensor<5x4xi8>
  %wd = nn.dequantize %wq {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<5x4xi8>) -> tensor<5x4xf32>
  %g = nn.gemm %ad, %wd, %b {trans_b = true} : (tensor<2x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<2x5xf32>
  %c = nn.activation clip %g {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<2x5xf32>
  %yq = nn.quantize %c {quant_type = !quant.uniform<u8:f32, 0.05:3>} : (tensor<2x5xf32>) -> tensor<2x5xi8>
  return %yq : tensor<2x5xi8>
}

// The layer's own output type quantized again after a Clip: the Clip is
// the layer's clamp, [5, 5 + 6/0.2 = 35].
// CHECK-LABEL: func.func @clip_after_layer
// CHECK: %[[Y:.*]] = nn.qconv2d {{.*}}output_max = 35 : i64, output_min = 5 : i64
// CHECK-NEXT: return %[[Y]]
func.func @clip_after_layer(%xq: tensor<1x2x4x4xi8>, %wq: tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8> {
  %xd = nn.dequantize %xq {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32>
  %wd = nn.dequantize %wq {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<3x2x1x1xi8>) -> tensor<3x2x1x1xf32>
  %c = nn.conv2d %xd, %wd {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %q1 = nn.quantize %c {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %d1 = nn.dequantize %q1 {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x4x4xf32>
  %r = nn.activation clip %d1 {alpha = 0.0 : f32, beta = 6.0 : f32} : tensor<1x3x4x4xf32>
  %q2 = nn.quantize %r {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  return %q2 : tensor<1x3x4x4xi8>
}

// Not fused: a per-axis input; a result read twice; a 16-bit weight; a Gemm
// with alpha != 1.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-3: nn.conv2d
// CHECK: nn.gemm
// CHECK-NOT: nn.qconv2d
// CHECK-NOT: nn.qgemm
func.func @kept(%xq: tensor<1x2x4x4xi8>, %wq: tensor<3x2x1x1xi8>, %w16: tensor<3x2x1x1xi16>, %aq: tensor<2x4xi8>, %gq: tensor<5x4xi8>) -> (tensor<1x3x4x4xi8>, tensor<1x3x4x4xi8>, tensor<1x3x4x4xf32>, tensor<1x3x4x4xi8>, tensor<2x5xi8>) {
  %xa = nn.dequantize %xq {quant_type = !quant.uniform<u8:f32:1, {0.1,0.2}>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32>
  %xd = nn.dequantize %xq {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32>
  %wd = nn.dequantize %wq {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<3x2x1x1xi8>) -> tensor<3x2x1x1xf32>
  %c1 = nn.conv2d %xa, %wd {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %q1 = nn.quantize %c1 {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %c2 = nn.conv2d %xd, %wd {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %q2 = nn.quantize %c2 {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %w16d = nn.dequantize %w16 {quant_type = !quant.uniform<i16:f32, 0.01>} : (tensor<3x2x1x1xi16>) -> tensor<3x2x1x1xf32>
  %c3 = nn.conv2d %xd, %w16d {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %q3 = nn.quantize %c3 {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %ad = nn.dequantize %aq {quant_type = !quant.uniform<i8:f32, 0.1:-3>} : (tensor<2x4xi8>) -> tensor<2x4xf32>
  %gd = nn.dequantize %gq {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<5x4xi8>) -> tensor<5x4xf32>
  %g = nn.gemm %ad, %gd {trans_b = true, alpha = 2.0 : f32} : (tensor<2x4xf32>, tensor<5x4xf32>) -> tensor<2x5xf32>
  %gq2 = nn.quantize %g {quant_type = !quant.uniform<u8:f32, 0.05:3>} : (tensor<2x5xf32>) -> tensor<2x5xi8>
  return %q1, %q2, %c2, %q3, %gq2 : tensor<1x3x4x4xi8>, tensor<1x3x4x4xi8>, tensor<1x3x4x4xf32>, tensor<1x3x4x4xi8>, tensor<2x5xi8>
}

// A quantize after a max pooling and a flatten moves before them (they run
// on the integers, the pooling unsigned); the quantize of the layer's own
// dequantized output then cancels, and the ReLU between becomes the
// layer's clamp.
// CHECK-LABEL: func.func @pool_flatten
// CHECK: %[[Y:.*]] = nn.qconv2d {{.*}}output_min = 5 : i64
// CHECK-NEXT: %[[P:.*]] = nn.max_pool2d %[[Y]] {is_unsigned, {{.*}}} : (tensor<1x3x4x4xi8>) -> tensor<1x3x2x2xi8>
// CHECK-NEXT: %[[F:.*]] = nn.reshape %[[P]] : (tensor<1x3x2x2xi8>) -> tensor<1x12xi8>
// CHECK-NEXT: return %[[F]]
func.func @pool_flatten(%xq: tensor<1x2x4x4xi8>, %wq: tensor<3x2x1x1xi8>) -> tensor<1x12xi8> {
  %xd = nn.dequantize %xq {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xf32>
  %wd = nn.dequantize %wq {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<3x2x1x1xi8>) -> tensor<3x2x1x1xf32>
  %c = nn.conv2d %xd, %wd {dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %q1 = nn.quantize %c {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xi8>
  %d1 = nn.dequantize %q1 {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x4x4xf32>
  %r = nn.relu %d1 : tensor<1x3x4x4xf32>
  %p = nn.max_pool2d %r {kernel = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x3x4x4xf32>) -> tensor<1x3x2x2xf32>
  %f = nn.reshape %p : (tensor<1x3x2x2xf32>) -> tensor<1x12xf32>
  %q2 = nn.quantize %f {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x12xf32>) -> tensor<1x12xi8>
  return %q2 : tensor<1x12xi8>
}
