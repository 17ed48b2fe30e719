// fuse-quantized-elementwise: a residual Add and its ReLU between int8
// tensors (dequantize both inputs, add, relu, quantize) become one generic
// reading the two int8 tensors and writing the int8 result, the float ops
// per element inside it in the same order; no float tensor is left. A
// float Add and ReLU stay two generics. Inside the fused body the ReLU's
// compare goes where the quantization's lower clamp (at or above zero)
// gives the same value; with a clamp below zero (zero point 10) it stays.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg --mcutrain-fuse-quantized-elementwise | FileCheck %s

// CHECK-LABEL: func.func @residual
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<1x4x2x2xi8>, tensor<1x4x2x2xi8>) outs(%{{.*}} : tensor<1x4x2x2xi8>)
// CHECK: ^bb0(%[[A:.*]]: i8, %[[B:.*]]: i8, %{{.*}}: i8):
// CHECK-DAG: arith.uitofp %[[A]] : i8 to f32
// CHECK-DAG: arith.uitofp %[[B]] : i8 to f32
// CHECK: %[[SUM:.*]] = arith.addf
// CHECK-NOT: arith.cmpf
// CHECK: %[[SCALED:.*]] = arith.mulf %[[SUM]]
// CHECK: arith.cmpf ogt, %[[SCALED]]
// CHECK: arith.cmpf olt
// CHECK: arith.constant 0x4B400000 : f32
// CHECK: arith.subf
// CHECK: arith.fptoui {{.*}} : f32 to i8
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @residual(%a: tensor<1x4x2x2xi8>, %b: tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xi8> {
  %ad = nn.dequantize %a {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xf32>
  %bd = nn.dequantize %b {quant_type = !quant.uniform<u8:f32, 0.2:120>} : (tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xf32>
  %s = nn.add %ad, %bd : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  %r = nn.relu %s : tensor<1x4x2x2xf32>
  %q = nn.quantize %r {quant_type = !quant.uniform<u8:f32, 0.15:0>} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xi8>
  return %q : tensor<1x4x2x2xi8>
}

// CHECK-LABEL: func.func @relu_kept
// CHECK: %[[SUM:.*]] = arith.addf
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[SUM]]
// CHECK: %[[R:.*]] = arith.select %[[GT]], %[[SUM]]
// CHECK: %[[SCALED:.*]] = arith.mulf %[[R]]
// CHECK: arith.cmpf ogt, %[[SCALED]]
func.func @relu_kept(%a: tensor<1x4x2x2xi8>, %b: tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xi8> {
  %ad = nn.dequantize %a {quant_type = !quant.uniform<u8:f32, 0.1:128>} : (tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xf32>
  %bd = nn.dequantize %b {quant_type = !quant.uniform<u8:f32, 0.2:120>} : (tensor<1x4x2x2xi8>) -> tensor<1x4x2x2xf32>
  %s = nn.add %ad, %bd : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  %r = nn.relu %s : tensor<1x4x2x2xf32>
  %q = nn.quantize %r {quant_type = !quant.uniform<u8:f32, 0.15:10>} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xi8>
  return %q : tensor<1x4x2x2xi8>
}

// CHECK-LABEL: func.func @float
// CHECK-COUNT-2: linalg.generic
// CHECK-NOT: linalg.generic
func.func @float(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %s = nn.add %a, %b : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  %r = nn.relu %s : tensor<1x4x2x2xf32>
  return %r : tensor<1x4x2x2xf32>
}

// An int8 layer's input gradient reads its int8 weight through
// tensor.extract: fused into the next elementwise op it would read the
// weight after the weight's in-place update, so it stays before it. An
// update of another global does not stop the fusion. (A weight with a zero
// point, so that the gradient is loops rather than a kernel call: a
// symmetric weight's gradient is marked for qgemm_grad_a and never fused.)
// CHECK-LABEL: func.func @update_between
// CHECK: %[[DA:.*]] = linalg.generic
// CHECK: tensor.extract
// CHECK: train.update @w
// CHECK: linalg.generic {{.*}} ins(%[[DA]], %{{.*}} : tensor<1x4xf32>, tensor<1x4xi8>)
// CHECK-LABEL: func.func @other_update
// CHECK: train.update @v
// CHECK: %[[F:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<1x4xi8>) outs(%{{.*}} : tensor<1x4xf32>)
// CHECK: tensor.extract
// CHECK: return %[[F]]
// CHECK-LABEL: func.func @kernel_not_fused
// CHECK: %[[DA:.*]] = linalg.generic {{.*}} attrs = {mcutrain.kernel = #train.kernel<qgemm_grad_a<1, 3, 4, 1>>
// CHECK: linalg.generic {{.*}} ins(%[[DA]], %{{.*}} : tensor<1x4xf32>, tensor<1x4xi8>)
memref.global "private" @w : memref<3x4xi8> = dense<1>
memref.global "private" @v : memref<3xf32> = dense<0.0>
func.func @update_between(%dy: tensor<1x3xf32>, %y: tensor<1x4xi8>, %gw: tensor<3x4xf32>) -> tensor<1x4xf32> {
  %wm = memref.get_global @w : memref<3x4xi8>
  %w = bufferization.to_tensor %wm restrict : memref<3x4xi8> to tensor<3x4xi8>
  %da = nn.qgemm_grad_a %dy, %w {trans_b = true, weight_type = !quant.uniform<i8:f32, 0.01:1>} : (tensor<1x3xf32>, tensor<3x4xi8>) -> tensor<1x4xf32>
  train.update @w, %gw <sgd, lr = 0.1> {weight_type = !quant.uniform<i8:f32, 0.01:1>} : tensor<3x4xf32>
  %m = nn.qoutput_grad %da, %y {output_max = 255 : i64, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.1:5>} : (tensor<1x4xf32>, tensor<1x4xi8>) -> tensor<1x4xf32>
  return %m : tensor<1x4xf32>
}
func.func @other_update(%dy: tensor<1x3xf32>, %y: tensor<1x4xi8>, %gv: tensor<3xf32>) -> tensor<1x4xf32> {
  %wm = memref.get_global @w : memref<3x4xi8>
  %w = bufferization.to_tensor %wm restrict : memref<3x4xi8> to tensor<3x4xi8>
  %da = nn.qgemm_grad_a %dy, %w {trans_b = true, weight_type = !quant.uniform<i8:f32, 0.01:1>} : (tensor<1x3xf32>, tensor<3x4xi8>) -> tensor<1x4xf32>
  train.update @v, %gv <sgd, lr = 0.1> : tensor<3xf32>
  %m = nn.qoutput_grad %da, %y {output_max = 255 : i64, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.1:5>} : (tensor<1x4xf32>, tensor<1x4xi8>) -> tensor<1x4xf32>
  return %m : tensor<1x4xf32>
}
func.func @kernel_not_fused(%dy: tensor<1x3xf32>, %y: tensor<1x4xi8>) -> tensor<1x4xf32> {
  %wm = memref.get_global @w : memref<3x4xi8>
  %w = bufferization.to_tensor %wm restrict : memref<3x4xi8> to tensor<3x4xi8>
  %da = nn.qgemm_grad_a %dy, %w {trans_b = true, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<1x3xf32>, tensor<3x4xi8>) -> tensor<1x4xf32>
  %m = nn.qoutput_grad %da, %y {output_max = 255 : i64, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.1:5>} : (tensor<1x4xf32>, tensor<1x4xi8>) -> tensor<1x4xf32>
  return %m : tensor<1x4xf32>
}
