// Integer data of int8 layers that cannot train: ConvInteger's weight (its
// layer's result is the int32 sum, which has no gradient here) and
// QLinearConv's int32 bias (read directly, folded with the requantization
// multiplier). `--trainable all` trains what can train (QLinearConv's int8
// weight, the float head) and leaves each of them frozen with a warning
// naming it, never silently; naming one is an error that says why (a
// trainable layer before the ConvInteger: derive-backward-int8-invalid).
// RUN: mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=cint.weight 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=qconv.bias 2>&1 | FileCheck %s --check-prefix=NAMED-BIAS

// CHECK-DAG: warning: integer initializer 'cint.weight' (the weight of a layer whose result is its int32 sum) stays frozen: float32 initializers train, and the 8-bit weights of int8 layers with a quantized output
// CHECK-DAG: warning: integer initializer 'qconv.bias' (an int8 layer's int32 bias, read directly) stays frozen
// CHECK-LABEL: func.func @train_step
// CHECK-NOT: train.update @wi
// CHECK-NOT: train.update @b
// CHECK: train.update @wq, {{.*}}weight_type = !quant.uniform<i8:f32, 1.000000e-02>
// CHECK: train.update @fc
// NAMED: error: --trainable names 'cint.weight', which matches no trainable initializer of the model ('cint.weight' is int8 data: {{.*}}ConvInteger and MatMulInteger weights
// NAMED-BIAS: error: --trainable names 'qconv.bias', which matches no trainable initializer of the model ('qconv.bias' is int32 data: {{.*}}QLinearConv's int32 bias

module {
  ml_program.global private @wi(dense<3> : tensor<2x1x3x3xi8>) : tensor<2x1x3x3xi8> {onnx.name = "cint.weight"}
  ml_program.global private @wq(dense<2> : tensor<2x2x1x1xi8>) : tensor<2x2x1x1xi8> {onnx.name = "qconv.weight"}
  ml_program.global private @b(dense<7> : tensor<2xi32>) : tensor<2xi32> {onnx.name = "qconv.bias"}
  ml_program.global private @fc(dense<0.1> : tensor<8x2xf32>) : tensor<8x2xf32> {onnx.name = "fc.weight"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x2xf32> {
    %wi = ml_program.global_load @wi : tensor<2x1x3x3xi8>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xi8>
    %acc = nn.qconv2d %xq, %wi {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 1.0>} : (tensor<1x1x4x4xi8>, tensor<2x1x3x3xi8>) -> tensor<1x2x2x2xi32>
    %d = nn.dequantize %acc {quant_type = !quant.uniform<i32:f32, 0.001>} : (tensor<1x2x2x2xi32>) -> tensor<1x2x2x2xf32>
    %q2 = nn.quantize %d {quant_type = !quant.uniform<u8:f32, 0.05:100>} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xi8>
    %wq = ml_program.global_load @wq : tensor<2x2x1x1xi8>
    %b = ml_program.global_load @b : tensor<2xi32>
    %y = nn.qconv2d %q2, %wq, %b {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.05:100>, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<1x2x2x2xi8>, tensor<2x2x1x1xi8>, tensor<2xi32>) -> tensor<1x2x2x2xi8>
    %yd = nn.dequantize %y {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x2x2x2xi8>) -> tensor<1x2x2x2xf32>
    %f = nn.reshape %yd : (tensor<1x2x2x2xf32>) -> tensor<1x8xf32>
    %fc = ml_program.global_load @fc : tensor<8x2xf32>
    %o = nn.gemm %f, %fc : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
    return %o : tensor<1x2xf32>
  }
}

