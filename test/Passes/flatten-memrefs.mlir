// RUN: mcutrain-opt %s --mcutrain-flatten-memrefs | FileCheck %s

// Every buffer becomes 1-D; indices are linearized row-major; reshapes are
// the same storage.
// CHECK: memref.global "private" constant @g : memref<6xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]>
memref.global "private" constant @g : memref<2x3xf32> = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]>

// CHECK-LABEL: func.func @f(%arg0: memref<24xf32>, %arg1: index, %arg2: index) -> f32
func.func @f(%a: memref<2x3x4xf32>, %i: index, %j: index) -> f32 {
  // CHECK: %[[G:.*]] = memref.get_global @g : memref<6xf32>
  %g = memref.get_global @g : memref<2x3xf32>
  // CHECK: %[[C3:.*]] = arith.constant 3 : index
  // CHECK: %[[M:.*]] = arith.muli %arg1, %[[C3]] : index
  // CHECK: %[[L:.*]] = arith.addi %[[M]], %arg2 : index
  // CHECK: memref.load %[[G]][%[[L]]] : memref<6xf32>
  %v = memref.load %g[%i, %j] : memref<2x3xf32>
  // CHECK-NOT: collapse_shape
  %c = memref.collapse_shape %a [[0, 1], [2]] : memref<2x3x4xf32> into memref<6x4xf32>
  // CHECK: %[[C4:.*]] = arith.constant 4 : index
  // CHECK: %[[M2:.*]] = arith.muli %arg1, %[[C4]] : index
  // CHECK: %[[L2:.*]] = arith.addi %[[M2]], %arg2 : index
  // CHECK: memref.store %{{.*}}, %arg0[%[[L2]]] : memref<24xf32>
  memref.store %v, %c[%i, %j] : memref<6x4xf32>
  // CHECK: %[[B:.*]] = memref.alloc() : memref<1xf32>
  // CHECK: memref.store %{{.*}}, %[[B]][%{{.*}}] : memref<1xf32>
  %s = memref.alloc() : memref<f32>
  memref.store %v, %s[] : memref<f32>
  %r = memref.load %s[] : memref<f32>
  return %r : f32
}
