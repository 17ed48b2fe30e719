// fuse-quantized-elementwise: a residual Add and its ReLU between int8
// tensors (dequantize both inputs, add, relu, quantize) become one generic
// reading the two int8 tensors and writing the int8 result, the float ops
// per element inside it in the same order; no float tensor is left. A
// float Add and ReLU stay two generics.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg --mcutrain-fuse-quantized-elementwise | FileCheck %s

// CHECK-LABEL: func.func @residual
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<1x4x2x2xi8>, tensor<1x4x2x2xi8>) outs(%{{.*}} : tensor<1x4x2x2xi8>)
// CHECK: ^bb0(%[[A:.*]]: i8, %[[B:.*]]: i8, %{{.*}}: i8):
// CHECK-DAG: arith.uitofp %[[A]] : i8 to f32
// CHECK-DAG: arith.uitofp %[[B]] : i8 to f32
// CHECK: %[[SUM:.*]] = arith.addf
// CHECK: arith.cmpf ogt, %[[SUM]]
// CHECK: math.roundeven
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

// CHECK-LABEL: func.func @float
// CHECK-COUNT-2: linalg.generic
// CHECK-NOT: linalg.generic
func.func @float(%a: tensor<1x4x2x2xf32>, %b: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %s = nn.add %a, %b : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  %r = nn.relu %s : tensor<1x4x2x2xf32>
  return %r : tensor<1x4x2x2xf32>
}
