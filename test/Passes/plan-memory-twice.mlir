// RUN: mcutrain-opt %s --mcutrain-plan-memory | FileCheck %s

// A kernel call given one buffer twice (an in-place kernel's input and
// output: in-place-depthwise) gets the arena at the buffer's offset for
// both, and every other access is shifted once: the call is rewritten
// whole at its first use, not again for its second (whose removal from
// the buffer's uses must not derail the walk over them).
// CHECK-LABEL: func.func @step
// CHECK: %[[ARENA:.*]] = memref.get_global @mcutrain_arena : memref<150xf32>
// CHECK: train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%[[ARENA]], %arg1, %[[ARENA]]) {arena_names = ["act_a_1", "", "act_a_1"], arena_offsets = array<i64: 0, 0, 0>}
// CHECK-NOT: arith.addi %{{[0-9]+}},
// CHECK: %[[OFF:.*]] = arith.constant 100 : index
// CHECK-NEXT: %[[I:.*]] = arith.addi %{{.*}}, %[[OFF]] : index
// CHECK-NEXT: memref.load %[[ARENA]][%[[I]]] : memref<150xf32>
// CHECK-NOT: arith.addi %{{[0-9]+}},
// CHECK: return
module {
  func.func @step(%out: memref<4xf32>, %w: memref<48xf32>, %x: f32) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %b = memref.alloc() : memref<50xf32> loc("b")
    memref.store %x, %b[%c1] : memref<50xf32>
    %a = memref.alloc() : memref<100xf32> loc("a")
    memref.store %x, %a[%c0] : memref<100xf32>
    train.runtime_call #train.kernel<gemm<1, 1, 1, 0, 0>>(%a, %w, %a) : memref<100xf32>, memref<48xf32>, memref<100xf32>
    %va = memref.load %a[%c1] : memref<100xf32>
    %vb = memref.load %b[%c1] : memref<50xf32>
    %s = arith.addf %va, %vb : f32
    memref.store %s, %out[%c0] : memref<4xf32>
    return
  }
}
