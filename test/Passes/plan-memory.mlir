// RUN: mcutrain-opt %s --mcutrain-plan-memory | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-plan-memory=alignment=64 | FileCheck %s --check-prefix=ALIGN

// %a dies before %c is born, so they share offset 0; %b overlaps both.
// CHECK: module attributes {mcutrain.memory_plan = {alignment = 8 : i64, arena_bytes = 600 : i64, buffers = [
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 400 : i64, dtype = "float32", first = 2 : i64, func = "step", kind = "activation", last = 5 : i64, name = "a#0", offset = 0 : i64}
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 200 : i64, dtype = "float32", first = 4 : i64, func = "step", kind = "activation", last = 9 : i64, name = "b#1", offset = 400 : i64}
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 400 : i64, dtype = "float32", first = 6 : i64, func = "step", kind = "activation", last = 11 : i64, name = "c#2", offset = 0 : i64}
// CHECK-SAME: lower_bound_bytes = 600 : i64, no_reuse_bytes = 1000 : i64
// The peak: 600 B live from position 4 (%b's allocation) on.
// CHECK-SAME: peak = {bytes = 600 : i64, func = "step", node = "b", phase = "forward", position = 4 : i64}}
// CHECK: memref.global "private" @mcutrain_arena : memref<150xf32>
// CHECK-LABEL: func.func @step
// CHECK: %[[ARENA:.*]] = memref.get_global @mcutrain_arena : memref<150xf32>
// CHECK-NOT: memref.alloc
// CHECK: memref.store %{{.*}}, %[[ARENA]][%{{.*}}] : memref<150xf32>
// %b lives at float offset 100.
// CHECK: %[[OFF:.*]] = arith.constant 100 : index
// CHECK: %[[I:.*]] = arith.addi %{{.*}}, %[[OFF]] : index
// CHECK: memref.store %{{.*}}, %[[ARENA]][%[[I]]]

// With 64-byte alignment the 200-byte buffer takes 256 bytes.
// ALIGN: alignment = 64 : i64, arena_bytes = 704 : i64
module {
  func.func @step(%out: memref<4xf32>, %x: f32) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %a = memref.alloc() {} : memref<100xf32> loc("a")
    memref.store %x, %a[%c0] : memref<100xf32>
    %b = memref.alloc() : memref<50xf32> loc("b")
    %va = memref.load %a[%c0] : memref<100xf32>
    %c = memref.alloc() : memref<100xf32> loc("c")
    memref.store %va, %b[%c1] : memref<50xf32>
    memref.store %va, %c[%c1] : memref<100xf32>
    %vb = memref.load %b[%c1] : memref<50xf32>
    memref.store %vb, %c[%c0] : memref<100xf32>
    %vc = memref.load %c[%c0] : memref<100xf32>
    memref.store %vc, %out[%c0] : memref<4xf32>
    return
  }
}
