#ifndef MCUTRAIN_PASSES_TD
#define MCUTRAIN_PASSES_TD

include "mlir/Pass/PassBase.td"

def DeriveBackwardPass : Pass<"mcutrain-derive-backward", "mlir::ModuleOp"> {
  let summary = "Builds func @train_step (forward, loss, pruned backward, updates) from @forward";
  let description = [{
    Clones @forward, appends the loss, and walks the ops in reverse asking
    each one (AutodiffOpInterface) for the gradients of those operands that
    depend on a trainable parameter. Each trainable parameter gets one
    optimizer update; trainable globals become mutable, frozen ones stay
    immutable (flash). In a quantized model (nn.qconv2d / nn.qgemm after
    fuse-quantized-layers) a trainable weight read only through one
    nn.quantize becomes an int8 global updated in place (train.update's
    weight_type), unless weight-update is fp32-master.
  }];
  let options = [
    Option<"loss", "loss", "std::string", "\"cross-entropy\"",
           "Loss: cross-entropy | mse">,
    Option<"trainable", "trainable", "std::string", "\"all\"",
           "Which parameters train: all | last:K (last K parameterised "
           "layers) | bias-only | comma-separated ONNX initializer (or "
           "alias) names and globs">,
    Option<"lr", "lr", "double", "0.01", "Learning rate">,
    Option<"optimizer", "optimizer", "std::string", "\"sgd\"",
           "Optimizer: sgd | momentum | nesterov | adam | adagrad">,
    Option<"momentum", "momentum", "double", "0.9",
           "Momentum (momentum, nesterov)">,
    Option<"beta1", "beta1", "double", "0.9", "Adam beta1">,
    Option<"beta2", "beta2", "double", "0.999", "Adam beta2">,
    Option<"epsilon", "epsilon", "double", "-1",
           "Adam/Adagrad epsilon (default 1e-8 / 1e-10)">,
    Option<"weightDecay", "weight-decay", "double", "0",
           "L2 weight decay (as torch.optim)">,
    Option<"lrDecay", "lr-decay", "double", "0", "Adagrad learning-rate decay">,
    Option<"dampening", "dampening", "double", "0",
           "Momentum dampening (as torch.optim.SGD; none on the first "
           "step)">,
    Option<"weightUpdate", "weight-update", "std::string", "\"int8\"",
           "int8 (QDQ) models: int8 (trainable int8 weights updated in "
           "place, TTE's scheme) | fp32-master (an fp32 copy of each "
           "trainable weight, quantized in every forward pass)">,
    Option<"qas", "qas", "std::string", "\"on\"",
           "int8 weight updates: on (quantization-aware scaling, the "
           "integer weight's gradient divided by scale^2) | off">,
  ];
  let dependentDialects = ["::mcutrain::nn::NNDialect",
                           "::mcutrain::train::TrainDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def FuseQuantizedLayersPass
    : Pass<"mcutrain-fuse-quantized-layers", "mlir::ModuleOp"> {
  let summary = "QDQ convolutions and Gemms become int8 layers (nn.qconv2d, nn.qgemm)";
  let description = [{
    The first pass after import, in both pipelines (before derive-backward
    and fold-frozen-quantization). A QDQ model computes each layer in float
    between a dequantize and a quantize: conv(dequantize(x), dequantize(w),
    b), perhaps a Relu or Clip, then quantize to the next activation's type.
    Where the input is 8-bit per tensor, the weight 8-bit per tensor or per
    output channel and the result (through at most one Relu/Clip, used
    nowhere else) is quantized to 8 bits per tensor, the layer becomes
    nn.qconv2d / nn.qgemm on the integer tensors: int32 accumulation,
    requantization to the output type, the activation a clamp in output
    units. The float bias stays float: the requantization adds it in its
    fixed-point form (nn.qconv2d), where an int32 multiple of x_scale *
    w_scale[c] would move outputs by a step next to rounding boundaries
    (0.02% of a layer's outputs; 28% of LeNet-5's logits after five layers).
    A quantize after a max pooling or a reshape moves before it, which then
    runs on the integers (exact: per-tensor quantization is non-decreasing,
    so max commutes with it), and a quantize of a dequantize of one type
    cancels.
    Layers that do not fit stay float between their dequantize and
    quantize.
  }];
}

def FoldFrozenQuantizationPass
    : Pass<"mcutrain-fold-frozen-quantization", "mlir::ModuleOp"> {
  let summary = "Quantize-dequantize of a frozen parameter becomes its fake-quantized data";
  let description = [{
    Runs where mutability is final: right after derive-backward, and first
    under --inference-only (before share-frozen-aliases, whose merging
    compares values). A QDQ model quantizes each weight at run time
    (nn.dequantize(nn.quantize(load @w))); for a frozen @w that is the same
    every step and would put a float copy of the whole weight in the arena.
    When every load of a frozen float global feeds only such pairs of one
    !quant.uniform type, the global's data is replaced by the pairs' result
    (computed as the generated code computes it: x * f32(1/scale), ties to
    even, zero point, saturation, then (q - zero) * scale) and the pairs are
    erased; likewise an integer global read only by nn.dequantize (an int32
    bias) becomes a float global of its dequantized values, and a frozen
    float global read only by nn.quantize of one type (the weights and
    biases of fuse-quantized-layers' int8 layers) becomes an integer global
    of the quantized values, in flash at one byte per int8 element. Values
    and names are unchanged; only the run-time work and the arena go.
  }];
}

def ShareFrozenAliasesPass
    : Pass<"mcutrain-share-frozen-aliases", "mlir::ModuleOp"> {
  let summary = "Frozen parameters untied from one ONNX initializer read one constant";
  let description = [{
    Runs right after derive-backward, which decides what trains (and alone
    before lowering under --inference-only). The importer gives each alias
    of an initializer that torch.onnx.export merged behind Identity nodes a
    global of its own (onnx.alias_of names the initializer). Frozen ones
    never change and all hold the initializer's data, so one constant global
    serves them: the initializer's own if it is frozen, else the first
    frozen alias. The others' loads read it, they are erased, and their
    names are listed in its mcutrain.frozen_aliases (report.json).
    lower-to-linalg then takes that constant as the flash image of the
    trainable members of the group, so the data is in flash once.
  }];
}

def SparsifyPass : Pass<"mcutrain-sparsify", "mlir::ModuleOp"> {
  let summary = "Sparse updates: the weight channels that train, and only their saved features";
  let description = [{
    static:RATIO or static:NAME=RATIO,... (ONNX initializer names or globs):
    each selected Conv (group 1) or Gemm weight updates only ceil(RATIO x C)
    of its C input channels, those with the largest L2 weight norm (Lin et
    al. 2022). The layer's input is gathered to those channels where it is
    made (train.gather_channels), so only they stay alive for the backward
    pass; the weight gradient is computed for them alone and train.update
    writes only their slices (the others keep their values and optimizer
    state).
    dgsu:RATIO or dgsu:NAME=RATIO,... (Li & Chang 2025): the same, but the
    channels are chosen at run time each step (train.dgsu_select calls the
    runtime: every channel within ceil(C/m) steps, free slots by
    importance), and train.dgsu_importance keeps each channel's running
    mean |input| x weight norm; the controller state lives in RAM globals
    zeroed by init().
    tinyprop[:SMIN,SMAX,ZETA] (Rueb et al. 2023; defaults 0.1, 0.9, 0.5;
    batch 1): after the output error of each Conv/Gemm in the backward pass
    (depth d from the output) comes train.topk_error, which at run time
    keeps its k = round(n (SMIN + y (SMAX - SMIN) / ymax) ZETA^d) largest
    elements (y = sum |error|, ymax its running maximum) and zeroes the
    rest; the layer's weight and input gradients become
    train.sparse_conv2d_grad_* loops over those k (a Gemm as a 1x1
    convolution), the bias gradient sums the kept errors. Buffers are sized
    for kmax = round(n SMAX ZETA^d).
    tinyprop2[:SMIN,SMAX,ZETA,TAU] (default TAU 0.05): also skips the rest
    of the backward pass and the updates when the output layer's error is
    below TAU times its running maximum (guard-backward).
    combined[:RATIO[,SMIN,SMAX,ZETA,TAU]]: DGSU with RATIO (default 0.1)
    for the weight channels, then TinyPropv2 on the errors; a weight
    gradient then loops over the k kept errors and the selected channels.
    Depthwise convolutions (group = C) select filters under static/dgsu:
    filter c reads input channel c only, so the input and the output error
    are gathered to the selected channels.
    int8 layers (nn.qconv2d, nn.qgemm with --weight-update int8) take part
    in every method: their gathered inputs stay int8, the norms and the
    importance use real values ((q - zero) * scale), the channel-sliced
    update rounds into the int8 weight, and the sparse gradients read the
    int8 operand in real units. fp32 master weights are refused.
  }];
  let options = [
    Option<"sparsity", "sparsity", "std::string", "\"none\"",
           "Sparse updates: none; static:RATIO (every trainable Conv/Gemm "
           "weight updates its RATIO x C input channels of largest L2 "
           "norm) or static:NAME=RATIO,... (ONNX names or globs; "
           "op:Conv / op:Gemm for every weight of that layer kind; the "
           "first match decides, e.g. static:op:Conv=0.1 keeps the "
           "classifier dense); "
           "dgsu:RATIO or dgsu:NAME=RATIO,... (channels chosen each step "
           "at run time); tinyprop[:SMIN,SMAX,ZETA] (each layer "
           "back-propagates only its top-k output errors, k adapted to "
           "the error each step; defaults 0.1,0.9,0.5; batch 1); "
           "tinyprop2[:SMIN,SMAX,ZETA,TAU] (also skips the backward pass "
           "when the output error is below TAU x its running max; TAU "
           "0.05); combined[:RATIO[,SMIN,SMAX,ZETA,TAU]] (DGSU channels "
           "and TinyPropv2 errors together; RATIO 0.1)">,
  ];
  let dependentDialects = ["::mcutrain::train::TrainDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ReorderUpdatesPass : Pass<"mcutrain-reorder-updates", "mlir::func::FuncOp"> {
  let summary = "Moves each optimizer update right after the last use of its parameter and gradient";
  let description = [{
    Updates are in place, so they must follow every read of the old value;
    placing them as early as that allows ends each gradient's lifetime at
    once, which lowers the arena peak.
  }];
}

def FuseOuterProductUpdatesPass
    : Pass<"mcutrain-fuse-outer-product-updates", "mlir::func::FuncOp"> {
  let summary = "Computes outer-product weight gradients inside their updates";
  let description = [{
    A dense train.update whose gradient is an nn.gemm A^T B with A 1 x M
    and B 1 x N (a batch-1 Linear layer's weight gradient; no C, alpha 1)
    used by nothing else takes A and B instead (`outer`): the M x N
    gradient is never stored. Its finiteness check becomes the factors'
    (mcutrain::outer_product_finite), and the optimizer multiplies
    A[0][i] * B[0][j] where it reads g[i][j], the Gemm's own product. The
    same for an int8 Linear layer at batch 1 (nn.qgemm_grad_b of a 1 x N
    error and a 1 x K int8 input): the factors are the error and the
    dequantized input. And for a 1 x 1 convolution (group 1, no padding) of
    a 1 x 1 image at batch 1, float or int8 (nn.conv2d_grad_weight,
    nn.qconv2d_grad_weight): the error and the input as rows; the
    parameter stays [M, N, 1, 1]. With plain SGD (no weight decay, dense,
    float) also at rank K <= 16: a batch-K Linear layer's A^T B (A K x M,
    B K x N), and a 1 x 1 convolution (stride 1, group 1, no padding) on
    a plane of K = N*H*W pixels, whose error and input become K pixel rows
    (nn.reshape, nn.transpose); the update forms g[i][j] = sum over k of
    A[k][i] * B[k][j] (mcutrain::low_rank_finite checks it; the kernel is
    sgd_low_rank_update). Runs after sparsify and reorder-updates, before
    fuse-input-grad-into-updates (which takes rank 1 only).
  }];
}

def SparseEmbeddingUpdatesPass
    : Pass<"mcutrain-sparse-embedding-updates", "mlir::func::FuncOp"> {
  let summary = "Embedding tables update only the rows the step looked up";
  let description = [{
    After sparsify, with the other update fusions: a dense train.update
    whose gradient is an nn.gather_grad along dimension 0 (an embedding
    table's, ONNX Gather at run-time indices) used by nothing else, with
    plain SGD and no weight decay (where the rows not looked up keep their
    values in the dense step too), becomes a row-sparse update: its
    gradient is dy with one row per index, its channel list the rows the
    gather read (nn.row_indices), so the table's gradient (rows x width
    floats, its zero fill, its finiteness pass and the update's pass over
    the table) is never made. A row looked up twice is updated twice, once
    per lookup (the same sum, rounded per step). Momentum, Adam and Adagrad
    move every row (their state decays), so their updates stay dense.
  }];
}

def FuseInputGradIntoUpdatesPass
    : Pass<"mcutrain-fuse-input-grad-into-updates", "mlir::func::FuncOp"> {
  let summary = "Computes batch-1 Linear input gradients in their weight's SGD update";
  let description = [{
    A plain SGD train.update with `outer` (fuse-outer-product-updates) whose
    gradient also feeds nn.gemm grad P (P the parameter's loaded value, no
    C, alpha 1; the layer's input gradient) yields that product itself
    (`input_grad`) and moves up to the Gemm's place, which is legal when
    nothing between them reads the parameter: the update's pass over the
    weight reads each old value once for both (lower-train-buffers marks it for
    the mcutrain::kernels::sgd_outer_update_input_grad kernel).
  }];
}

def PackMasksPass : Pass<"mcutrain-pack-masks", "mlir::func::FuncOp"> {
  let summary = "Gradients that need only a predicate of a saved tensor read bit-packed masks";
  let description = [{
    After sparsify and the update fusions (the backward pass is final),
    before recompute. A forward tensor whose every
    read in the backward pass is a predicate of it: nn.relu_grad's y > 0,
    nn.activation_grad's for clip (ReLU6, hardtanh: lo < y < hi, from the
    output) and leaky_relu (x > 0, from the input), nn.qoutput_grad's
    (an int8 layer's clamp), nn.quantize_grad's (per tensor: the value
    quantizes unsaturated), and nn.max_pool2d_grad's routing when the
    windows are disjoint (stride >= kernel, dilation 1): the backward pass
    reads masks of one bit per element (a pool's: its windows' first-maximum
    positions, 2 bits per 2x2 window) instead (nn.pack_mask /
    nn.max_pool2d_mask right after the tensor is made; nn.masked_grad /
    nn.max_pool2d_masked_grad where it was read), so the tensor dies with
    its last forward reader, not when the backward pass reaches it: a 32x
    (int8: 8x) smaller saved state where the layer around it does not train
    (its weight gradient reads its input whole, and then nothing changes).
    The same comparisons on the same values: the gradients are bit-identical
    to those read from the tensors.
  }];
  let options = [
    Option<"packMasks", "pack-masks", "bool", /*default=*/"true",
           "Save the ReLU/ReLU6/Clip/leaky-ReLU, int8 clamp and max-pool "
           "gradients' masks as bits (1 per element) instead of keeping "
           "their forward tensors for the backward pass">,
  ];
}

def RecomputePass : Pass<"mcutrain-recompute", "mlir::func::FuncOp"> {
  let summary = "Forward tensors the backward pass reads are recomputed there from cheaper ones";
  let description = [{
    The last training pass, after pack-masks (the forward tensors still
    saved then are those whose values the backward pass reads: weight
    gradients' layer inputs, int8 clamps beside them). For such a tensor,
    made by a pure forward op (nn.conv2d, nn.qconv2d, an activation, a
    (de)quantization, a pool, a view), the op is cloned right before the
    first backward read, and the backward reads take the clone: the forward
    tensor dies with its last forward reader. The clone's operands must be
    free there (step arguments, constants, parameters no update has written
    yet), live there anyway, or kept alive until then (their bytes are the
    cost); an operand is recomputed too (chains of up to 4 ops) when that
    keeps fewer bytes. A tensor is recomputed only when it frees more bytes
    than it keeps, the best first by bytes freed per unit of recomputed work
    (MACs plus elements written), one at a time (each choice changes what
    the next keeps), each tensor once. The clones are backward ops
    (mcutrain.backward, guarded like them; a location tagged
    mcutrain.recomputed names their buffers in the plan) and carry
    mcutrain.recomputed; the function lists what was recomputed in its
    mcutrain.recomputed attribute (report.json: bytes, kept bytes, MACs).
    The same ops on the same values: the results are the same.
  }];
  let options = [
    Option<"recompute", "recompute", "std::string", /*default=*/"\"auto\"",
           "Recompute forward tensors in the backward pass instead of saving "
           "them: none; all (every one that frees more bytes than it keeps); "
           "N (the N freeing most bytes per recomputed MAC); auto (as many "
           "as it takes to fit --sram, none when the step fits without)">,
  ];
}

def LowerParametersPass
    : Pass<"mcutrain-lower-parameters", "mlir::ModuleOp"> {
  let summary = "Parameters become memref globals; run-time scalars, optimizer state and @init";
  let description = [{
    The first step of lowering (before lower-to-linalg). Frozen parameters
    become constant memref.globals (flash); trainable ones a RAM global plus
    a constant flash image (shared with a frozen copy of the same ONNX
    initializer, see share-frozen-aliases). Then the run-time scalars (the
    learning rate, the step count, Adam's beta powers), the optimizer state
    buffers, the counters' advance before each step's first update, and
    @init, which copies the parameters from their images and zeroes the
    state. Loads of parameters become memref.get_global read through a
    restrict bufferization.to_tensor (no copy).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

def LowerToLinalgPass : Pass<"mcutrain-lower-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lowers nn/train tensor ops to linalg and tensor ops";
  let description = [{
    After lower-parameters. One DialectConversion over a pattern per op
    (passes/LowerToLinalg/, a file per op family: convolutions,
    contractions, elementwise and activations, pooling, reductions and
    softmax, losses, data movement). Dense convolutions, Gemm and row sums
    are marked (#train.kernel) for use-kernels; ReLU/clip and their
    gradients for fusion into the convolution kernels. train.update and the
    sparse-update ops bufferize into their train.buffer.* forms, which
    lower-train-buffers expands.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mcutrain::train::TrainDialect"];
}

def FuseQuantizedElementwisePass
    : Pass<"mcutrain-fuse-quantized-elementwise", "mlir::ModuleOp"> {
  let summary = "Float elementwise ops between int8 tensors read and write int8";
  let description = [{
    Right after lower-to-linalg, on tensors. The float ops a QDQ model keeps
    between its int8 layers (a residual Add and its ReLU, Tanh, Clip) lower
    to a dequantize generic per input, one generic per op and a quantize
    generic, each writing a whole float32 tensor to the arena. Each such
    chain becomes one generic that reads the int8 inputs and writes the int8
    result, computing the same float operations on each element in the same
    order (upstream elementwise fusion, applied only where a producer or
    consumer reads or writes an 8-bit tensor, so float models are
    untouched; generics marked for kernel calls are left alone). Nothing is
    fused across a train.update of a global the producer reads (an int8
    layer's gradient reads its weight through tensor.extract, which carries
    no order against the in-place update) or any other memory write. In the
    fused bodies a ReLU followed by the quantization's lower clamp at or
    above zero, max(max(x, 0) * k, c) with k > 0 and c >= 0, drops the
    ReLU's compare: the same value for every x, NaN included.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def InPlaceElementwisePass
    : Pass<"mcutrain-in-place-elementwise", "mlir::ModuleOp"> {
  let summary = "Elementwise generics write over an input that dies there";
  let description = [{
    Right before bufferization, on tensors (after lower-to-linalg's int8
    fusions and the canonicalizer). An all-parallel linalg.generic whose
    result has an input's type, read through the identity map, gets that
    input as its init (read through the init's block argument) when the
    input is made by a linalg op and read by nothing else: ReLU and other
    activations, a residual Add, a BatchNorm affine, a gradient's scale.
    One-shot bufferization then writes the result into the input's buffer,
    and plan-memory sees one buffer where there were two. Generics marked
    for kernel calls or fusions are left alone (a ReLU the convolution
    kernel applies is better still). Values are unchanged: each element is
    read before it is written, in the same iteration. The module's
    `mcutrain.in_place_ops` counts the rewritten generics (report.json).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
  let options = [
    Option<"inPlace", "in-place", "bool", /*default=*/"true",
           "Elementwise ops (activations, residual Adds, gradient scaling) "
           "write over an input that dies there instead of into a buffer of "
           "their own (false: every op a fresh buffer, for comparison)">
  ];
}

def TabulateInt8MapsPass
    : Pass<"mcutrain-tabulate-int8-maps", "mlir::ModuleOp"> {
  let summary = "Unary maps from one 8-bit tensor to another become 256-entry lookup tables";
  let description = [{
    Right after fuse-quantized-elementwise, on tensors. A QDQ model's float
    activation between two quantizations (a ReLU whose input and output
    scales differ, Tanh, Sigmoid, Clip, HardSwish) is left as one generic
    that dequantizes each element, computes in float32 (a float rounding
    per op, std::nearbyint: a library call on Cortex-M4) and quantizes
    again. Its output depends on the input byte alone, so the pass folds
    the body at compile time for all 256 inputs (MLIR's constant folders,
    IEEE single precision, one rounding per op as the float code performs
    it) and replaces it by y = table[x as unsigned]: 256 bytes of flash, a
    load per element. When the map's input is an int8 layer's output that
    nothing else reads (marked for qconv2d, qdepthwise2d or qgemm), the
    table folds into the layer: its generic yields table[byte] and calls
    the kernel's _lut variant, and the layer's own output tensor is never
    stored. Generics with a mark, reading linalg.index or a non-constant
    value from outside, or whose body does not fold for every input, are
    left alone.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LowerTrainBuffersPass
    : Pass<"mcutrain-lower-train-buffers", "mlir::ModuleOp"> {
  let summary = "Expands the train ops' buffer forms into loops, linalg ops and runtime calls";
  let description = [{
    Right after one-shot bufferization, which only turns each train op into
    its train.buffer.* form on memrefs. train.buffer.update becomes the
    optimizer step (one helper per rule: sgd, momentum/nesterov, adam in
    PyTorch's and ONNX's form, adagrad; weight decay first) as one linalg
    generic over the parameter and its state (a fused outer-product
    gradient, a fused input gradient marked for the
    sgd_outer_update_input_grad kernel, or loops over the selected channels
    of a sparse update), under a finiteness check of the gradient. The
    sparse convolution gradients become loops over the kept errors' window
    taps (adding the MACs done to mcutrain_dynamic_macs); DGSU's selection,
    TinyProp's and the loss's checks runtime calls; DGSU's importance loops
    over the channels.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mcutrain::train::TrainDialect"];
}

def CollapseLoopDimsPass
    : Pass<"mcutrain-collapse-loop-dims", "mlir::func::FuncOp"> {
  let summary = "Merges the loop dimensions of a linalg.generic that every buffer stores contiguously";
  let description = [{
    After bufferization: consecutive loop dimensions of one iterator type
    that every operand's map indexes as a contiguous run (or not at all),
    on contiguous static buffers, become one loop (memref.collapse_shape
    views, which flatten-memrefs folds away). An elementwise pass over a
    64 x 25 x 5 tensor runs as one loop of 8,000 instead of 1,600 loops of
    five, which the C++ compiler vectorizes; a channel broadcast keeps its
    channel loop (64 x 125). Generics that read linalg.index keep their
    loops.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def UseKernelsPass : Pass<"mcutrain-use-kernels", "mlir::func::FuncOp"> {
  let summary = "Replaces the linalg ops marked with a runtime kernel by calls to it";
  let description = [{
    After bufferization: every linalg.generic that lower-to-linalg marked
    (`mcutrain.kernel`: dense convolutions, their weight and input gradients,
    Gemm, and the int8 convolutions and Gemm) becomes a `train.runtime_call`
    of the kernel in runtime/mcutrain_kernels.h on the same buffers, plus a
    fresh scratch buffer where the mark asks for one
    (`mcutrain.kernel_scratch`, bytes: the int8 kernels' widened weights
    and im2col columns). The kernel computes what
    the generic's loop nest would (out += ...), with register blocking and
    constant trip counts over restrict-qualified pointers. Where the
    output was zero-filled right before (only ops without memory effects
    between) and the kernel has an overwriting variant
    (`mcutrain.kernel_overwrite`: out = ...), the fill goes and that variant
    is called. A marked op whose buffers are not contiguous keeps its loops.
    With `kernels=false` the marks are dropped and everything stays loops
    (for comparison).
  }];
  let dependentDialects = ["::mcutrain::train::TrainDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"kernels", "kernels", "bool", /*default=*/"true",
           "Dense convolutions and Gemm call the kernels of "
           "mcutrain_kernels.h (false: plain loops)">
  ];
}

def FuseConvChainsPass : Pass<"mcutrain-fuse-conv-chains", "mlir::func::FuncOp"> {
  let summary = "Computes conv -> depthwise -> pointwise runs a channel at a time (no intermediate tensor)";
  let description = [{
    After use-kernels, before the loops are lowered and the memory planned:
    three kernel calls conv2d_bias_act (dense) -> depthwise_conv2d_bias_act
    -> conv2d_bias_act (1x1, stride 1), or their int8 forms qconv2d ->
    qdepthwise2d -> qconv2d, whose two intermediate buffers nothing else
    uses (no layer of the run trains, and the backward pass does not go
    through it: such layers save them) become one call of `conv_chain` /
    `qconv_chain`. It computes a block of channels of the first layer's
    output, their depthwise planes and those planes' share of every output
    channel, in a scratch of a few planes (`mcutrain.conv_chain` on the
    scratch names the layers and the bytes of the tensors it replaces).
    A chain is fused only where the bytes live at once fall: the fused call
    holds its input, output and scratch together, which the three calls
    never did, and int8 sums need four bytes per output. The block: the
    most channels (dividing M, at most 16) whose planes add at most 16 KiB.
    MobileNetV2's frozen inverted-residual blocks never materialise their
    expansion. The same multiply-adds; float sums run in channel order (the
    outputs agree with the unfused calls to rounding), int8 ones are exact.
  }];
  let dependentDialects = ["::mcutrain::train::TrainDialect"];
  let options = [
    Option<"fuseConvChains", "fuse-conv-chains", "bool", /*default=*/"true",
           "Compute frozen conv -> depthwise -> pointwise runs (inverted "
           "residual blocks) a channel at a time, without their "
           "intermediate tensors (false: three kernel calls, for "
           "comparison)">
  ];
}

def InPlaceDepthwisePass
    : Pass<"mcutrain-in-place-depthwise", "mlir::ModuleOp"> {
  let summary = "int8 depthwise layers write their output over an input that dies there";
  let description = [{
    After use-kernels and fuse-conv-chains (the depthwise kernel calls the
    chains did not take), on buffers, before the loops and the planner. A
    qdepthwise2d (or qdepthwise2d_lut) call with stride 1 and the output the
    input's size (top padding within the window's height), whose input is
    an arena buffer (memref.alloc) of the output's type that nothing reads
    after the call, calls the in-place variant with the input's buffer as
    its output; the output's alloc goes. The kernel widens each input row
    into its ring of rows before the output row over it is written (a small
    image's plane is copied into its scratch first, where the scratch holds
    it), so the values are the same. The module's
    mcutrain.in_place_depthwise counts the calls (report.json).
  }];
  let options = [
    Option<"inPlaceDepthwise", "in-place-depthwise", "bool",
           /*default=*/"true",
           "int8 depthwise layers (stride 1) write their output over an "
           "input that dies there (false: a buffer of their own, for "
           "comparison)">,
  ];
}


def FlattenMemRefsPass : Pass<"mcutrain-flatten-memrefs", "mlir::ModuleOp"> {
  let summary = "Makes every memref 1-D with linearized indices; reshapes become no-ops";
  let description = [{
    After bufferization and loop lowering every buffer is contiguous with an
    identity layout, so a reshape is the same storage. One dimension lets the
    planner place buffers in one arena and lets EmitC print plain arrays.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def PlanMemoryPass : Pass<"mcutrain-plan-memory", "mlir::ModuleOp"> {
  let summary = "Packs every buffer into one static arena by liveness";
  let description = [{
    Liveness is over the top-level ops of each (straight-line) function.
    Buffers are placed greedily under several orders (largest first,
    longest-lived first, size x lifetime, earliest first; best-fit and
    first-fit gaps), then a seeded local search swaps the best order until
    the arena reaches the liveness lower bound; the result is checked for
    overlapping live buffers. Allocations become accesses into the global
    @mcutrain_arena at a constant offset; 8-bit buffers share it, read
    through @mcutrain_arena_i8, a view the package declares as an int8_t
    pointer into it (char accesses may alias anything, so reuse across the
    two types is defined), listed in the plan's "views"; other integer and
    bool buffers get an arena per element type. The plan - every buffer with its kind (gradient when a backward
    op allocated it), offset and lifetime, the lower bound, the no-reuse sum
    and the peak's schedule point and ONNX node - is the module attribute
    `mcutrain.memory_plan`.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", "8",
           "Byte alignment of arena buffers">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GuardBackwardPass : Pass<"mcutrain-guard-backward", "mlir::ModuleOp"> {
  let summary = "Puts the backward pass after the step's skip decisions under them";
  let description = [{
    After memory planning (the planner sees one straight-line schedule),
    everything the backward pass does after the last runtime call that
    decides whether the step is skipped (train.finite_guard: the loss is
    NaN/Inf; TinyPropv2: the output layer's train.topk_error with tau > 0)
    - the ops derive-backward tagged, and whatever uses their results -
    moves into `scf.if (mcutrain_skip_step[0] == 0)`, so a skipped step does
    no further backward work and no update. Other ops after the decision
    (reading the loss) stay before it; one that writes memory is an error.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def LowerToEmitCPass : Pass<"mcutrain-lower-to-emitc", "mlir::ModuleOp"> {
  let summary = "Converts func/scf/arith/math/memref to EmitC with upstream patterns";
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
}

def NameArenaPointersPass : Pass<"mcutrain-name-arena-pointers", "mlir::ModuleOp"> {
  let summary = "Planned buffers passed to kernels and runtime calls get named pointers";
  let description = [{
    After lower-to-emitc. A buffer plan-memory placed in the arena reaches
    a kernel or runtime call as `&mcutrain_arena[OFFSET]` in an anonymous
    local; this pass declares one named pointer per such buffer at the top
    of its function - `float *const act_features_0_Conv_3 =
    mcutrain_arena + 4704;` (an emitc.verbatim) - and passes it by name (an
    emitc.literal), so a kernel call reads `gemm<...>(act_flatten_12,
    classifier_1_weight, act_classifier_1_Gemm_13, ...)`. Names come from
    plan-memory (`arena_names`: act_/grad_, the node, the buffer's index);
    one that collides with a symbol of the module gets a trailing '_'.
  }];
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
}

def CommentNodesPass : Pass<"mcutrain-comment-nodes", "mlir::ModuleOp"> {
  let summary = "Names each ONNX node's code in the generated C++ in a comment";
  let description = [{
    The last pass of the lowering pipeline, after lower-to-emitc. In every
    function but @init, a run of top-level statements that comes from one
    ONNX node in one phase is preceded by an `emitc.verbatim` comment:
    `// forward: NODE`, `// backward of NODE`, `// update of PARAMETER`
    (in @forward, `// NODE`). The phase and node are read from the
    locations the importer and derive-backward set (a NameLoc per node, a
    FusedLoc tagged mcutrain.backward around it in the backward pass; an
    update carries its parameter's location). Statements without a node
    (hoisted constants, global accesses) and loop bodies get none. Node
    names are the user's: characters that could end or escape the comment
    are replaced by '?'.
  }];
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
}

#endif
