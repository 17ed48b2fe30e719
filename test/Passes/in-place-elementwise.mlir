// in-place-elementwise: an all-parallel generic whose input of the result's
// type, read through the identity map, is made by a linalg op and read by
// nothing else writes its result over that input (the input becomes the
// init, read through the init's block argument); bufferization then reuses
// the buffer. Inputs read again later, arguments, broadcasts, other types,
// generics marked for kernels and --in-place=false are left alone.
// RUN: mcutrain-opt %s --mcutrain-in-place-elementwise | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-in-place-elementwise=in-place=false | FileCheck %s --check-prefix=OFF
// RUN: mcutrain-opt %s --mcutrain-in-place-elementwise --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUF

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>

// CHECK: module attributes {mcutrain.in_place_ops = 2 : i64}
// A fresh tensor (%x) and its tanh: the tanh writes over %x.
// CHECK-LABEL: func.func @activation
// CHECK: %[[X:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x8xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel"]} outs(%[[X]] : tensor<4x8xf32>) {
// CHECK-NEXT: ^bb0(%[[V:.*]]: f32):
// CHECK-NEXT: math.tanh %[[V]]
// OFF-NOT: mcutrain.in_place_ops
// OFF: ins(%{{.*}} : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xf32>)
// BUF-LABEL: func.func @activation
// BUF-COUNT-1: memref.alloc
// BUF-NOT: memref.alloc
// BUF: return
func.func @activation(%a: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e0 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.mulf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %t = math.tanh %v : f32
    linalg.yield %t : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// A residual Add of two fresh tensors: the sum goes over the first, the
// second stays an input (its block argument keeps its place).
// CHECK-LABEL: func.func @residual_add
// CHECK: %[[P:.*]] = linalg.generic
// CHECK: %[[Q:.*]] = linalg.generic
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel"]} ins(%[[Q]] : tensor<4x8xf32>) outs(%[[P]] : tensor<4x8xf32>) {
// CHECK-NEXT: ^bb0(%[[B:.*]]: f32, %[[A:.*]]: f32):
// CHECK-NEXT: arith.addf %[[A]], %[[B]]
func.func @residual_add(%a: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %p = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e0 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.mulf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %q = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%p, %q : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%u: f32, %w: f32, %o: f32):
    %s = arith.addf %u, %w : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// Left alone: %x is read again after the tanh; the argument %a; a broadcast
// row; a narrowing (f32 -> i8); a generic marked for a kernel.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-6: ins(
// CHECK-NOT: ins(
// CHECK: return
func.func @kept(%a: tensor<4x8xf32>, %row: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xi8>, tensor<4x8xf32>) {
  %e0 = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e0 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.mulf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = math.tanh %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %b = linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%row : tensor<8xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = math.exp %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e3 = tensor.empty() : tensor<4x8xi8>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e3 : tensor<4x8xi8>) {
  ^bb0(%v: f32, %o: i8):
    %s = arith.fptosi %v : f32 to i8
    linalg.yield %s : i8
  } -> tensor<4x8xi8>
  %e5 = tensor.empty() : tensor<4x8xf32>
  %f = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xf32>) outs(%e5 : tensor<4x8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %v, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %e4 = tensor.empty() : tensor<4x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%f : tensor<4x8xf32>) outs(%e4 : tensor<4x8xf32>) attrs = {mcutrain.activation_bounds = array<f32: 0.0, 6.0>} {
  ^bb0(%v: f32, %o: f32):
    %s = math.tanh %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %x, %t, %b, %n, %m : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xi8>, tensor<4x8xf32>
}
