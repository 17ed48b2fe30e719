// derive-backward on an int8 model (TTE's scheme). The trainable weight read
// through one nn.quantize becomes an int8 global, read directly and updated
// in place with its quant type (weight_type; qas=off marks qas_off). The
// backward pass is float32 in real units: nn.qoutput_grad masks the output
// gradient by the layer's clamp [5, 255] (its ReLU at the zero point),
// nn.qconv2d_grad_input / _grad_weight read the int8 weight and input,
// a dequantize passes its gradient unchanged. With weight-update=fp32-master
// the weight stays float, quantized in the forward pass, and its gradient
// goes through nn.quantize_grad. last:1 counts the layer (not its quantize).
// RUN: mcutrain-opt %s --mcutrain-derive-backward | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward=qas=off | FileCheck %s --check-prefix=NOQAS
// RUN: mcutrain-opt %s --mcutrain-derive-backward=weight-update=fp32-master | FileCheck %s --check-prefix=MASTER
// RUN: mcutrain-opt %s --mcutrain-derive-backward=trainable=last:1 | FileCheck %s --check-prefix=LAST1
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=weight-update=fp16 2>&1 | FileCheck %s --check-prefix=BADWU
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=qas=maybe 2>&1 | FileCheck %s --check-prefix=BADQAS

module {
  ml_program.global private @w1(dense<0.1> : tensor<3x1x3x3xf32>) : tensor<3x1x3x3xf32> {onnx.name = "conv1.weight"}
  ml_program.global private @b1(dense<0.0> : tensor<3xf32>) : tensor<3xf32> {onnx.name = "conv1.bias"}
  ml_program.global private @w2(dense<0.02> : tensor<2x48xf32>) : tensor<2x48xf32> {onnx.name = "fc.weight"}
  func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x2xf32> {
    %w1 = ml_program.global_load @w1 : tensor<3x1x3x3xf32>
    %b1 = ml_program.global_load @b1 : tensor<3xf32>
    %w2 = ml_program.global_load @w2 : tensor<2x48xf32>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xi8>
    %w1q = nn.quantize %w1 {quant_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<3x1x3x3xf32>) -> tensor<3x1x3x3xi8>
    %y = nn.qconv2d %xq, %w1q, %b1 {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<1x1x4x4xi8>, tensor<3x1x3x3xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
    %f = nn.reshape %y : (tensor<1x3x4x4xi8>) -> tensor<1x48xi8>
    %w2q = nn.quantize %w2 {quant_type = !quant.uniform<i8:f32, 0.001>} : (tensor<2x48xf32>) -> tensor<2x48xi8>
    %z = nn.qgemm %f, %w2q {input_type = !quant.uniform<u8:f32, 0.2:5>, output_type = !quant.uniform<u8:f32, 0.05:100>, trans_b = true, weight_type = !quant.uniform<i8:f32, 0.001>} : (tensor<1x48xi8>, tensor<2x48xi8>) -> tensor<1x2xi8>
    %d = nn.dequantize %z {quant_type = !quant.uniform<u8:f32, 0.05:100>} : (tensor<1x2xi8>) -> tensor<1x2xf32>
    return %d : tensor<1x2xf32>
  }
}

// 0.1 / 0.01 = 10, 0.1 / 0.02 = 5, 0.1 / 0.03 = 3.33 -> 3 per channel.
// CHECK-DAG: ml_program.global private mutable @w1(dense<{{\[\[\[\[}}10, 10, 10], {{.*}}5, 5, 5]{{.*}}3, 3, 3]]]]> : tensor<3x1x3x3xi8>) : tensor<3x1x3x3xi8>
// CHECK-DAG: ml_program.global private mutable @w2(dense<20> : tensor<2x48xi8>) : tensor<2x48xi8>
// CHECK-DAG: ml_program.global private mutable @b1(dense<0.000000e+00> : tensor<3xf32>)
// CHECK-LABEL: func.func @train_step
// CHECK: %[[W1:.*]] = ml_program.global_load @w1 : tensor<3x1x3x3xi8>
// CHECK-NOT: nn.quantize %[[W1]]
// CHECK: %[[Y:.*]] = nn.qconv2d %{{.*}}, %[[W1]], %{{.*}}
// CHECK: %[[Z:.*]] = nn.qgemm
// CHECK: %[[DZ:.*]] = train.cross_entropy_loss_grad
// CHECK: %[[DZM:.*]] = nn.qoutput_grad %[[DZ]], %[[Z]] {mcutrain.backward, output_max = 255 : i64, output_min = 0 : i64
// CHECK: nn.qgemm_grad_a %[[DZM]], %{{.*}} {mcutrain.backward, trans_b = true, weight_type = !quant.uniform<i8:f32, 1.000000e-03>}
// CHECK: %[[GW2:.*]] = nn.qgemm_grad_b %[[DZM]], %{{.*}} {input_type = !quant.uniform<u8:f32, 2.000000e-01:5>, mcutrain.backward, trans_b = true}
// CHECK: %[[DY:.*]] = nn.qoutput_grad %{{.*}}, %[[Y]] {mcutrain.backward, output_max = 255 : i64, output_min = 5 : i64
// CHECK-NOT: nn.qconv2d_grad_input
// CHECK: %[[GW1:.*]] = nn.qconv2d_grad_weight %[[DY]], %{{.*}} {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 1.000000e-01:128>, mcutrain.backward, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
// CHECK: train.update @w1, %[[GW1]] {{.*}} {mcutrain.backward, weight_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>}
// CHECK: train.update @b1
// CHECK: train.update @w2, %[[GW2]] {{.*}} {mcutrain.backward, weight_type = !quant.uniform<i8:f32, 1.000000e-03>}

// NOQAS: train.update @w1, {{.*}} {mcutrain.backward, qas_off, weight_type =

// MASTER-DAG: ml_program.global private mutable @w1(dense<1.000000e-01> : tensor<3x1x3x3xf32>)
// MASTER-LABEL: func.func @train_step
// MASTER: %[[W1:.*]] = ml_program.global_load @w1 : tensor<3x1x3x3xf32>
// MASTER: %[[W1Q:.*]] = nn.quantize %[[W1]]
// MASTER: %[[GQ:.*]] = nn.qconv2d_grad_weight
// MASTER: %[[G:.*]] = nn.quantize_grad %[[GQ]], %[[W1]] {mcutrain.backward, quant_type = !quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>}
// MASTER: train.update @w1, %[[G]]
// MASTER-SAME: {mcutrain.backward} : tensor<3x1x3x3xf32>

// LAST1-DAG: ml_program.global private mutable @w2({{.*}}tensor<2x48xi8>
// LAST1-DAG: ml_program.global private @w1({{.*}}tensor<3x1x3x3xf32>
// LAST1-LABEL: func.func @train_step
// LAST1-NOT: nn.qconv2d_grad
// LAST1: train.update @w2
// LAST1-NOT: train.update

// BADWU: unsupported --weight-update 'fp16' (supported: int8, fp32-master)
// BADQAS: unsupported --qas 'maybe' (supported: on, off)
