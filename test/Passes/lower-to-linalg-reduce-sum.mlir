// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// Reductions to a shape whose reduced dimensions come before and after the
// kept ones (size-1 dimensions aside) are marked for the sum_rows kernel:
// B (leading reduced), M (kept), K (trailing reduced), and the scale.

// CHECK-LABEL: func.func @channel_grad
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel", "reduction", "reduction"]
// CHECK-SAME: mcutrain.kernel = #train.kernel<sum_rows<2, 3, 20>>, mcutrain.kernel_operands = array<i64: 0, 1>, mcutrain.kernel_overwrite, mcutrain.kernel_scalars = array<f32: 5.000000e-01>
// CHECK: tensor.expand_shape {{.*}} into tensor<1x3x1x1xf32>
func.func @channel_grad(%dy: tensor<2x3x4x5xf32>) -> tensor<1x3x1x1xf32> {
  %g = nn.reduce_sum_to %dy {scale = 0.5 : f32} : (tensor<2x3x4x5xf32>) -> tensor<1x3x1x1xf32>
  return %g : tensor<1x3x1x1xf32>
}

// A Gemm bias gradient: the batch only (K = 1).
// CHECK-LABEL: func.func @bias_grad
// CHECK: mcutrain.kernel = #train.kernel<sum_rows<4, 10, 1>>
func.func @bias_grad(%dy: tensor<4x10xf32>) -> tensor<10xf32> {
  %g = nn.reduce_sum_to %dy : (tensor<4x10xf32>) -> tensor<10xf32>
  return %g : tensor<10xf32>
}

// Size-1 dimensions do not split the groups.
// CHECK-LABEL: func.func @unit_dims
// CHECK: mcutrain.kernel = #train.kernel<sum_rows<1, 6, 8>>
func.func @unit_dims(%dy: tensor<1x6x1x8xf32>) -> tensor<6x1x1xf32> {
  %g = nn.reduce_sum_to %dy : (tensor<1x6x1x8xf32>) -> tensor<6x1x1xf32>
  return %g : tensor<6x1x1xf32>
}

// Kept dimensions on both sides of a reduced one: the loops stay.
// CHECK-LABEL: func.func @interleaved
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]
// CHECK-NOT: mcutrain.kernel
// CHECK: return
func.func @interleaved(%dy: tensor<3x4x5xf32>) -> tensor<3x1x5xf32> {
  %g = nn.reduce_sum_to %dy : (tensor<3x4x5xf32>) -> tensor<3x1x5xf32>
  return %g : tensor<3x1x5xf32>
}

// A sum over every dimension into [1, 1, 1] (a PReLU's one shared slope):
// the scalar sum is expanded, never collapsed (collapsing a rank-0 tensor
// has no reassociation group and does not verify).
// CHECK-LABEL: func.func @to_all_ones
// CHECK: linalg.generic {{.*}} outs({{.*}} : tensor<f32>)
// CHECK: %[[ONE:.*]] = tensor.expand_shape %{{.*}} [] output_shape [1] : tensor<f32> into tensor<1xf32>
// CHECK: tensor.expand_shape %[[ONE]] {{\[\[}}0, 1, 2]] output_shape [1, 1, 1] : tensor<1xf32> into tensor<1x1x1xf32>
func.func @to_all_ones(%x: tensor<1x3x4x4xf32>) -> tensor<1x1x1xf32> {
  %s = nn.reduce_sum_to %x : (tensor<1x3x4x4xf32>) -> tensor<1x1x1xf32>
  return %s : tensor<1x1x1xf32>
}
