// RUN: mcutrain-opt %s --mcutrain-plan-memory | FileCheck %s

// A fused conv chain's scratch (fuse-conv-chains' mark on its allocation)
// is planned like any buffer, reported as kind "scratch", and the plan
// lists the chain: its layers, the bytes it stands for and its scratch.
// CHECK: mcutrain.memory_plan = {
// CHECK-SAME: kind = "scratch", last = {{[0-9]+}} : i64, name = "dw#1"
// CHECK-SAME: conv_chains = [{intermediate_bytes = 4240 : i64, layers = ["expand", "dw", "project"], scratch_bytes = 720 : i64}]
module {
  func.func @forward(%x: memref<256xf32>, %w: memref<48xf32>, %y: memref<96xf32>) {
    %lo = arith.constant 0.0 : f32
    %xs = memref.alloc() : memref<256xf32> loc("spread")
    train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%x, %w, %xs) : memref<256xf32>, memref<48xf32>, memref<256xf32>
    %s = memref.alloc() {alignment = 8 : i64, mcutrain.conv_chain = {intermediate_bytes = 4240 : i64, layers = ["expand", "dw", "project"]}} : memref<180xf32> loc("dw")
    train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%xs, %w, %y, %s) : memref<256xf32>, memref<48xf32>, memref<96xf32>, memref<180xf32>
    return
  }
}
