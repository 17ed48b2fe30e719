// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-conv-chains))' | FileCheck %s
// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-conv-chains{fuse-conv-chains=false}))' | FileCheck %s --check-prefix=OFF

// An inverted-residual block (expand 4 -> 12, depthwise 3x3 stride 2,
// project 12 -> 6) whose intermediates nothing else reads: one conv_chain
// call on the three layers' weights, biases and bounds, into the project
// layer's output; the scratch holds 8x8 + 10x10 + 4x4 floats and names the
// layers and the 4,240 intermediate bytes (12x8x8 + 12x4x4 floats and the
// 10x10 plane).
// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.*]]: memref<1x4x8x8xf32>, %[[W1:.*]]: memref<12x4x1x1xf32>, %[[B1:.*]]: memref<12xf32>, %[[W2:.*]]: memref<12x1x3x3xf32>, %[[B2:.*]]: memref<12xf32>, %[[W3:.*]]: memref<6x12x1x1xf32>, %[[B3:.*]]: memref<6xf32>, %[[Y:.*]]: memref<1x6x4x4xf32>)
// CHECK-DAG: %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: %[[S:.*]] = memref.alloc() {alignment = 8 : i64, mcutrain.conv_chain = {intermediate_bytes = 4240 : i64, layers = ["expand", "depthwise", "project"]}} : memref<180xf32>
// CHECK-NEXT: train.runtime_call #train.kernel<conv_chain<1, 4, 8, 8, 12, 1, 1, 8, 8, 1, 1, 1, 1, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 6, 2, 2, 0>>(%[[X]], %[[W1]], %[[B1]], %[[W2]], %[[B2]], %[[W3]], %[[B3]], %[[Y]], %[[S]], %[[LO]], %[[HI]], %[[LO]], %[[HI]], %[[LO]], %[[LO]])
// CHECK-NOT: runtime_call
// CHECK-NOT: memref.alloc
// CHECK: return
// OFF-LABEL: func.func @block
// OFF-NOT: conv_chain
// OFF-COUNT-3: train.runtime_call
func.func @block(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                 %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                 %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %y: memref<1x6x4x4xf32>) {
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32> loc("e")
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32 loc("expand")
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32 loc("depthwise")
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32 loc("project")
  return
}

// -----

// The expansion is saved for the backward pass (another reader): the block
// keeps its three calls.
// CHECK-LABEL: func.func @saved
// CHECK-NOT: conv_chain
// CHECK-COUNT-3: train.runtime_call #train.kernel<{{conv2d|depthwise}}
func.func @saved(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                 %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                 %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %y: memref<1x6x4x4xf32>,
                 %i: index) -> f32 {
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  %v = memref.load %e[%i, %i, %i, %i] : memref<1x12x8x8xf32>
  return %v : f32
}

// -----

// A store between the first and the last call (here into the block's
// input) would be read too late by a fused call in the last one's place.
// CHECK-LABEL: func.func @store_between
// CHECK-NOT: conv_chain
func.func @store_between(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                         %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                         %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %y: memref<1x6x4x4xf32>,
                         %i: index) {
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  memref.store %lo, %x[%i, %i, %i, %i] : memref<1x4x8x8xf32>
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  return
}

// -----

// Not a chain the kernel computes: a grouped first layer, a 3x3 last one.
// CHECK-LABEL: func.func @grouped_first
// CHECK-NOT: conv_chain
// CHECK-LABEL: func.func @spatial_last
// CHECK-NOT: conv_chain
func.func @grouped_first(%x: memref<1x4x8x8xf32>, %w1: memref<12x2x1x1xf32>, %b1: memref<12xf32>,
                         %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                         %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %y: memref<1x6x4x4xf32>) {
  %lo = arith.constant 0.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 2, 1, 1, 8, 8, 1, 1, 1, 1, 2, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x4x8x8xf32>, memref<12x2x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  return
}
func.func @spatial_last(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                        %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                        %w3: memref<6x12x3x3xf32>, %b3: memref<6xf32>, %y: memref<1x6x2x2xf32>) {
  %lo = arith.constant 0.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x3x3xf32>, memref<1x6x2x2xf32>, memref<6xf32>, f32, f32
  return
}
