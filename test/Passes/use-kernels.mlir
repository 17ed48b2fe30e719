// RUN: mcutrain-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(mcutrain-use-kernels))' | FileCheck %s
// RUN: mcutrain-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(mcutrain-use-kernels{kernels=false}))' | FileCheck %s --check-prefix=LOOPS

// A marked generic on contiguous buffers becomes the kernel call on the
// operands the mark names (here the Gemm's A, B, Y) plus its scalars.
#a = affine_map<(i, k, j) -> (i, k)>
#b = affine_map<(i, k, j) -> (j, k)>
#y = affine_map<(i, k, j) -> (i, j)>
// CHECK-LABEL: func.func @gemm
// CHECK-SAME: (%[[A:.*]]: memref<1x4xf32>, %[[B:.*]]: memref<3x4xf32>, %[[Y:.*]]: memref<1x3xf32>)
// CHECK: %[[ALPHA:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1>>(%[[A]], %[[B]], %[[Y]], %[[ALPHA]]) : memref<1x4xf32>, memref<3x4xf32>, memref<1x3xf32>, f32
// CHECK-NOT: linalg.generic
// LOOPS-LABEL: func.func @gemm
// LOOPS: linalg.generic
// LOOPS-NOT: mcutrain.kernel
// LOOPS-NOT: runtime_call
func.func @gemm(%a: memref<1x4xf32>, %b: memref<3x4xf32>, %y: memref<1x3xf32>) {
  linalg.generic {indexing_maps = [#a, #b, #y],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x4xf32>, memref<3x4xf32>) outs(%y : memref<1x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<gemm<1, 3, 4, 0, 1>>,
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>,
               "mcutrain.kernel_scalars" = array<f32: 0.5>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %h = arith.constant 0.5 : f32
    %mh = arith.mulf %m, %h : f32
    %s = arith.addf %acc, %mh : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Operands the kernel does not take (the input gradient's shape-only window)
// are left out; unmarked generics stay loops.
#m3 = affine_map<(i, j) -> (i, j)>
#m1 = affine_map<(i, j) -> (j)>
// CHECK-LABEL: func.func @operand_subset
// CHECK-SAME: (%[[X:.*]]: memref<2x3xf32>, %[[W:.*]]: memref<3xf32>, %[[Y:.*]]: memref<2x3xf32>)
// CHECK: train.runtime_call #train.kernel<sum_rows<1, 2, 3>>(%[[X]], %[[Y]]) : memref<2x3xf32>, memref<2x3xf32>
// CHECK: linalg.generic
// CHECK-NOT: mcutrain.kernel
func.func @operand_subset(%x: memref<2x3xf32>, %w: memref<3xf32>, %y: memref<2x3xf32>) {
  linalg.generic {indexing_maps = [#m3, #m1, #m3],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : memref<2x3xf32>, memref<3xf32>) outs(%y : memref<2x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<sum_rows<1, 2, 3>>,
               "mcutrain.kernel_operands" = array<i64: 0, 2>} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#m3, #m1, #m3],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : memref<2x3xf32>, memref<3xf32>) outs(%y : memref<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// An output zeroed right before the kernel (nothing but pure ops between)
// takes the kernel's overwriting variant and loses the fill; a fill of
// another value, of another buffer, or with a memory access between stays,
// and so does the accumulating call. Without kernels nothing changes.
#a = affine_map<(i, k, j) -> (i, k)>
#b = affine_map<(i, k, j) -> (j, k)>
#y = affine_map<(i, k, j) -> (i, j)>
// CHECK-LABEL: func.func @overwrite
// CHECK-SAME: (%[[A:.*]]: memref<1x4xf32>, %[[B:.*]]: memref<3x4xf32>, %[[Y:.*]]: memref<1x3xf32>, %[[Z:.*]]: memref<1x3xf32>)
// CHECK-NOT: linalg.fill
// CHECK: train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1, 1>>(%[[A]], %[[B]], %[[Y]])
// CHECK-NEXT: %[[HALF:.*]] = arith.constant 5.000000e-01
// CHECK-NEXT: linalg.fill ins(%[[HALF]] : f32) outs(%[[Y]]
// CHECK: train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1>>(%[[A]], %[[B]], %[[Y]])
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[Z]]
// CHECK: train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1>>(%[[A]], %[[B]], %[[Y]])
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[Y]]
// CHECK: memref.store
// CHECK: train.runtime_call #train.kernel<gemm<1, 3, 4, 0, 1>>(%[[A]], %[[B]], %[[Y]])
// LOOPS-LABEL: func.func @overwrite
// LOOPS-COUNT-4: linalg.fill
// LOOPS-NOT: runtime_call
func.func @overwrite(%a: memref<1x4xf32>, %b: memref<3x4xf32>, %y: memref<1x3xf32>, %z: memref<1x3xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<1x3xf32>)
  %unused = arith.constant 7 : index
  linalg.generic {indexing_maps = [#a, #b, #y],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x4xf32>, memref<3x4xf32>) outs(%y : memref<1x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<gemm<1, 3, 4, 0, 1>>,
               "mcutrain.kernel_overwrite",
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  %half = arith.constant 0.5 : f32
  linalg.fill ins(%half : f32) outs(%y : memref<1x3xf32>)
  linalg.generic {indexing_maps = [#a, #b, #y],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x4xf32>, memref<3x4xf32>) outs(%y : memref<1x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<gemm<1, 3, 4, 0, 1>>,
               "mcutrain.kernel_overwrite",
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%z : memref<1x3xf32>)
  linalg.generic {indexing_maps = [#a, #b, #y],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x4xf32>, memref<3x4xf32>) outs(%y : memref<1x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<gemm<1, 3, 4, 0, 1>>,
               "mcutrain.kernel_overwrite",
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%y : memref<1x3xf32>)
  %c0 = arith.constant 0 : index
  memref.store %half, %y[%c0, %c0] : memref<1x3xf32>
  linalg.generic {indexing_maps = [#a, #b, #y],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x4xf32>, memref<3x4xf32>) outs(%y : memref<1x3xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<gemm<1, 3, 4, 0, 1>>,
               "mcutrain.kernel_overwrite",
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %m = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A strided view keeps its loops (the kernels index dense buffers).
#id = affine_map<(i, j) -> (i, j)>
// CHECK-LABEL: func.func @strided
// CHECK-NOT: runtime_call
// CHECK: linalg.generic
// CHECK-NOT: mcutrain.kernel
func.func @strided(%x: memref<4x4xf32>, %y: memref<2x2xf32>) {
  %v = memref.subview %x[0, 0] [2, 2] [1, 1] : memref<4x4xf32> to memref<2x2xf32, strided<[4, 1]>>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%v : memref<2x2xf32, strided<[4, 1]>>) outs(%y : memref<2x2xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<sum_rows<1, 2, 3>>, "mcutrain.kernel_operands" = array<i64: 0, 1>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// A depthwise kernel whose input is a spread copy (fill with zero, copy
// into the interior) that nothing else reads: the plane-at-a-time variant
// on the copy's source, with one plane of scratch; fill and copy go.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#pad = affine_map<(n, c, h, w) -> (n, c, h + 1, w + 1)>
#win = affine_map<(n, c, h, w) -> (n, c, h + 2, w + 2)>
#tap = affine_map<(n, c, h, w) -> (c, 0, 0, 0)>
// CHECK-LABEL: func.func @planes
// CHECK-SAME: (%[[X:.*]]: memref<1x2x4x4xf32>, %[[W:.*]]: memref<2x1x3x3xf32>, %[[Y:.*]]: memref<1x2x4x4xf32>)
// CHECK-NOT: linalg
// CHECK: %[[PLANE:.*]] = memref.alloc() {alignment = 64 : i64} : memref<6x6xf32>
// CHECK-NEXT: train.runtime_call #train.kernel<depthwise_conv2d<1, 2, 4, 4, 6, 6, 1, 1, 3, 3, 4, 4, 1, 1, 1, 1>>(%[[X]], %[[W]], %[[Y]], %[[PLANE]])
// CHECK-NOT: linalg
// LOOPS-LABEL: func.func @planes
// LOOPS: linalg.fill
// LOOPS: linalg.generic
// LOOPS: linalg.generic
func.func @planes(%x: memref<1x2x4x4xf32>, %w: memref<2x1x3x3xf32>, %y: memref<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %p = memref.alloc() {alignment = 64 : i64} : memref<1x2x6x6xf32>
  linalg.fill ins(%zero : f32) outs(%p : memref<1x2x6x6xf32>)
  linalg.generic {indexing_maps = [#id4, #pad], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%p : memref<1x2x6x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#win, #tap, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%p, %w : memref<1x2x6x6xf32>, memref<2x1x3x3xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1, 2>,
               "mcutrain.kernel_planes" = #train.kernel<depthwise_conv2d<1, 2, 4, 4, 6, 6, 1, 1, 3, 3, 4, 4, 1, 1, 1, 1>>, "mcutrain.kernel_spread_operand" = 0 : i64} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// The spread copy stays, and the kernel reads it, when something else
// reads it too or its source is written between the copy and the kernel.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#pad = affine_map<(n, c, h, w) -> (n, c, h + 1, w + 1)>
#win = affine_map<(n, c, h, w) -> (n, c, h + 2, w + 2)>
#tap = affine_map<(n, c, h, w) -> (c, 0, 0, 0)>
// CHECK-LABEL: func.func @planes_kept
// CHECK: linalg.fill
// CHECK: linalg.generic
// CHECK: train.runtime_call #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>(%{{.*}}, %{{.*}}, %{{.*}}) : memref<1x2x6x6xf32>
// CHECK: linalg.fill
// CHECK: linalg.generic
// CHECK: linalg.fill
// CHECK: train.runtime_call #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>(%{{.*}}, %{{.*}}, %{{.*}}) : memref<1x2x6x6xf32>
func.func @planes_kept(%x: memref<1x2x4x4xf32>, %w: memref<2x1x3x3xf32>, %y: memref<1x2x4x4xf32>, %z: memref<1x2x6x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %p = memref.alloc() {alignment = 64 : i64} : memref<1x2x6x6xf32>
  linalg.fill ins(%zero : f32) outs(%p : memref<1x2x6x6xf32>)
  linalg.generic {indexing_maps = [#id4, #pad], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%p : memref<1x2x6x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#win, #tap, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%p, %w : memref<1x2x6x6xf32>, memref<2x1x3x3xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1, 2>,
               "mcutrain.kernel_planes" = #train.kernel<depthwise_conv2d<1, 2, 4, 4, 6, 6, 1, 1, 3, 3, 4, 4, 1, 1, 1, 1>>, "mcutrain.kernel_spread_operand" = 0 : i64} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    linalg.yield %a : f32
  }
  memref.copy %p, %z : memref<1x2x6x6xf32> to memref<1x2x6x6xf32>
  %q = memref.alloc() {alignment = 64 : i64} : memref<1x2x6x6xf32>
  linalg.fill ins(%zero : f32) outs(%q : memref<1x2x6x6xf32>)
  linalg.generic {indexing_maps = [#id4, #pad], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%q : memref<1x2x6x6xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.fill ins(%zero : f32) outs(%x : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#win, #tap, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q, %w : memref<1x2x6x6xf32>, memref<2x1x3x3xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1, 2>,
               "mcutrain.kernel_planes" = #train.kernel<depthwise_conv2d<1, 2, 4, 4, 6, 6, 1, 1, 3, 3, 4, 4, 1, 1, 1, 1>>, "mcutrain.kernel_spread_operand" = 0 : i64} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// A convolution whose output starts from the bias and is read only by a
// clip: one call starts from the bias, adds the products and clips, into
// the clip's buffer (allocated before the call); bounds as scalars.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#ch = affine_map<(n, c, h, w) -> (c)>
// CHECK-LABEL: func.func @bias_act
// CHECK-SAME: (%[[X:.*]]: memref<1x2x4x4xf32>, %[[B:.*]]: memref<2xf32>, %[[Z:.*]]: memref<1x2x4x4xf32>)
// CHECK-NOT: linalg
// CHECK-DAG: %[[H:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
// CHECK-DAG: %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: train.runtime_call #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 2>>(%[[X]], %[[H]], %[[B]], %[[LO]], %[[HI]])
// CHECK-NOT: linalg
// CHECK: memref.copy %[[H]], %[[Z]]
func.func @bias_act(%x: memref<1x2x4x4xf32>, %bias: memref<2xf32>, %z: memref<1x2x4x4xf32>) {
  %y = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#ch, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_bias_act" = #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  %h = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : memref<1x2x4x4xf32>) outs(%h : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation" = #train<fused_activation clip>, "mcutrain.activation_bounds" = array<f32: 0.0, 6.0>} {
  ^bb0(%a: f32, %o: f32):
    %c0 = arith.constant 0.0 : f32
    %c6 = arith.constant 6.0 : f32
    %lt = arith.cmpf olt, %a, %c0 : f32
    %l = arith.select %lt, %c0, %a : f32
    %gt = arith.cmpf ogt, %l, %c6 : f32
    %r = arith.select %gt, %c6, %l : f32
    linalg.yield %r : f32
  }
  memref.copy %h, %z : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  return
}

// -----

// The activation's output read inside a later op's body (as a max-pool
// mask's window loads read a ReLU's output) is still read after the call:
// the ReLU fuses (code 1).
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#ch = affine_map<(n, c, h, w) -> (c)>
// CHECK-LABEL: func.func @bias_act_nested_read
// CHECK: %[[H:.*]] = memref.alloc()
// CHECK: train.runtime_call #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 1>>(%{{.*}}, %[[H]], %{{.*}}, %{{.*}}, %{{.*}})
// CHECK-NOT: linalg.generic {{.*}} ins(%[[H]]
// CHECK: memref.load %[[H]]
func.func @bias_act_nested_read(%x: memref<1x2x4x4xf32>, %bias: memref<2xf32>, %z: memref<1x2x4x4xf32>) {
  %y = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#ch, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_bias_act" = #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  %h = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : memref<1x2x4x4xf32>) outs(%h : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation" = #train<fused_activation relu>, "mcutrain.activation_bounds" = array<f32: 0.0, 0.0>} {
  ^bb0(%a: f32, %o: f32):
    %c0 = arith.constant 0.0 : f32
    %gt = arith.cmpf ogt, %a, %c0 : f32
    %r = arith.select %gt, %a, %c0 : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%z : memref<1x2x4x4xf32>) {
  ^bb0(%o: f32):
    %i0 = linalg.index 0 : index
    %i1 = linalg.index 1 : index
    %i2 = linalg.index 2 : index
    %i3 = linalg.index 3 : index
    %v = memref.load %h[%i0, %i1, %i2, %i3] : memref<1x2x4x4xf32>
    linalg.yield %v : f32
  }
  return
}

// -----

// The output is read after the kernel by more than the activation: only
// the bias is fused (identity activation, code 0); the activation stays.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#ch = affine_map<(n, c, h, w) -> (c)>
// CHECK-LABEL: func.func @bias_only
// CHECK-SAME: (%[[X:.*]]: memref<1x2x4x4xf32>, %[[B:.*]]: memref<2xf32>, %[[Z:.*]]: memref<1x2x4x4xf32>)
// CHECK: %[[Y:.*]] = memref.alloc()
// CHECK: train.runtime_call #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%[[X]], %[[Y]], %[[B]], %{{.*}}, %{{.*}})
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Y]]
// CHECK: memref.copy %[[Y]], %[[Z]]
func.func @bias_only(%x: memref<1x2x4x4xf32>, %bias: memref<2xf32>, %z: memref<1x2x4x4xf32>) {
  %y = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#ch, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bias : memref<2xf32>) outs(%y : memref<1x2x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : memref<1x2x4x4xf32>) outs(%y : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_bias_act" = #train.kernel<conv2d_bias_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  %h = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : memref<1x2x4x4xf32>) outs(%h : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation" = #train<fused_activation relu>, "mcutrain.activation_bounds" = array<f32: 0.0, 0.0>} {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  memref.copy %y, %z : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  return
}

// -----

// An input gradient, zero-filled before its kernel and read only by the
// gradient of a clip (from the clip's output %h): one call computes it and
// applies the mask, into the mask's buffer; fill and mask go.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
// CHECK-LABEL: func.func @grad_act
// CHECK-SAME: (%[[DY:.*]]: memref<1x2x4x4xf32>, %[[H:.*]]: memref<1x2x4x4xf32>, %[[Z:.*]]: memref<1x2x4x4xf32>)
// CHECK-NOT: linalg
// CHECK-DAG: %[[G:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
// CHECK-DAG: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: train.runtime_call #train.kernel<conv2d_grad_input_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 2>>(%[[DY]], %[[G]], %[[H]], %{{.*}}, %[[HI]])
// CHECK-NOT: linalg
// CHECK: memref.copy %[[G]], %[[Z]]
func.func @grad_act(%dy: memref<1x2x4x4xf32>, %h: memref<1x2x4x4xf32>, %z: memref<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %dx = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%dx : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dy : memref<1x2x4x4xf32>) outs(%dx : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_grad_act" = #train.kernel<conv2d_grad_input_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  }
  %g = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dx, %h : memref<1x2x4x4xf32>, memref<1x2x4x4xf32>) outs(%g : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation_grad" = #train<fused_activation clip>, "mcutrain.activation_bounds" = array<f32: 0.0, 6.0>} {
  ^bb0(%d: f32, %y: f32, %o: f32):
    linalg.yield %d : f32
  }
  memref.copy %g, %z : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  return
}

// -----

// Kept apart: the activation's output is written between the kernel and
// the mask (the mask must read the new values), and a gradient read by
// more than the mask.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
// CHECK-LABEL: func.func @grad_act_kept
// CHECK: train.runtime_call #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1>>
// CHECK: linalg.generic {{.*}}mcutrain.activation_grad
// CHECK: train.runtime_call #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1>>
// CHECK: linalg.generic {{.*}}mcutrain.activation_grad
func.func @grad_act_kept(%dy: memref<1x2x4x4xf32>, %h: memref<1x2x4x4xf32>, %z: memref<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %dx = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%dx : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dy : memref<1x2x4x4xf32>) outs(%dx : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_grad_act" = #train.kernel<conv2d_grad_input_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  linalg.fill ins(%zero : f32) outs(%h : memref<1x2x4x4xf32>)
  %g = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dx, %h : memref<1x2x4x4xf32>, memref<1x2x4x4xf32>) outs(%g : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation_grad" = #train<fused_activation relu>, "mcutrain.activation_bounds" = array<f32: 0.0, 0.0>} {
  ^bb0(%d: f32, %y: f32, %o: f32):
    linalg.yield %d : f32
  }
  memref.copy %g, %z : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  %dx2 = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.fill ins(%zero : f32) outs(%dx2 : memref<1x2x4x4xf32>)
  linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dy : memref<1x2x4x4xf32>) outs(%dx2 : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<conv2d_grad_input<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1>>, "mcutrain.kernel_operands" = array<i64: 0, 1>,
               "mcutrain.kernel_grad_act" = #train.kernel<conv2d_grad_input_act<1, 2, 4, 4, 3, 2, 1, 1, 4, 4, 1, 1, 1, 0>>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  %g2 = memref.alloc() {alignment = 64 : i64} : memref<1x2x4x4xf32>
  linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%dx2, %h : memref<1x2x4x4xf32>, memref<1x2x4x4xf32>) outs(%g2 : memref<1x2x4x4xf32>)
      attrs = {"mcutrain.activation_grad" = #train<fused_activation relu>, "mcutrain.activation_bounds" = array<f32: 0.0, 0.0>} {
  ^bb0(%d: f32, %y: f32, %o: f32):
    linalg.yield %d : f32
  }
  memref.copy %dx2, %z : memref<1x2x4x4xf32> to memref<1x2x4x4xf32>
  return
}

// -----

#id = affine_map<(i) -> (i)>
func.func @bad_index(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error @below {{kernel operand index out of range}}
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<sum_rows<1, 2, 3>>, "mcutrain.kernel_operands" = array<i64: 0, 2>} {
  ^bb0(%a: f32, %c: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// A body that reads a buffer beyond its operands (max pooling's gradient
// reads each window's first maximum): the kernel computes from x and dy
// what the body read there, so the buffer, which only the generic before
// writes, goes with its writer. The loops keep both.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#whole4 = affine_map<(n, c, h, w) -> (0, 0, 0, 0)>
// CHECK-LABEL: func.func @unread_positions
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.generic
// CHECK: train.runtime_call #train.kernel<max_pool_grad<1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1>>(%arg0, %arg1, %arg2)
// CHECK-NOT: linalg.generic
// CHECK: return
// LOOPS-LABEL: func.func @unread_positions
// LOOPS: memref.alloc
// LOOPS: linalg.generic
// LOOPS: linalg.generic
func.func @unread_positions(%x: memref<1x1x4x4xf32>, %dy: memref<1x1x2x2xf32>, %dx: memref<1x1x4x4xf32>) {
  %pos = memref.alloc() : memref<1x1x2x2xf32>
  linalg.generic {indexing_maps = [#id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%pos : memref<1x1x2x2xf32>) {
  ^bb0(%o: f32):
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0, %c0, %c0, %c0] : memref<1x1x4x4xf32>
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [#whole4, #whole4, #id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %dy : memref<1x1x4x4xf32>, memref<1x1x2x2xf32>) outs(%dx : memref<1x1x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<max_pool_grad<1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1>>,
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %c0 = arith.constant 0 : index
    %p = memref.load %pos[%c0, %c0, %c0, %c0] : memref<1x1x2x2xf32>
    linalg.yield %p : f32
  }
  return
}

// -----

// A buffer the body reads that is read again after it stays, and so does
// the generic that fills it.
#id4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#whole4 = affine_map<(n, c, h, w) -> (0, 0, 0, 0)>
// CHECK-LABEL: func.func @positions_read_later
// CHECK: memref.alloc
// CHECK: linalg.generic
// CHECK: train.runtime_call #train.kernel<max_pool_grad
// CHECK: memref.copy
func.func @positions_read_later(%x: memref<1x1x4x4xf32>, %dy: memref<1x1x2x2xf32>, %dx: memref<1x1x4x4xf32>, %keep: memref<1x1x2x2xf32>) {
  %pos = memref.alloc() : memref<1x1x2x2xf32>
  linalg.generic {indexing_maps = [#id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%pos : memref<1x1x2x2xf32>) {
  ^bb0(%o: f32):
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0, %c0, %c0, %c0] : memref<1x1x4x4xf32>
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [#whole4, #whole4, #id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %dy : memref<1x1x4x4xf32>, memref<1x1x2x2xf32>) outs(%dx : memref<1x1x4x4xf32>)
      attrs = {"mcutrain.kernel" = #train.kernel<max_pool_grad<1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1>>,
               "mcutrain.kernel_operands" = array<i64: 0, 1, 2>} {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %c0 = arith.constant 0 : index
    %p = memref.load %pos[%c0, %c0, %c0, %c0] : memref<1x1x2x2xf32>
    linalg.yield %p : f32
  }
  memref.copy %pos, %keep : memref<1x1x2x2xf32> to memref<1x1x2x2xf32>
  return
}
