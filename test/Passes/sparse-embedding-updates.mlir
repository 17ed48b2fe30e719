// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-sparse-embedding-updates))' | FileCheck %s
// RUN: mcutrain-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-sparse-embedding-updates),mcutrain-lower-parameters,mcutrain-lower-to-linalg,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},mcutrain-lower-train-buffers)' | FileCheck %s --check-prefix=LOWERED

// An embedding table (10 rows of 4) looked up at 2 x 3 token ids, plain
// SGD: the update takes dy as 6 rows and the rows the gather read; no
// 10 x 4 gradient is formed.
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[DY:.*]]: tensor<2x3x4xf32>, %[[IDS:.*]]: tensor<2x3xi64>)
// CHECK-NOT: nn.gather_grad
// CHECK: %[[ROWS:.*]] = nn.reshape %[[DY]] : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK: %[[IDX:.*]] = nn.row_indices %[[IDS]] {extent = 10 : i64} : (tensor<2x3xi64>) -> tensor<6xi32>
// CHECK: train.update @table, %[[ROWS]] channels(%[[IDX]] : tensor<6xi32>) <sgd, lr = 1.000000e-01> {channel_axis = 0 : i64} : tensor<6x4xf32>
// The rows as the gather reads them (negative from the end, clamped), and
// the update loops over the 6 rows only, writing the table at each.
// LOWERED-LABEL: func.func @embedding
// LOWERED-NOT: memref.alloc() {{.*}} : memref<10x4xf32>
// LOWERED: arith.addi %{{.*}}, %c10_i64
// LOWERED: arith.maxsi
// LOWERED: arith.minsi %{{.*}}, %c9_i64
// LOWERED: scf.for %[[R:.*]] = %c0 to %c6
// LOWERED: scf.for %[[C:.*]] = %c0 to %c4
// LOWERED: %[[ROW:.*]] = memref.load %{{.*}}[%[[R]]] : memref<6xi32>
// LOWERED: %[[AT:.*]] = arith.index_cast %[[ROW]]
// LOWERED: memref.store %{{.*}}, %{{.*}}[%[[AT]], %[[C]]] : memref<10x4xf32>
module {
  ml_program.global private mutable @table(dense<0.5> : tensor<10x4xf32>) : tensor<10x4xf32>
  func.func @embedding(%dy: tensor<2x3x4xf32>, %ids: tensor<2x3xi64>) {
    %g = nn.gather_grad %dy, %ids {axis = 0 : i64} : (tensor<2x3x4xf32>, tensor<2x3xi64>) -> tensor<10x4xf32>
    train.update @table, %g <sgd, lr = 0.1> : tensor<10x4xf32>
    return
  }
}

// -----

// Left dense: momentum and weight decay move rows that were not looked up,
// a gather along another axis is not a row lookup, and a gradient used
// elsewhere is made anyway.
// CHECK-LABEL: func.func @left_dense
// CHECK: %[[M:.*]] = nn.gather_grad
// CHECK: train.update @a, %[[M]] <momentum
// CHECK: %[[W:.*]] = nn.gather_grad
// CHECK: train.update @b, %[[W]] <sgd
// CHECK: %[[X:.*]] = nn.gather_grad
// CHECK: train.update @c, %[[X]] <sgd
// CHECK: %[[U:.*]] = nn.gather_grad
// CHECK: train.update @d, %[[U]] <sgd
// CHECK-NOT: row_indices
module {
  ml_program.global private mutable @a(dense<0.5> : tensor<10x4xf32>) : tensor<10x4xf32>
  ml_program.global private mutable @b(dense<0.5> : tensor<10x4xf32>) : tensor<10x4xf32>
  ml_program.global private mutable @c(dense<0.5> : tensor<4x10xf32>) : tensor<4x10xf32>
  ml_program.global private mutable @d(dense<0.5> : tensor<10x4xf32>) : tensor<10x4xf32>
  func.func @left_dense(%dy: tensor<3x4xf32>, %dyc: tensor<4x3xf32>, %ids: tensor<3xi32>) -> tensor<10x4xf32> {
    %m = nn.gather_grad %dy, %ids {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3xi32>) -> tensor<10x4xf32>
    train.update @a, %m <momentum, lr = 0.1> : tensor<10x4xf32>
    %w = nn.gather_grad %dy, %ids {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3xi32>) -> tensor<10x4xf32>
    train.update @b, %w <sgd, lr = 0.1, weight_decay = 0.01> : tensor<10x4xf32>
    %x = nn.gather_grad %dyc, %ids {axis = 1 : i64} : (tensor<4x3xf32>, tensor<3xi32>) -> tensor<4x10xf32>
    train.update @c, %x <sgd, lr = 0.1> : tensor<4x10xf32>
    %u = nn.gather_grad %dy, %ids {axis = 0 : i64} : (tensor<3x4xf32>, tensor<3xi32>) -> tensor<10x4xf32>
    train.update @d, %u <sgd, lr = 0.1> : tensor<10x4xf32>
    return %u : tensor<10x4xf32>
  }
}
