// RUN: mcutrain-opt %s --split-input-file --mcutrain-lower-train-buffers | FileCheck %s

// lower-train-buffers expands each train.buffer.* op. An update: the rule's
// per-step scalars, then under the gradient's finiteness check one generic
// over the parameter and its state (weight decay first); else the step's
// flag says the update was dropped (2).
module {
  memref.global "public" @w : memref<3x4xf32>
  memref.global "public" @w__state0 : memref<3x4xf32>
  memref.global "public" @w__state1 : memref<3x4xf32>
  memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<1.0e-01>
  memref.global "public" @mcutrain_step_count : memref<f32> = dense<0.0>
  memref.global "public" @mcutrain_beta1_power : memref<f32> = dense<1.0>
  memref.global "public" @mcutrain_beta2_power : memref<f32> = dense<1.0>
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  // CHECK-LABEL: func.func @sgd
  // CHECK: %[[W:.*]] = memref.get_global @w
  // CHECK: %[[LR:.*]] = memref.load %{{.*}}[] : memref<f32>
  // CHECK: %[[OK:.*]] = train.runtime_call #train<runtime_function all_finite>(%arg0, %c12)
  // CHECK: scf.if %[[OK]] {
  // CHECK: linalg.generic {{.*}} ins(%arg0 : memref<3x4xf32>) outs(%[[W]] : memref<3x4xf32>)
  // CHECK: ^bb0(%[[G:.*]]: f32, %[[P:.*]]: f32):
  // CHECK: %[[WD:.*]] = arith.mulf %[[P]], %{{.*}} : f32
  // CHECK: %[[GD:.*]] = arith.addf %[[G]], %[[WD]] : f32
  // CHECK: %[[STEP:.*]] = arith.mulf %[[LR]], %[[GD]] : f32
  // CHECK: arith.subf %[[P]], %[[STEP]] : f32
  // CHECK: } else {
  // CHECK: %[[TWO:.*]] = arith.constant 2 : i32
  // CHECK: %[[FLAG:.*]] = memref.get_global @mcutrain_skip_step
  // CHECK: memref.store %[[TWO]], %[[FLAG]]
  func.func @sgd(%g: memref<3x4xf32>) {
    train.buffer.update @w, %g <sgd, lr = 0.1, weight_decay = 0.5> : memref<3x4xf32>
    return
  }
  // Nesterov with dampening: no dampening on the first step (t - 1 <= 0).
  // CHECK-LABEL: func.func @momentum
  // CHECK: memref.get_global @mcutrain_step_count
  // CHECK-NEXT: %[[T:.*]] = memref.load %{{.*}}[] : memref<f32>
  // CHECK: %[[PREV:.*]] = arith.subf %[[T]], %{{.*}} : f32
  // CHECK: %[[FIRST:.*]] = arith.cmpf ole, %[[PREV]], %{{.*}} : f32
  // CHECK: %[[SCALE:.*]] = arith.select %[[FIRST]], %{{.*}}, %{{.*}} : f32
  // CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : memref<3x4xf32>, memref<3x4xf32>)
  // CHECK: ^bb0(%[[G:.*]]: f32, %[[P:.*]]: f32, %[[V:.*]]: f32):
  // CHECK: %[[MV:.*]] = arith.mulf %[[V]], %{{.*}} : f32
  // CHECK: %[[GS:.*]] = arith.mulf %[[G]], %[[SCALE]] : f32
  // CHECK: %[[M:.*]] = arith.addf %[[MV]], %[[GS]] : f32
  // CHECK: %[[MM:.*]] = arith.mulf %[[M]], %{{.*}} : f32
  // CHECK: %[[D:.*]] = arith.addf %[[G]], %[[MM]] : f32
  // CHECK: linalg.yield %{{.*}}, %[[M]] : f32, f32
  func.func @momentum(%g: memref<3x4xf32>) {
    train.buffer.update @w, %g <nesterov, lr = 0.1, momentum = 0.5, dampening = 0.25> : memref<3x4xf32>
    return
  }
  // PyTorch's Adam: bias corrections 1 - beta^t from the running powers.
  // CHECK-LABEL: func.func @adam
  // CHECK: %[[B1:.*]] = memref.get_global @mcutrain_beta1_power
  // CHECK: %[[BC1:.*]] = arith.subf %{{.*}}, %{{.*}} : f32
  // CHECK: memref.get_global @mcutrain_beta2_power
  // CHECK: %[[BC2:.*]] = arith.subf
  // CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}}, %{{.*}} : memref<3x4xf32>, memref<3x4xf32>, memref<3x4xf32>)
  // CHECK: arith.divf %{{.*}}, %[[BC1]] : f32
  // CHECK: arith.divf %{{.*}}, %[[BC2]] : f32
  // CHECK: math.sqrt
  func.func @adam(%g: memref<3x4xf32>) {
    train.buffer.update @w, %g <adam, lr = 0.1> : memref<3x4xf32>
    return
  }
  // ONNX's Adam: the corrected rate lr sqrt(1 - beta2^T) / (1 - beta1^T),
  // beta^T = beta^t / beta; lr itself on the first step.
  // CHECK-LABEL: func.func @adam_onnx
  // CHECK: %[[LR:.*]] = memref.load %{{.*}}[] : memref<f32>
  // CHECK: arith.divf %{{.*}}, %{{.*}} : f32
  // CHECK: %[[C1:.*]] = arith.subf
  // CHECK: %[[C2:.*]] = arith.subf
  // CHECK: %[[S:.*]] = math.sqrt %[[C2]] : f32
  // CHECK: %[[N:.*]] = arith.mulf %[[LR]], %[[S]] : f32
  // CHECK: %[[ADJ:.*]] = arith.divf %[[N]], %[[C1]] : f32
  // CHECK: %[[CLR:.*]] = arith.select %{{.*}}, %[[LR]], %[[ADJ]] : f32
  // CHECK: linalg.generic
  // CHECK: arith.mulf %[[CLR]], %{{.*}} : f32
  func.func @adam_onnx(%g: memref<3x4xf32>) {
    train.buffer.update @w, %g <adam, lr = 0.1, adam_form = onnx> : memref<3x4xf32>
    return
  }
  // Adagrad: lr / (1 + (t - 1) lr_decay).
  // CHECK-LABEL: func.func @adagrad
  // CHECK: %[[LR:.*]] = memref.load %{{.*}}[] : memref<f32>
  // CHECK: memref.get_global @mcutrain_step_count
  // CHECK: %[[PREV:.*]] = arith.subf
  // CHECK: %[[DEC:.*]] = arith.mulf %[[PREV]], %{{.*}} : f32
  // CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[DEC]] : f32
  // CHECK: %[[CLR:.*]] = arith.divf %[[LR]], %[[DEN]] : f32
  // CHECK: linalg.generic
  // CHECK: arith.mulf %[[CLR]], %{{.*}} : f32
  func.func @adagrad(%g: memref<3x4xf32>) {
    train.buffer.update @w, %g <adagrad, lr = 0.1, lr_decay = 0.5> : memref<3x4xf32>
    return
  }
  // A sparse update: loops over the gradient, the parameter addressed
  // through the channel list along channel_axis.
  // CHECK-LABEL: func.func @sparse
  // CHECK: scf.if
  // CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: %[[C:.*]] = memref.load %arg1[%[[J]]] : memref<2xi32>
  // CHECK: %[[CI:.*]] = arith.index_cast %[[C]] : i32 to index
  // CHECK: memref.load %arg0[%[[I]], %[[J]]] : memref<3x2xf32>
  // CHECK: memref.load %{{.*}}[%[[I]], %[[CI]]] : memref<3x4xf32>
  // CHECK: memref.store %{{.*}}, %{{.*}}[%[[I]], %[[CI]]] : memref<3x4xf32>
  func.func @sparse(%g: memref<3x2xf32>, %c: memref<2xi32>) {
    train.buffer.update @w, %g channels(%c : memref<2xi32>) <sgd, lr = 0.1> : memref<3x2xf32>
    return
  }
  // A sparse outer product: the gradient's element is grad[0][i] *
  // outer[0][j] (the selected input channels), never stored; the
  // finiteness check reads the two factors.
  // CHECK-LABEL: func.func @sparse_outer
  // CHECK: outer_product_finite
  // CHECK: scf.if
  // CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: %[[C:.*]] = memref.load %arg2[%[[J]]] : memref<2xi32>
  // CHECK: %[[CI:.*]] = arith.index_cast %[[C]] : i32 to index
  // CHECK: %[[R:.*]] = memref.load %arg0[%{{.*}}, %[[I]]] : memref<1x3xf32>
  // CHECK: %[[X:.*]] = memref.load %arg1[%{{.*}}, %[[J]]] : memref<1x2xf32>
  // CHECK: arith.mulf %[[R]], %[[X]] : f32
  // CHECK: memref.load %{{.*}}[%[[I]], %[[CI]]] : memref<3x4xf32>
  // CHECK: memref.store %{{.*}}, %{{.*}}[%[[I]], %[[CI]]] : memref<3x4xf32>
  func.func @sparse_outer(%dy: memref<1x3xf32>, %x: memref<1x2xf32>, %c: memref<2xi32>) {
    train.buffer.update @w, %dy channels(%c : memref<2xi32>) outer(%x : memref<1x2xf32>) <sgd, lr = 0.1> : memref<1x3xf32>
    return
  }
}

// -----

// TinyProp's sparse weight gradient: zero-filled, then loops over the kept
// errors' window taps inside the input; the MACs done (k x taps per
// element) go to mcutrain_dynamic_macs.
module {
  memref.global "private" @mcutrain_dynamic_macs : memref<1xi64>
  // CHECK-LABEL: func.func @sparse_conv
  // CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg4 : memref<2x1x3x3xf32>)
  // CHECK: %[[K:.*]] = memref.load %arg3[%{{.*}}] : memref<1xi32>
  // CHECK: scf.for
  // CHECK: memref.load %arg2
  // CHECK: scf.for
  // CHECK: scf.for
  // CHECK: scf.for
  // CHECK: arith.cmpi sge
  // CHECK: arith.cmpi slt
  // CHECK: scf.if
  // CHECK: memref.load %arg1
  // CHECK: memref.load %arg4
  // CHECK: memref.store %{{.*}}, %arg4
  // CHECK: %[[MACS:.*]] = memref.get_global @mcutrain_dynamic_macs
  // CHECK: %[[K64:.*]] = arith.extsi %[[K]] : i32 to i64
  // CHECK: %[[PER:.*]] = arith.constant 9 : i64
  // CHECK: arith.muli %[[K64]], %[[PER]] : i64
  func.func @sparse_conv(%dy: memref<1x2x3x3xf32>, %x: memref<1x1x5x5xf32>, %idx: memref<4xi32>, %n: memref<1xi32>, %dw: memref<2x1x3x3xf32>) {
    train.buffer.sparse_conv2d_grad_weight %dy, %x, %idx, %n into %dw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : memref<1x2x3x3xf32>, memref<1x1x5x5xf32>, memref<4xi32>, memref<1xi32>, memref<2x1x3x3xf32>
    return
  }
}

// -----

// The run-time decisions are calls of mcutrain_runtime.h; TinyPropv2's and
// the loss's are the step's skip decisions.
// CHECK-LABEL: func.func @decisions
// CHECK: train.runtime_call #train<runtime_function tinyprop_select>(%arg0, %c12, %c4, %arg1, %arg2, %c3, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %arg4, %arg5, %arg3) {mcutrain.skip_decision}
// CHECK: train.runtime_call #train<runtime_function skip_unless_finite>(%arg6, %c1, %arg3) {mcutrain.skip_decision}
// CHECK: train.runtime_call #train<runtime_function dgsu_select>(%arg7, %arg8, %c5, %{{.*}}, %arg9, %arg10)
// CHECK-NOT: train.buffer
func.func @decisions(%err: memref<1x12xf32>, %ymax: memref<4xf32>, %ratios: memref<4xf32>, %skip: memref<1xi32>, %idx: memref<4xi32>, %n: memref<1xi32>, %loss: memref<f32>, %age: memref<5xi16>, %imp: memref<5xf32>, %sel: memref<2xi32>, %scratch: memref<5xi32>) {
  train.buffer.topk_error %err, %ymax, %ratios, %skip into %idx, %n {layer = 3, depth = 1, s_min = 0.1 : f32, s_max = 0.9 : f32, zeta = 0.5 : f32, tau = 0.05 : f32} : memref<1x12xf32>, memref<4xf32>, memref<4xf32>, memref<1xi32>, memref<4xi32>, memref<1xi32>
  train.buffer.finite_guard %loss into %skip : memref<f32>, memref<1xi32>
  train.buffer.dgsu_select %age, %imp, %scratch into %sel {ratio = 0.25 : f32} : memref<5xi16>, memref<5xf32>, memref<2xi32>, memref<5xi32>
  return
}

// -----

// int8 training's sparse pieces read int8 buffers in real units,
// (q - zero) * scale, element by element: a channel-sliced update of an
// int8 weight (scale and zero point of the element's output channel, the
// rule in integer units, rounded to nearest even and saturated), TinyProp's
// input gradient from a per-channel int8 weight (its scales and zero points
// as constant vectors, shared by equal types), DGSU's importance from an
// unsigned input (per tensor: constants) and the int8 weight.
module {
  memref.global "public" @w : memref<2x3xi8>
  memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<1.0e-01>
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  memref.global "private" @mcutrain_dynamic_macs : memref<1xi64>
  // CHECK-DAG: memref.global "private" constant @mcutrain_qscales_0 : memref<2xf32> = dense<[5.000000e-01, 2.500000e-01]>
  // CHECK-DAG: memref.global "private" constant @w__quant_scales : memref<2xf32> = dense<[5.000000e-01, 2.500000e-01]>
  // CHECK-NOT: mcutrain_qscales_1
  // CHECK-LABEL: func.func @int8_sparse
  // CHECK: scf.if
  // CHECK: %[[S:.*]] = memref.get_global @w__quant_scales
  // CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: %[[C:.*]] = memref.load %arg1[%[[J]]] : memref<2xi32>
  // CHECK: %[[CI:.*]] = arith.index_cast %[[C]] : i32 to index
  // CHECK: %[[G:.*]] = memref.load %arg0[%[[I]], %[[J]]] : memref<2x2xf32>
  // CHECK: %[[Q:.*]] = memref.load %{{.*}}[%[[I]], %[[CI]]] : memref<2x3xi8>
  // CHECK: %[[SC:.*]] = memref.load %[[S]][%[[I]]] : memref<2xf32>
  // CHECK: arith.divf %[[G]], %[[SC]] : f32
  // CHECK: arith.sitofp %[[Q]] : i8 to f32
  // CHECK: math.roundeven
  // CHECK: %[[NEW:.*]] = arith.fptosi %{{.*}} : f32 to i8
  // CHECK: memref.store %[[NEW]], %{{.*}}[%[[I]], %[[CI]]] : memref<2x3xi8>
  func.func @int8_sparse(%g: memref<2x2xf32>, %c: memref<2xi32>) {
    train.buffer.update @w, %g channels(%c : memref<2xi32>) <sgd, lr = 0.1> {weight_type = !quant.uniform<i8:f32:0, {0.5,0.25}>} : memref<2x2xf32>
    return
  }
  // CHECK-LABEL: func.func @int8_sparse_grad_input
  // CHECK: %[[SCALES:.*]] = memref.get_global @mcutrain_qscales_0
  // CHECK: %[[ZEROS:.*]] = memref.get_global @mcutrain_qzeros_0
  // CHECK: scf.if
  // CHECK: %[[WQ:.*]] = memref.load %arg1[%[[CO:.*]], %{{.*}}, %{{.*}}, %{{.*}}] : memref<2x3x1x1xi8>
  // CHECK: %[[WF:.*]] = arith.sitofp %[[WQ]] : i8 to f32
  // CHECK: %[[WS:.*]] = memref.load %[[SCALES]][%[[CO]]]
  // CHECK: %[[WZ:.*]] = memref.load %[[ZEROS]][%[[CO]]]
  // CHECK: %[[WC:.*]] = arith.subf %[[WF]], %[[WZ]] : f32
  // CHECK: %[[WR:.*]] = arith.mulf %[[WC]], %[[WS]] : f32
  // CHECK: arith.mulf %{{.*}}, %[[WR]] : f32
  func.func @int8_sparse_grad_input(%dy: memref<1x2x1x1xf32>, %w: memref<2x3x1x1xi8>, %idx: memref<2xi32>, %n: memref<1xi32>, %dx: memref<1x3x1x1xf32>) {
    train.buffer.sparse_conv2d_grad_input %dy, %w, %idx, %n into %dx {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, quant_type = !quant.uniform<i8:f32:0, {0.5,0.25}>} : memref<1x2x1x1xf32>, memref<2x3x1x1xi8>, memref<2xi32>, memref<1xi32>, memref<1x3x1x1xf32>
    return
  }
  // CHECK-LABEL: func.func @int8_importance
  // CHECK: %[[SCALES:.*]] = memref.get_global @mcutrain_qscales_0
  // CHECK: %[[X:.*]] = memref.load %arg0{{.*}} : memref<1x3x2x2xi8>
  // CHECK: %[[XF:.*]] = arith.uitofp %[[X]] : i8 to f32
  // CHECK: %[[XS:.*]] = arith.constant 1.000000e-01 : f32
  // CHECK: %[[XZ:.*]] = arith.constant 1.280000e+02 : f32
  // CHECK: %[[XC:.*]] = arith.subf %[[XF]], %[[XZ]] : f32
  // CHECK: %[[XR:.*]] = arith.mulf %[[XC]], %[[XS]] : f32
  // CHECK: math.absf %[[XR]]
  // CHECK: memref.load %arg1{{.*}} : memref<2x3xi8>
  // CHECK: memref.load %[[SCALES]]
  // CHECK: math.sqrt
  func.func @int8_importance(%x: memref<1x3x2x2xi8>, %w: memref<2x3xi8>, %imp: memref<3xf32>) {
    train.buffer.dgsu_importance %x, %w into %imp {weight_axis = 1, decay = 0.9 : f32, input_type = !quant.uniform<u8:f32, 0.1:128>, weight_type = !quant.uniform<i8:f32:0, {0.5,0.25}>} : memref<1x3x2x2xi8>, memref<2x3xi8>, memref<3xf32>
    return
  }
}

// -----

// An int32 bias (ONNX Runtime's QDQ) updates in integer arithmetic: the
// rule's step from p = 0 with the gradient / scale (QAS), clamped to
// +-2^40, then q + round(step) in i64 with a tie (step - floor(step) ==
// 0.5) going to the even sum, saturated to int32.
module {
  memref.global "public" @b : memref<2xi32>
  memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<1.0e-01>
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  memref.global "private" @mcutrain_dynamic_macs : memref<1xi64>
  // CHECK-LABEL: func.func @int32_bias
  // CHECK: linalg.generic
  // CHECK: ^bb0(%[[G:.*]]: f32, %[[S:.*]]: f32, %{{.*}}: f32, %[[Q:.*]]: i32):
  // CHECK: arith.divf %[[G]], %[[S]] : f32
  // CHECK: %[[FL:.*]] = math.floor
  // CHECK: %[[FR:.*]] = arith.subf %{{.*}}, %[[FL]] : f32
  // CHECK: %[[TIE:.*]] = arith.cmpf oeq, %[[FR]], %{{.*}} : f32
  // CHECK: %[[Q64:.*]] = arith.extsi %[[Q]] : i32 to i64
  // CHECK: %[[BASE:.*]] = arith.fptosi %[[FL]] : f32 to i64
  // CHECK: %[[SUM:.*]] = arith.addi %[[Q64]], %[[BASE]] : i64
  // CHECK: %[[ODD:.*]] = arith.andi %[[SUM]], %{{.*}} : i64
  // CHECK: math.roundeven
  // CHECK: %[[TIED:.*]] = arith.addi %[[BASE]], %[[ODD]] : i64
  // CHECK: %[[R:.*]] = arith.select %[[TIE]], %[[TIED]], %{{.*}} : i64
  // CHECK: arith.addi %[[Q64]], %[[R]] : i64
  // CHECK: arith.cmpi sgt
  // CHECK: %[[NEW:.*]] = arith.trunci %{{.*}} : i64 to i32
  // CHECK: linalg.yield %[[NEW]] : i32
  func.func @int32_bias(%g: memref<2xf32>) {
    train.buffer.update @b, %g <sgd, lr = 0.1> {weight_type = !quant.uniform<i32:f32:0, {0.001,0.002}>} : memref<2xf32>
    return
  }
}

// -----

// A Gemm weight [K, N] (transB = 0, QLinearMatMul's) quantized per column,
// dimension 1: the dense update's scale and zero point follow the column
// (the indexing map (d0, d1) -> (d1)), and so does a sparse update's (the
// loaded scale is at the column index). Found by bench/difftest.py: the
// verifier required dimension 0.
// CHECK: #[[COL:.*]] = affine_map<(d0, d1) -> (d1)>
module {
  memref.global "public" @w : memref<3x2xi8>
  memref.global "public" @mcutrain_learning_rate : memref<f32> = dense<1.0e-01>
  memref.global "private" @mcutrain_skip_step : memref<1xi32>
  memref.global "private" @mcutrain_dynamic_macs : memref<1xi64>
  // CHECK-DAG: memref.global "private" constant @w__quant_scales : memref<2xf32> = dense<[5.000000e-01, 2.500000e-01]>
  // CHECK-LABEL: func.func @int8_per_column
  // CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[COL]], #[[COL]], #{{.*}}]
  // CHECK-LABEL: func.func @int8_per_column_sparse
  // CHECK: %[[S:.*]] = memref.get_global @w__quant_scales
  // CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
  // CHECK: %[[C:.*]] = memref.load %arg1[%[[I]]] : memref<2xi32>
  // CHECK: memref.load %[[S]][%[[J]]] : memref<2xf32>
  func.func @int8_per_column(%g: memref<3x2xf32>) {
    train.buffer.update @w, %g <sgd, lr = 0.1> {weight_type = !quant.uniform<i8:f32:1, {0.5,0.25}>} : memref<3x2xf32>
    return
  }
  func.func @int8_per_column_sparse(%g: memref<2x2xf32>, %c: memref<2xi32>) {
    train.buffer.update @w, %g channels(%c : memref<2xi32>) <sgd, lr = 0.1> {channel_axis = 0 : i64, weight_type = !quant.uniform<i8:f32:1, {0.5,0.25}>} : memref<2x2xf32>
    return
  }
}
