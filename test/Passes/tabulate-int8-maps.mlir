// A unary map from one 8-bit tensor to another (what fuse-quantized-elementwise
// leaves for a ReLU between two quantizations) becomes a lookup in a
// 256-entry table folded at compile time: x uint8 with scale 0.5, zero point
// 128, ReLU, quantized with scale 0.25 and zero point 0 (y = clamp(round(
// max(0, (x - 128) * 0.5) / 0.25), 0, 255)): bytes 0..128 give 0, 129 gives
// 2, 130 gives 4, ..., 255 gives 254 (bits -2). The table is indexed
// by the input's bits as unsigned. A binary map, one reading linalg.index,
// one capturing a non-constant value and one with a kernel mark stay.
// RUN: mcutrain-opt %s --mcutrain-tabulate-int8-maps --mlir-print-elementsattrs-with-hex-if-larger=1000 | FileCheck %s

#id = affine_map<(d0) -> (d0)>

// CHECK-LABEL: func.func @relu_requantize
// CHECK: %[[T:.*]] = arith.constant dense<[0, 0, {{(0, )+}}0, 2, 4, 6, {{.*}}, -6, -4, -2]> : tensor<256xi8>
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<16xi8>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: i8, %{{.*}}: i8):
// CHECK-NEXT: %[[W:.*]] = arith.extui %[[X]] : i8 to i32
// CHECK-NEXT: %[[I:.*]] = arith.index_castui %[[W]] : i32 to index
// CHECK-NEXT: %[[Y:.*]] = tensor.extract %[[T]][%[[I]]] : tensor<256xi8>
// CHECK-NEXT: linalg.yield %[[Y]] : i8
// CHECK-NOT: math.roundeven
func.func @relu_requantize(%x: tensor<16xi8>) -> tensor<16xi8> {
  %zero = arith.constant 0.0 : f32
  %xz = arith.constant 128.0 : f32
  %xs = arith.constant 0.5 : f32
  %inv = arith.constant 4.0 : f32
  %top = arith.constant 255.0 : f32
  %init = tensor.empty() : tensor<16xi8>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<16xi8>) outs(%init : tensor<16xi8>) {
  ^bb0(%in: i8, %out: i8):
    %u = arith.uitofp %in : i8 to f32
    %c = arith.subf %u, %xz : f32
    %d = arith.mulf %c, %xs : f32
    %pos = arith.cmpf ogt, %d, %zero : f32
    %r = arith.select %pos, %d, %zero : f32
    %q = arith.mulf %r, %inv : f32
    %n = math.roundeven %q : f32
    %lo = arith.cmpf ogt, %n, %zero : f32
    %a = arith.select %lo, %n, %zero : f32
    %hi = arith.cmpf olt, %a, %top : f32
    %b = arith.select %hi, %a, %top : f32
    %v = arith.fptoui %b : f32 to i8
    linalg.yield %v : i8
  } -> tensor<16xi8>
  return %y : tensor<16xi8>
}

// CHECK-LABEL: func.func @kept
// CHECK-NOT: tensor<256xi8>
// CHECK: arith.addi
// CHECK: linalg.index
// CHECK: arith.addi %{{.*}}, %arg2
// CHECK: mcutrain.kernel
// CHECK: return
func.func @kept(%x: tensor<16xi8>, %z: tensor<16xi8>, %k: i8) -> (tensor<16xi8>, tensor<16xi8>, tensor<16xi8>, tensor<16xi8>) {
  %init = tensor.empty() : tensor<16xi8>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]} ins(%x, %z : tensor<16xi8>, tensor<16xi8>) outs(%init : tensor<16xi8>) {
  ^bb0(%a: i8, %b: i8, %out: i8):
    %s = arith.addi %a, %b : i8
    linalg.yield %s : i8
  } -> tensor<16xi8>
  %indexed = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<16xi8>) outs(%init : tensor<16xi8>) {
  ^bb0(%a: i8, %out: i8):
    %i = linalg.index 0 : index
    %c = arith.index_cast %i : index to i8
    %s = arith.addi %a, %c : i8
    linalg.yield %s : i8
  } -> tensor<16xi8>
  %captured = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<16xi8>) outs(%init : tensor<16xi8>) {
  ^bb0(%a: i8, %out: i8):
    %s = arith.addi %a, %k : i8
    linalg.yield %s : i8
  } -> tensor<16xi8>
  %marked = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<16xi8>) outs(%init : tensor<16xi8>) attrs = {mcutrain.kernel_scratch = 8 : i64} {
  ^bb0(%a: i8, %out: i8):
    %c = arith.constant 3 : i8
    %s = arith.muli %a, %c : i8
    linalg.yield %s : i8
  } -> tensor<16xi8>
  return %sum, %indexed, %captured, %marked : tensor<16xi8>, tensor<16xi8>, tensor<16xi8>, tensor<16xi8>
}

// A table whose input is an int8 kernel's output read by nothing else folds
// into that kernel's generic: it yields table[its byte], takes the table as
// an input right before its output and becomes the _lut variant (operands
// 0-4, the table 5, the output 6). A second reader of the layer's output
// keeps the two apart.
#z4 = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, 0)>
#z1 = affine_map<(d0, d1, d2, d3) -> (0)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// CHECK-LABEL: func.func @into_kernel
// CHECK: %[[T:.*]] = arith.constant dense<{{.*}}> : tensor<256xi8>
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1, %arg2, %arg3, %arg4, %[[T]] : {{.*}}, tensor<256xi8>) outs(%{{.*}} : tensor<1x2x2x2xi8>) attrs = {mcutrain.kernel = #train.kernel<qconv2d_lut<1, 1, 2, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1, 128, 0, 255, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5, 6>, mcutrain.kernel_scratch = 64 : i64}
// CHECK: %[[B:.*]] = arith.constant 7 : i8
// CHECK: %[[W:.*]] = arith.extui %[[B]] : i8 to i32
// CHECK: %[[I:.*]] = arith.index_castui %[[W]] : i32 to index
// CHECK: %[[L:.*]] = tensor.extract %[[T]][%[[I]]] : tensor<256xi8>
// CHECK: linalg.yield %[[L]] : i8
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @into_kernel(%x: tensor<1x1x2x2xi8>, %w: tensor<2x1x1x1xi8>, %m: tensor<2xi32>, %s: tensor<2xi32>, %o: tensor<2xi64>) -> tensor<1x2x2x2xi8> {
  %e = tensor.empty() : tensor<1x2x2x2xi8>
  %k = linalg.generic {indexing_maps = [#z4, #z4, #z1, #z1, #z1, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x, %w, %m, %s, %o : tensor<1x1x2x2xi8>, tensor<2x1x1x1xi8>, tensor<2xi32>, tensor<2xi32>, tensor<2xi64>) outs(%e : tensor<1x2x2x2xi8>) attrs = {mcutrain.kernel = #train.kernel<qconv2d<1, 1, 2, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1, 128, 0, 255, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 64 : i64} {
  ^bb0(%a: i8, %b: i8, %c: i32, %d: i32, %f: i64, %out: i8):
    %seven = arith.constant 7 : i8
    linalg.yield %seven : i8
  } -> tensor<1x2x2x2xi8>
  %y = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<1x2x2x2xi8>) outs(%e : tensor<1x2x2x2xi8>) {
  ^bb0(%in: i8, %out: i8):
    %c2 = arith.constant 2 : i8
    %v = arith.muli %in, %c2 : i8
    linalg.yield %v : i8
  } -> tensor<1x2x2x2xi8>
  return %y : tensor<1x2x2x2xi8>
}

// CHECK-LABEL: func.func @output_also_read
// CHECK: mcutrain.kernel = #train.kernel<qconv2d<
// CHECK: tensor.extract
// CHECK: return
func.func @output_also_read(%x: tensor<1x1x2x2xi8>, %w: tensor<2x1x1x1xi8>, %m: tensor<2xi32>, %s: tensor<2xi32>, %o: tensor<2xi64>) -> (tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>) {
  %e = tensor.empty() : tensor<1x2x2x2xi8>
  %k = linalg.generic {indexing_maps = [#z4, #z4, #z1, #z1, #z1, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x, %w, %m, %s, %o : tensor<1x1x2x2xi8>, tensor<2x1x1x1xi8>, tensor<2xi32>, tensor<2xi32>, tensor<2xi64>) outs(%e : tensor<1x2x2x2xi8>) attrs = {mcutrain.kernel = #train.kernel<qconv2d<1, 1, 2, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1, 128, 0, 255, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 2, 3, 4, 5>, mcutrain.kernel_scratch = 64 : i64} {
  ^bb0(%a: i8, %b: i8, %c: i32, %d: i32, %f: i64, %out: i8):
    %seven = arith.constant 7 : i8
    linalg.yield %seven : i8
  } -> tensor<1x2x2x2xi8>
  %y = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<1x2x2x2xi8>) outs(%e : tensor<1x2x2x2xi8>) {
  ^bb0(%in: i8, %out: i8):
    %c2 = arith.constant 2 : i8
    %v = arith.muli %in, %c2 : i8
    linalg.yield %v : i8
  } -> tensor<1x2x2x2xi8>
  return %y, %k : tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>
}
