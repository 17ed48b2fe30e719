// nn.quantize: x times the f32 reciprocal of the scale (as PyTorch's fake
// quantization; 1/0.5 = 2), saturated to [lo - zero, hi - zero] with
// ordered compares (NaN goes low), rounded half to even and shifted by the
// zero point in two additions (+ 1.5 * 2^23, - (1.5 * 2^23 - zero)),
// converted to the storage type. Per-axis scales and zero points are
// constant tensors read along the axis. nn.dequantize: (q - zero) * scale,
// unsigned storage through uitofp.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[AXIS0:.*]] = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func.func @quantize_u8
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<2x3xf32>) outs({{.*}} : tensor<2x3xi8>)
// CHECK: ^bb0(%[[X:.*]]: f32, %{{.*}}: i8):
// CHECK-DAG: %[[INV:.*]] = arith.constant 2.000000e+00 : f32
// CHECK: %[[S:.*]] = arith.mulf %[[X]], %[[INV]]
// CHECK-DAG: %[[LO:.*]] = arith.constant -3.000000e+00 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 2.520000e+02 : f32
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[S]], %[[LO]]
// CHECK: %[[A:.*]] = arith.select %[[GT]], %[[S]], %[[LO]]
// CHECK: %[[LT:.*]] = arith.cmpf olt, %[[A]], %[[HI]]
// CHECK: %[[B:.*]] = arith.select %[[LT]], %[[A]], %[[HI]]
// CHECK: %[[UP:.*]] = arith.constant 0x4B400000 : f32
// CHECK: %[[LIFTED:.*]] = arith.addf %[[B]], %[[UP]]
// CHECK: %[[DOWN:.*]] = arith.constant 0x4B3FFFFD : f32
// CHECK: %[[R:.*]] = arith.subf %[[LIFTED]], %[[DOWN]]
// CHECK: arith.fptoui %[[R]] : f32 to i8
// CHECK-NOT: math.roundeven
func.func @quantize_u8(%x: tensor<2x3xf32>) -> tensor<2x3xi8> {
  %q = nn.quantize %x {quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<2x3xf32>) -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// CHECK-LABEL: func.func @quantize_per_axis
// CHECK-DAG: %[[INVS:.*]] = arith.constant dense<[4.000000e+00, 1.000000e+01]> : tensor<2xf32>
// CHECK-DAG: %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[AXIS0]], #[[AXIS0]], #[[ID]]]
// CHECK: ^bb0(%{{.*}}: f32, %{{.*}}: f32, %[[Z:.*]]: f32, %{{.*}}: i8):
// CHECK: %[[M:.*]] = arith.constant -1.280000e+02 : f32
// CHECK: arith.subf %[[M]], %[[Z]]
// CHECK: %[[P:.*]] = arith.constant 1.270000e+02 : f32
// CHECK: arith.subf %[[P]], %[[Z]]
// CHECK: %[[UP:.*]] = arith.constant 0x4B400000 : f32
// CHECK: %[[LIFTED:.*]] = arith.addf %{{.*}}, %[[UP]]
// CHECK: %[[DOWN:.*]] = arith.constant 0x4B400000 : f32
// CHECK: %[[BACK:.*]] = arith.subf %[[DOWN]], %[[Z]]
// CHECK: %[[R:.*]] = arith.subf %[[LIFTED]], %[[BACK]]
// CHECK: arith.fptosi %[[R]] : f32 to i8
func.func @quantize_per_axis(%x: tensor<2x3xf32>) -> tensor<2x3xi8> {
  %q = nn.quantize %x {quant_type = !quant.uniform<i8:f32:0, {0.25,0.1}>} : (tensor<2x3xf32>) -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// CHECK-LABEL: func.func @dequantize_u8
// CHECK: ^bb0(%[[Q:.*]]: i8, %{{.*}}: f32):
// CHECK: %[[F:.*]] = arith.uitofp %[[Q]] : i8 to f32
// CHECK: %[[C:.*]] = arith.subf %[[F]], %{{.*}}
// CHECK: arith.mulf %[[C]], %{{.*}}
func.func @dequantize_u8(%q: tensor<2x3xi8>) -> tensor<2x3xf32> {
  %x = nn.dequantize %q {quant_type = !quant.uniform<u8:f32, 0.5:3>} : (tensor<2x3xi8>) -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @dequantize_i32_per_axis
// CHECK: arith.constant dense<[2.500000e-01, 1.250000e-01]> : tensor<2xf32>
// CHECK: arith.sitofp %{{.*}} : i32 to f32
func.func @dequantize_i32_per_axis(%q: tensor<2x3xi32>) -> tensor<2x3xf32> {
  %x = nn.dequantize %q {quant_type = !quant.uniform<i32:f32:0, {0.25,0.125}>} : (tensor<2x3xi32>) -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}
