// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-conv-chains))' | FileCheck %s
// RUN: mcutrain-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mcutrain-fuse-conv-chains{fuse-conv-chains=false}))' | FileCheck %s --check-prefix=OFF

// An inverted-residual block (expand 4 -> 12, depthwise 3x3 stride 2,
// project 12 -> 6) whose intermediates nothing else reads: one conv_chain
// call on the three layers' weights, biases and bounds, into the project
// layer's output, 6 intermediate channels at a time (blocks of 12 would
// hold as many bytes as the unfused layers); the scratch holds 6x8x8 +
// 10x10 + 6x4x4 floats and names the layers and the 4,240 intermediate
// bytes (12x8x8 + 12x4x4 floats and the 10x10 plane).
// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.*]]: memref<1x4x8x8xf32>, %[[W1:.*]]: memref<12x4x1x1xf32>, %[[B1:.*]]: memref<12xf32>, %[[W2:.*]]: memref<12x1x3x3xf32>, %[[B2:.*]]: memref<12xf32>, %[[W3:.*]]: memref<6x12x1x1xf32>, %[[B3:.*]]: memref<6xf32>, %[[OUT:.*]]: memref<1x6x4x4xf32>)
// CHECK-DAG: %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: %[[Y:.*]] = memref.alloc() : memref<1x6x4x4xf32>
// CHECK: %[[S:.*]] = memref.alloc() {alignment = 8 : i64, mcutrain.conv_chain = {intermediate_bytes = 4240 : i64, layers = ["expand", "depthwise", "project"]}} : memref<580xf32>
// CHECK-NEXT: train.runtime_call #train.kernel<conv_chain<1, 4, 8, 8, 12, 1, 1, 8, 8, 1, 1, 1, 1, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 6, 2, 2, 0, 6>>(%[[X]], %[[W1]], %[[B1]], %[[W2]], %[[B2]], %[[W3]], %[[B3]], %[[Y]], %[[S]], %[[LO]], %[[HI]], %[[LO]], %[[HI]], %[[LO]], %[[LO]])
// CHECK-NOT: memref.alloc
// CHECK-NEXT: train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%[[Y]], %[[OUT]])
// CHECK-NEXT: return
// OFF-LABEL: func.func @block
// OFF-NOT: conv_chain
// OFF-COUNT-4: train.runtime_call
func.func @block(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                 %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                 %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %out: memref<1x6x4x4xf32>) {
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %y = memref.alloc() : memref<1x6x4x4xf32>
  %e = memref.alloc() : memref<1x12x8x8xf32> loc("e")
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32 loc("expand")
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32 loc("depthwise")
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32 loc("project")
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x6x4x4xf32>, memref<1x6x4x4xf32>
  return
}

// -----

// Input and output both the caller's (predict() may be called with the
// output over the input): the fused call would overwrite what it still
// reads, so the block keeps its three calls.
// CHECK-LABEL: func.func @in_place
// CHECK-NOT: conv_chain
func.func @in_place(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                    %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                    %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %y: memref<1x6x4x4xf32>) {
  %lo = arith.constant 0.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
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
                 %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %out: memref<1x6x4x4xf32>,
                 %i: index) -> f32 {
  %y = memref.alloc() : memref<1x6x4x4xf32>
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  %v = memref.load %e[%i, %i, %i, %i] : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x6x4x4xf32>, memref<1x6x4x4xf32>
  return %v : f32
}

// -----

// A store between the first and the last call (here into the block's
// input) would be read too late by a fused call in the last one's place.
// CHECK-LABEL: func.func @store_between
// CHECK-NOT: conv_chain
func.func @store_between(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                         %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                         %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %out: memref<1x6x4x4xf32>,
                         %i: index) {
  %y = memref.alloc() : memref<1x6x4x4xf32>
  %lo = arith.constant 0.0 : f32
  %hi = arith.constant 6.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 2>>(%x, %w1, %e, %b1, %lo, %hi) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  memref.store %lo, %x[%i, %i, %i, %i] : memref<1x4x8x8xf32>
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 2>>(%e, %w2, %d, %plane, %b2, %lo, %hi) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x6x4x4xf32>, memref<1x6x4x4xf32>
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
                         %w3: memref<6x12x1x1xf32>, %b3: memref<6xf32>, %out: memref<1x6x4x4xf32>) {
  %y = memref.alloc() : memref<1x6x4x4xf32>
  %lo = arith.constant 0.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 2, 1, 1, 8, 8, 1, 1, 1, 1, 2, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x4x8x8xf32>, memref<12x2x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x1x1xf32>, memref<1x6x4x4xf32>, memref<6xf32>, f32, f32
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x6x4x4xf32>, memref<1x6x4x4xf32>
  return
}
func.func @spatial_last(%x: memref<1x4x8x8xf32>, %w1: memref<12x4x1x1xf32>, %b1: memref<12xf32>,
                        %w2: memref<12x1x3x3xf32>, %b2: memref<12xf32>,
                        %w3: memref<6x12x3x3xf32>, %b3: memref<6xf32>, %out: memref<1x6x2x2xf32>) {
  %y = memref.alloc() : memref<1x6x2x2xf32>
  %lo = arith.constant 0.0 : f32
  %e = memref.alloc() : memref<1x12x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 8, 8, 12, 4, 1, 1, 8, 8, 1, 1, 1, 1, 1, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x4x8x8xf32>, memref<12x4x1x1xf32>, memref<1x12x8x8xf32>, memref<12xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x12x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 12, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x12x8x8xf32>, memref<12x1x3x3xf32>, memref<1x12x4x4xf32>, memref<10x10xf32>, memref<12xf32>, f32, f32
  train.runtime_call #train.kernel<conv2d_bias_act<1, 12, 4, 4, 6, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x12x4x4xf32>, memref<6x12x3x3xf32>, memref<1x6x2x2xf32>, memref<6xf32>, f32, f32
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x6x2x2xf32>, memref<1x6x2x2xf32>
  return
}

// -----

// A chain whose input and output are larger than its intermediates (a
// MobileNetV1-like squeeze 64 -> 4 -> 64): the fused call would hold input,
// output and scratch at once (16,384 + 4,096 + 720 B) where the three calls
// never held more than 17,408 B; it stays three calls.
// CHECK-LABEL: func.func @squeeze
// CHECK-NOT: conv_chain
func.func @squeeze(%in: memref<1x64x8x8xf32>, %w1: memref<4x64x1x1xf32>, %b1: memref<4xf32>,
                   %w2: memref<4x1x3x3xf32>, %b2: memref<4xf32>,
                   %w3: memref<64x4x1x1xf32>, %b3: memref<64xf32>, %out: memref<1x64x4x4xf32>) {
  %lo = arith.constant 0.0 : f32
  %x = memref.alloc() : memref<1x64x8x8xf32>
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%in, %x) : memref<1x64x8x8xf32>, memref<1x64x8x8xf32>
  %e = memref.alloc() : memref<1x4x8x8xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 64, 8, 8, 4, 64, 1, 1, 8, 8, 1, 1, 1, 1, 1, 1>>(%x, %w1, %e, %b1, %lo, %lo) : memref<1x64x8x8xf32>, memref<4x64x1x1xf32>, memref<1x4x8x8xf32>, memref<4xf32>, f32, f32
  %plane = memref.alloc() : memref<10x10xf32>
  %d = memref.alloc() : memref<1x4x4x4xf32>
  train.runtime_call #train.kernel<depthwise_conv2d_bias_act<1, 4, 8, 8, 10, 10, 1, 1, 3, 3, 4, 4, 2, 2, 1, 1, 1>>(%e, %w2, %d, %plane, %b2, %lo, %lo) : memref<1x4x8x8xf32>, memref<4x1x3x3xf32>, memref<1x4x4x4xf32>, memref<10x10xf32>, memref<4xf32>, f32, f32
  %y = memref.alloc() : memref<1x64x4x4xf32>
  train.runtime_call #train.kernel<conv2d_bias_act<1, 4, 4, 4, 64, 4, 1, 1, 4, 4, 1, 1, 1, 1, 1, 0>>(%d, %w3, %y, %b3, %lo, %lo) : memref<1x4x4x4xf32>, memref<64x4x1x1xf32>, memref<1x64x4x4xf32>, memref<64xf32>, f32, f32
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x64x4x4xf32>, memref<1x64x4x4xf32>
  return
}

// -----

// An int8 block (qconv2d expand 4 -> 24, qdepthwise2d, qconv2d project
// 24 -> 8): one qconv_chain call with the three layers' requantization
// operands, 12 channels at a time (the largest divisor of 24 whose planes
// add at most 16 KiB), and an 8-aligned byte scratch (int32 sums, the
// blocks' planes, the layers' own scratch).
// CHECK-LABEL: func.func @int8_block
// CHECK: %[[S:.*]] = memref.alloc() {alignment = 8 : i64, mcutrain.conv_chain = {intermediate_bytes = {{[0-9]+}} : i64, layers = ["qexpand", "qdepthwise", "qproject"]}} : memref<{{[0-9]+}}xi8>
// CHECK-NEXT: train.runtime_call #train.kernel<qconv_chain<1, 4, 16, 16, 24, 1, 1, 16, 16, 1, 1, 0, 0, 1, 1, 1, 3, 0, 255, 1, 3, 3, 8, 8, 2, 2, 1, 1, 1, 1, 1, 121, 0, 255, 1, 8, 1, 109, 0, 255, 1, 12>>(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %arg7, %arg8, %arg9, %arg10, %arg11, %arg12, %[[Y:.*]], %[[S]])
// CHECK-NEXT: train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%[[Y]], %arg13)
func.func @int8_block(%x: memref<1x4x16x16xi8>, %w1: memref<24x4x1x1xi8>, %m1: memref<24xi32>, %s1: memref<24xi32>, %o1: memref<24xi64>,
                      %w2: memref<24x1x3x3xi8>, %m2: memref<24xi32>, %s2: memref<24xi32>, %o2: memref<24xi64>,
                      %w3: memref<8x24x1x1xi8>, %m3: memref<8xi32>, %s3: memref<8xi32>, %o3: memref<8xi64>,
                      %out: memref<1x8x8x8xi8>) {
  %y = memref.alloc() : memref<1x8x8x8xi8>
  %e = memref.alloc() : memref<1x24x16x16xi8>
  %sa = memref.alloc() {alignment = 8 : i64} : memref<64xi8>
  train.runtime_call #train.kernel<qconv2d<1, 4, 16, 16, 24, 1, 1, 16, 16, 1, 1, 0, 0, 1, 1, 1, 3, 0, 255, 1>>(%x, %w1, %m1, %s1, %o1, %e, %sa) : memref<1x4x16x16xi8>, memref<24x4x1x1xi8>, memref<24xi32>, memref<24xi32>, memref<24xi64>, memref<1x24x16x16xi8>, memref<64xi8> loc("qexpand")
  %d = memref.alloc() : memref<1x24x8x8xi8>
  %sb = memref.alloc() {alignment = 8 : i64} : memref<112xi8>
  train.runtime_call #train.kernel<qdepthwise2d<1, 24, 16, 16, 3, 3, 8, 8, 2, 2, 1, 1, 1, 1, 1, 121, 0, 255, 1>>(%e, %w2, %m2, %s2, %o2, %d, %sb) : memref<1x24x16x16xi8>, memref<24x1x3x3xi8>, memref<24xi32>, memref<24xi32>, memref<24xi64>, memref<1x24x8x8xi8>, memref<112xi8> loc("qdepthwise")
  %sc = memref.alloc() {alignment = 8 : i64} : memref<64xi8>
  train.runtime_call #train.kernel<qconv2d<1, 24, 8, 8, 8, 1, 1, 8, 8, 1, 1, 0, 0, 1, 1, 1, 109, 0, 255, 1>>(%d, %w3, %m3, %s3, %o3, %y, %sc) : memref<1x24x8x8xi8>, memref<8x24x1x1xi8>, memref<8xi32>, memref<8xi32>, memref<8xi64>, memref<1x8x8x8xi8>, memref<64xi8> loc("qproject")
  train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%y, %out) : memref<1x8x8x8xi8>, memref<1x8x8x8xi8>
  return
}
