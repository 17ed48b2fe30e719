// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// A large mean squared error sums interleaved partial sums (the inner,
// parallel dimension vectorizes; one running sum is a serial chain), adds
// them up and divides once by the element count: 128 of them (eight
// vectors of independent multiply-adds) where the count allows.
// CHECK-LABEL: func.func @large
// CHECK: tensor.expand_shape {{.*}} into tensor<64x128xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]{{.*}} outs({{.*}} : tensor<128xf32>)
// CHECK: arith.subf
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction"]{{.*}} ins({{.*}} : tensor<128xf32>) outs({{.*}} : tensor<f32>)
// CHECK: linalg.generic {{.*}}iterator_types = []
// CHECK: arith.constant 8.192000e+03
// CHECK-NEXT: arith.divf
func.func @large(%p: tensor<1x32x16x16xf32>, %t: tensor<1x32x16x16xf32>) -> tensor<f32> {
  %l = train.mse_loss %p, %t : (tensor<1x32x16x16xf32>, tensor<1x32x16x16xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// Fewer: the most partial sums that leave four rows of them (128 values:
// 32 partial sums).
// CHECK-LABEL: func.func @medium
// CHECK: tensor.expand_shape {{.*}} into tensor<4x32xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]{{.*}} outs({{.*}} : tensor<32xf32>)
// CHECK: arith.constant 1.280000e+02
// CHECK-NEXT: arith.divf
func.func @medium(%p: tensor<2x4x16xf32>, %t: tensor<2x4x16xf32>) -> tensor<f32> {
  %l = train.mse_loss %p, %t : (tensor<2x4x16xf32>, tensor<2x4x16xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// Few elements (or a count that is not a multiple of 16): one reduction.
// CHECK-LABEL: func.func @small
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]{{.*}} outs({{.*}} : tensor<f32>)
// CHECK: arith.constant 1.000000e+01
// CHECK-NEXT: arith.divf
// CHECK-NOT: linalg.generic
func.func @small(%p: tensor<1x10xf32>, %t: tensor<1x10xf32>) -> tensor<f32> {
  %l = train.mse_loss %p, %t : (tensor<1x10xf32>, tensor<1x10xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
