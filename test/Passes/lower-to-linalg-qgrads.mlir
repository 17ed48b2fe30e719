// The float32 gradients of the int8 layers: lower-to-linalg writes each as
// an output-stationary linalg.generic reading the int8 operands, marked for
// the kernels of mcutrain_int8_kernels.h (geometry N C H W F CG KH KW OH OW
// SH SW PT PL DH DW, then the input's signedness and zero point; the scratch
// is one padded float plane) when they can read the weight (signed, zero
// points 0); use-kernels turns the marks into calls with the input scale as
// a float argument.
// RUN: mcutrain-opt %s --split-input-file --mcutrain-lower-to-linalg | FileCheck %s
// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},func.func(mcutrain-use-kernels))' | FileCheck %s --check-prefix=CALL
// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},func.func(mcutrain-use-kernels{kernels=false}))' | FileCheck %s --check-prefix=LOOPS

// CHECK-LABEL: func.func @grad_weight
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<1x4x6x6xf32>, tensor<1x2x12x12xi8>) outs(%{{.*}} : tensor<4x2x3x3xf32>) attrs = {mcutrain.kernel = #train.kernel<qconv2d_grad_weight<1, 2, 12, 12, 4, 2, 3, 3, 6, 6, 2, 2, 1, 1, 1, 1, 1, 128>>, mcutrain.kernel_operands = array<i64: 0, 1, 2>, mcutrain.kernel_scalars = array<f32: 1.000000e-01>, mcutrain.kernel_scratch = 676 : i64}
// CHECK: tensor.extract %arg1
// CHECK: arith.uitofp
// CALL-LABEL: func.func @grad_weight
// CALL: train.runtime_call #train.kernel<qconv2d_grad_weight<1, 2, 12, 12, 4, 2, 3, 3, 6, 6, 2, 2, 1, 1, 1, 1, 1, 128>>(%arg0, %arg1, %{{.*}}, %{{.*}}, %{{.*}}) : memref<1x4x6x6xf32>, memref<1x2x12x12xi8>, memref<4x2x3x3xf32>, f32, memref<676xi8>
// LOOPS-LABEL: func.func @grad_weight
// LOOPS-NOT: train.runtime_call
// LOOPS: linalg.generic
func.func @grad_weight(%dy: tensor<1x4x6x6xf32>, %x: tensor<1x2x12x12xi8>) -> tensor<4x2x3x3xf32> {
  %dw = nn.qconv2d_grad_weight %dy, %x {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x4x6x6xf32>, tensor<1x2x12x12xi8>) -> tensor<4x2x3x3xf32>
  return %dw : tensor<4x2x3x3xf32>
}

// -----

// A depthwise layer's input gradient: CG 1, the per-channel scales a
// constant vector the kernel reads.
// CHECK-LABEL: func.func @grad_input_depthwise
// CHECK: %[[SC:.*]] = arith.constant dense<[0.00999999977, 2.000000e-02, 3.000000e-02]> : tensor<3xf32>
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1, %[[SC]] : tensor<1x3x4x4xf32>, tensor<3x1x3x3xi8>, tensor<3xf32>) outs(%{{.*}} : tensor<1x3x4x4xf32>) attrs = {mcutrain.kernel = #train.kernel<qconv2d_grad_input<1, 3, 4, 4, 3, 1, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3>, mcutrain.kernel_scratch = 196 : i64}
// CALL-LABEL: func.func @grad_input_depthwise
// CALL: train.runtime_call #train.kernel<qconv2d_grad_input<1, 3, 4, 4, 3, 1, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1>>(%arg0, %arg1, %{{.*}}, %{{.*}}, %{{.*}}) : memref<1x3x4x4xf32>, memref<3x1x3x3xi8>, memref<3xf32>, memref<1x3x4x4xf32>, memref<196xi8>
func.func @grad_input_depthwise(%dy: tensor<1x3x4x4xf32>, %w: tensor<3x1x3x3xi8>) -> tensor<1x3x4x4xf32> {
  %dx = nn.qconv2d_grad_input %dy, %w {dilations = array<i64: 1, 1>, group = 3 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<1x3x4x4xf32>, tensor<3x1x3x3xi8>) -> tensor<1x3x4x4xf32>
  return %dx : tensor<1x3x4x4xf32>
}

// -----

// A weight with a nonzero zero point keeps the loops.
// CHECK-LABEL: func.func @grad_input_asymmetric
// CHECK-NOT: mcutrain.kernel
// CHECK: return
func.func @grad_input_asymmetric(%dy: tensor<1x2x4x4xf32>, %w: tensor<2x3x3x3xi8>) -> tensor<1x3x4x4xf32> {
  %dx = nn.qconv2d_grad_input %dy, %w {dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.01:3>} : (tensor<1x2x4x4xf32>, tensor<2x3x3x3xi8>) -> tensor<1x3x4x4xf32>
  return %dx : tensor<1x3x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @gemm_grad_a
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1, %{{.*}} : tensor<1x2xf32>, tensor<2x48xi8>, tensor<2xf32>) outs(%{{.*}} : tensor<1x48xf32>) attrs = {mcutrain.kernel = #train.kernel<qgemm_grad_a<1, 2, 48, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3>}
// CALL-LABEL: func.func @gemm_grad_a
// CALL: train.runtime_call #train.kernel<qgemm_grad_a<1, 2, 48, 1>>(%arg0, %arg1, %{{.*}}, %{{.*}}) : memref<1x2xf32>, memref<2x48xi8>, memref<2xf32>, memref<1x48xf32>
func.func @gemm_grad_a(%dy: tensor<1x2xf32>, %b: tensor<2x48xi8>) -> tensor<1x48xf32> {
  %da = nn.qgemm_grad_a %dy, %b {trans_b = true, weight_type = !quant.uniform<i8:f32, 0.001>} : (tensor<1x2xf32>, tensor<2x48xi8>) -> tensor<1x48xf32>
  return %da : tensor<1x48xf32>
}
