//===- QuantizedLayers.cpp - nn.qconv2d, nn.qgemm -------------------------===//
//
// int8 layers output-stationary: a linalg.generic over the output whose
// element sums its products in an int32 register (an scf.for nest over the
// reduction) and requantizes it to 8 bits by a fixed-point multiplier per
// output channel. No int32 tensor of the whole output is ever stored: an
// accumulate-then-requantize pair of generics put one (4 bytes per output)
// in the arena, more than the float layer's. Dense convolutions and Gemm
// with symmetric signed weights are also marked for the int8 kernels of
// runtime/mcutrain_int8_kernels.h (use-kernels), which compute the same
// bytes: the generic then takes the buffers the kernel reads as inputs
// (maps to element 0; its body still reads them whole), so that they are
// its operands once bufferized.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"
#include "runtime/mcutrain_int8_kernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

Type i32Type(OpBuilder &b) { return b.getI32Type(); }

/// An 8-bit quantized value widened to i32 (zero- or sign-extended as its
/// type says) minus its zero point (`zero`, an i32 value or null for 0).
Value centred(OpBuilder &ob, Location l, Value v, bool isSigned, Value zero) {
  Value wide = isSigned
                   ? arith::ExtSIOp::create(ob, l, i32Type(ob), v).getResult()
                   : arith::ExtUIOp::create(ob, l, i32Type(ob), v).getResult();
  return zero ? arith::SubIOp::create(ob, l, wide, zero).getResult() : wide;
}

int64_t zeroPointOf(quant::QuantizedType t) {
  return cast<quant::UniformQuantizedType>(t).getZeroPoint();
}

/// The weight's zero points, one per output channel, or nothing when they
/// are all 0 (symmetric weights: no subtraction in the inner loop).
SmallVector<int32_t> weightZeros(quant::QuantizedType w, int64_t channels) {
  SmallVector<int32_t> zeros;
  if (auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(w))
    for (int64_t z : axis.getZeroPoints())
      zeros.push_back(static_cast<int32_t>(z));
  else
    zeros.assign(channels, static_cast<int32_t>(zeroPointOf(w)));
  if (llvm::all_of(zeros, [](int32_t z) { return z == 0; }))
    zeros.clear();
  return zeros;
}

Value i32Vector(Lowering &L, ArrayRef<int32_t> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, i32Type(L.b));
  return arith::ConstantOp::create(L.b, L.loc,
                                   DenseElementsAttr::get(type, values));
}

/// Largest right shift: a float bias in the fixed-point domain,
/// bias / y_scale * 2^shift, then fits int64 up to 2^15 output steps.
constexpr int32_t kMaxShift = 47;

/// Q31 multiplier and right shift of a real multiplier m > 0:
/// m ~= multiplier * 2^-shift, multiplier in [2^30, 2^31) unless the
/// shift is capped at kMaxShift (m < 2^-16: the multiplier loses low bits,
/// an error below 2^-16 steps for any int32 accumulator).
std::pair<int32_t, int32_t> fixedPoint(double m) {
  int exponent = 0;
  double mantissa = std::frexp(m, &exponent); // m = mantissa * 2^exponent
  int64_t q = std::llround(mantissa * double(int64_t(1) << 31));
  if (q == (int64_t(1) << 31)) {
    q /= 2;
    ++exponent;
  }
  int32_t shift = 31 - exponent;
  if (shift > kMaxShift) {
    q = std::llround(std::ldexp(m, kMaxShift));
    shift = kMaxShift;
  }
  return {static_cast<int32_t>(q), shift};
}

/// Everything the requantization of one layer needs.
struct Requantization {
  quant::UniformQuantizedType output;
  SmallVector<int32_t> multipliers, shifts;
  SmallVector<float> biasScales; // 2^shift / y_scale: a float bias's factor
  // 2^(shift-1) + (y_zero << shift): the rounding half and the zero point,
  // added before the shift.
  SmallVector<int64_t> baseOffsets;
  int64_t lo, hi;
};

FailureOr<Requantization> requantization(Operation *op, Type inputType,
                                         Type weightType, Type outputType,
                                         int64_t channels,
                                         std::optional<int64_t> lo,
                                         std::optional<int64_t> hi) {
  Requantization r;
  r.output = cast<quant::UniformQuantizedType>(outputType);
  double xs = cast<quant::UniformQuantizedType>(inputType).getScale();
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(weightType);
  for (int64_t c = 0; c < channels; ++c) {
    double ws = perAxis
                    ? perAxis.getScales()[c]
                    : cast<quant::UniformQuantizedType>(weightType).getScale();
    double m = xs * ws / r.output.getScale();
    if (!(m > 0.0) || m >= double(int64_t(1) << 30))
      return op->emitOpError()
             << "requantization multiplier " << m << " is out of range";
    auto [multiplier, shift] = fixedPoint(m);
    r.multipliers.push_back(multiplier);
    r.shifts.push_back(shift);
    r.biasScales.push_back(
        static_cast<float>(std::ldexp(1.0 / r.output.getScale(), shift)));
    r.baseOffsets.push_back((int64_t(1) << (shift - 1)) +
                            r.output.getZeroPoint() * (int64_t(1) << shift));
  }
  r.lo =
      std::max<int64_t>(lo.value_or(INT64_MIN), r.output.getStorageTypeMin());
  r.hi =
      std::min<int64_t>(hi.value_or(INT64_MAX), r.output.getStorageTypeMax());
  return r;
}

/// Bound of a float bias's fixed-point term: with |acc * multiplier| <
/// 2^62 and the base offset below 2^56, the int64 sum cannot wrap.
constexpr float kBiasTermLimit = 0x1p61f;

Value i64Vector(Lowering &L, ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, L.b.getI64Type());
  return arith::ConstantOp::create(L.b, L.loc,
                                   DenseElementsAttr::get(type, values));
}

/// The requantization offsets computed each run, from a bias that is not a
/// constant (a trained float bias): per channel base + the bias's term,
/// round(bias * 2^shift / y_scale) in f32 (ties to even) saturated to
/// +-kBiasTermLimit for a float bias, bias * multiplier for an int32 one.
Value runtimeOffsets(Lowering &L, Value bias, const Requantization &r) {
  int64_t channels = r.baseOffsets.size();
  bool isFloat = cast<ShapedType>(bias.getType()).getElementType().isF32();
  auto scaleType = RankedTensorType::get({channels}, L.f32());
  Value factors =
      isFloat ? arith::ConstantOp::create(
                    L.b, L.loc,
                    DenseElementsAttr::get(scaleType, ArrayRef(r.biasScales)))
                    .getResult()
              : i32Vector(L, r.multipliers);
  Value base = i64Vector(L, r.baseOffsets);
  Value out = tensor::EmptyOp::create(L.b, L.loc, {channels}, L.b.getI64Type());
  AffineMap id = L.b.getMultiDimIdentityMap(1);
  Type i64 = L.b.getI64Type();
  return L.generic(
      out, ValueRange{bias, factors, base}, {id, id, id, id}, {kPar},
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value term;
        if (isFloat) {
          Value v = arith::MulFOp::create(ob, l, a[0], a[1]);
          v = math::RoundEvenOp::create(ob, l, v);
          Value lo = L.f32c(ob, -kBiasTermLimit),
                hi = L.f32c(ob, kBiasTermLimit);
          // Ordered compares: NaN goes low, never an undefined conversion.
          Value above =
              arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, v, lo);
          v = arith::SelectOp::create(ob, l, above, v, lo);
          Value below =
              arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, v, hi);
          v = arith::SelectOp::create(ob, l, below, v, hi);
          term = arith::FPToSIOp::create(ob, l, i64, v);
        } else {
          term = arith::MulIOp::create(
              ob, l, arith::ExtSIOp::create(ob, l, i64, a[0]),
              arith::ExtSIOp::create(ob, l, i64, a[1]));
        }
        return arith::AddIOp::create(ob, l, term, a[2]);
      });
}

/// The f32 or i32 data of a frozen parameter (a constant global, as
/// lower-parameters leaves it, or a constant), or null.
DenseElementsAttr frozenData(Value v) {
  DenseElementsAttr constant;
  if (matchPattern(v, m_Constant(&constant)))
    return constant;
  auto toTensor = v.getDefiningOp<bufferization::ToTensorOp>();
  auto get = toTensor
                 ? toTensor.getBuffer().getDefiningOp<memref::GetGlobalOp>()
                 : memref::GetGlobalOp();
  if (!get)
    return {};
  auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      get, get.getNameAttr());
  if (!g || !g.getConstant())
    return {};
  return dyn_cast_or_null<DenseElementsAttr>(g.getInitialValueAttr());
}

/// runtimeOffsets's arithmetic at compile time, for no bias or a frozen
/// one: the int64 values go to flash.
Value foldedOffsets(Lowering &L, DenseElementsAttr bias,
                    const Requantization &r) {
  SmallVector<int64_t> values(r.baseOffsets);
  if (bias && bias.getElementType().isF32()) {
    int64_t c = 0;
    for (float b : bias.getValues<float>()) {
      float v = std::nearbyint(b * r.biasScales[c]);
      v = v > -kBiasTermLimit ? v : -kBiasTermLimit;
      v = v < kBiasTermLimit ? v : kBiasTermLimit;
      values[c++] += static_cast<int64_t>(v);
    }
  } else if (bias) {
    int64_t c = 0;
    for (const APInt &b : bias.getValues<APInt>()) {
      values[c] += b.getSExtValue() * int64_t(r.multipliers[c]);
      ++c;
    }
  }
  return i64Vector(L, values);
}

/// Per-channel requantization operands as tensors the element reads.
struct RequantizeOperands {
  const Requantization *r = nullptr;
  Value multipliers, shifts, offsets;
};

/// clamp((acc * multiplier + offset) >> shift, lo, hi) in i64, then i8: one
/// rounding, to nearest with ties toward +infinity (CMSIS-NN's
/// arm_nn_requantize with single rounding); the offset holds the bias, the
/// rounding half and the zero point. The product of two int32 values fits
/// i64; so does the sum (kBiasTermLimit).
Value requantizeElement(Lowering &L, OpBuilder &ob, Location l, Value acc,
                        Value channel, const RequantizeOperands &q) {
  Type i64 = ob.getI64Type();
  auto wide = [&](Value v) {
    return arith::ExtSIOp::create(ob, l, i64, v).getResult();
  };
  auto c64 = [&](int64_t v) {
    return arith::ConstantOp::create(ob, l, ob.getI64IntegerAttr(v))
        .getResult();
  };
  auto at = [&](Value vector) {
    return tensor::ExtractOp::create(ob, l, vector, channel).getResult();
  };
  Value sum = arith::MulIOp::create(ob, l, wide(acc), wide(at(q.multipliers)));
  sum = arith::AddIOp::create(ob, l, sum, at(q.offsets));
  Value y = arith::ShRSIOp::create(ob, l, sum, wide(at(q.shifts)));
  const Requantization &r = *q.r;
  Value above = L.cmp(ob, arith::CmpIPredicate::sgt, y, c64(r.lo));
  y = arith::SelectOp::create(ob, l, above, y, c64(r.lo));
  Value below = L.cmp(ob, arith::CmpIPredicate::slt, y, c64(r.hi));
  y = arith::SelectOp::create(ob, l, below, y, c64(r.hi));
  return arith::TruncIOp::create(ob, l, ob.getI8Type(), y);
}

/// What one output element of an int8 layer reads.
struct LayerElement {
  /// The element's output channel, from its output indices.
  std::function<Value(ValueRange out)> channel;
  /// (x - x_zero) * (w - w_zero) at output `out`, reduction indices `red`.
  std::function<Value(OpBuilder &, Location, ValueRange out, ValueRange red)>
      product;
};

/// An 8-bit value widened to i32 (as its type's signedness says) minus its
/// zero point, if not 0.
Value centredScalar(OpBuilder &ob, Location l, Value v, bool isSigned,
                    int64_t zero) {
  Value z = zero ? arith::ConstantOp::create(
                       ob, l, ob.getI32IntegerAttr(static_cast<int32_t>(zero)))
                       .getResult()
                 : Value();
  return centred(ob, l, v, isSigned, z);
}

/// The layer's result as a linalg.generic over the output (the body reads
/// x and w with tensor.extract at its linalg.index position): each element
/// runs the reduction loops (`extents`) with an i32 accumulator, then is
/// requantized (if `q.r`; the bias is in the offsets) or returned (starting
/// from the int32 bias, if any). `kernelIns` become inputs the body does
/// not read (see the file comment). Not a tensor.generate: the
/// canonicalizer folds extract(generate) into a copy of the generate's body,
/// which recomputed every earlier layer inside the next one's inner loop.
Value outputStationary(Lowering &L, Operation *op, ArrayRef<int64_t> extents,
                       Value bias, const RequantizeOperands &q,
                       const LayerElement &element, ValueRange kernelIns = {}) {
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  unsigned rank = resultType.getRank();
  bool intBias =
      !q.r && bias &&
      cast<ShapedType>(bias.getType()).getElementType().isInteger(32);
  Value init = tensor::EmptyOp::create(L.b, L.loc, resultType.getShape(),
                                       resultType.getElementType());
  SmallVector<AffineMap> maps = L.kernelInputMaps(rank, kernelIns);
  return L.generic(
      init, kernelIns, maps, SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange) -> Value {
        SmallVector<Value> out = outputIndices(ob, l, rank);
        Value channel = element.channel(out);
        Value start =
            intBias
                ? tensor::ExtractOp::create(ob, l, bias, channel).getResult()
                : L.i32c(ob, 0);
        Value acc = sumOverLoops(
            ob, l, extents, start,
            [&](OpBuilder &ib, Location il, ValueRange red) -> Value {
              return element.product(ib, il, out, red);
            });
        return q.r ? requantizeElement(L, ob, l, acc, channel, q) : acc;
      });
}

/// The requantization operands of `op`, or (no output type) none; null
/// `r` and failure() distinguish them.
template <typename OpTy>
FailureOr<RequantizeOperands> requantizeOperands(Lowering &L, OpTy op,
                                                 int64_t channels,
                                                 Requantization &storage) {
  RequantizeOperands q;
  if (!op.getOutputTypeAttr())
    return q;
  FailureOr<Requantization> r = requantization(
      op, op.getInputType(), op.getWeightType(), *op.getOutputType(), channels,
      op.getOutputMin(), op.getOutputMax());
  if (failed(r))
    return failure();
  storage = std::move(*r);
  q.r = &storage;
  q.multipliers = i32Vector(L, storage.multipliers);
  q.shifts = i32Vector(L, storage.shifts);
  Value bias = op.getBias();
  DenseElementsAttr frozen = bias ? frozenData(bias) : DenseElementsAttr();
  q.offsets = !bias || frozen ? foldedOffsets(L, frozen, storage)
                              : runtimeOffsets(L, bias, storage);
  return q;
}

/// Index arithmetic: a * k + b * m (constants k, m).
Value affineIndex(OpBuilder &ob, Location l, Value a, int64_t k, Value b,
                  int64_t m) {
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(ob, l, v); };
  Value x = arith::MulIOp::create(ob, l, a, c(k));
  Value y = arith::MulIOp::create(ob, l, b, c(m));
  return arith::AddIOp::create(ob, l, x, y);
}

/// How an int8 layer centres its operands: signedness, the input's zero
/// point and the weight's per channel (null when all are 0).
struct Centring {
  bool xSigned, wSigned;
  int64_t xZero;
  Value wZeros;

  Centring(Lowering &L, Type inputType, Type weightType, int64_t channels) {
    auto xt = cast<quant::QuantizedType>(inputType);
    auto wt = cast<quant::QuantizedType>(weightType);
    xSigned = xt.isSigned();
    wSigned = wt.isSigned();
    xZero = zeroPointOf(xt);
    SmallVector<int32_t> zeros = weightZeros(wt, channels);
    wZeros = zeros.empty() ? Value() : i32Vector(L, zeros);
  }

  /// (x - x_zero) * (w - w_zero[channel]) in i32.
  Value product(OpBuilder &ob, Location l, Value x, Value w,
                Value channel) const {
    Value wz =
        wZeros ? tensor::ExtractOp::create(ob, l, wZeros, channel).getResult()
               : Value();
    Value xi = centredScalar(ob, l, x, xSigned, xZero);
    Value wi = centred(ob, l, w, wSigned, wz);
    return arith::MulIOp::create(ob, l, xi, wi);
  }
};

/// Input row of output row o and tap k (Lowering::tapRow); unpadded, the
/// affine index, always inside.
Value inputRow(Lowering &L, OpBuilder &ob, Value o, Value k, int64_t stride,
               int64_t dilation, int64_t pad, int64_t n, bool padded,
               Value &inside) {
  if (!padded)
    return affineIndex(ob, L.loc, o, stride, k, dilation);
  return L.tapRow(ob, o, k, stride, dilation, pad, n, inside);
}

/// Whether the int8 kernels compute the layer: requantized to 8 bits, with
/// signed weights whose zero points are all 0 (what PyTorch and ONNX
/// Runtime's per-channel quantization write).
bool kernelComputes(const RequantizeOperands &q, const Centring &centring) {
  return q.r && centring.wSigned && !centring.wZeros;
}

/// Marks `result` (an outputStationary generic whose inputs are x, w, the
/// multipliers, the shifts and the offsets) as the call of `name`, with
/// `args` and then WS: whether every shift is 32 or more (the kernel's
/// requantization then reads only the high word of the 64-bit sum).
void tagInt8Kernel(Lowering &L, Value result, train::KernelName name,
                   ArrayRef<int64_t> args, const Requantization &r,
                   int64_t scratchBytes) {
  SmallVector<int64_t> withWide(args);
  withWide.push_back(llvm::all_of(r.shifts, [](int32_t s) { return s >= 32; }));
  L.tagKernel(result, name, withWide, {0, 1, 2, 3, 4, 5});
  result.getDefiningOp()->setAttr(kKernelScratchAttr,
                                  L.b.getI64IntegerAttr(scratchBytes));
}

/// Marks a dense (groups 1) or depthwise int8 convolution's generic for
/// qconv2d / qdepthwise2d.
void tagQConvKernel(Lowering &L, nn::QConv2dOp op, Value y,
                    const Centring &centring, const Requantization &r,
                    bool depthwise) {
  auto xs = op.getInput().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto ys = op.getResult().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t xu = !centring.xSigned, xz = centring.xZero;
  if (depthwise) {
    tagInt8Kernel(L, y, train::KernelName::qdepthwise2d,
                  {xs[0], xs[1], xs[2], xs[3], ws[2], ws[3], ys[2], ys[3], s[0],
                   s[1], p[0], p[1], dl[0], dl[1], xu, xz, r.lo, r.hi},
                  r,
                  kernels::int8::depthwiseScratchBytes(
                      xs[3], ws[2], ws[3], ys[3], s[1], p[1], dl[0], dl[1]));
    return;
  }
  tagInt8Kernel(L, y, train::KernelName::qconv2d,
                {xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], ys[2], ys[3],
                 s[0], s[1], p[0], p[1], dl[0], dl[1], xu, xz, r.lo, r.hi},
                r,
                kernels::int8::convScratchBytes(ws[1], xs[3], ws[0], ws[2],
                                                ws[3], ys[3], s[1], p[1], dl[0],
                                                dl[1], xs[0], ys[2], s[0]));
}

Value lowerQConv(Lowering &L, nn::QConv2dOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup();
  Requantization storage;
  FailureOr<RequantizeOperands> q = requantizeOperands(L, op, ws[0], storage);
  if (failed(q))
    return {};
  // No padded copy of x (a depthwise layer's would be as large as its
  // input): taps outside it are skipped, as reading the zero point would.
  bool padded = llvm::any_of(p, [](int64_t v) { return v != 0; });
  Value x = op.getInput(), w = op.getWeight();
  Centring centring(L, op.getInputType(), op.getWeightType(), ws[0]);
  LayerElement element;
  element.channel = [](ValueRange out) { return out[1]; };
  // out: n f oh ow; red: c kh kw (c within f's group).
  element.product = [&, x, w](OpBuilder &ob, Location l, ValueRange out,
                              ValueRange red) -> Value {
    Value xc = red[0];
    if (g > 1) {
      Value group = arith::DivSIOp::create(
          ob, l, out[1], arith::ConstantIndexOp::create(ob, l, ws[0] / g));
      xc = affineIndex(ob, l, group, ws[1], red[0], 1);
    }
    Value inside, insideW;
    Value ih = inputRow(L, ob, out[2], red[1], s[0], dl[0], p[0], xs[2], padded,
                        inside);
    Value iw = inputRow(L, ob, out[3], red[2], s[1], dl[1], p[1], xs[3], padded,
                        insideW);
    Value xv =
        tensor::ExtractOp::create(ob, l, x, ValueRange{out[0], xc, ih, iw});
    Value wv = tensor::ExtractOp::create(
        ob, l, w, ValueRange{out[1], red[0], red[1], red[2]});
    Value product = centring.product(ob, l, xv, wv, out[1]);
    if (!padded)
      return product;
    return arith::SelectOp::create(ob, l, L.both(ob, inside, insideW), product,
                                   L.i32c(ob, 0));
  };
  bool depthwise = g == xs[1] && ws[0] == g && ws[1] == 1;
  if ((g != 1 && !depthwise) || !kernelComputes(*q, centring))
    return outputStationary(L, op, {ws[1], ws[2], ws[3]}, op.getBias(), *q,
                            element);
  Value y =
      outputStationary(L, op, {ws[1], ws[2], ws[3]}, op.getBias(), *q, element,
                       {x, w, q->multipliers, q->shifts, q->offsets});
  tagQConvKernel(L, op, y, centring, *q->r, depthwise);
  return y;
}

Value lowerQGemm(Lowering &L, nn::QGemmOp op) {
  int64_t k = op.getA().getType().getDimSize(1);
  int64_t n = op.getOutput().getType().getDimSize(1);
  bool tb = op.getTransB();
  Requantization storage;
  FailureOr<RequantizeOperands> q = requantizeOperands(L, op, n, storage);
  if (failed(q))
    return {};
  Value a = op.getA(), b = op.getB();
  Centring centring(L, op.getInputType(), op.getWeightType(), n);
  LayerElement element;
  element.channel = [](ValueRange out) { return out[1]; };
  // out: m n; red: k.
  element.product = [&, a, b](OpBuilder &ob, Location l, ValueRange out,
                              ValueRange red) -> Value {
    Value av = tensor::ExtractOp::create(ob, l, a, ValueRange{out[0], red[0]});
    Value bv = tensor::ExtractOp::create(
        ob, l, b, tb ? ValueRange{out[1], red[0]} : ValueRange{red[0], out[1]});
    return centring.product(ob, l, av, bv, out[1]);
  };
  if (!kernelComputes(*q, centring))
    return outputStationary(L, op, {k}, op.getBias(), *q, element);
  Value y = outputStationary(L, op, {k}, op.getBias(), *q, element,
                             {a, b, q->multipliers, q->shifts, q->offsets});
  const Requantization &r = *q->r;
  tagInt8Kernel(L, y, train::KernelName::qgemm,
                {op.getA().getType().getDimSize(0), n, k, tb, !centring.xSigned,
                 centring.xZero, r.lo, r.hi},
                r, kernels::int8::gemmScratchBytes(k));
  return y;
}

} // namespace

void mcutrain::lowering::populateQuantizedLayerPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::QConv2dOp>(patterns, lowerQConv);
  addLowering<nn::QGemmOp>(patterns, lowerQGemm);
}
