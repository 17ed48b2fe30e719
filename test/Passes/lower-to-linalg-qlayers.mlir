// nn.qconv2d / nn.qgemm: a linalg.generic over the output (no inputs, the
// position from linalg.index, x and w read with tensor.extract); each element
// sums (x - x_zero) * (w - w_zero) in an i32 scf.for nest (uint8 through
// extui, int8 through extsi; a tap in the padding, read at a clamped
// index, adds 0: no padded copy of the input)
// and requantizes: acc * M + B + 2^(S-1) >> S in i64, plus the output zero
// point, clamped, truncated to i8. M, S: 0.1 * 0.01 / 0.2 = 0.005 =
// 1374389535 * 2^-38. A float bias enters as round(b * 2^S / y_scale): at
// run time from a bias argument, folded to an i64 constant for a frozen
// one (0.5 / 0.25 * 2^32 = 2^33). Without an output type the result is the
// i32 sum, started from the int32 bias.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @qconv
// CHECK-DAG: %[[M:.*]] = arith.constant dense<[1374389535, 1374389535, 2061584302]> : tensor<3xi32>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[38, 37, 37]> : tensor<3xi32>
// CHECK: %[[B64:.*]] = linalg.generic {{.*}} ins(%arg2, %{{.*}} : tensor<3xf32>, tensor<3xf32>) outs(%{{.*}} : tensor<3xi64>)
// CHECK: math.roundeven
// CHECK: arith.fptosi {{.*}} : f32 to i64
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%{{.*}} : tensor<1x3x4x4xi8>)
// CHECK: %[[F:.*]] = linalg.index 1 : index
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: scf.for {{.*}} -> (i32)
// CHECK: %[[IN:.*]] = arith.andi
// CHECK: %[[XV:.*]] = tensor.extract %arg0{{.*}} : tensor<1x2x4x4xi8>
// CHECK: %[[WV:.*]] = tensor.extract %arg1{{.*}} : tensor<3x2x3x3xi8>
// CHECK: %[[XW:.*]] = arith.extui %[[XV]] : i8 to i32
// CHECK: %[[XC:.*]] = arith.subi %[[XW]], %{{.*}} : i32
// CHECK: %[[WW:.*]] = arith.extsi %[[WV]] : i8 to i32
// CHECK: %[[P:.*]] = arith.muli %[[XC]], %[[WW]] : i32
// CHECK: %[[PIN:.*]] = arith.select %{{.*}}, %[[P]], %{{.*}} : i32
// CHECK: arith.addi %{{.*}}, %[[PIN]] : i32
// CHECK: %[[ACC:.*]] = arith.extsi %{{.*}} : i32 to i64
// CHECK: %[[MF:.*]] = tensor.extract %[[M]][%[[F]]]
// CHECK: %[[PROD:.*]] = arith.muli %[[ACC]], %{{.*}} : i64
// CHECK: %[[BF:.*]] = tensor.extract %[[B64]][%[[F]]]
// CHECK: arith.addi %[[PROD]], %[[BF]] : i64
// CHECK: arith.shli
// CHECK: arith.shrsi
// CHECK: arith.constant 5 : i64
// CHECK: arith.cmpi sgt
// CHECK: arith.cmpi slt
// CHECK: %[[Y:.*]] = arith.trunci %{{.*}} : i64 to i8
// CHECK: linalg.yield %[[Y]] : i8
func.func @qconv(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x3x3xi8>, %b: tensor<3xf32>) -> tensor<1x3x4x4xi8> {
  %y = nn.qconv2d %x, %w, %b {dilations = array<i64: 1, 1>, input_type = !quant.uniform<u8:f32, 0.1:128>, output_min = 5 : i64, output_type = !quant.uniform<u8:f32, 0.2:5>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32:0, {0.01,0.02,0.03}>} : (tensor<1x2x4x4xi8>, tensor<3x2x3x3xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
  return %y : tensor<1x3x4x4xi8>
}

// CHECK-LABEL: func.func @qgemm_int
// CHECK: %[[WZ:.*]] = arith.constant dense<7> : tensor<5xi32>
// CHECK: linalg.generic
// CHECK: %[[INIT:.*]] = tensor.extract %arg2
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[INIT]]) -> (i32)
// CHECK: tensor.extract %arg1[%{{.*}}, %{{.*}}] : tensor<4x5xi8>
// CHECK: arith.extui
// CHECK: arith.subi
// CHECK: arith.extui
// CHECK: arith.subi
// CHECK-NOT: arith.trunci
// CHECK: linalg.yield %{{.*}} : i32
func.func @qgemm_int(%a: tensor<2x4xi8>, %b: tensor<4x5xi8>, %bias: tensor<5xi32>) -> tensor<2x5xi32> {
  %y = nn.qgemm %a, %b, %bias {input_type = !quant.uniform<u8:f32, 0.1:3>, weight_type = !quant.uniform<u8:f32, 0.01:7>} : (tensor<2x4xi8>, tensor<4x5xi8>, tensor<5xi32>) -> tensor<2x5xi32>
  return %y : tensor<2x5xi32>
}

// CHECK-LABEL: func.func @frozen_bias
// CHECK-DAG: arith.constant dense<1073741824> : tensor<3xi32>
// CHECK-DAG: arith.constant dense<32> : tensor<3xi32>
// CHECK-DAG: arith.constant dense<[8589934592, -4294967296, 17179869184000]> : tensor<3xi64>
// CHECK-NOT: math.roundeven
// CHECK: linalg.generic
memref.global "private" constant @bias : memref<3xf32> = dense<[0.5, -0.25, 1000.0]>
func.func @frozen_bias(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8> {
  %m = memref.get_global @bias : memref<3xf32>
  %b = bufferization.to_tensor %m restrict : memref<3xf32> to tensor<3xf32>
  %y = nn.qconv2d %x, %w, %b {dilations = array<i64: 1, 1>, input_type = !quant.uniform<i8:f32, 0.5:-1>, output_type = !quant.uniform<i8:f32, 0.25:2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.125>} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
  return %y : tensor<1x3x4x4xi8>
}
