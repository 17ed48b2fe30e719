// RUN: mcutrain-opt %s --mcutrain-plan-memory | FileCheck %s
// 8-bit buffers share the main (float) arena, read through an int8 view of
// it (@mcutrain_arena_i8, which the package declares as a pointer into
// @mcutrain_arena: char accesses may alias anything); other integer buffers
// go to an arena of their element type (a load must read its own type);
// sizes in bytes; i64 offsets stay 8-byte aligned even with 4-byte
// alignment. In @reuse the int8 buffer dies before the float one is born:
// both sit at offset 0.
// RUN: mcutrain-opt %s --mcutrain-plan-memory=alignment=4 | FileCheck %s --check-prefix=ALIGN4

// CHECK: arena_bytes = 48 : i64
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 8 : i64, dtype = "int8", {{.*}} name = "bytes#0", offset = 0 : i64}
// A buffer allocated by a backward op (derive-backward's location tag) is a
// gradient.
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 8 : i64, {{.*}} kind = "gradient", {{.*}} name = "floats#1", offset = 8 : i64}
// CHECK-SAME: {arena = "mcutrain_arena_i64", bytes = 16 : i64, dtype = "int64", {{.*}} name = "wide#2", offset = 0 : i64}
// CHECK-SAME: {arena = "mcutrain_arena_i64", bytes = 16 : i64, {{.*}} name = "wide2#3", offset = 16 : i64}
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 8 : i64, dtype = "int8", first = 1 : i64, func = "reuse", kind = "activation", last = 3 : i64, name = "early#0", offset = 0 : i64}
// CHECK-SAME: {arena = "mcutrain_arena", bytes = 8 : i64, dtype = "float32", first = 4 : i64, func = "reuse", kind = "activation", last = 6 : i64, name = "late#1", offset = 0 : i64}
// CHECK-SAME: views = [{arena = "mcutrain_arena", name = "mcutrain_arena_i8"}]
// CHECK-DAG: memref.global "private" @mcutrain_arena : memref<4xf32>
// CHECK-DAG: memref.global "private" @mcutrain_arena_i8 : memref<16xi8>
// CHECK-DAG: memref.global "private" @mcutrain_arena_i64 : memref<4xi64>
// CHECK-LABEL: func.func @step
// CHECK-DAG: memref.get_global @mcutrain_arena_i8 : memref<16xi8>
// CHECK-DAG: memref.get_global @mcutrain_arena_i64 : memref<4xi64>
// The second i64 buffer starts at element 2 (byte 16).
// CHECK: arith.constant 2 : index

// ALIGN4: {arena = "mcutrain_arena_i64", bytes = 16 : i64, {{.*}} name = "wide2#3", offset = 16 : i64}
module {
  func.func @step(%out: memref<1xi64>, %x: i8, %f: f32, %w: i64) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %a = memref.alloc() : memref<5xi8> loc("bytes")
    %b = memref.alloc() : memref<2xf32> loc(fused<"mcutrain.backward">["floats"])
    %c = memref.alloc() : memref<2xi64> loc("wide")
    %d = memref.alloc() : memref<2xi64> loc("wide2")
    memref.store %x, %a[%c0] : memref<5xi8>
    memref.store %f, %b[%c0] : memref<2xf32>
    memref.store %w, %c[%c1] : memref<2xi64>
    memref.store %w, %d[%c1] : memref<2xi64>
    %v = memref.load %c[%c1] : memref<2xi64>
    %u = memref.load %d[%c1] : memref<2xi64>
    %s = arith.addi %v, %u : i64
    memref.store %s, %out[%c0] : memref<1xi64>
    %va = memref.load %a[%c0] : memref<5xi8>
    %vb = memref.load %b[%c0] : memref<2xf32>
    return
  }
  func.func @reuse(%x: i8, %f: f32) {
    %c0 = arith.constant 0 : index
    %a = memref.alloc() : memref<8xi8> loc("early")
    memref.store %x, %a[%c0] : memref<8xi8>
    %va = memref.load %a[%c0] : memref<8xi8>
    %b = memref.alloc() : memref<2xf32> loc("late")
    memref.store %f, %b[%c0] : memref<2xf32>
    %vb = memref.load %b[%c0] : memref<2xf32>
    return
  }
}
