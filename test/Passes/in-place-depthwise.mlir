// RUN: mcutrain-opt %s --mcutrain-in-place-depthwise | FileCheck %s
// RUN: mcutrain-opt %s --mcutrain-in-place-depthwise=in-place-depthwise=false | FileCheck %s --check-prefix=OFF

// in-place-depthwise: an int8 depthwise call (stride 1, output the input's
// size) whose input buffer dies at the call writes over it: the in-place
// kernel gets the input's buffer as its output and the output's alloc goes.
// Left alone: stride 2, an input read after the call, an input that is not
// an arena buffer (an argument), a 1x1 kernel on a 16x1 image (its plane
// would not fit in the 6-byte scratch it is copied into); with the option
// off, everything. The module counts the two rewritten calls.
// CHECK: module attributes {mcutrain.in_place_depthwise = 2 : i64}
// OFF-NOT: mcutrain.in_place_depthwise
// OFF-NOT: _inplace
#q = #train.kernel<qdepthwise2d<1, 16, 8, 8, 3, 3, 8, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 255, 1>>
#lut = #train.kernel<qdepthwise2d_lut<1, 16, 8, 8, 3, 3, 8, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 255, 1>>
#strided = #train.kernel<qdepthwise2d<1, 16, 8, 8, 3, 3, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 255, 1>>
#tall = #train.kernel<qdepthwise2d<1, 16, 16, 1, 1, 1, 16, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 255, 1>>
module {
  // CHECK-LABEL: func.func @dies
  // CHECK: %[[X:.*]] = memref.alloc() : memref<1x16x8x8xi8>
  // CHECK-NOT: memref.alloc() : memref<1x16x8x8xi8>
  // CHECK: train.runtime_call #train.kernel<qdepthwise2d_inplace<1, 16, 8, 8, 3, 3, 8, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 255, 1>>(%[[X]], %arg0, %arg1, %arg2, %arg3, %[[X]], %{{.*}})
  // CHECK-NEXT: memref.copy %[[X]], %arg4
  // CHECK: train.runtime_call #train.kernel<qdepthwise2d_lut_inplace<{{.*}}>>(%[[X2:.*]], %arg0, %arg1, %arg2, %arg3, %arg5, %[[X2]], %{{.*}})
  // OFF-LABEL: func.func @dies
  // OFF: train.runtime_call #train.kernel<qdepthwise2d<
  func.func @dies(%w: memref<16x1x3x3xi8>, %m: memref<16xi32>, %s: memref<16xi32>, %o: memref<16xi64>, %out: memref<1x16x8x8xi8>, %table: memref<256xi8>) {
    %v = arith.constant 3 : i8
    %x = memref.alloc() : memref<1x16x8x8xi8>
    linalg.fill ins(%v : i8) outs(%x : memref<1x16x8x8xi8>)
    %y = memref.alloc() : memref<1x16x8x8xi8>
    %scratch = memref.alloc() : memref<64xi8>
    train.runtime_call #q(%x, %w, %m, %s, %o, %y, %scratch) : memref<1x16x8x8xi8>, memref<16x1x3x3xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<1x16x8x8xi8>, memref<64xi8>
    memref.copy %y, %out : memref<1x16x8x8xi8> to memref<1x16x8x8xi8>
    %x2 = memref.alloc() : memref<1x16x8x8xi8>
    linalg.fill ins(%v : i8) outs(%x2 : memref<1x16x8x8xi8>)
    %y2 = memref.alloc() : memref<1x16x8x8xi8>
    train.runtime_call #lut(%x2, %w, %m, %s, %o, %table, %y2, %scratch) : memref<1x16x8x8xi8>, memref<16x1x3x3xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<256xi8>, memref<1x16x8x8xi8>, memref<64xi8>
    memref.copy %y2, %out : memref<1x16x8x8xi8> to memref<1x16x8x8xi8>
    return
  }
  // CHECK-LABEL: func.func @kept
  // CHECK-NOT: _inplace
  // CHECK: return
  func.func @kept(%w: memref<16x1x3x3xi8>, %m: memref<16xi32>, %s: memref<16xi32>, %o: memref<16xi64>, %out: memref<1x16x8x8xi8>, %arg: memref<1x16x8x8xi8>, %w1: memref<16x1x1x1xi8>) {
    %v = arith.constant 3 : i8
    %scratch = memref.alloc() : memref<64xi8>
    // Stride 2.
    %x = memref.alloc() : memref<1x16x8x8xi8>
    linalg.fill ins(%v : i8) outs(%x : memref<1x16x8x8xi8>)
    %y = memref.alloc() : memref<1x16x4x4xi8>
    train.runtime_call #strided(%x, %w, %m, %s, %o, %y, %scratch) : memref<1x16x8x8xi8>, memref<16x1x3x3xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<1x16x4x4xi8>, memref<64xi8>
    // The input read after the call.
    %x2 = memref.alloc() : memref<1x16x8x8xi8>
    linalg.fill ins(%v : i8) outs(%x2 : memref<1x16x8x8xi8>)
    %y2 = memref.alloc() : memref<1x16x8x8xi8>
    train.runtime_call #q(%x2, %w, %m, %s, %o, %y2, %scratch) : memref<1x16x8x8xi8>, memref<16x1x3x3xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<1x16x8x8xi8>, memref<64xi8>
    memref.copy %x2, %out : memref<1x16x8x8xi8> to memref<1x16x8x8xi8>
    // The input is an argument.
    %y3 = memref.alloc() : memref<1x16x8x8xi8>
    train.runtime_call #q(%arg, %w, %m, %s, %o, %y3, %scratch) : memref<1x16x8x8xi8>, memref<16x1x3x3xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<1x16x8x8xi8>, memref<64xi8>
    // A 16 x 1 plane, a 1 x 1 kernel: 6 bytes of scratch.
    %x4 = memref.alloc() : memref<1x16x16x1xi8>
    linalg.fill ins(%v : i8) outs(%x4 : memref<1x16x16x1xi8>)
    %y4 = memref.alloc() : memref<1x16x16x1xi8>
    train.runtime_call #tall(%x4, %w1, %m, %s, %o, %y4, %scratch) : memref<1x16x16x1xi8>, memref<16x1x1x1xi8>, memref<16xi32>, memref<16xi32>, memref<16xi64>, memref<1x16x16x1xi8>, memref<64xi8>
    return
  }
}
