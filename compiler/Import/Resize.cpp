//===- Resize.cpp - Resize and Upsample -----------------------------------===//
//
// Resize (opset 10+) and Upsample (opset 7-9) of the last one or two dims,
// nearest, linear or cubic, in every coordinate transformation mode but
// tf_crop_and_resize. Each resized axis is a product with a constant
// interpolation matrix (one-hot rows for nearest, two weights for linear,
// four for cubic):
// the last axis as x @ A^T, the one before as A @ x, so the adjoint is
// nn.matmul's. A nearest axis that repeats each element k times is a
// broadcast instead (F.interpolate(scale_factor=k): no multiplies).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include <cmath>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

struct ResizeMode {
  bool linear = false, cubic = false, excludeOutside = false;
  double cubicA = -0.75;
  std::string coord, nearest;
};

/// Input coordinate of output position `o` on an axis of `in` elements
/// resized by `scale` (ONNX's formulas; the resized length is in * scale,
/// unrounded, as ONNX's reference takes it).
double sourceCoord(const ResizeMode &m, int64_t o, int64_t in, double scale) {
  double out = in * scale;
  if (m.coord == "align_corners")
    return out <= 1 ? 0.0 : o * double(in - 1) / (out - 1);
  if (m.coord == "asymmetric")
    return o / scale;
  if (m.coord == "tf_half_pixel_for_nn")
    return (o + 0.5) / scale;
  if (m.coord == "pytorch_half_pixel" && out <= 1)
    return 0.0;
  return (o + 0.5) / scale - 0.5; // half_pixel, pytorch_half_pixel
}

int64_t nearestIndex(const ResizeMode &m, double x, int64_t in) {
  int64_t i;
  if (m.nearest == "floor")
    i = (int64_t)std::floor(x);
  else if (m.nearest == "ceil")
    i = (int64_t)std::ceil(x);
  else if (m.nearest == "round_prefer_ceil")
    i = (int64_t)std::floor(x + 0.5);
  else // round_prefer_floor
    i = (int64_t)std::ceil(x - 0.5);
  return std::clamp<int64_t>(i, 0, in - 1);
}

/// Keys' cubic kernel with coefficient a at distance t.
double cubicWeight(double a, double t) {
  t = std::abs(t);
  if (t <= 1)
    return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2)
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/// Row `o` of a cubic interpolation: taps floor(x) - 1 .. floor(x) + 2,
/// at the edge element where they fall outside (or dropped, the rest
/// renormalised, with exclude_outside).
void cubicRow(const ResizeMode &m, double x, int64_t in, float *row) {
  int64_t base = (int64_t)std::floor(x);
  double w[4], sum = 0;
  for (int k = 0; k < 4; ++k) {
    int64_t i = base - 1 + k;
    w[k] = cubicWeight(m.cubicA, x - i);
    if (m.excludeOutside && (i < 0 || i >= in))
      w[k] = 0;
    sum += w[k];
  }
  for (int k = 0; k < 4; ++k) {
    int64_t i = std::clamp<int64_t>(base - 1 + k, 0, in - 1);
    row[i] += float(m.excludeOutside ? w[k] / sum : w[k]);
  }
}

/// The out x in interpolation matrix of one axis.
std::vector<float> interpolation(const ResizeMode &m, int64_t in, int64_t out,
                                 double scale) {
  std::vector<float> a(out * in, 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    double x = sourceCoord(m, o, in, scale);
    if (m.cubic) {
      cubicRow(m, x, in, &a[o * in]);
      continue;
    }
    if (!m.linear) {
      a[o * in + nearestIndex(m, x, in)] = 1.0f;
      continue;
    }
    x = std::clamp(x, 0.0, double(in - 1));
    int64_t i0 = (int64_t)std::floor(x), i1 = std::min(i0 + 1, in - 1);
    double f = x - i0;
    a[o * in + i0] += float(1.0 - f);
    a[o * in + i1] += float(f);
  }
  return a;
}

/// k if every output row of `a` picks input o / k (nearest repetition).
int64_t repeatFactor(const std::vector<float> &a, int64_t in, int64_t out) {
  if (out % in)
    return 0;
  int64_t k = out / in;
  for (int64_t o = 0; o < out; ++o)
    if (a[o * in + o / k] != 1.0f)
      return 0;
  return k;
}

/// x resized along `axis` (the last or the one before) to `out`.
Value resizeAxis(OnnxImporter &I, const onnx::NodeProto &n, Value x,
                 int64_t axis, int64_t out, double scale, const ResizeMode &m) {
  auto xs = shapeOf(x);
  int64_t in = xs[axis];
  std::vector<float> a = interpolation(m, in, out, scale);
  Location loc = I.nodeLoc(n);
  SmallVector<int64_t> ys(xs);
  ys[axis] = out;
  if (int64_t k = repeatFactor(a, in, out)) {
    SmallVector<int64_t> split(xs), spread(xs);
    split.insert(split.begin() + axis + 1, 1);
    spread.insert(spread.begin() + axis + 1, k);
    Value v = nn::ReshapeOp::create(I.builder, loc, I.tensorType(split), x);
    v = nn::BroadcastToOp::create(I.builder, loc, I.tensorType(spread), v,
                                  I.builder.getF32FloatAttr(1.0f));
    return nn::ReshapeOp::create(I.builder, loc, I.tensorType(ys), v);
  }
  bool last = axis == (int64_t)xs.size() - 1;
  ConstTensor c;
  c.shape =
      last ? SmallVector<int64_t>{in, out} : SmallVector<int64_t>{out, in};
  c.f.resize(a.size());
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      c.f[last ? i * out + o : o * in + i] = a[o * in + i];
  Value mat = I.loadGlobal(
      c, (n.output(0) + "__resize" + std::to_string(axis)).c_str());
  return last ? nn::MatMulOp::create(I.builder, loc, x, mat).getResult()
              : nn::MatMulOp::create(I.builder, loc, mat, x).getResult();
}

/// The output extents from `sizes` or `scales` (input `scalesIdx`, or the
/// scales attribute for Upsample before opset 9), with each axis' scale.
LogicalResult resizeTargets(OnnxImporter &I, const onnx::NodeProto &n,
                            ArrayRef<int64_t> xs, int scalesIdx,
                            SmallVector<int64_t> &out,
                            SmallVector<double> &scale) {
  const ConstTensor *sizes =
      scalesIdx == 2 ? I.constOperand(n, 3) : (const ConstTensor *)nullptr;
  const ConstTensor *scales =
      scalesIdx >= 0 ? I.constOperand(n, scalesIdx) : nullptr;
  SmallVector<float> fs;
  if (sizes && !sizes->i.empty()) {
    out.assign(sizes->i.begin(), sizes->i.end());
  } else if (scalesIdx < 0) {
    if (const onnx::AttributeProto *a = findAttr(n, "scales"))
      fs.assign(a->floats().begin(), a->floats().end());
  } else if (scales && scales->isFloat && !scales->f.empty()) {
    fs.assign(scales->f.begin(), scales->f.end());
  } else {
    return I.nodeError(n) << "scales or sizes must be compile-time constants",
           failure();
  }
  if (!fs.empty() && fs.size() != xs.size())
    return I.nodeError(n) << "scales need one entry per dimension", failure();
  for (float f : fs)
    out.push_back((int64_t)std::floor(f * xs[out.size()]));
  if (out.size() != xs.size())
    return I.nodeError(n) << "scales/sizes need one entry per dimension",
           failure();
  for (size_t d = 0; d < xs.size(); ++d) {
    scale.push_back(fs.empty() ? double(out[d]) / xs[d] : fs[d]);
    bool spatial = d + 2 >= xs.size() && xs.size() >= 3;
    if (out[d] < 1 || (!spatial && out[d] != xs[d]))
      return I.nodeError(n) << "resizing dim " << d
                            << " is not supported (the last one or two dims "
                               "of a 3-D or 4-D tensor are)",
             failure();
  }
  return success();
}

LogicalResult importResize(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  ResizeMode m;
  std::string mode = attrString(n, "mode", "nearest");
  m.linear = mode == "linear" || mode == "bilinear";
  m.cubic = mode == "cubic";
  m.cubicA = attrFloat(n, "cubic_coeff_a", -0.75f);
  m.excludeOutside = attrInt(n, "exclude_outside", 0) != 0;
  m.coord = attrString(n, "coordinate_transformation_mode",
                       n.op_type() == "Resize" && I.opset >= 11 ? "half_pixel"
                                                                : "asymmetric");
  m.nearest = attrString(n, "nearest_mode",
                         I.opset >= 11 ? "round_prefer_floor" : "floor");
  if ((mode != "nearest" && !m.linear && !m.cubic) ||
      m.coord == "tf_crop_and_resize")
    return I.nodeError(n) << "mode '" << mode << "' / coordinate mode '"
                          << m.coord << "' is not supported (nearest, "
                          << "linear and cubic without cropping are)",
           failure();
  auto xs = shapeOf(*x);
  int scalesIdx = n.op_type() == "Upsample" ? (I.opset >= 9 ? 1 : -1)
                  : I.opset >= 11           ? 2
                                            : 1;
  SmallVector<int64_t> out;
  SmallVector<double> scale;
  if (failed(resizeTargets(I, n, xs, scalesIdx, out, scale)))
    return failure();
  Value y = *x;
  for (size_t d = 0; d < xs.size(); ++d)
    if (out[d] != xs[d] || scale[d] != 1.0)
      y = resizeAxis(I, n, y, d, out[d], scale[d], m);
  return I.define(n, y);
}

} // namespace

void mcutrain::importer::registerResizeHandlers(HandlerTable &table) {
  table.on("Resize", 10, importResize);
  table.on("Upsample", 7, importResize);
}
