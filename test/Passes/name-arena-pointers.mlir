// RUN: mcutrain-opt --mcutrain-name-arena-pointers %s | FileCheck %s

// Each planned buffer a call receives is declared once, at the top of its
// function, as a named pointer into its arena; the call passes the name.
// A name that is a symbol of the module gets a trailing '_'; an argument
// that is not a planned buffer (empty name) stays.
module {
  emitc.global static @mcutrain_arena : !emitc.array<16xf32>
  emitc.global static @mcutrain_arena_i32 : !emitc.array<4xi32>
  emitc.global @act_x_1 : !emitc.array<2xf32>
  // CHECK-LABEL: emitc.func @train_step
  // CHECK-NEXT: verbatim "float *const act_conv_0 = mcutrain_arena + 4;"
  // CHECK-NEXT: verbatim "float *const act_x_1_ = mcutrain_arena;"
  // CHECK-NEXT: verbatim "int32_t *const grad_idx_2 = mcutrain_arena_i32 + 2;"
  // CHECK-NOT: verbatim
  // CHECK-NOT: subscript
  // CHECK: %[[A:.*]] = literal "act_conv_0" : !emitc.ptr<f32>
  // CHECK-NEXT: %[[B:.*]] = literal "act_x_1_" : !emitc.ptr<f32>
  // CHECK-NEXT: call_opaque "k"(%[[A]], %[[B]], %{{.*}}) : (!emitc.ptr<f32>, !emitc.ptr<f32>, f32)
  // CHECK: %[[C:.*]] = literal "act_conv_0" : !emitc.ptr<f32>
  // CHECK: %[[D:.*]] = literal "grad_idx_2" : !emitc.ptr<i32>
  // CHECK-NEXT: call_opaque "r"(%[[C]], %[[D]])
  // CHECK-NOT: mcutrain.arena_names
  emitc.func @train_step() {
    %arena = get_global @mcutrain_arena : !emitc.array<16xf32>
    %ints = get_global @mcutrain_arena_i32 : !emitc.array<4xi32>
    %c4 = "emitc.constant"() <{value = 4 : index}> : () -> !emitc.size_t
    %e = subscript %arena[%c4] : (!emitc.array<16xf32>, !emitc.size_t) -> !emitc.lvalue<f32>
    %p = apply "&"(%e) : (!emitc.lvalue<f32>) -> !emitc.ptr<f32>
    %one = "emitc.constant"() <{value = 1.0 : f32}> : () -> f32
    call_opaque "k"(%p, %arena, %one) {mcutrain.arena_names = ["act_conv_0", "act_x_1", ""]} : (!emitc.ptr<f32>, !emitc.array<16xf32>, f32) -> ()
    %c4b = "emitc.constant"() <{value = 4 : index}> : () -> !emitc.size_t
    %e2 = subscript %arena[%c4b] : (!emitc.array<16xf32>, !emitc.size_t) -> !emitc.lvalue<f32>
    %p2 = apply "&"(%e2) : (!emitc.lvalue<f32>) -> !emitc.ptr<f32>
    %c2 = "emitc.constant"() <{value = 2 : index}> : () -> !emitc.size_t
    %e3 = subscript %ints[%c2] : (!emitc.array<4xi32>, !emitc.size_t) -> !emitc.lvalue<i32>
    %p3 = apply "&"(%e3) : (!emitc.lvalue<i32>) -> !emitc.ptr<i32>
    call_opaque "r"(%p2, %p3) {mcutrain.arena_names = ["act_conv_0", "grad_idx_2"]} : (!emitc.ptr<f32>, !emitc.ptr<i32>) -> ()
    return
  }
}
