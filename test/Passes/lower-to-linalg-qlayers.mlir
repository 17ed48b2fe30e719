// nn.qconv2d / nn.qgemm: a linalg.generic over the output (the position from
// linalg.index, x and w read with tensor.extract); each element sums
// (x - x_zero) * (w - w_zero) in an i32 scf.for nest (uint8 through extui,
// int8 through extsi; a tap in the padding, read at a clamped index, adds 0:
// no padded copy of the input) and requantizes: (acc * M + O) >> S in i64,
// clamped, truncated to i8. M, S: 0.1 * 0.01 / 0.2 = 0.005 =
// 1374389535 * 2^-38. The offset O holds 2^(S-1) and the output zero point
// << S (2^37 + 5 * 2^38 = 1511828488192), plus a float bias's
// round(b * 2^S / y_scale): at run time from a bias argument, folded into
// the i64 constant for a frozen one (0.5 / 0.25 * 2^32 + 2^31 + 2 * 2^32 =
// 19327352832). Layers the int8 kernels compute (requantized, signed
// weights with zero points 0, groups 1) take x, w, M, S and O as inputs
// mapped to element 0 and carry the kernel mark (template arguments:
// shapes, strides, pads, dilations, input unsigned and zero point, clamp,
// whether every shift is >= 32; scratch bytes from mcutrain_int8_kernels.h:
// im2col for the 3x3 layer of 2 channels, the stripe for the 1x1 one).
// Without an output type the result is the i32 sum, started from the int32
// bias; uint8 weights with a zero point keep the loops only.
// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @qconv
// CHECK-DAG: %[[M:.*]] = arith.constant dense<[1374389535, 1374389535, 2061584302]> : tensor<3xi32>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[38, 37, 37]> : tensor<3xi32>
// CHECK-DAG: %[[BASE:.*]] = arith.constant dense<[1511828488192, 755914244096, 755914244096]> : tensor<3xi64>
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%arg2, %{{.*}}, %[[BASE]] : tensor<3xf32>, tensor<3xf32>, tensor<3xi64>) outs(%{{.*}} : tensor<3xi64>)
// CHECK: math.roundeven
// CHECK: %[[T:.*]] = arith.fptosi {{.*}} : f32 to i64
// CHECK: arith.addi %[[T]], %{{.*}} : i64
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[ZERO4:.*]], #[[ZERO4]], #[[ZERO1:.*]], #[[ZERO1]], #[[ZERO1]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0, %arg1, %[[M]], %[[S]], %[[O]] : {{.*}}) outs(%{{.*}} : tensor<1x3x4x4xi8>) attrs = {mcutrain.kernel = #train.kernel<qconv2d<1, 2, 4, 4, 3, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1, 128, 5, 255, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 304 : i64}
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
// CHECK: %[[OF:.*]] = tensor.extract %[[O]][%[[F]]]
// CHECK: %[[SUM:.*]] = arith.addi %[[PROD]], %[[OF]] : i64
// CHECK: arith.shrsi %[[SUM]]
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
// CHECK-NOT: mcutrain.kernel
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
// CHECK-DAG: arith.constant dense<[19327352832, 6442450944, 17190606602240]> : tensor<3xi64>
// CHECK-NOT: math.roundeven
// CHECK: linalg.generic {{.*}}mcutrain.kernel = #train.kernel<qconv2d<1, 2, 4, 4, 3, 1, 1, 4, 4, 1, 1, 0, 0, 1, 1, 0, -1, -128, 127, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 128 : i64}
memref.global "private" constant @bias : memref<3xf32> = dense<[0.5, -0.25, 1000.0]>
func.func @frozen_bias(%x: tensor<1x2x4x4xi8>, %w: tensor<3x2x1x1xi8>) -> tensor<1x3x4x4xi8> {
  %m = memref.get_global @bias : memref<3xf32>
  %b = bufferization.to_tensor %m restrict : memref<3xf32> to tensor<3xf32>
  %y = nn.qconv2d %x, %w, %b {dilations = array<i64: 1, 1>, input_type = !quant.uniform<i8:f32, 0.5:-1>, output_type = !quant.uniform<i8:f32, 0.25:2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.125>} : (tensor<1x2x4x4xi8>, tensor<3x2x1x1xi8>, tensor<3xf32>) -> tensor<1x3x4x4xi8>
  return %y : tensor<1x3x4x4xi8>
}

// An int32 bias (QLinearConv) and a Gemm the kernel computes: the frozen
// bias times the multiplier folded into the offsets (3 * 2^30 + 2^30 +
// 0 = 4294967296; -2 * 2^30 + 2^30 = -1073741824), accumulation from 0.
// CHECK-LABEL: func.func @qgemm_int32_bias
// CHECK-DAG: %[[O:.*]] = arith.constant dense<[4294967296, -1073741824]> : tensor<2xi64>
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1, %{{.*}}, %{{.*}}, %[[O]] : {{.*}}) outs(%{{.*}} : tensor<1x2xi8>) attrs = {mcutrain.kernel = #train.kernel<qgemm<1, 2, 3, 1, 1, 4, 0, 255, 0>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 8 : i64}
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %c0_i32) -> (i32)
func.func @qgemm_int32_bias(%a: tensor<1x3xi8>, %b: tensor<2x3xi8>) -> tensor<1x2xi8> {
  %bias = arith.constant dense<[3, -2]> : tensor<2xi32>
  %y = nn.qgemm %a, %b, %bias {trans_b = true, input_type = !quant.uniform<u8:f32, 0.5:4>, output_type = !quant.uniform<u8:f32, 0.5>, weight_type = !quant.uniform<i8:f32, 0.5>} : (tensor<1x3xi8>, tensor<2x3xi8>, tensor<2xi32>) -> tensor<1x2xi8>
  return %y : tensor<1x2xi8>
}

// A depthwise int8 convolution (groups = channels, one input channel per
// filter) is marked for qdepthwise2d (scratch: a ring of 3 rows of the
// padded width 6, plus 2, int16: (3 * 6 + 2) * 2 = 40 bytes); a grouped one
// that is not depthwise keeps the loops.
// CHECK-LABEL: func.func @qdepthwise
// CHECK: linalg.generic {{.*}}mcutrain.kernel = #train.kernel<qdepthwise2d<1, 4, 4, 4, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 40 : i64}
// CHECK: linalg.generic
// CHECK-NOT: mcutrain.kernel
// CHECK: return
func.func @qdepthwise(%x: tensor<1x4x4x4xi8>, %w: tensor<4x1x3x3xi8>, %g: tensor<4x2x3x3xi8>) -> (tensor<1x4x4x4xi8>, tensor<1x4x4x4xi8>) {
  %y = nn.qconv2d %x, %w {dilations = array<i64: 1, 1>, group = 4 : i64, input_type = !quant.uniform<u8:f32, 0.1:3>, output_type = !quant.uniform<u8:f32, 0.2>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<1x4x4x4xi8>, tensor<4x1x3x3xi8>) -> tensor<1x4x4x4xi8>
  %z = nn.qconv2d %x, %g {dilations = array<i64: 1, 1>, group = 2 : i64, input_type = !quant.uniform<u8:f32, 0.1:3>, output_type = !quant.uniform<u8:f32, 0.2>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, weight_type = !quant.uniform<i8:f32, 0.01>} : (tensor<1x4x4x4xi8>, tensor<4x2x3x3xi8>) -> tensor<1x4x4x4xi8>
  return %y, %z : tensor<1x4x4x4xi8>, tensor<1x4x4x4xi8>
}
