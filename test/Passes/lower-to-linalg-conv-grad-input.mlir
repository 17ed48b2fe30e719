// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// A strided convolution's input gradient (unless depthwise, see the end) is
// the adjoint of its forward pass: dy and the unflipped kernel are read as
// they are, each product is added at the padded input position the forward
// pass read (output map oh*S + kh*D), and the padding is cropped off. No
// zero-inserted copy of dy.
// CHECK-DAG: #[[SDY:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d2, d5, d6)>
// CHECK-DAG: #[[SW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d2, d1, d3, d4)>
// CHECK-DAG: #[[SDX:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d5 * 2 + d3 * 2, d6 * 3 + d4)>
// Grouped: the output channel of input channel d1's group.
// CHECK-DAG: #[[GDY:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, (d1 floordiv 2) * 3 + d2, d5, d6)>
// CHECK-DAG: #[[GW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> ((d1 floordiv 2) * 3 + d2, d1 mod 2, d3, d4)>
// CHECK-DAG: #[[ZI:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 * 2 + 1, d3 * 2 + 1)>
// Stride 1: the correlation of the padded dy with the flipped kernel.
// CHECK-DAG: #[[FW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d2, d1, -d3 + 2, -d4 + 2)>

// CHECK-LABEL: func.func @strided
// CHECK-NOT: tensor.generate
// CHECK: %[[Z:.*]] = linalg.fill {{.*}} outs(%{{.*}} : tensor<1x2x11x9xf32>)
// CHECK: %[[DXP:.*]] = linalg.generic {indexing_maps = [#[[SDY]], #[[SW]], #{{.*}}, #[[SDX]]], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "reduction", "reduction"]} ins(%arg0, %arg1, %{{.*}} : tensor<1x3x3x3xf32>, tensor<3x2x3x2xf32>, tensor<3x3x2xf32>) outs(%[[Z]] : tensor<1x2x11x9xf32>)
// CHECK-SAME: mcutrain.kernel = #train.kernel<conv2d_grad_input_strided<1, 2, 11, 9, 3, 2, 3, 2, 3, 3, 2, 3, 2, 1, 1>>, mcutrain.kernel_operands = array<i64: 0, 1, 3>
// CHECK: arith.mulf
// CHECK: arith.addf
// The crop: dx[n][c][h][w] = dxp[n][c][h + 2][w + 1].
// CHECK: %[[DX:.*]] = tensor.generate
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[C2:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[H:.*]] = arith.addi %{{.*}}, %[[C2]]
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[W:.*]] = arith.addi %{{.*}}, %[[C1]]
// CHECK-NEXT: tensor.extract %[[DXP]][%{{.*}}, %{{.*}}, %[[H]], %[[W]]] : tensor<1x2x11x9xf32>
// CHECK: } : tensor<1x2x8x7xf32>
// CHECK: return %[[DX]]
func.func @strided(%dy: tensor<1x3x3x3xf32>, %w: tensor<3x2x3x2xf32>) -> tensor<1x2x8x7xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 2, 3>, pads = array<i64: 2, 1, 1, 1>, dilations = array<i64: 2, 1>} : (tensor<1x3x3x3xf32>, tensor<3x2x3x2xf32>) -> tensor<1x2x8x7xf32>
  return %dx : tensor<1x2x8x7xf32>
}

// Unpadded: the adjoint writes dx itself (its last row and column, which
// no window reached, stay zero).
// CHECK-LABEL: func.func @strided_unpadded
// CHECK: %[[DX:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4x6x6xf32>)
// CHECK-SAME: #train.kernel<conv2d_grad_input_strided<1, 4, 6, 6, 6, 2, 1, 1, 3, 3, 2, 2, 1, 1, 2>>
// CHECK-NOT: linalg.generic
// CHECK: return %[[DX]]
func.func @strided_unpadded(%dy: tensor<1x6x3x3xf32>, %w: tensor<6x2x1x1xf32>) -> tensor<1x4x6x6xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2} : (tensor<1x6x3x3xf32>, tensor<6x2x1x1xf32>) -> tensor<1x4x6x6xf32>
  return %dx : tensor<1x4x6x6xf32>
}

// Only bottom and right pads: the crop reads dxp at the same indices.
// CHECK-LABEL: func.func @grouped
// CHECK: %[[DXP:.*]] = linalg.generic {indexing_maps = [#[[GDY]], #[[GW]],
// CHECK-SAME: conv2d_grad_input_strided<1, 4, 8, 8, 6, 2, 3, 3, 3, 3, 2, 2, 1, 1, 2>
// CHECK: tensor.generate
// CHECK-NEXT: ^bb0
// CHECK-NEXT: tensor.extract %[[DXP]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x4x8x8xf32>
// CHECK: } : tensor<1x4x7x7xf32>
func.func @grouped(%dy: tensor<1x6x3x3xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x4x7x7xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>, group = 2} : (tensor<1x6x3x3xf32>, tensor<6x2x3x3xf32>) -> tensor<1x4x7x7xf32>
  return %dx : tensor<1x4x7x7xf32>
}

// CHECK-LABEL: func.func @unit_stride
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[FW]],
// CHECK-SAME: #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 3, 3, 6, 6, 1, 1, 1>>
func.func @unit_stride(%dy: tensor<1x3x4x4xf32>, %w: tensor<3x2x3x3xf32>) -> tensor<1x2x4x4xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x3x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x2x4x4xf32>
  return %dx : tensor<1x2x4x4xf32>
}

// Depthwise (one output channel per group), strided: dy is zero-inserted
// (its copy's output map has the stride) and correlated with the flipped
// kernel, which runs faster on such layers than the scatter.
// CHECK-LABEL: func.func @depthwise_strided
// CHECK: %[[DYP:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[ZI]]]{{.*}} outs(%{{.*}} : tensor<1x4x10x10xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[DYP]], %arg1
// CHECK-SAME: #train.kernel<conv2d_grad_input<1, 4, 8, 8, 4, 1, 3, 3, 10, 10, 1, 1, 4>>
// (dy's 4x4 planes at rows and columns 1 + 2i of the 10x10 plane)
// CHECK-SAME: mcutrain.kernel_planes = #train.kernel<depthwise_conv2d_grad_input<1, 4, 8, 8, 3, 3, 4, 4, 10, 10, 1, 1, 2, 2, 1, 1>>
// CHECK-SAME: mcutrain.kernel_spread_operand = 0
func.func @depthwise_strided(%dy: tensor<1x4x4x4xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %dx = nn.conv2d_grad_input %dy, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 4} : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  return %dx : tensor<1x4x8x8xf32>
}
