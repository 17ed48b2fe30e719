//===- QuantizedGradients.cpp - float32 gradients of the int8 layers ------===//
//
// TTE's backward pass: float32 gradients in real units, computed from the
// int8 tensors the forward pass saved (and the int8 weights) with their
// scales and zero points, element by element. No float copy of an integer
// tensor is ever stored: each gradient is one linalg.generic over its result
// whose element runs the reduction in an f32 register, reading the int8
// operands with tensor.extract (as the int8 layers do; taps in the padding
// are skipped). The convolutions' gradients and a Gemm's input gradient
// are also marked for the kernels of runtime/mcutrain_int8_kernels.h
// (use-kernels), which compute the same sums in another order; the generic
// then takes the buffers the kernel reads as inputs it does not read (see
// QuantizedLayers.cpp).
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"
#include "runtime/mcutrain_int8_kernels.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// Scale and zero point of a quant type per channel (`channels` copies of
/// a per-tensor type's).
struct ChannelQuant {
  SmallVector<float> scales, zeros;
  bool isSigned;

  ChannelQuant(Type type, int64_t channels) {
    auto q = cast<quant::QuantizedType>(type);
    isSigned = q.isSigned();
    if (auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
      for (double s : axis.getScales())
        scales.push_back(static_cast<float>(s));
      for (int64_t z : axis.getZeroPoints())
        zeros.push_back(static_cast<float>(z));
      return;
    }
    auto u = cast<quant::UniformQuantizedType>(type);
    scales.assign(channels, static_cast<float>(u.getScale()));
    zeros.assign(channels, static_cast<float>(u.getZeroPoint()));
  }
};

/// Whether the gradient kernels read the weight: signed with every zero
/// point 0 (what PyTorch and ONNX Runtime's per-channel quantization write).
bool symmetricSigned(const ChannelQuant &q) {
  return q.isSigned && llvm::all_of(q.zeros, [](float z) { return z == 0; });
}

/// Marks a convolution gradient's generic for `name`: the convolution's
/// geometry, then `extraArgs`; the scratch is the kernel's float plane.
void tagQConvGradKernel(Lowering &L, Value result, train::KernelName name,
                        ArrayRef<int64_t> xs, ArrayRef<int64_t> ws,
                        ArrayRef<int64_t> ys, ArrayRef<int64_t> s,
                        ArrayRef<int64_t> p, ArrayRef<int64_t> dl,
                        ArrayRef<int64_t> extraArgs, ArrayRef<int64_t> operands,
                        ArrayRef<float> scalars) {
  SmallVector<int64_t> args = {xs[0], xs[1], xs[2], xs[3], ws[0], ws[1],
                               ws[2], ws[3], ys[2], ys[3], s[0],  s[1],
                               p[0],  p[1],  dl[0], dl[1]};
  args.append(extraArgs.begin(), extraArgs.end());
  L.tagKernel(result, name, args, operands, scalars);
  int64_t scratch =
      name == train::KernelName::qconv2d_grad_weight
          ? kernels::int8::convGradWeightScratchBytes(
                xs[1], ws[1], xs[2], xs[3], ws[2], ws[3], ys[2], ys[3], s[0],
                s[1], p[0], p[1], dl[0], dl[1])
          : kernels::int8::convGradInputScratchBytes(
                xs[1], ws[1], xs[2], xs[3], ws[0], ws[2], ws[3], ys[2], ys[3],
                s[0], s[1], p[0], p[1], dl[0], dl[1]);
  result.getDefiningOp()->setAttr(kKernelScratchAttr,
                                  L.b.getI64IntegerAttr(scratch));
}

Value f32Vector(Lowering &L, ArrayRef<float> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, L.f32());
  return arith::ConstantOp::create(L.b, L.loc,
                                   DenseElementsAttr::get(type, values));
}

/// An 8-bit value minus its zero point, in f32 (exact).
Value centredFloat(OpBuilder &ob, Location l, Value v, bool isSigned,
                   Value zero) {
  Type f32 = ob.getF32Type();
  Value f = isSigned ? arith::SIToFPOp::create(ob, l, f32, v).getResult()
                     : arith::UIToFPOp::create(ob, l, f32, v).getResult();
  return arith::SubFOp::create(ob, l, f, zero);
}

using ProductFn =
    std::function<Value(OpBuilder &, Location, ValueRange out, ValueRange red)>;
using FinishFn =
    std::function<Value(OpBuilder &, Location, ValueRange out, Value sum)>;

/// A float32 tensor of `shape` whose element at `out` is finish(out, sum
/// of product(out, red) over the reduction loops `extents`), summed in an
/// f32 register. `kernelIns` become inputs the body does not read.
Value outputStationary(Lowering &L, ArrayRef<int64_t> shape,
                       ArrayRef<int64_t> extents, const ProductFn &product,
                       const FinishFn &finish, ValueRange kernelIns = {}) {
  unsigned rank = shape.size();
  SmallVector<AffineMap> maps = L.kernelInputMaps(rank, kernelIns);
  return L.generic(
      L.empty(shape), kernelIns, maps, SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange) -> Value {
        SmallVector<Value> out = outputIndices(ob, l, rank);
        Value sum = sumOverLoops(
            ob, l, extents, L.f32c(ob, 0.0f),
            [&](OpBuilder &ib, Location il, ValueRange red) -> Value {
              return product(ib, il, out, red);
            });
        return finish(ob, l, out, sum);
      });
}

Value extract(OpBuilder &ob, Location l, Value t, ValueRange at) {
  return tensor::ExtractOp::create(ob, l, t, at);
}

/// `v` if `valid`, else 0.
Value orZero(Lowering &L, OpBuilder &ob, Value valid, Value v) {
  return arith::SelectOp::create(ob, L.loc, valid, v, L.f32c(ob, 0.0f));
}

/// Output row (h + pad - k * dilation) / stride that read input row h at
/// tap k, clamped into [0, n); `valid` says whether it is a whole row
/// inside the output.
Value outputRow(Lowering &L, OpBuilder &ob, Value h, Value k, int64_t stride,
                int64_t dilation, int64_t pad, int64_t n, Value &valid) {
  Value r = arith::SubIOp::create(
      ob, L.loc,
      arith::AddIOp::create(ob, L.loc, L.toI32(ob, h), L.i32c(ob, pad)),
      arith::MulIOp::create(ob, L.loc, L.toI32(ob, k), L.i32c(ob, dilation)));
  return L.toIndex(ob, L.sourceIndex(ob, r, 0, stride, n, valid));
}

/// dx[n,c,h,w] = sum over f in c's group, kh, kw of dy[n,f,oh,ow] *
/// w_scale[f] * (w[f,c',kh,kw] - w_zero[f]) where (oh, ow) read (h, w).
Value lowerQConvGradInput(Lowering &L, nn::QConv2dGradInputOp op) {
  auto xs = op.getInputGrad().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup(), outPerGroup = ws[0] / g;
  ChannelQuant wq(op.getWeightType(), ws[0]);
  Value scales = f32Vector(L, wq.scales), zeros = f32Vector(L, wq.zeros);
  Value dy = op.getOutputGrad(), w = op.getWeight();
  auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, L.loc, v);
  };
  // out: n c h w; red: fo kh kw (fo: the output channels of c's group).
  ProductFn product = [&](OpBuilder &ob, Location l, ValueRange out,
                          ValueRange red) -> Value {
    Value f = red[0], cw = out[1];
    if (g > 1) {
      Value group = arith::DivSIOp::create(ob, l, out[1], idx(ob, ws[1]));
      f = arith::AddIOp::create(
          ob, l, arith::MulIOp::create(ob, l, group, idx(ob, outPerGroup)),
          red[0]);
      cw = arith::RemSIOp::create(ob, l, out[1], idx(ob, ws[1]));
    }
    Value validH, validW;
    Value oh =
        outputRow(L, ob, out[2], red[1], s[0], dl[0], p[0], ys[2], validH);
    Value ow =
        outputRow(L, ob, out[3], red[2], s[1], dl[1], p[1], ys[3], validW);
    Value grad = extract(ob, l, dy, {out[0], f, oh, ow});
    Value wv = centredFloat(ob, l, extract(ob, l, w, {f, cw, red[1], red[2]}),
                            wq.isSigned, extract(ob, l, zeros, {f}));
    Value scaled =
        arith::MulFOp::create(ob, l, grad, extract(ob, l, scales, {f}));
    return orZero(L, ob, L.both(ob, validH, validW),
                  arith::MulFOp::create(ob, l, scaled, wv));
  };
  bool kernel = symmetricSigned(wq);
  SmallVector<Value> kernelIns;
  if (kernel)
    kernelIns = {dy, w, scales};
  Value dx = outputStationary(
      L, xs, {outPerGroup, ws[2], ws[3]}, product,
      [](OpBuilder &, Location, ValueRange, Value sum) { return sum; },
      kernelIns);
  if (kernel)
    tagQConvGradKernel(L, dx, train::KernelName::qconv2d_grad_input, xs, ws, ys,
                       s, p, dl, {}, {0, 1, 2, 3}, {});
  return dx;
}

/// dw[f,c,kh,kw] = x_scale * sum over n, oh, ow of dy[n,f,oh,ow] *
/// (x[n,c'',ih,iw] - x_zero), taps in the padding left out.
Value lowerQConvGradWeight(Lowering &L, nn::QConv2dGradWeightOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ws = op.getWeightGrad().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup();
  ChannelQuant xq(op.getInputType(), 1);
  Value dy = op.getOutputGrad(), x = op.getInput();
  // out: f c kh kw; red: n oh ow.
  ProductFn product = [&](OpBuilder &ob, Location l, ValueRange out,
                          ValueRange red) -> Value {
    Value xc = out[1];
    if (g > 1) {
      auto idx = [&](int64_t v) -> Value {
        return arith::ConstantIndexOp::create(ob, l, v);
      };
      Value group = arith::DivSIOp::create(ob, l, out[0], idx(ws[0] / g));
      xc = arith::AddIOp::create(
          ob, l, arith::MulIOp::create(ob, l, group, idx(ws[1])), out[1]);
    }
    Value validH, validW;
    Value ih = L.tapRow(ob, red[1], out[2], s[0], dl[0], p[0], xs[2], validH);
    Value iw = L.tapRow(ob, red[2], out[3], s[1], dl[1], p[1], xs[3], validW);
    Value xv = centredFloat(ob, l, extract(ob, l, x, {red[0], xc, ih, iw}),
                            xq.isSigned, L.f32c(ob, xq.zeros[0]));
    Value m = arith::MulFOp::create(
        ob, l, extract(ob, l, dy, {red[0], out[0], red[1], red[2]}), xv);
    return orZero(L, ob, L.both(ob, validH, validW), m);
  };
  float xScale = xq.scales[0];
  Value dw = outputStationary(
      L, ws, {ys[0], ys[2], ys[3]}, product,
      [&](OpBuilder &ob, Location l, ValueRange, Value sum) -> Value {
        return arith::MulFOp::create(ob, l, sum, L.f32c(ob, xScale));
      },
      {dy, x});
  tagQConvGradKernel(
      L, dw, train::KernelName::qconv2d_grad_weight, xs, ws, ys, s, p, dl,
      {!xq.isSigned, static_cast<int64_t>(xq.zeros[0])}, {0, 1, 2}, {xScale});
  return dw;
}

/// da[m,k] = sum over n of dy[m,n] * w_scale[n] * (b[k,n] - w_zero[n]).
Value lowerQGemmGradA(Lowering &L, nn::QGemmGradAOp op) {
  auto as = op.getAGrad().getType().getShape();
  int64_t n = op.getOutputGrad().getType().getDimSize(1);
  bool tb = op.getTransB();
  ChannelQuant wq(op.getWeightType(), n);
  Value scales = f32Vector(L, wq.scales), zeros = f32Vector(L, wq.zeros);
  Value dy = op.getOutputGrad(), b = op.getB();
  ProductFn product = [&](OpBuilder &ob, Location l, ValueRange out,
                          ValueRange red) -> Value {
    Value j = red[0];
    Value bv =
        extract(ob, l, b, tb ? ValueRange{j, out[1]} : ValueRange{out[1], j});
    Value wv = centredFloat(ob, l, bv, wq.isSigned, extract(ob, l, zeros, {j}));
    Value scaled = arith::MulFOp::create(ob, l, extract(ob, l, dy, {out[0], j}),
                                         extract(ob, l, scales, {j}));
    return arith::MulFOp::create(ob, l, scaled, wv);
  };
  bool kernel = symmetricSigned(wq);
  SmallVector<Value> kernelIns;
  if (kernel)
    kernelIns = {dy, b, scales};
  Value da = outputStationary(
      L, as, {n}, product,
      [](OpBuilder &, Location, ValueRange, Value sum) { return sum; },
      kernelIns);
  if (kernel)
    L.tagKernel(da, train::KernelName::qgemm_grad_a, {as[0], n, as[1], tb},
                {0, 1, 2, 3});
  return da;
}

/// db[k,n] (db[n,k] with trans_b) = x_scale * sum over m of dy[m,n] *
/// (a[m,k] - x_zero).
Value lowerQGemmGradB(Lowering &L, nn::QGemmGradBOp op) {
  auto bs = op.getBGrad().getType().getShape();
  int64_t m = op.getOutputGrad().getType().getDimSize(0);
  bool tb = op.getTransB();
  ChannelQuant xq(op.getInputType(), 1);
  Value dy = op.getOutputGrad(), a = op.getA();
  ProductFn product = [&](OpBuilder &ob, Location l, ValueRange out,
                          ValueRange red) -> Value {
    Value col = tb ? out[0] : out[1], k = tb ? out[1] : out[0];
    Value av = centredFloat(ob, l, extract(ob, l, a, {red[0], k}), xq.isSigned,
                            L.f32c(ob, xq.zeros[0]));
    return arith::MulFOp::create(ob, l, extract(ob, l, dy, {red[0], col}), av);
  };
  float xScale = xq.scales[0];
  return outputStationary(
      L, bs, {m}, product,
      [&](OpBuilder &ob, Location l, ValueRange, Value sum) -> Value {
        return arith::MulFOp::create(ob, l, sum, L.f32c(ob, xScale));
      });
}

/// dy where output_min < y < output_max (y compared as its type's
/// signedness says), else 0.
Value lowerQOutputGrad(Lowering &L, nn::QOutputGradOp op) {
  auto q = cast<quant::QuantizedType>(op.getOutputType());
  bool isSigned = q.isSigned();
  int64_t lo = op.getOutputMin(), hi = op.getOutputMax();
  auto shape = op.getInputGrad().getType().getShape();
  unsigned rank = shape.size();
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  return L.generic(
      L.empty(shape), ValueRange{op.getOutputGrad(), op.getOutput()},
      {id, id, id}, SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Type i32 = ob.getI32Type();
        Value y = isSigned
                      ? arith::ExtSIOp::create(ob, l, i32, a[1]).getResult()
                      : arith::ExtUIOp::create(ob, l, i32, a[1]).getResult();
        Value inside =
            L.both(ob, L.cmp(ob, arith::CmpIPredicate::sgt, y, L.i32c(ob, lo)),
                   L.cmp(ob, arith::CmpIPredicate::slt, y, L.i32c(ob, hi)));
        return orZero(L, ob, inside, a[0]);
      });
}

} // namespace

void mcutrain::lowering::populateQuantizedGradientPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::QConv2dGradInputOp>(patterns, lowerQConvGradInput);
  addLowering<nn::QConv2dGradWeightOp>(patterns, lowerQConvGradWeight);
  addLowering<nn::QGemmGradAOp>(patterns, lowerQGemmGradA);
  addLowering<nn::QGemmGradBOp>(patterns, lowerQGemmGradB);
  addLowering<nn::QOutputGradOp>(patterns, lowerQOutputGrad);
}
