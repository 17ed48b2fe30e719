// RUN: mcutrain-opt %s --mcutrain-collapse-loop-dims | FileCheck %s

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, 0)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1, d2) -> (d0)>

// A channel broadcast (its size-1 dimensions read through constant map
// results): the channel loop stays, the plane becomes one loop of 125.
// CHECK-LABEL: func.func @channel_scale
// CHECK-DAG: memref.collapse_shape %arg1 {{.*}} into memref<1x64xf32>
// CHECK-DAG: memref.collapse_shape %arg0 {{\[\[}}0, 1], [2, 3]] : memref<1x64x25x5xf32> into memref<64x125xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins({{.*}} : memref<64x125xf32>, memref<64xf32>) outs({{.*}} : memref<64x125xf32>)
func.func @channel_scale(%x: memref<1x64x25x5xf32>, %s: memref<1x64x1x1xf32>, %y: memref<1x64x25x5xf32>) {
  linalg.generic {indexing_maps = [#id4, #ch4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<1x64x25x5xf32>, memref<1x64x1x1xf32>) outs(%y : memref<1x64x25x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  }
  return
}

// A fill is one loop over the whole buffer.
// CHECK-LABEL: func.func @fill
// CHECK: memref.collapse_shape %arg0 {{\[\[}}0, 1, 2]] : memref<4x5x6xf32> into memref<120xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK-NOT: linalg.fill
func.func @fill(%y: memref<4x5x6xf32>) {
  %z = arith.constant 0.0 : f32
  linalg.fill ins(%z : f32) outs(%y : memref<4x5x6xf32>)
  return
}

// Parallel and reduction dimensions do not merge with each other; the two
// trailing reduction dimensions do.
// CHECK-LABEL: func.func @row_sums
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins({{.*}} : memref<3x20xf32>) outs({{.*}} : memref<3xf32>)
func.func @row_sums(%x: memref<3x4x5xf32>, %y: memref<3xf32>) {
  linalg.generic {indexing_maps = [#id3, #row], iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%x : memref<3x4x5xf32>) outs(%y : memref<3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  }
  return
}

// A transpose reads its dimensions out of order: nothing merges.
// CHECK-LABEL: func.func @transpose
// CHECK-NOT: memref.collapse_shape
// CHECK: linalg.generic {{.*}}ins({{.*}} : memref<5x4xf32>) outs({{.*}} : memref<4x5xf32>)
func.func @transpose(%x: memref<5x4xf32>, %y: memref<4x5xf32>) {
  linalg.generic {indexing_maps = [#tr, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<5x4xf32>) outs(%y : memref<4x5xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}

// Strided views and generics that read their indices keep their loops.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: memref.collapse_shape
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
func.func @kept(%x: memref<4x5xf32, strided<[10, 1]>>, %y: memref<4x5xf32>) {
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x5xf32, strided<[10, 1]>>) outs(%y : memref<4x5xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel", "parallel"]}
      outs(%y : memref<4x5xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 1 : index
    %c = arith.index_cast %i : index to i32
    %f = arith.sitofp %c : i32 to f32
    linalg.yield %f : f32
  }
  return
}
