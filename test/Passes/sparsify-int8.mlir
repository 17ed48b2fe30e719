// Sparse updates on int8 layers (TTE's scheme). static: the channel norms
// are those of the real weights, (q - zero) * scale: conv1's per-channel
// scales 0.001 and 0.1 make input channel 1 the strongest (real norms
// 1.01, 100.0, 1.0, 1.0), although its integers tie with channel 0's
// (100 and 10 either way round). The saved input is gathered as bytes, the
// int8 weight gradient reads it, the update writes the selected slices of
// the int8 weight. dgsu: the importance reads the int8 input and weight
// with their quant types. tinyprop: the sparse gradients read the int8
// weight or input with theirs (a Linear layer's reshaped as bytes). An fp32
// master weight (--weight-update fp32-master) is refused.
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=static:0.25" | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=dgsu:0.25" | FileCheck %s --check-prefix=DGSU
// RUN: mcutrain-opt %s --mcutrain-derive-backward --mcutrain-sparsify="sparsity=tinyprop" | FileCheck %s --check-prefix=TP
// RUN: not mcutrain-opt %s --mcutrain-derive-backward=weight-update=fp32-master --mcutrain-sparsify="sparsity=static:0.5" 2>&1 | FileCheck %s --check-prefix=MASTER

// CHECK-LABEL: func.func @train_step
// CHECK-DAG: %[[FCIDX:.*]] = arith.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi32>
// CHECK-DAG: %[[CIDX:.*]] = arith.constant dense<1> : tensor<1xi32>
// CHECK: %[[XQ:.*]] = nn.quantize %arg0
// CHECK: %[[XSEL:.*]] = train.gather_channels %[[XQ]], %[[CIDX]] {axis = 1 : i64} : (tensor<1x4x3x3xi8>, tensor<1xi32>) -> tensor<1x1x3x3xi8>
// CHECK: %[[FSEL:.*]] = train.gather_channels %{{.*}}, %[[FCIDX]] {axis = 1 : i64} : (tensor<1x18xi8>, tensor<5xi32>) -> tensor<1x5xi8>
// CHECK: %[[FCG:.*]] = nn.qgemm_grad_b %{{.*}}, %[[FSEL]] {{.*}} -> tensor<3x5xf32>
// CHECK: %[[CG:.*]] = nn.qconv2d_grad_weight %{{.*}}, %[[XSEL]] {{.*}} : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xi8>) -> tensor<2x1x1x1xf32>
// CHECK: train.update @w1, %[[CG]] channels(%[[CIDX]] : tensor<1xi32>) <sgd, {{.*}}weight_type = !quant.uniform<i8:f32:0, {1.000000e-03,1.000000e-01}>} : tensor<2x1x1x1xf32>
// CHECK: train.update @b1, %{{.*}} <sgd, lr
// CHECK: train.update @w2, %[[FCG]] channels(%[[FCIDX]] : tensor<5xi32>) <sgd, {{.*}}weight_type = !quant.uniform<i8:f32, 1.000000e-03>} : tensor<3x5xf32>

// DGSU-LABEL: func.func @train_step
// DGSU: %[[SEL:.*]] = train.dgsu_select {age = @w1__dgsu_age{{.*}} : tensor<1xi32>
// DGSU: %[[XQ:.*]] = nn.quantize %arg0
// DGSU: train.gather_channels %[[XQ]], %[[SEL]] {axis = 1 : i64} : (tensor<1x4x3x3xi8>, tensor<1xi32>) -> tensor<1x1x3x3xi8>
// DGSU: train.dgsu_importance %[[XQ]], %{{.*}} {decay = 0.899999976 : f32, importance = @w1__dgsu_importance, input_type = !quant.uniform<u8:f32, 1.000000e-01:128>, weight_axis = 1 : i64, weight_type = !quant.uniform<i8:f32:0, {1.000000e-03,1.000000e-01}>} : tensor<1x4x3x3xi8>, tensor<2x4x1x1xi8>
// DGSU: train.update @w1, %{{.*}} channels(%[[SEL]] : tensor<1xi32>)

// TP-LABEL: func.func @train_step
// TP: %[[KEPT:.*]], %[[IDX:.*]], %[[COUNT:.*]] = train.topk_error %{{.*}} {depth = 0
// TP: %[[W2:.*]] = nn.reshape %{{.*}} {mcutrain.backward} : (tensor<3x18xi8>) -> tensor<3x18x1x1xi8>
// TP: train.sparse_conv2d_grad_input %{{.*}}, %[[W2]], %[[IDX]], %[[COUNT]] {{{.*}}quant_type = !quant.uniform<i8:f32, 1.000000e-03>{{.*}}} : (tensor<1x3x1x1xf32>, tensor<3x18x1x1xi8>
// TP: train.sparse_conv2d_grad_weight {{.*}}quant_type = !quant.uniform<u8:f32, 2.000000e-01:5>{{.*}} : (tensor<1x3x1x1xf32>, tensor<1x18x1x1xi8>
// TP: train.topk_error %{{.*}} {depth = 1
// TP: train.sparse_conv2d_grad_weight {{.*}}quant_type = !quant.uniform<u8:f32, 1.000000e-01:128>{{.*}} : (tensor<1x2x3x3xf32>, tensor<1x4x3x3xi8>

// MASTER: error: --sparsity selects the channels of int8 weights updated in place (--weight-update int8); '{{.*}}' is an fp32 master weight (--weight-update fp32-master)

module {
  ml_program.global private @w1(dense<[[[[0.1]], [[0.01]], [[0.01]], [[0.01]]], [[[1.0]], [[10.0]], [[1.0]], [[1.0]]]]> : tensor<2x4x1x1xf32>) : tensor<2x4x1x1xf32> {onnx.name = "conv1.weight"}
  ml_program.global private @b1(dense<0.0> : tensor<2xf32>) : tensor<2xf32> {onnx.name = "conv1.bias"}
  ml_program.global private @w2(dense<0.02> : tensor<3x18xf32>) : tensor<3x18xf32> {onnx.name = "fc.weight"}
  func.func @forward(%x: tensor<1x4x3x3xf32>) -> tensor<1x3xf32> {
    %w1 = ml_program.global_load @w1 : tensor<2x4x1x1xf32>
    %b1 = ml_program.global_load @b1 : tensor<2xf32>
    %w2 = ml_program.global_load @w2 : tensor<3x18xf32>
    %xq = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xi8>
    %w1q = nn.quantize %w1 {quant_type = !quant.uniform<i8:f32:0, {0.001,0.1}>} : (tensor<2x4x1x1xf32>) -> tensor<2x4x1x1xi8>
    %y = nn.qconv2d %xq, %w1q, %b1 {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.001,0.1}>} : (tensor<1x4x3x3xi8>, tensor<2x4x1x1xi8>, tensor<2xf32>) -> tensor<1x2x3x3xi8>
    %f = nn.reshape %y : (tensor<1x2x3x3xi8>) -> tensor<1x18xi8>
    %w2q = nn.quantize %w2 {quant_type = !quant.uniform<i8:f32, 0.001>} : (tensor<3x18xf32>) -> tensor<3x18xi8>
    %z = nn.qgemm %f, %w2q {input_type = !quant.uniform<u8:f32, 0.2:5>, output_type = !quant.uniform<u8:f32, 0.05:100>, trans_b = true, weight_type = !quant.uniform<i8:f32, 0.001>} : (tensor<1x18xi8>, tensor<3x18xi8>) -> tensor<1x3xi8>
    %o = nn.dequantize %z {quant_type = !quant.uniform<u8:f32, 0.05:100>} : (tensor<1x3xi8>) -> tensor<1x3xf32>
    return %o : tensor<1x3xf32>
  }
}
