// RUN: mcutrain-opt --mcutrain-comment-nodes %s | FileCheck %s

// A run of statements from one ONNX node and phase gets one comment, before
// the constants made for it; declarations and returns start none; an update's
// finiteness check is one run, the skip guard's branches hold several; a
// forward op recomputed in the backward pass says so.
#file = loc("model.onnx":0:0)
#conv = loc("/layer1/Conv"(#file))
#w = loc("layer1.weight"(#file))
#odd = loc("bad\0Aname\\ {x}"(#file))
#bwconv = loc(fused<"mcutrain.backward">[#conv])
#bww = loc(fused<"mcutrain.backward">[#w])
#reconv = loc(fused<"mcutrain.recomputed">[#conv])
module {
  emitc.global @layer1_weight : !emitc.array<4xf32> loc(#w)
  emitc.global static @mcutrain_arena : !emitc.array<16xf32> loc(#file)
  // CHECK-LABEL: emitc.func @forward
  emitc.func @forward(%x: !emitc.array<4xf32>) {
    // CHECK-NEXT: get_global @layer1_weight
    %w = get_global @layer1_weight : !emitc.array<4xf32> loc(#w)
    // CHECK-NEXT: verbatim "// /layer1/Conv"
    // CHECK-NEXT: "emitc.constant"(){{.*}}value = 2
    // CHECK-NEXT: subscript
    %c2 = "emitc.constant"() <{value = 2 : index}> : () -> !emitc.size_t loc(#conv)
    %e = subscript %x[%c2] : (!emitc.array<4xf32>, !emitc.size_t) -> !emitc.lvalue<f32> loc(#conv)
    // CHECK-NEXT: load
    // CHECK-NEXT: call_opaque "f"
    %v = load %e : <f32> loc(#conv)
    call_opaque "f"(%v) : (f32) -> () loc(#conv)
    // CHECK-NEXT: verbatim "// bad?name? ?x?"
    // CHECK-NEXT: call_opaque "g"
    call_opaque "g"() : () -> () loc(#odd)
    // CHECK-NEXT: return
    return loc(#conv)
  }
  // CHECK-LABEL: emitc.func @train_step
  emitc.func @train_step(%x: !emitc.array<4xf32>) {
    // CHECK-NEXT: verbatim "// forward: /layer1/Conv"
    call_opaque "f"() : () -> () loc(#conv)
    %t = "emitc.constant"() <{value = true}> : () -> i1 loc(#file)
    // CHECK: if
    // CHECK-NEXT: verbatim "// recomputed: /layer1/Conv"
    // CHECK-NEXT: call_opaque "f"
    // CHECK-NEXT: verbatim "// backward of /layer1/Conv"
    // CHECK-NEXT: call_opaque "dx"
    // CHECK-NEXT: verbatim "// update of layer1.weight"
    // CHECK-NEXT: if
    // CHECK-NEXT: call_opaque "sgd"
    // CHECK-NOT: verbatim
    // CHECK: return
    if %t {
      call_opaque "f"() : () -> () loc(#reconv)
      call_opaque "dx"() : () -> () loc(#bwconv)
      if %t {
        call_opaque "sgd"() : () -> () loc(#bww)
      } else {
        call_opaque "skip"() : () -> () loc(#bww)
      } loc(#bww)
    } loc(#conv)
    return loc(#file)
  }
  // CHECK-LABEL: emitc.func @init
  // CHECK-NOT: verbatim
  emitc.func @init() {
    call_opaque "copy"() : () -> () loc(#w)
    return loc(#file)
  }
}
