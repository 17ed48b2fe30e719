// derive-backward on ONNX Runtime's QDQ layout: the weight is an int8
// initializer the int8 layer reads directly (its DequantizeLinear fused
// into the layer) and trains in place with the layer's weight type; the
// bias is int32 data read through a dequantize, which trains in place in
// units of the dequantize's scale (its weight_type, 32-bit storage; the
// dequantize stays in the forward pass). Other integer data read through a
// dequantize (here an int8 offset added to the output) stays frozen with a
// warning, and naming it is an error that says why. fp32-master cannot
// keep a float copy of int8 data; weight decay does not apply to an int32
// bias.
// RUN: mcutrain-opt %s --mcutrain-derive-backward 2>&1 | FileCheck %s
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=trainable=offset_q 2>&1 | FileCheck %s --check-prefix=NAMED
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=weight-update=fp32-master 2>&1 | FileCheck %s --check-prefix=MASTER
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=weight-decay=0.01 2>&1 | FileCheck %s --check-prefix=DECAY

// CHECK: warning: integer initializer 'offset_q' (read through DequantizeLinear) stays frozen: float32 initializers train, and the 8-bit weights of int8 layers with a quantized output and the int32 biases they read through DequantizeLinear
// CHECK-DAG: ml_program.global private mutable @w1(dense<3> : tensor<3x1x3x3xi8>)
// CHECK-DAG: ml_program.global private mutable @b1(dense<7> : tensor<3xi32>)
// CHECK-DAG: ml_program.global private @off(
// CHECK-LABEL: func.func @train_step
// CHECK: %[[GW:.*]] = nn.qconv2d_grad_weight
// CHECK: train.update @w1, %[[GW]] {{.*}} {mcutrain.backward, weight_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>}
// CHECK: train.update @b1, {{.*}} {mcutrain.backward, weight_type = !quant.uniform<i32:f32:0, {1.000000e-03,2.000000e-03,3.000000e-03}>}
// CHECK-NOT: train.update @off
// NAMED: error: --trainable names 'offset_q', which matches no trainable initializer of the model ('offset_q' is int8 data: float32 initializers train
// MASTER: error: --weight-update fp32-master keeps a float32 copy of float initializers; 'conv1.weight_int8' is int8 data: use --weight-update int8
// DECAY: error: --weight-decay does not apply to the int32 bias 'conv1.bias_q'

module {
  ml_program.global private @w1(dense<3> : tensor<3x1x3x3xi8>) : tensor<3x1x3x3xi8> {onnx.name = "conv1.weight_int8"}
  ml_program.global private @b1(dense<7> : tensor<3xi32>) : tensor<3xi32> {onnx.name = "conv1.bias_q"}
  ml_program.global private @off(dense<2> : tensor<1x48xi8>) : tensor<1x48xi8> {onnx.name = "offset_q"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x48xf32> {
    %w1 = ml_program.global_load @w1 : tensor<3x1x3x3xi8>
    %b1q = ml_program.global_load @b1 : tensor<3xi32>
    %b1 = nn.dequantize %b1q {quant_type = !quant.uniform<i32:f32:0, {0.001,0.002,0.003}>} : (tensor<3xi32>) -> tensor<3xf32>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xi8>
    %y = nn.qconv2d %xq, %w1, %b1 {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<1x1x4x4xi8>, tensor<3x1x3x3xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
    %d = nn.dequantize %y {quant_type = !quant.uniform<u8:f32, 0.2:5>} : (tensor<1x3x4x4xi8>) -> tensor<1x3x4x4xf32>
    %f = nn.reshape %d : (tensor<1x3x4x4xf32>) -> tensor<1x48xf32>
    %oq = ml_program.global_load @off : tensor<1x48xi8>
    %o = nn.dequantize %oq {quant_type = !quant.uniform<i8:f32, 0.5>} : (tensor<1x48xi8>) -> tensor<1x48xf32>
    %s = nn.add %f, %o : (tensor<1x48xf32>, tensor<1x48xf32>) -> tensor<1x48xf32>
    return %s : tensor<1x48xf32>
  }
}
