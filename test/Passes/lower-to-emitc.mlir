// RUN: mcutrain-opt %s --mcutrain-lower-to-emitc | FileCheck %s

// Flat buffers, loops and math become EmitC; log (missing upstream) is a
// call into <cmath>, exp the runtime's branch-free one (upstream's would be
// std::exp, a library call that keeps the loop scalar).
// CHECK: emitc.global static @mcutrain_arena : !emitc.array<8xf32>
// CHECK: emitc.global extern @w : !emitc.array<4xf32>
// CHECK-LABEL: emitc.func @f(%arg0: !emitc.array<4xf32>) -> f32
// CHECK: for
// CHECK: call_opaque "mcutrain::kernels::exp"
// CHECK: call_opaque "std::log"
module {
  memref.global "private" @mcutrain_arena : memref<8xf32>
  memref.global "public" @w : memref<4xf32>
  func.func @f(%x: memref<4xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %arena = memref.get_global @mcutrain_arena : memref<8xf32>
    %w = memref.get_global @w : memref<4xf32>
    scf.for %i = %c0 to %c4 step %c1 {
      %v = memref.load %x[%i] : memref<4xf32>
      %u = memref.load %w[%i] : memref<4xf32>
      %e = math.exp %v : f32
      %p = arith.mulf %e, %u : f32
      memref.store %p, %arena[%i] : memref<8xf32>
    }
    %r = memref.load %arena[%c0] : memref<8xf32>
    %l = math.log %r : f32
    return %l : f32
  }
}
