// derive-backward on ONNX Runtime's QDQ layout: the weight is an int8
// initializer the int8 layer reads directly (its DequantizeLinear fused
// into the layer) and trains in place with the layer's weight type; the
// bias is int32 data read through a dequantize, which stays frozen with a
// warning (int32 bias training is not built), and naming it is an error
// that says why. fp32-master cannot keep a float copy of int8 data.
// RUN: mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=conv1.bias_q 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=weight-update=fp32-master 2>&1 | FileCheck %s --check-prefix=MASTER

// CHECK: warning: integer initializer 'conv1.bias_q' (read through DequantizeLinear) stays frozen
// CHECK: ml_program.global private mutable @w1(dense<3> : tensor<3x1x3x3xi8>)
// CHECK-NOT: mutable @b1
// CHECK-LABEL: func.func @train_step
// CHECK: %[[GW:.*]] = nn.qconv2d_grad_weight
// CHECK: train.update @w1, %[[GW]] {{.*}} {mcutrain.backward, weight_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>}
// CHECK-NOT: train.update @b1
// NAMED: error: --trainable names 'conv1.bias_q', which matches no trainable initializer of the model ('conv1.bias_q' is int32 data read through DequantizeLinear
// MASTER: error: --weight-update fp32-master keeps a float32 copy of float initializers; 'conv1.weight_int8' is int8 data: use --weight-update int8

module {
  ml_program.global private @w1(dense<3> : tensor<3x1x3x3xi8>) : tensor<3x1x3x3xi8> {onnx.name = "conv1.weight_int8"}
  ml_program.global private @b1(dense<7> : tensor<3xi32>) : tensor<3xi32> {onnx.name = "conv1.bias_q"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x48xf32> {
    %w1 = ml_program.global_load @w1 : tensor<3x1x3x3xi8>
    %b1q = ml_program.global_load @b1 : tensor<3xi32>
    %b1 = nn.dequantize %b1q {quant_type = !quant.uniform<i32:f32:0, {0.001,0.002,0.003}>} : (tensor<3xi32>) -> tensor<3xf32>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xi8>
    %y = nn.qconv2d %xq, %w1, %b1 {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<1x1x4x4xi8>, tensor<3x1x3x3xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
    %d = nn.dequantize %y {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x4x4xf32>
    %f = nn.reshape %d : (tensor<1x3x4x4xf32>) -> tensor<1x48xf32>
    return %f : tensor<1x48xf32>
  }
}
