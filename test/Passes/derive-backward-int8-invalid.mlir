// An int8 layer without an output type (ConvInteger: its result is the
// int32 sum) has no gradient: training through it is refused, naming why.
// RUN: not mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// CHECK: error: an int8 layer whose result is its int32 sum (ConvInteger, MatMulInteger) has no gradient here; freeze the layers before it with --trainable
// CHECK: error: cannot build the adjoint of this op
module {
  ml_program.global private @w(dense<0.1> : tensor<2x1x3x3xf32>) : tensor<2x1x3x3xf32> {onnx.name = "conv.weight"}
  func.func @forward(%x: tensor<1x1x3x3xf32>) -> tensor<1x2xf32> {
    %w = ml_program.global_load @w : tensor<2x1x3x3xf32>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x1x3x3xf32>) -> tensor<1x1x3x3xi8>
    %wq = nn.quantize %w {quant_type = !quant.uniform<i8:f32, 0.01>} : (tensor<2x1x3x3xf32>) -> tensor<2x1x3x3xi8>
    %acc = nn.qconv2d %xq, %wq {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<1x1x3x3xi8>, tensor<2x1x3x3xi8>) -> tensor<1x2x1x1xi32>
    %d = nn.dequantize %acc {quant_type = !quant.uniform<i32:f32, 0.001>} : (tensor<1x2x1x1xi32>) -> tensor<1x2x1x1xf32>
    %r = nn.reshape %d : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
    return %r : tensor<1x2xf32>
  }
}
