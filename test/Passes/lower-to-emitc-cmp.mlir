// RUN: mcutrain-opt %s --mcutrain-lower-to-emitc | FileCheck %s

// Ordered comparisons (and une) are C's own operators, no NaN tests; the
// others keep upstream's expansion. tanh is the runtime's vectorizable one;
// a runtime call may return a value.
// CHECK-LABEL: emitc.func @cmp
// CHECK: %[[LT:.*]] = cmp lt, %arg0, %arg1 : (f32, f32) -> i1
// CHECK-NEXT: %[[GE:.*]] = cmp ge, %arg0, %arg1 : (f32, f32) -> i1
// CHECK-NEXT: %[[NE:.*]] = cmp ne, %arg0, %arg1 : (f32, f32) -> i1
// ult keeps upstream's NaN tests.
// CHECK-NEXT: %[[ULT:.*]] = cmp lt, %arg0, %arg1
// CHECK-NEXT: cmp ne, %arg0, %arg0
// CHECK: logical_or
// CHECK: call_opaque "mcutrain::kernels::tanh"(%arg0)
// CHECK: %{{.*}} = call_opaque "mcutrain::all_finite"(%arg2, %{{.*}}) : (!emitc.array<4xf32>, !emitc.size_t) -> i1
func.func @cmp(%a: f32, %b: f32, %g: memref<4xf32>, %out: memref<1xf32>) -> i1 {
  %lt = arith.cmpf olt, %a, %b : f32
  %ge = arith.cmpf oge, %a, %b : f32
  %ne = arith.cmpf une, %a, %b : f32
  %ult = arith.cmpf ult, %a, %b : f32
  %t = math.tanh %a : f32
  %c0 = arith.constant 0 : index
  memref.store %t, %out[%c0] : memref<1xf32>
  %c4 = arith.constant 4 : index
  %ok = train.runtime_call #train<runtime_function all_finite>(%g, %c4) : memref<4xf32>, index -> i1
  %r0 = arith.andi %lt, %ge : i1
  %r1 = arith.andi %r0, %ne : i1
  %r2 = arith.andi %r1, %ult : i1
  %r3 = arith.andi %r2, %ok : i1
  return %r3 : i1
}
