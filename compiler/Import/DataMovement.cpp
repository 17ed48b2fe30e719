//===- DataMovement.cpp - Identity, Dropout, Cast, Pad, views, Concat -----===//
//
// Ops that move data without arithmetic: Identity, inference Dropout and a
// Cast to the input's own type (the input itself; parameters seen through
// them are aliases, see OnnxImporter::forwardInput), Pad, Transpose,
// (Un)squeeze, Flatten, Reshape, Concat, Slice, Split, Expand and Tile. On
// constants the integer ones fold (ShapeFolding.cpp).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

LogicalResult importIdentity(OnnxImporter &I, const onnx::NodeProto &n) {
  return I.forwardInput(n);
}

/// A random mask cannot be compiled; Dropout that keeps everything
/// (inference, or ratio 0) is the identity with an all-true mask.
LogicalResult importKeepingDropout(OnnxImporter &I, const onnx::NodeProto &n,
                                   bool training, float ratio) {
  if (training && ratio != 0.0f)
    return I.nodeError(n) << "training-mode Dropout (a random mask, ratio "
                          << ratio
                          << ") is not supported; export the model in "
                             "eval mode",
           failure();
  if (n.output_size() > 1 && !n.output(1).empty()) {
    SmallVector<int64_t> shape;
    if (const ConstTensor *k = I.constOperand(n, 0)) {
      shape = k->shape;
    } else {
      FailureOr<Value> x = I.tensorOperand(n, 0);
      if (failed(x))
        return failure();
      shape = shapeOf(*x);
    }
    ConstTensor mask;
    mask.isFloat = false;
    mask.dtype = onnx::TensorProto::BOOL;
    mask.shape = shape;
    mask.i.assign(mask.numElements(), 1);
    I.consts[n.output(1)] = std::move(mask);
  }
  return I.forwardInput(n);
}

/// Opset 1-6: is_test and ratio attributes.
LogicalResult importDropout1(OnnxImporter &I, const onnx::NodeProto &n) {
  return importKeepingDropout(I, n, attrInt(n, "is_test", 0) == 0,
                              attrFloat(n, "ratio", 0.5f));
}

/// Opset 7-11: always inference.
LogicalResult importDropout7(OnnxImporter &I, const onnx::NodeProto &n) {
  return importKeepingDropout(I, n, false, attrFloat(n, "ratio", 0.5f));
}

/// Opset 12+: ratio and training_mode inputs (constants).
LogicalResult importDropout12(OnnxImporter &I, const onnx::NodeProto &n) {
  float ratio = 0.5f;
  bool training = false;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    const ConstTensor *r = I.constOperand(n, 1);
    if (!r || !r->isFloat || r->f.size() != 1)
      return I.nodeError(n) << "a ratio computed at run time is not "
                               "supported (constants only)",
             failure();
    ratio = r->f[0];
  }
  if (n.input_size() > 2 && !n.input(2).empty()) {
    const ConstTensor *t = I.constOperand(n, 2);
    if (!t || t->isFloat || t->i.size() != 1)
      return I.nodeError(n) << "a training_mode computed at run time is "
                               "not supported (constants only)",
             failure();
    training = t->i[0] != 0;
  }
  return importKeepingDropout(I, n, training, ratio);
}

/// A Cast whose `to` is its input's element type (a no-op).
bool castKeepsType(OnnxImporter &I, const onnx::NodeProto &n) {
  std::optional<ElementKind> to = elementKind(attrInt(n, "to", 0));
  if (!to)
    return false;
  if (const ConstTensor *c = I.constOperand(n, 0))
    return c->dtype == to->onnx;
  auto v = I.values.find(n.input(0));
  return v != I.values.end() &&
         OnnxImporter::elementTypeOf(v->second) == I.mlirElementType(*to) &&
         I.unsignedValues.contains(v->second) == to->isUnsigned;
}

/// Cast to the same type is the input; of constants it folds; at run time
/// integer <-> float32 is nn.cast (other casts are not supported).
LogicalResult importCast(OnnxImporter &I, const onnx::NodeProto &n) {
  if (castKeepsType(I, n))
    return I.forwardInput(n);
  if (I.allConst(n))
    return foldConstantNode(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  std::optional<ElementKind> to = elementKind(attrInt(n, "to", 0));
  if (failed(x))
    return failure();
  bool fromFloat = OnnxImporter::elementTypeOf(*x).isF32();
  if (!to || to->onnx == onnx::TensorProto::BOOL ||
      (to->bits == 0) == fromFloat)
    return I.nodeError(n) << "a Cast at run time between these types is not "
                             "supported (integer <-> float32 is)",
           failure();
  bool isUnsigned = fromFloat ? to->isUnsigned : (bool)I.isUnsigned(*x);
  Value y =
      nn::CastOp::create(I.builder, I.nodeLoc(n),
                         I.tensorType(shapeOf(*x), I.mlirElementType(*to)), *x,
                         isUnsigned ? I.builder.getUnitAttr() : UnitAttr());
  if (fromFloat && to->isUnsigned)
    I.unsignedValues.insert(y);
  return I.define(n, y);
}

/// The pads input as (top, left, bottom, right) of a 4-D tensor's spatial
/// dims; failure (diagnosed) for other paddings.
FailureOr<SmallVector<int64_t>> spatialPads(OnnxImporter &I,
                                            const onnx::NodeProto &n,
                                            ArrayRef<int64_t> pads,
                                            ArrayRef<int64_t> xs) {
  size_t rank = xs.size();
  if (pads.size() != 2 * rank)
    return I.nodeError(n) << "pads must have 2 values per dimension", failure();
  if (rank != 4 || pads[0] || pads[1] || pads[4] || pads[5] ||
      llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return I.nodeError(n) << "only non-negative padding of the two spatial "
                             "dims of a 4-D tensor is supported; this "
                             "padding is not supported",
           failure();
  return SmallVector<int64_t>{pads[2], pads[3], pads[6], pads[7]};
}

/// The constant_value input, exact as a float.
FailureOr<float> padValue(OnnxImporter &I, const onnx::NodeProto &n) {
  if (n.input_size() <= 2 || n.input(2).empty())
    return 0.0f;
  const ConstTensor *v = I.constOperand(n, 2);
  if (!v || v->numElements() != 1)
    return I.nodeError(n) << "a constant_value computed at run time is not "
                             "supported (constants only)",
           failure();
  float value = v->isFloat ? v->f[0] : (float)v->i[0];
  if (!v->isFloat && (int64_t)value != v->i[0])
    return I.nodeError(n) << "integer constant_value " << v->i[0]
                          << " is not supported (|value| < 2^24 is)",
           failure();
  return value;
}

/// Pad of x by `pads` (ONNX order: every dim's start, then every dim's end)
/// with `value`, in the node's mode: the part every opset shares.
LogicalResult buildPad(OnnxImporter &I, const onnx::NodeProto &n, Value x,
                       ArrayRef<int64_t> pads, float value) {
  std::string mode = attrString(n, "mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    return I.nodeError(n) << "mode '" << mode << "' is not supported",
           failure();
  auto xs = shapeOf(x);
  if (pads.size() == 2 * xs.size() &&
      llvm::all_of(pads, [](int64_t p) { return p == 0; }))
    return I.define(n, x);
  FailureOr<SmallVector<int64_t>> p = spatialPads(I, n, pads, xs);
  if (failed(p))
    return failure();
  if (mode == "reflect" && ((*p)[0] >= xs[2] || (*p)[2] >= xs[2] ||
                            (*p)[1] >= xs[3] || (*p)[3] >= xs[3]))
    return I.nodeError(n) << "reflect pads must be smaller than the input",
           failure();
  return I.define(n, nn::Pad2dOp::create(I.builder, I.nodeLoc(n), x, *p, value,
                                         *nn::symbolizePadMode(mode)));
}

/// Opset 1-10: the pads ("paddings" before opset 2) and the value are
/// attributes.
LogicalResult importPad1(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  const char *name = I.opset < 2 ? "paddings" : "pads";
  if (!findAttr(n, name))
    return I.nodeError(n) << "the '" << name << "' attribute is missing",
           failure();
  SmallVector<int64_t> pads = attrInts(n, name, {});
  return buildPad(I, n, *x, pads, attrFloat(n, "value", 0.0f));
}

/// Opset 11+: pads and constant_value are inputs (compile-time constants
/// here).
LogicalResult importPad11(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  const ConstTensor *pads = I.constOperand(n, 1);
  if (!pads || pads->isFloat)
    return I.nodeError(n) << "pads must be a compile-time integer constant",
           failure();
  if (n.input_size() > 3 && !n.input(3).empty())
    return I.nodeError(n) << "the axes input is not supported", failure();
  FailureOr<float> value = padValue(I, n);
  if (failed(value))
    return failure();
  return buildPad(I, n, *x, pads->i, *value);
}

LogicalResult importTranspose(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n))
    return defineFoldedInteger(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  auto xs = shapeOf(*x);
  SmallVector<int64_t> rev;
  for (int64_t d = xs.size() - 1; d >= 0; --d)
    rev.push_back(d);
  auto perm = attrInts(n, "perm", rev);
  SmallVector<bool> seen(xs.size(), false);
  if (perm.size() != xs.size())
    return I.nodeError(n) << "perm is not a permutation of the dims", failure();
  for (int64_t p : perm) {
    if (p < 0 || p >= (int64_t)xs.size() || seen[p])
      return I.nodeError(n) << "perm is not a permutation of the dims",
             failure();
    seen[p] = true;
  }
  return I.define(n,
                  nn::TransposeOp::create(I.builder, I.nodeLoc(n), *x, perm));
}

/// The shape (Un)squeeze gives `xs`, or failure (diagnosed).
FailureOr<SmallVector<int64_t>> squeezedShape(OnnxImporter &I,
                                              const onnx::NodeProto &n,
                                              ArrayRef<int64_t> xs,
                                              ArrayRef<int64_t> axes) {
  SmallVector<int64_t> ys;
  if (n.op_type() == "Unsqueeze") {
    int64_t rank = xs.size() + axes.size();
    SmallVector<bool> inserted(rank, false);
    for (int64_t a : axes) {
      a = a < 0 ? a + rank : a;
      if (a < 0 || a >= rank || inserted[a])
        return I.nodeError(n) << "axes out of range", failure();
      inserted[a] = true;
    }
    size_t next = 0;
    for (int64_t d = 0; d < rank; ++d)
      ys.push_back(inserted[d] ? 1 : xs[next++]);
    return ys;
  }
  int64_t rank = xs.size();
  SmallVector<bool> drop(rank, axes.empty());
  for (int64_t a : axes) {
    a = a < 0 ? a + rank : a;
    if (a < 0 || a >= rank || xs[a] != 1)
      return I.nodeError(n) << "can only squeeze dims of extent 1", failure();
    drop[a] = true;
  }
  for (int64_t d = 0; d < rank; ++d)
    if (!(drop[d] && xs[d] == 1))
      ys.push_back(xs[d]);
  return ys;
}

LogicalResult importSqueeze(OnnxImporter &I, const onnx::NodeProto &n) {
  // Constants fold, except a parameter (an initializer the exporter
  // reshapes, e.g. a PReLU's [C] slope made [C, 1, 1]): that stays a view
  // of the parameter, so it keeps its name and can train.
  const ConstTensor *in = I.constOperand(n, 0);
  bool parameter = in && in->isFloat && !in->onnxName.empty();
  if (I.allConst(n) && !parameter)
    return foldConstantNode(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  SmallVector<int64_t> axes = attrInts(n, "axes", {});
  if (n.input_size() > 1 && !n.input(1).empty()) {
    const ConstTensor *ax = I.constOperand(n, 1);
    if (!ax || ax->isFloat)
      return I.nodeError(n) << "axes computed at run time are not supported",
             failure();
    axes.assign(ax->i.begin(), ax->i.end());
  }
  FailureOr<SmallVector<int64_t>> ys = squeezedShape(I, n, shapeOf(*x), axes);
  if (failed(ys))
    return failure();
  return I.define(n,
                  nn::ReshapeOp::create(
                      I.builder, I.nodeLoc(n),
                      I.tensorType(*ys, OnnxImporter::elementTypeOf(*x)), *x));
}

/// Every input a constant that is not a parameter (the scales of F.interpolate
/// are concatenated float constants; concatenated weights still train).
bool allFoldedConstants(OnnxImporter &I, const onnx::NodeProto &n) {
  if (!I.allConst(n))
    return false;
  for (const auto &in : n.input())
    if (I.consts[in].isFloat && !I.consts[in].onnxName.empty())
      return false;
  return true;
}

LogicalResult importConcat(OnnxImporter &I, const onnx::NodeProto &n) {
  if (allFoldedConstants(I, n))
    return foldConstantNode(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  SmallVector<Value> ins;
  for (int i = 0; i < n.input_size(); ++i) {
    FailureOr<Value> v = I.tensorOperand(n, i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
  }
  if (ins.empty())
    return I.nodeError(n) << "needs at least one input", failure();
  auto ys = shapeOf(ins[0]);
  int64_t axis = attrInt(n, "axis", 0);
  if (axis < 0)
    axis += ys.size();
  if (axis < 0 || axis >= (int64_t)ys.size())
    return I.nodeError(n) << "axis out of range", failure();
  for (Value v : ins) {
    auto s = shapeOf(v);
    if (OnnxImporter::elementTypeOf(v) != OnnxImporter::elementTypeOf(ins[0]))
      return I.nodeError(n) << "inputs differ in element type", failure();
    if (s.size() != ys.size())
      return I.nodeError(n) << "inputs differ in rank", failure();
    for (size_t d = 0; d < s.size(); ++d)
      if ((int64_t)d != axis && s[d] != ys[d])
        return I.nodeError(n) << "inputs differ outside the axis", failure();
  }
  if (ins.size() == 1)
    return I.define(n, ins[0]);
  return I.define(n, nn::ConcatOp::create(I.builder, I.nodeLoc(n), ins, axis));
}

LogicalResult importFlatten(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  auto xs = shapeOf(*x);
  int64_t total = 1;
  for (int64_t d : xs)
    total *= d;
  int64_t axis = attrInt(n, "axis", 1);
  if (axis < 0)
    axis += xs.size();
  if (axis < 0 || axis > (int64_t)xs.size())
    return I.nodeError(n) << "axis out of range", failure();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= xs[d];
  return I.define(
      n, nn::ReshapeOp::create(I.builder, I.nodeLoc(n),
                               I.tensorType({outer, total / outer},
                                            OnnxImporter::elementTypeOf(*x)),
                               *x));
}

/// Reshape's target for an input of `total` elements: 0 copies the input's
/// dimension (unless allowzero), one -1 is inferred.
FailureOr<SmallVector<int64_t>>
reshapeTarget(OnnxImporter &I, const onnx::NodeProto &n, const ConstTensor &s,
              ArrayRef<int64_t> xs, int64_t total) {
  SmallVector<int64_t> shape;
  bool allowZero = attrInt(n, "allowzero", 0);
  int64_t known = 1, inferAt = -1;
  for (size_t d = 0; d < s.i.size(); ++d) {
    int64_t v = s.i[d];
    if (v == 0 && !allowZero) {
      if (d >= xs.size())
        return I.nodeError(n) << "0 in shape refers to a missing dimension",
               failure();
      v = xs[d];
    }
    if (v == -1) {
      if (inferAt >= 0)
        return I.nodeError(n) << "more than one -1 in the shape", failure();
      inferAt = d;
      shape.push_back(1);
      continue;
    }
    if (v < 0)
      return I.nodeError(n) << "negative dimension in the shape", failure();
    shape.push_back(v);
    if (!checkedElements(shape))
      return I.nodeError(n) << "the shape is too large", failure();
    known *= v;
  }
  if (inferAt >= 0) {
    if (known == 0 || total % known)
      return I.nodeError(n) << "cannot infer the -1 dimension", failure();
    shape[inferAt] = total / known;
    known = total;
  }
  if (known != total)
    return I.nodeError(n) << "the shape has " << known
                          << " elements but the input has " << total,
           failure();
  return shape;
}

/// x reshaped to `target` (ONNX's: 0 copies a dim, -1 is inferred).
LogicalResult buildReshape(OnnxImporter &I, const onnx::NodeProto &n, Value x,
                           const ConstTensor &target) {
  auto xs = shapeOf(x);
  int64_t total = 1;
  for (int64_t d : xs)
    total *= d;
  FailureOr<SmallVector<int64_t>> shape =
      reshapeTarget(I, n, target, xs, total);
  if (failed(shape))
    return failure();
  return I.define(n,
                  nn::ReshapeOp::create(
                      I.builder, I.nodeLoc(n),
                      I.tensorType(*shape, OnnxImporter::elementTypeOf(x)), x));
}

/// Opset 1-4: the shape is an attribute.
LogicalResult importReshape1(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  if (!findAttr(n, "shape"))
    return I.nodeError(n) << "the 'shape' attribute is missing", failure();
  ConstTensor target;
  target.isFloat = false;
  SmallVector<int64_t> shape = attrInts(n, "shape", {});
  target.i.assign(shape.begin(), shape.end());
  target.shape = {(int64_t)target.i.size()};
  return buildReshape(I, n, *x, target);
}

LogicalResult importReshape5(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n))
    return defineFoldedInteger(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  FailureOr<const ConstTensor *> s = I.integerOperand(n, 1, "the target shape");
  return failed(s) ? failure() : buildReshape(I, n, *x, **s);
}

/// nn.slice of `x` from `first` by `step` to `shape`; x itself when that is
/// all of it in order.
Value sliceOf(OnnxImporter &I, const onnx::NodeProto &n, Value x,
              ArrayRef<int64_t> first, ArrayRef<int64_t> step,
              ArrayRef<int64_t> shape) {
  if (ArrayRef<int64_t>(shapeOf(x)) == shape &&
      llvm::all_of(step, [](int64_t s) { return s == 1; }))
    return x;
  bool unit = llvm::all_of(step, [](int64_t s) { return s == 1; });
  return nn::SliceOp::create(
      I.builder, I.nodeLoc(n),
      I.tensorType(shape, OnnxImporter::elementTypeOf(x)), x,
      I.builder.getDenseI64ArrayAttr(first),
      I.builder.getDenseI64ArrayAttr(unit ? ArrayRef<int64_t>() : step));
}

/// Slice of a runtime tensor (integer constants fold): any axes and steps
/// (negative ones read backwards).
LogicalResult importSlice(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n))
    return defineFoldedInteger(I, n);
  if (failed(I.needInputs(n, I.opset < 10 ? 1 : 3)) ||
      failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  FailureOr<SliceBounds> b = sliceBounds(I, n, shapeOf(*x));
  if (failed(b))
    return failure();
  for (size_t d = 0; d < b->shape.size(); ++d) {
    if (b->shape[d] == 0)
      return I.nodeError(n) << "the slice is empty along axis " << d
                            << " (empty tensors are not supported)",
             failure();
  }
  return I.define(n, sliceOf(I, n, *x, b->first, b->step, b->shape));
}

/// The extents Split cuts along an axis of length `dim` into `parts`: the
/// `split` sizes if given, else equal parts (ONNX 18's num_outputs: the last
/// smaller).
FailureOr<SmallVector<int64_t>> splitSizes(OnnxImporter &I,
                                           const onnx::NodeProto &n,
                                           int64_t dim, int64_t parts) {
  SmallVector<int64_t> sizes = attrInts(n, "split", {});
  if (I.opset >= 13 && n.input_size() > 1 && !n.input(1).empty()) {
    FailureOr<const ConstTensor *> c = I.integerOperand(n, 1, "split sizes");
    if (failed(c))
      return failure();
    sizes.assign((*c)->i.begin(), (*c)->i.end());
  }
  if (sizes.empty()) {
    int64_t each = (dim + parts - 1) / parts;
    for (int64_t k = 0; k < parts; ++k)
      sizes.push_back(std::min(each, dim - k * each));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s <= 0)
      return I.nodeError(n) << "split sizes must be positive (empty outputs "
                               "are not supported)",
             failure();
    total += s;
  }
  if ((int64_t)sizes.size() != parts || total != dim)
    return I.nodeError(n) << "split sizes do not cut the axis of extent " << dim
                          << " into " << parts << " outputs",
           failure();
  return sizes;
}

/// Split (torch.chunk / split): one nn.slice per output.
LogicalResult importSplit(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  auto xs = shapeOf(*x);
  int64_t axis = attrInt(n, "axis", 0);
  axis = axis < 0 ? axis + (int64_t)xs.size() : axis;
  if (axis < 0 || axis >= (int64_t)xs.size())
    return I.nodeError(n) << "axis out of range", failure();
  FailureOr<SmallVector<int64_t>> sizes =
      splitSizes(I, n, xs[axis], n.output_size());
  if (failed(sizes))
    return failure();
  SmallVector<int64_t> first(xs.size(), 0), step(xs.size(), 1);
  SmallVector<int64_t> shape(xs);
  for (int k = 0; k < n.output_size(); ++k) {
    shape[axis] = (*sizes)[k];
    if (!n.output(k).empty())
      I.values[n.output(k)] = sliceOf(I, n, *x, first, step, shape);
    first[axis] += (*sizes)[k];
  }
  return success();
}

/// Expand: bidirectional broadcasting to the shape input's.
LogicalResult importExpand(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  FailureOr<const ConstTensor *> s = I.integerOperand(n, 1, "the shape");
  if (failed(s))
    return failure();
  FailureOr<SmallVector<int64_t>> ys =
      nn::broadcastShapes(shapeOf(*x), (*s)->i);
  if (failed(ys) || !checkedElements(*ys))
    return I.nodeError(n) << "the input does not broadcast to the shape",
           failure();
  if (*ys == shapeOf(*x))
    return I.define(n, *x);
  return I.define(n, nn::BroadcastToOp::create(I.builder, I.nodeLoc(n),
                                               I.tensorType(*ys), *x,
                                               I.builder.getF32FloatAttr(1)));
}

/// Tile: per repeated axis, a concat of that many copies.
LogicalResult importTile(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  FailureOr<const ConstTensor *> reps = I.integerOperand(n, 1, "repeats");
  if (failed(reps))
    return failure();
  const ConstTensor *r = *reps;
  auto xs = shapeOf(*x);
  if (r->i.size() != xs.size())
    return I.nodeError(n) << "repeats need one entry per dimension", failure();
  Value y = *x;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (r->i[d] < 1)
      return I.nodeError(n) << "repeats must be positive", failure();
    if (r->i[d] == 1)
      continue;
    SmallVector<Value> copies(r->i[d], y);
    y = nn::ConcatOp::create(I.builder, I.nodeLoc(n), copies, d);
  }
  if (!checkedElements(shapeOf(y)))
    return I.nodeError(n) << "the result is too large", failure();
  return I.define(n, y);
}

} // namespace

void mcutrain::importer::registerDataMovementHandlers(HandlerTable &table) {
  table.on("Identity", 1, importIdentity);
  table.on("Dropout", 1, importDropout1);
  table.on("Dropout", 7, importDropout7);
  table.on("Dropout", 12, importDropout12);
  table.on("Cast", 1, importCast);
  table.on("Pad", 1, importPad1);
  table.on("Pad", 11, importPad11);
  table.on("Transpose", 1, importTranspose);
  table.on("Squeeze", 1, importSqueeze);
  table.on("Unsqueeze", 1, importSqueeze);
  table.on("Concat", 1, importConcat);
  table.on("Flatten", 1, importFlatten);
  table.on("Reshape", 1, importReshape1);
  table.on("Reshape", 5, importReshape5);
  table.on("Slice", 1, importSlice);
  table.on("Split", 1, importSplit);
  table.on("Expand", 8, importExpand);
  table.on("Tile", 6, importTile);
}
