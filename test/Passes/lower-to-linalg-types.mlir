// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s
// Integer ops pick the arith op of their signedness; edge/reflect padding
// and its adjoint fold indices back into the input; MaxPool's Indices.

// CHECK-LABEL: func.func @ints
// CHECK: linalg.generic
// CHECK: arith.divui
// CHECK: linalg.generic
// CHECK: arith.divsi
// Unsigned clip compares unsigned; -inf/+inf bounds became 0 and 255 (-1).
// CHECK: linalg.generic
// CHECK-DAG: arith.constant 0 : i8
// CHECK-DAG: arith.constant -1 : i8
// CHECK: arith.cmpi ugt
// Integer max pooling starts from the type's minimum (signed: -128); an
// 8-bit one is marked for the max_pool8 kernel (x, then y).
// CHECK: arith.constant -128 : i8
// CHECK: linalg.generic {{.*}}mcutrain.kernel = #train.kernel<max_pool8<1, 2, 4, 4, 2, 2, 2, 2, 2, 2, 1, 1, 0>>, mcutrain.kernel_operands = array<i64: 0, 2>
// CHECK: arith.cmpi sgt
func.func @ints(%u: tensor<1x2x4x4xi8>, %s: tensor<1x2x4x4xi8>)
    -> (tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>,
        tensor<1x2x2x2xi8>) {
  %0 = nn.div %u, %u {is_unsigned} : (tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xi8>
  %1 = nn.div %s, %s : (tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>) -> tensor<1x2x4x4xi8>
  %2 = nn.activation clip %u {alpha = 0xFF800000 : f32, beta = 0x7F800000 : f32, is_unsigned} : tensor<1x2x4x4xi8>
  %3 = nn.max_pool2d %s {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>} : (tensor<1x2x4x4xi8>) -> tensor<1x2x2x2xi8>
  return %0, %1, %2, %3 : tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>, tensor<1x2x4x4xi8>, tensor<1x2x2x2xi8>
}

// CHECK-LABEL: func.func @pads
// Reflect: negative source rows mirror (0 - r), rows past the end fold to
// 2(n-1) - r; no select against a fill value.
// CHECK: tensor.generate
// CHECK: arith.cmpi slt
// CHECK: arith.subi
// CHECK: arith.constant 6 : i32
// CHECK: tensor.extract
// CHECK: } : tensor<1x1x7x6xf32>
// The adjoint folds rows, then columns, comparing each folded index with
// the destination (linalg.index) and summing.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK: linalg.index 2
// CHECK: linalg.index 3
// CHECK: arith.cmpi eq
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]
func.func @pads(%x: tensor<1x1x4x4xf32>, %dy: tensor<1x1x7x6xf32>)
    -> (tensor<1x1x7x6xf32>, tensor<1x1x4x4xf32>) {
  %0 = nn.pad2d %x {mode = #nn<pad_mode reflect>, pads = array<i64: 2, 1, 1, 1>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x7x6xf32>
  %1 = nn.pad2d_grad %dy {mode = #nn<pad_mode reflect>, pads = array<i64: 2, 1, 1, 1>} : (tensor<1x1x7x6xf32>) -> tensor<1x1x4x4xf32>
  return %0, %1 : tensor<1x1x7x6xf32>, tensor<1x1x4x4xf32>
}

// CHECK-LABEL: func.func @indices
// Column-major flat index: ((n*C + c)*W + w)*H + h, taken where the value is
// the first maximum.
// CHECK: tensor.generate
// CHECK: arith.cmpf ogt
// CHECK: arith.muli {{.*}} : i64
// CHECK: arith.select {{.*}} : i64
// CHECK: } : tensor<1x1x2x2xi64>
func.func @indices(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x2x2xi64> {
  %0 = nn.max_pool2d_indices %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, column_major = true} : (tensor<1x1x4x4xf32>) -> tensor<1x1x2x2xi64>
  return %0 : tensor<1x1x2x2xi64>
}
