//===- ShapeFolding.cpp - compile-time folding of shape computations ------===//
//
// Constant, Shape and ConstantOfShape, and the integer arithmetic, Equal,
// Where, Reshape, Slice, Transpose, Gather, (Un)squeeze, Concat and Cast that
// torch.onnx.export emits for view/flatten sizes and F.pad's pads: folded
// at import, they never reach the runtime on constants.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

LogicalResult importConstant(OnnxImporter &I, const onnx::NodeProto &n) {
  const auto *a = findAttr(n, "value");
  if (!a || !a->has_t())
    return I.nodeError(n)
               << "forms other than the 'value' tensor are not supported",
           failure();
  ConstTensor c;
  if (failed(I.readTensor(a->t(), c, &n)))
    return failure();
  return I.defineConst(n, std::move(c));
}

LogicalResult importShape(OnnxImporter &I, const onnx::NodeProto &n) {
  SmallVector<int64_t> dims;
  if (const ConstTensor *k = I.constOperand(n, 0)) {
    dims = k->shape;
  } else {
    FailureOr<Value> x = I.tensorOperand(n, 0);
    if (failed(x))
      return failure();
    dims = shapeOf(*x);
  }
  ConstTensor c;
  c.isFloat = false;
  c.dtype = onnx::TensorProto::INT64;
  c.i.assign(dims.begin(), dims.end());
  int64_t rank = c.i.size();
  int64_t start = attrInt(n, "start", 0), end = attrInt(n, "end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  c.i = std::vector<int64_t>(c.i.begin() + start,
                             c.i.begin() + std::max(start, end));
  c.shape = {(int64_t)c.i.size()};
  return I.defineConst(n, std::move(c));
}

LogicalResult importConstantOfShape(OnnxImporter &I, const onnx::NodeProto &n) {
  const ConstTensor *shape = I.constOperand(n, 0);
  if (!shape || shape->isFloat)
    return I.nodeError(n) << "a shape computed at run time is not supported",
           failure();
  ConstTensor value; // default: one float 0
  value.f = {0.0f};
  if (const auto *a = findAttr(n, "value"))
    if (failed(I.readTensor(a->t(), value, &n)))
      return failure();
  if (value.numElements() != 1)
    return I.nodeError(n) << "value must hold one element", failure();
  ConstTensor c = value;
  c.onnxName.clear();
  c.shape.assign(shape->i.begin(), shape->i.end());
  if (!checkedElements(c.shape))
    return I.nodeError(n) << "negative or too large dimensions in the shape",
           failure();
  if (c.isFloat)
    c.f.assign(c.numElements(), value.f[0]);
  else
    c.i.assign(c.numElements(), value.i[0]);
  return I.defineConst(n, std::move(c));
}

/// Integer Add/Sub/Mul/Div with numpy broadcasting.
/// Element k of `t` broadcast (numpy rules) to `shape`, whose row-major
/// strides are `ys`.
int64_t broadcastElement(const ConstTensor &t, ArrayRef<int64_t> shape,
                         ArrayRef<int64_t> ys, int64_t k) {
  auto ts = stridesOf(t.shape);
  size_t off = shape.size() - t.shape.size();
  int64_t idx = 0;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    int64_t i = (k / ys[d + off]) % shape[d + off];
    idx += (t.shape[d] == 1 ? 0 : i) * ts[d];
  }
  return t.i[idx];
}

/// Integer Add/Sub/Mul/Div/Equal with broadcasting; Where(cond, a, b).
FailureOr<ConstTensor> foldArithmetic(OnnxImporter &I, const onnx::NodeProto &n,
                                      const ConstTensor &a, ConstTensor c) {
  const std::string &op = n.op_type();
  bool where = op == "Where";
  if (where && failed(I.needInputs(n, 3)))
    return failure();
  const ConstTensor &b = I.consts[n.input(1)];
  const ConstTensor &e = I.consts[n.input(where ? 2 : 1)];
  if (b.isFloat || e.isFloat || (where && b.dtype != e.dtype))
    return I.nodeError(n) << "operands differ in element type", failure();
  auto shape = nn::broadcastShapes(a.shape, b.shape);
  if (succeeded(shape))
    shape = nn::broadcastShapes(*shape, e.shape);
  if (failed(shape))
    return I.nodeError(n) << "operand shapes do not broadcast", failure();
  c.shape = *shape;
  if (!checkedElements(c.shape))
    return I.nodeError(n) << "the result is too large", failure();
  if (op == "Equal")
    c.dtype = onnx::TensorProto::BOOL;
  if (where)
    c.dtype = b.dtype;
  auto ys = stridesOf(c.shape);
  for (int64_t k = 0; k < c.numElements(); ++k) {
    int64_t x = broadcastElement(a, c.shape, ys, k);
    int64_t y = broadcastElement(b, c.shape, ys, k);
    if (op == "Div" && y == 0)
      return I.nodeError(n) << "integer division by zero", failure();
    c.i.push_back(op == "Add"     ? x + y
                  : op == "Sub"   ? x - y
                  : op == "Mul"   ? x * y
                  : op == "Equal" ? x == y
                  : where ? (x ? y : broadcastElement(e, c.shape, ys, k))
                          : x / y);
  }
  return c;
}

FailureOr<ConstTensor> foldReshape(OnnxImporter &I, const onnx::NodeProto &n,
                                   const ConstTensor &a, ConstTensor c) {
  const ConstTensor &s = I.consts[n.input(1)];
  int64_t known = 1, inferAt = -1;
  for (size_t d = 0; d < s.i.size(); ++d) {
    int64_t v = s.i[d];
    if (v == 0 && !attrInt(n, "allowzero", 0))
      v = d < a.shape.size() ? a.shape[d] : -2;
    if (v == -1 && inferAt < 0) {
      inferAt = d;
      c.shape.push_back(1);
      continue;
    }
    if (v < 0)
      return I.nodeError(n) << "invalid dimension in the shape", failure();
    c.shape.push_back(v);
    if (!checkedElements(c.shape))
      return I.nodeError(n) << "the shape is too large", failure();
    known *= v;
  }
  if (inferAt >= 0 && known > 0)
    c.shape[inferAt] = a.numElements() / known;
  if (c.numElements() != a.numElements())
    return I.nodeError(n) << "the shape does not match the element count",
           failure();
  c.i = a.i;
  return c;
}

FailureOr<ConstTensor> foldTranspose(OnnxImporter &I, const onnx::NodeProto &n,
                                     const ConstTensor &a, ConstTensor c) {
  int64_t rank = a.shape.size();
  auto as = stridesOf(a.shape);
  SmallVector<int64_t> rev;
  for (int64_t d = rank - 1; d >= 0; --d)
    rev.push_back(d);
  auto perm = attrInts(n, "perm", rev);
  if ((int64_t)perm.size() != rank)
    return I.nodeError(n) << "perm is not a permutation of the dims", failure();
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return I.nodeError(n) << "perm is not a permutation of the dims",
             failure();
    seen[p] = true;
    c.shape.push_back(a.shape[p]);
  }
  auto ys = stridesOf(c.shape);
  for (int64_t k = 0; k < c.numElements(); ++k) {
    int64_t idx = 0;
    for (int64_t d = 0; d < rank; ++d)
      idx += ((k / ys[d]) % c.shape[d]) * as[perm[d]];
    c.i.push_back(a.i[idx]);
  }
  return c;
}

/// Slice: the data sliced along its bounds.
FailureOr<ConstTensor> foldSlice(OnnxImporter &I, const onnx::NodeProto &n,
                                 const ConstTensor &a, ConstTensor c) {
  FailureOr<SliceBounds> bounds = sliceBounds(I, n, a.shape);
  if (failed(bounds))
    return failure();
  int64_t rank = a.shape.size();
  c.shape = bounds->shape;
  auto as = stridesOf(a.shape);
  auto ys = stridesOf(c.shape);
  for (int64_t k = 0; k < c.numElements(); ++k) {
    int64_t idx = 0;
    for (int64_t d = 0; d < rank; ++d)
      idx += (bounds->first[d] + ((k / ys[d]) % c.shape[d]) * bounds->step[d]) *
             as[d];
    c.i.push_back(a.i[idx]);
  }
  return c;
}

/// Cast of a constant to int64/int32 (floats truncate) or to float32
/// (torch.clamp's integer bounds).
FailureOr<ConstTensor> foldCast(OnnxImporter &I, const onnx::NodeProto &n,
                                const ConstTensor &a) {
  int64_t to = attrInt(n, "to", 0);
  ConstTensor c = a;
  c.dtype = to;
  c.onnxName.clear();
  if (to == onnx::TensorProto::FLOAT) {
    if (!a.isFloat) {
      c.isFloat = true;
      c.f.assign(a.i.begin(), a.i.end());
      c.i.clear();
    }
    return c;
  }
  if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32)
    return I.nodeError(n) << "a Cast of a constant to this type is not "
                             "folded (to int32, int64 and float32 are)",
           failure();
  if (a.isFloat) {
    c.isFloat = false;
    c.i.assign(a.f.begin(), a.f.end());
    c.f.clear();
  }
  return c;
}

FailureOr<ConstTensor> foldGather(OnnxImporter &I, const onnx::NodeProto &n,
                                  const ConstTensor &a, ConstTensor c) {
  if (failed(I.needInputs(n, 2)))
    return failure();
  const ConstTensor &idx = I.consts[n.input(1)];
  if (a.shape.size() != 1 || attrInt(n, "axis", 0) != 0)
    return I.nodeError(n) << "only 1-D constant Gather is folded", failure();
  c.shape = idx.shape;
  for (int64_t k : idx.i) {
    int64_t j = k < 0 ? k + (int64_t)a.i.size() : k;
    if (j < 0 || j >= (int64_t)a.i.size())
      return I.nodeError(n) << "Gather index out of range", failure();
    c.i.push_back(a.i[j]);
  }
  return c;
}

/// Unsqueeze / Squeeze: data unchanged, shape only.
ConstTensor foldSqueeze(OnnxImporter &I, const onnx::NodeProto &n,
                        const ConstTensor &a) {
  ConstTensor c = a;
  c.onnxName.clear();
  SmallVector<int64_t> axes = attrInts(n, "axes", {});
  if (const ConstTensor *ax = I.constOperand(n, 1))
    axes.assign(ax->i.begin(), ax->i.end());
  if (n.op_type() == "Unsqueeze") {
    int64_t rank = c.shape.size() + axes.size();
    for (int64_t &x : axes)
      x = x < 0 ? x + rank : x;
    llvm::sort(axes);
    for (int64_t x : axes)
      c.shape.insert(c.shape.begin() + std::min<int64_t>(x, c.shape.size()), 1);
    return c;
  }
  SmallVector<int64_t> s;
  for (int64_t d = 0; d < (int64_t)c.shape.size(); ++d)
    if (!(axes.empty()
              ? c.shape[d] == 1
              : llvm::is_contained(axes, d) ||
                    llvm::is_contained(axes, d - (int64_t)c.shape.size())))
      s.push_back(c.shape[d]);
  c.shape = s;
  return c;
}

/// Gather: of integer constants it folds; at constant indices it is a
/// slice; with indices computed at run time it is not supported, which the
/// error says (not the element types of the indices: an embedding lookup's
/// int64 indices are not what is wrong).
/// Gather of a runtime tensor at constant indices (h[0], x[:, -1]): a
/// slice per index, concatenated along the axis; a scalar index drops it.
LogicalResult gatherAtConstants(OnnxImporter &I, const onnx::NodeProto &n,
                                const ConstTensor &idx) {
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  auto xs = shapeOf(*x);
  int64_t rank = xs.size(), axis = attrInt(n, "axis", 0);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank || idx.shape.size() > 1 || idx.i.empty())
    return I.nodeError(n) << "Gather along axis " << axis << " with "
                          << idx.shape.size()
                          << "-D indices is not supported (a scalar or 1-D "
                             "list of constant indices is)",
           failure();
  Location loc = I.nodeLoc(n);
  SmallVector<Value> parts;
  SmallVector<int64_t> one(xs);
  one[axis] = 1;
  for (int64_t k : idx.i) {
    int64_t j = k < 0 ? k + xs[axis] : k;
    if (j < 0 || j >= xs[axis])
      return I.nodeError(n) << "Gather index " << k << " out of range",
             failure();
    SmallVector<int64_t> first(rank, 0);
    first[axis] = j;
    parts.push_back(nn::SliceOp::create(
        I.builder, loc, I.tensorType(one, OnnxImporter::elementTypeOf(*x)), *x,
        I.builder.getDenseI64ArrayAttr(first)));
  }
  Value y = parts.size() == 1
                ? parts[0]
                : nn::ConcatOp::create(I.builder, loc, parts, axis).getResult();
  SmallVector<int64_t> ys(xs.begin(), xs.begin() + axis);
  ys.append(idx.shape.begin(), idx.shape.end());
  ys.append(xs.begin() + axis + 1, xs.end());
  if (ArrayRef<int64_t>(ys) != ArrayRef<int64_t>(shapeOf(y)))
    y = nn::ReshapeOp::create(
        I.builder, loc, I.tensorType(ys, OnnxImporter::elementTypeOf(y)), y);
  return I.define(n, y);
}

/// Gather at indices computed at run time (an embedding lookup: the table
/// a parameter, the token ids an input): nn.gather.
LogicalResult buildGather(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> data = I.tensorOperand(n, 0),
                   indices = I.tensorOperand(n, 1);
  if (failed(data) || failed(indices))
    return failure();
  Type indexType = OnnxImporter::elementTypeOf(*indices);
  if (!indexType.isInteger(32) && !indexType.isInteger(64))
    return I.nodeError(n) << "indices must be int32 or int64, not "
                          << indexType,
           failure();
  auto shape = shapeOf(*data);
  int64_t axis = attrInt(n, "axis", 0);
  if (axis < -int64_t(shape.size()) || axis >= int64_t(shape.size()))
    return I.nodeError(n) << "axis " << axis << " is outside the data's "
                          << shape.size() << " dimensions",
           failure();
  if (axis < 0)
    axis += shape.size();
  SmallVector<int64_t> out(shape.begin(), shape.begin() + axis);
  llvm::append_range(out, shapeOf(*indices));
  out.append(shape.begin() + axis + 1, shape.end());
  return I.define(n, nn::GatherOp::create(
                         I.builder, I.nodeLoc(n),
                         I.tensorType(out, OnnxImporter::elementTypeOf(*data)),
                         *data, *indices, I.builder.getI64IntegerAttr(axis)));
}

LogicalResult importGather(OnnxImporter &I, const onnx::NodeProto &n) {
  if (I.allConst(n) && !I.consts[n.input(0)].isFloat)
    return foldConstantNode(I, n);
  const ConstTensor *idx = I.constOperand(n, 1);
  if (failed(I.needInputs(n, 2)))
    return failure();
  // Constant indices: slices, where they are a scalar or a list.
  if (idx && !idx->isFloat && idx->shape.size() <= 1)
    return gatherAtConstants(I, n, *idx);
  return buildGather(I, n);
}

/// Where of tensors computed at run time (or float constants): nn.where.
LogicalResult buildWhere(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 3)) ||
      failed(I.checkElementTypes(n, ElementTypes::Any)))
    return failure();
  FailureOr<Value> c = I.tensorOperand(n, 0), a = I.tensorOperand(n, 1),
                   b = I.tensorOperand(n, 2);
  if (failed(c) || failed(a) || failed(b))
    return failure();
  if (!OnnxImporter::elementTypeOf(*c).isInteger(1) ||
      OnnxImporter::elementTypeOf(*a) != OnnxImporter::elementTypeOf(*b))
    return I.nodeError(n) << "needs a boolean condition and branches of one "
                             "element type",
           failure();
  auto shape = nn::broadcastShapes(shapeOf(*a), shapeOf(*b));
  if (succeeded(shape))
    shape = nn::broadcastShapes(*shape, shapeOf(*c));
  if (failed(shape))
    return I.nodeError(n) << "operand shapes do not broadcast", failure();
  return I.define(n, nn::WhereOp::create(
                         I.builder, I.nodeLoc(n),
                         I.tensorType(*shape, OnnxImporter::elementTypeOf(*a)),
                         *c, *a, *b));
}

/// Equal folds on integer constants (torch's expand(-1, ...) and the -1
/// handling of its shape arithmetic); Where folds there and is nn.where on
/// tensors computed at run time.
LogicalResult importFoldedSelection(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n) &&
      (n.op_type() == "Equal" || !I.consts[n.input(1)].isFloat))
    return defineFoldedInteger(I, n);
  if (n.op_type() == "Where")
    return buildWhere(I, n);
  return I.nodeError(n) << n.op_type()
                        << " of tensors computed at run time or of float "
                           "constants is not supported (integer constants "
                           "fold)",
         failure();
}

} // namespace

/// The integers of a Slice parameter: input `idx` (a constant; opset 10+)
/// or attribute `name` (before opset 10); `def` if absent.
static FailureOr<SmallVector<int64_t>> sliceParam(OnnxImporter &I,
                                                  const onnx::NodeProto &n,
                                                  int idx, StringRef name,
                                                  ArrayRef<int64_t> def) {
  if (I.opset < 10)
    return findAttr(n, name) ? attrInts(n, name, {})
                             : SmallVector<int64_t>(def);
  if (n.input_size() <= idx || n.input(idx).empty())
    return SmallVector<int64_t>(def);
  const ConstTensor *c = I.constOperand(n, idx);
  if (!c || c->isFloat)
    return I.nodeError(n) << name << " must be compile-time integer constants",
           failure();
  return SmallVector<int64_t>(c->i.begin(), c->i.end());
}

FailureOr<SliceBounds>
mcutrain::importer::sliceBounds(OnnxImporter &I, const onnx::NodeProto &n,
                                ArrayRef<int64_t> shape) {
  int64_t rank = shape.size();
  FailureOr<SmallVector<int64_t>> starts = sliceParam(I, n, 1, "starts", {});
  FailureOr<SmallVector<int64_t>> ends = sliceParam(I, n, 2, "ends", {});
  if (failed(starts) || failed(ends))
    return failure();
  SmallVector<int64_t> all;
  for (size_t k = 0; k < starts->size(); ++k)
    all.push_back(k);
  FailureOr<SmallVector<int64_t>> axes = sliceParam(I, n, 3, "axes", all);
  FailureOr<SmallVector<int64_t>> steps =
      sliceParam(I, n, 4, "steps", SmallVector<int64_t>(starts->size(), 1));
  if (failed(axes) || failed(steps))
    return failure();
  if (ends->size() != starts->size() || axes->size() != starts->size() ||
      steps->size() != starts->size())
    return I.nodeError(n) << "starts, ends, axes and steps differ in length",
           failure();
  SliceBounds b{SmallVector<int64_t>(rank, 0), SmallVector<int64_t>(rank, 1),
                SmallVector<int64_t>(shape)};
  SmallVector<bool> seen(rank, false);
  for (size_t k = 0; k < axes->size(); ++k) {
    int64_t ax = (*axes)[k] < 0 ? (*axes)[k] + rank : (*axes)[k];
    if (ax < 0 || ax >= rank || (*steps)[k] == 0 || seen[ax])
      return I.nodeError(n) << "invalid or repeated axis, or a zero step",
             failure();
    seen[ax] = true;
    int64_t dim = shape[ax], s = (*steps)[k];
    // Starts and ends count from the back when negative, then clamp (to
    // [0, dim] going forwards, [-1, dim - 1] going backwards).
    auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
      v = v < 0 ? v + dim : v;
      return std::clamp(v, lo, hi);
    };
    int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? dim : dim - 1;
    int64_t first = norm((*starts)[k], lo, hi), end = norm((*ends)[k], lo, hi);
    b.first[ax] = first;
    b.step[ax] = s;
    b.shape[ax] = s > 0 ? (end > first ? (end - first + s - 1) / s : 0)
                        : (first > end ? (first - end - s - 1) / -s : 0);
  }
  return b;
}

LogicalResult
mcutrain::importer::defineFoldedInteger(OnnxImporter &I,
                                        const onnx::NodeProto &n) {
  FailureOr<ConstTensor> c = foldIntegerNode(I, n);
  return failed(c) ? failure() : I.defineConst(n, std::move(*c));
}

bool mcutrain::importer::isIntegerConst(OnnxImporter &I,
                                        const onnx::NodeProto &n) {
  return I.allConst(n) && !I.consts[n.input(0)].isFloat;
}

FailureOr<ConstTensor>
mcutrain::importer::foldIntegerNode(OnnxImporter &I, const onnx::NodeProto &n) {
  const std::string &op = n.op_type();
  bool sliceAttrs = op == "Slice" && I.opset < 10;
  if (failed(I.needInputs(n, op == "Slice"       ? (sliceAttrs ? 1 : 3)
                             : op == "Transpose" ? 1
                                                 : 2)))
    return failure();
  const ConstTensor &a = I.consts[n.input(0)];
  ConstTensor c;
  c.isFloat = false;
  c.dtype = a.dtype;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" ||
      op == "Equal" || op == "Where")
    return foldArithmetic(I, n, a, std::move(c));
  if (op == "Reshape")
    return foldReshape(I, n, a, std::move(c));
  if (op == "Transpose")
    return foldTranspose(I, n, a, std::move(c));
  return foldSlice(I, n, a, std::move(c));
}

LogicalResult mcutrain::importer::foldConstantNode(OnnxImporter &I,
                                                   const onnx::NodeProto &n) {
  const std::string &op = n.op_type();
  const ConstTensor &a = I.consts[n.input(0)];
  if (a.isFloat && op != "Cast" && op != "Concat")
    return I.nodeError(n) << "folding float constants is not supported",
           failure();
  ConstTensor c;
  c.isFloat = false;
  c.dtype = onnx::TensorProto::INT64;
  FailureOr<ConstTensor> folded = failure();
  if (op == "Cast") {
    folded = foldCast(I, n, a);
  } else if (op == "Gather") {
    folded = foldGather(I, n, a, std::move(c));
  } else if (op == "Concat") { // 1-D: shapes, or Resize's float scales
    c.isFloat = a.isFloat;
    c.dtype = a.dtype;
    for (const auto &in : n.input()) {
      const ConstTensor &t = I.consts[in];
      if (t.isFloat != a.isFloat || t.shape.size() != 1)
        return I.nodeError(n) << "only 1-D constants of one type fold",
               failure();
      c.i.insert(c.i.end(), t.i.begin(), t.i.end());
      c.f.insert(c.f.end(), t.f.begin(), t.f.end());
    }
    c.shape = {(int64_t)(a.isFloat ? c.f.size() : c.i.size())};
    folded = std::move(c);
  } else {
    folded = foldSqueeze(I, n, a);
  }
  if (failed(folded))
    return failure();
  return I.defineConst(n, std::move(*folded));
}

void mcutrain::importer::registerShapeFoldingHandlers(HandlerTable &table) {
  table.on("Constant", 1, importConstant);
  table.on("Shape", 1, importShape);
  table.on("ConstantOfShape", 1, importConstantOfShape);
  table.on("Gather", 1, importGather);
  table.on("Equal", 1, importFoldedSelection);
  table.on("Where", 9, importFoldedSelection);
}
