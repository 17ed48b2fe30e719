// RUN: mcutrain-opt %s --mcutrain-lower-to-linalg | FileCheck %s

// An embedding lookup: a generic over the result whose index input is read
// through the result's index dimensions; the index is wrapped when
// negative and clamped into the table before the table is read.
// CHECK: #[[IDS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @lookup
// CHECK: linalg.generic {indexing_maps = [#[[IDS]], #{{.*}}]
// CHECK-SAME: ins(%arg1 : tensor<2x3xi64>) outs(%{{.*}} : tensor<2x3x4xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i64, %{{.*}}: f32):
// CHECK: %[[D2:.*]] = linalg.index 2 : index
// CHECK: arith.cmpi slt, %[[ID]], %c0_i64
// CHECK: arith.addi %[[ID]], %c10_i64
// CHECK: arith.maxsi
// CHECK: %[[ROW:.*]] = arith.minsi %{{.*}}, %c9_i64
// CHECK: %[[R:.*]] = arith.index_cast %[[ROW]] : i64 to index
// CHECK: tensor.extract %arg0[%[[R]], %[[D2]]] : tensor<10x4xf32>
func.func @lookup(%table: tensor<10x4xf32>, %ids: tensor<2x3xi64>) -> tensor<2x3x4xf32> {
  %y = nn.gather %table, %ids {axis = 0 : i64} : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// The gradient in gather form (every table element sums the positions
// whose index is its row), marked as the gather_grad kernel (Outer, Rows,
// Inner, Positions, IndexBytes) on dy and the indices.
// CHECK-LABEL: func.func @lookup_grad
// CHECK: linalg.generic
// CHECK-SAME: ins(%arg0, %arg1 : tensor<3x4xf32>, tensor<3xi32>)
// CHECK-SAME: outs(%{{.*}} : tensor<10x4xf32>)
// CHECK-SAME: mcutrain.kernel = #train.kernel<gather_grad<1, 10, 4, 3, 4>>
// CHECK-SAME: mcutrain.kernel_operands = array<i64: 0, 1, 2>
// CHECK: scf.for %[[P:[a-z0-9]+]] = %c0 to %c3
// CHECK: tensor.extract %arg1[%[[P]]] : tensor<3xi32>
// CHECK: arith.extsi
// CHECK: arith.cmpi eq
// CHECK: tensor.extract %arg0[%[[P]], %{{.*}}] : tensor<3x4xf32>
// CHECK: arith.select
func.func @lookup_grad(%dy: tensor<3x4xf32>, %ids: tensor<3xi32>) -> tensor<10x4xf32> {
  %g = nn.gather_grad %dy, %ids {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3xi32>) -> tensor<10x4xf32>
  return %g : tensor<10x4xf32>
}
