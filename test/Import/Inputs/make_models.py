#!/usr/bin/python3
"""Writes the small ONNX models the import tests read: make_models.py OUTDIR."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)


def weight(name, shape, seed):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def mlp(out, opset=13, input_dims=(1, 8), extra_nodes=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="act1"),
    ] + list(extra_nodes) + [
        helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b2"], ["y"], name="bias2"),
    ]
    inits = [weight("w1", (16, 8), 1), weight("b1", (16,), 2),
             weight("w2", (16, 4), 3), weight("b2", (4,), 4)]
    save(helper.make_graph(nodes, "mlp", [x], [y], inits), out, opset)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    mlp(os.path.join(out, "mlp.onnx"))
    mlp(os.path.join(out, "opset18.onnx"), opset=18)
    mlp(os.path.join(out, "dynamic.onnx"), input_dims=(1, "features"))
    mlp(os.path.join(out, "symbolic_batch.onnx"), input_dims=("N", 8))
    mlp(os.path.join(out, "einsum.onnx"), extra_nodes=[
        helper.make_node("Einsum", ["r", "r"], ["e"], name="einsum_1",
                         equation="ij,ij->ij")])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    save(helper.make_graph(
        [helper.make_node("Conv", ["x", "cw"], ["y"], name="dw_conv", group=3)],
        "grouped", [x], [y], [weight("cw", (4, 2, 3, 3), 5)]),
        os.path.join(out, "grouped.onnx"))
    # A parameter nobody provides.
    g = onnx.load(os.path.join(out, "mlp.onnx")).graph
    inits = [i for i in g.initializer if i.name != "w2"]
    save(helper.make_graph(g.node, "missing", g.input, g.output, inits),
         os.path.join(out, "missing_init.onnx"))
    # Gemm's weight does not fit its input (8 features, weight for 7).
    inits = [weight("w1", (16, 7), 1) if i.name == "w1" else i
             for i in g.initializer]
    save(helper.make_graph(g.node, "mismatch", g.input, g.output, inits),
         os.path.join(out, "shape_mismatch.onnx"))
    # Opset 7: Gemm/MatMul/Add/Relu mean what they mean at 13 (imports);
    # BatchNormalization-7's spatial=0 (per-element statistics) does not.
    mlp(os.path.join(out, "opset7.onnx"), opset=7)
    x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])
    ones = numpy_helper.from_array(np.ones(2, np.float32), "s")
    save(helper.make_graph(
        [helper.make_node("BatchNormalization", ["x", "s", "s", "s", "s"],
                          ["y"], name="bn7", spatial=0)],
        "bn7", [x4], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                   None)], [ones]),
        os.path.join(out, "opset7_bn.onnx"), opset=7)
    # An operator from a domain mcutrain does not know.
    model = onnx.load(os.path.join(out, "mlp.onnx"))
    model.graph.node[1].domain = "com.example.custom"
    model.opset_import.append(helper.make_opsetid("com.example.custom", 1))
    onnx.save(model, os.path.join(out, "unknown_domain.onnx"))
    # A cycle: a -> b -> a.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    save(helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
         helper.make_node("Relu", ["a"], ["b"], name="second"),
         helper.make_node("Relu", ["b"], ["y"], name="out")],
        "cyclic", [x], [y]), os.path.join(out, "cyclic.onnx"))
    with open(os.path.join(out, "not_onnx.onnx"), "wb") as f:
        f.write(b"this is a text file, not a protobuf\n" * 4)
    with open(os.path.join(out, "truncated.onnx"), "wb") as f:
        f.write(open(os.path.join(out, "mlp.onnx"), "rb").read()[:100])


if __name__ == "__main__" and len(sys.argv) == 2:
    main()


def ops_model(out):
    """One model exercising the import of every elementwise/shape op."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "gw"], ["c"], name="gconv", group=2, pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], name="bn",
          epsilon=1e-3),
        n("LeakyRelu", ["bn"], ["a1"], name="leaky", alpha=0.1),
        n("Clip", ["a1", "lo", "hi"], ["a2"], name="relu6"),
        n("HardSwish", ["a2"], ["a3"], name="hswish"),
        n("MaxPool", ["a3"], ["p"], name="pool", kernel_shape=[2, 2],
          strides=[2, 2], ceil_mode=1),
        n("Sigmoid", ["p"], ["sg"], name="sig"),
        n("Tanh", ["p"], ["th"], name="tanh"),
        n("Mul", ["sg", "th"], ["mu"], name="mul"),
        n("Sub", ["mu", "p"], ["su"], name="sub"),
        n("Div", ["su", "two"], ["dv"], name="div"),
        n("Concat", ["dv", "p"], ["cc"], name="cat", axis=1),
        n("Transpose", ["cc"], ["tr"], name="tr", perm=[0, 2, 3, 1]),
        n("Unsqueeze", ["tr", "ax0"], ["us"], name="unsq"),
        n("Squeeze", ["us", "ax0"], ["sq"], name="sq"),
        n("Softmax", ["sq"], ["sm"], name="softmax", axis=-1),
        n("LogSoftmax", ["sm"], ["ls"], name="logsoftmax", axis=1),
        n("MatMul", ["ls", "mw"], ["y"], name="bmm"),
    ]
    rng = np.random.default_rng(7)
    f = lambda name, shape: numpy_helper.from_array(
        rng.standard_normal(shape).astype(np.float32), name)
    inits = [f("gw", (4, 2, 3, 3)), f("s", (4,)), f("b", (4,)), f("m", (4,)),
             numpy_helper.from_array(np.ones(4, np.float32), "v"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
             numpy_helper.from_array(np.array([2.0], np.float32), "two"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0"),
             f("mw", (8, 5))]
    save(helper.make_graph(nodes, "ops", [x], [y], inits), out)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "ops":
    os.makedirs(sys.argv[1], exist_ok=True)
    ops_model(os.path.join(sys.argv[1], "ops.onnx"))


def types_model(out):
    """Integer and boolean tensors, N-D pooling, training-mode BatchNorm."""
    n = helper.make_node
    vi = helper.make_tensor_value_info
    inputs = [vi("u", TensorProto.UINT8, [1, 2, 4, 4]),
              vi("s", TensorProto.INT8, [1, 2, 4, 4]),
              vi("v", TensorProto.FLOAT, [1, 2, 3, 4, 4]),
              vi("w", TensorProto.FLOAT, [2, 3, 5])]
    outputs = [vi(name, t, None) for name, t in [
        ("pooled", TensorProto.UINT8), ("indices", TensorProto.INT64),
        ("clipped", TensorProto.INT8), ("mask", TensorProto.BOOL),
        ("pool3d", TensorProto.FLOAT), ("pool1d", TensorProto.FLOAT),
        ("bn", TensorProto.FLOAT), ("running_mean", TensorProto.FLOAT),
        ("padded", TensorProto.UINT8)]]
    nodes = [
        n("Div", ["u", "three"], ["q"], name="udiv"),
        n("MaxPool", ["q"], ["pooled", "indices"], name="upool",
          kernel_shape=[2, 2], strides=[2, 2]),
        n("Clip", ["s", "lo", "hi"], ["clipped"], name="sclip"),
        n("Dropout", ["v"], ["dv", "mask"], name="drop"),
        n("AveragePool", ["dv"], ["pool3d"], name="avg3d",
          kernel_shape=[2, 2, 2]),
        n("MaxPool", ["w"], ["pool1d"], name="max1d", kernel_shape=[3],
          pads=[1, 1], strides=[2]),
        n("BatchNormalization", ["w", "g", "b", "m", "var"],
          ["bn", "running_mean", "running_var"], name="bn_train",
          training_mode=1, momentum=0.8),
        n("Pad", ["u", "pads"], ["padded"], name="reflect", mode="reflect"),
    ]
    inits = [numpy_helper.from_array(np.array([3], np.uint8), "three"),
             numpy_helper.from_array(np.array(-5, np.int8), "lo"),
             numpy_helper.from_array(np.array(100, np.int8), "hi"),
             numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 3, 1],
                                              np.int64), "pads")] + [
        numpy_helper.from_array(np.full(3, v, np.float32), name)
        for name, v in [("g", 1.5), ("b", 0.5), ("m", 0.0), ("var", 1.0)]]
    save(helper.make_graph(nodes, "types", inputs, outputs, inits), out,
         opset=15)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "types":
    os.makedirs(sys.argv[1], exist_ok=True)
    types_model(os.path.join(sys.argv[1], "types.onnx"))


def aliases_model(out):
    """The exporter's merged initializers: one zero bias behind Identity
    nodes (the second through a chain), a Dropout and a Cast to its own type
    of initializers, a Constant's Identity, a runtime Cast to float."""
    n = helper.make_node
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        n("Identity", ["zeros"], ["fc2.bias"], name="Identity_0"),
        n("Identity", ["zeros"], ["tmp"], name="Identity_1"),
        n("Identity", ["tmp"], ["fc3.bias"], name="Identity_2"),
        n("Dropout", ["w"], ["fc2.weight"], name="Dropout_3"),
        n("Cast", ["w"], ["fc3.weight"], name="Cast_4", to=TensorProto.FLOAT),
        n("Constant", [], ["k"], name="Constant_5",
          value=numpy_helper.from_array(np.full(8, 2.0, np.float32))),
        n("Identity", ["k"], ["k_alias"], name="Identity_6"),
        n("Cast", ["x"], ["xf"], name="Cast_7", to=TensorProto.FLOAT),
        n("Mul", ["xf", "k_alias"], ["xs"], name="scale"),
        n("Gemm", ["xs", "w", "zeros"], ["h1"], name="fc1", transB=1),
        n("Gemm", ["h1", "fc2.weight", "fc2.bias"], ["h2"], name="fc2",
          transB=1),
        n("Gemm", ["h2", "fc3.weight", "fc3.bias"], ["y"], name="fc3",
          transB=1),
    ]
    inits = [weight("w", (8, 8), 1),
             numpy_helper.from_array(np.zeros(8, np.float32), "zeros")]
    save(helper.make_graph(nodes, "aliases", [x], [y], inits), out)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "aliases":
    os.makedirs(sys.argv[1], exist_ok=True)
    aliases_model(os.path.join(sys.argv[1], "aliases.onnx"))


def op_versions_models(out):
    """One small model per op version the handler table treats differently:
    each is refused or imported by the handler of its (op, opset)."""
    n = helper.make_node
    f = TensorProto.FLOAT

    def one(name, nodes, in_shape, opset, inits=()):
        x = helper.make_tensor_value_info("x", f, in_shape)
        outs = [helper.make_tensor_value_info(o, f, None)
                for o in nodes[-1].output if o]
        save(helper.make_graph(nodes, name, [x], outs, list(inits)),
             os.path.join(out, name + ".onnx"), opset)

    ones = numpy_helper.from_array(np.ones(2, np.float32), "s")
    shape = numpy_helper.from_array(np.array([1, 4], np.int64), "shape")
    # Add before opset 7: equal shapes, or with broadcast=1 B's dims a run
    # of A's from axis (converted to numpy's rule by a view of B); integer
    # constants still fold (a Reshape's shape computed by Add).
    one("add6", [n("Add", ["x", "x"], ["y"], name="add6")], [1, 4], 6)
    bias = numpy_helper.from_array(np.array([1, 2, 3], np.float32), "bias")
    one("add6_axis", [n("Add", ["x", "bias"], ["y"], name="add6",
                        broadcast=1, axis=1)], [1, 3, 2, 2], 6, [bias])
    one("mul6_suffix", [n("Mul", ["x", "bias"], ["y"], name="mul6",
                          broadcast=1)], [1, 2, 3], 6, [bias])
    one("add6_bad", [n("Add", ["x", "bias"], ["y"], name="add6",
                       broadcast=1, axis=2)], [1, 3, 2, 2], 6, [bias])
    one("add6_unequal", [n("Add", ["x", "bias"], ["y"], name="add6")],
        [1, 3], 6, [bias])
    # Pad before opset 11: pads ("paddings" at opset 1) and value are
    # attributes.
    one("pad2", [n("Pad", ["x"], ["y"], name="pad2", mode="constant",
                   pads=[0, 0, 1, 2, 0, 0, 1, 0], value=0.5)],
        [1, 1, 2, 2], 2)
    one("pad1", [n("Pad", ["x"], ["y"], name="pad1", mode="reflect",
                   paddings=[0, 0, 1, 1, 0, 0, 1, 1])], [1, 1, 3, 3], 1)
    one("pad2_missing", [n("Pad", ["x"], ["y"], name="pad2")],
        [1, 1, 2, 2], 2)
    one("add6_fold", [n("Add", ["shape", "shape"], ["s2"], name="shape_add"),
                      n("Div", ["s2", "two"], ["s1"], name="shape_div"),
                      n("Reshape", ["x", "s1"], ["y"], name="view")],
        [2, 2], 6, [shape, numpy_helper.from_array(np.array(2, np.int64),
                                                    "two")])
    # Softmax before opset 13 flattens to 2-D at axis (default 1): only the
    # last axis means the same; opset 13's default is -1.
    one("softmax11_axis0", [n("Softmax", ["x"], ["y"], name="sm", axis=0)],
        [2, 3], 11)
    one("softmax11", [n("Softmax", ["x"], ["y"], name="sm")], [2, 3], 11)
    one("softmax13", [n("LogSoftmax", ["x"], ["y"], name="lsm")], [2, 3, 4],
        13)
    # BatchNormalization: opset 9's extra outputs are saved statistics
    # (refused); opset 15's training form imports.
    bn_outs = ["y", "running_mean", "running_var"]
    one("bn9_training", [n("BatchNormalization", ["x", "s", "s", "s", "s"],
                           bn_outs + ["saved_mean", "saved_var"],
                           name="bn9")], [1, 2, 3, 3], 9, [ones])
    one("bn15_training", [n("BatchNormalization", ["x", "s", "s", "s", "s"],
                            bn_outs, name="bn15", training_mode=1)],
        [1, 2, 3, 3], 15, [ones])
    # Reshape before opset 5: the shape attribute.
    one("reshape4", [n("Reshape", ["x"], ["y"], name="view4", shape=[4])],
        [1, 4], 4)
    # Clip: attributes before opset 11, constant inputs from 11 on.
    one("clip6", [n("Clip", ["x"], ["y"], name="clip6", min=-1.0, max=2.5)],
        [1, 4], 6)
    lo = numpy_helper.from_array(np.array(-0.5, np.float32), "lo")
    one("clip11", [n("Clip", ["x", "lo"], ["y"], name="clip11")], [1, 4], 11,
        [lo])
    one("clip11_runtime", [n("Clip", ["x", "x"], ["y"], name="clip11")],
        [1, 4], 11)
    # Dropout: is_test=0 trains before opset 7; always inference 7 to 11.
    one("dropout6", [n("Dropout", ["x"], ["y"], name="drop6", is_test=0)],
        [1, 4], 6)
    one("dropout7", [n("Dropout", ["x"], ["y"], name="drop7", ratio=0.3)],
        [1, 4], 7)


    # Variadic Mean: a chain of nn.add, divided by the count; the
    # initializers stay parameters.
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    b = numpy_helper.from_array(np.ones(4, np.float32), "b")
    one("mean3", [n("Mean", ["x", "w", "b"], ["y"], name="mean3")], [2, 4],
        13, [w, b])
    # Gather with run-time indices (an embedding lookup): nn.gather; float
    # indices are refused, saying so.
    table = numpy_helper.from_array(np.ones((5, 3), np.float32), "emb.weight")
    idx = helper.make_tensor_value_info("idx", TensorProto.INT64, [2])
    save(helper.make_graph([n("Gather", ["emb.weight", "idx"], ["y"],
                              name="/emb/Gather")], "embedding", [idx],
                           [helper.make_tensor_value_info("y", f, None)],
                           [table]),
         os.path.join(out, "embedding.onnx"), 13)
    fidx = helper.make_tensor_value_info("idx", f, [2])
    save(helper.make_graph([n("Gather", ["emb.weight", "idx"], ["y"],
                              name="/emb/Gather")], "embedding_float", [fidx],
                           [helper.make_tensor_value_info("y", f, None)],
                           [table]),
         os.path.join(out, "embedding_float.onnx"), 13)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "versions":
    os.makedirs(sys.argv[1], exist_ok=True)
    op_versions_models(sys.argv[1])


def prelu_neg_models(out):
    """PRelu as torch.onnx.export writes a PReLU(3) (its [3] weight made
    [3, 1, 1] by an Unsqueeze), Neg on floats and integers, and refusals."""
    n = helper.make_node
    f = TensorProto.FLOAT
    x4 = helper.make_tensor_value_info("x", f, [1, 3, 2, 2])
    y = helper.make_tensor_value_info("y", f, None)
    slope = numpy_helper.from_array(np.array([0.25, 0.5, 0.75], np.float32),
                                    "act.weight")
    axes = numpy_helper.from_array(np.array([1, 2], np.int64), "axes")
    nodes = [n("Unsqueeze", ["act.weight", "axes"], ["slope"],
               name="/act/Unsqueeze"),
             n("PRelu", ["x", "slope"], ["p"], name="/act/PRelu"),
             n("Neg", ["p"], ["y"], name="/neg/Neg")]
    save(helper.make_graph(nodes, "prelu", [x4], [y], [slope, axes]),
         os.path.join(out, "prelu.onnx"))
    xi = helper.make_tensor_value_info("x", TensorProto.INT32, [2, 3])
    yi = helper.make_tensor_value_info("y", TensorProto.INT32, None)
    save(helper.make_graph([n("Neg", ["x"], ["y"], name="neg_i32")],
                           "neg_int", [xi], [yi]),
         os.path.join(out, "neg_int.onnx"))
    xu = helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 3])
    yu = helper.make_tensor_value_info("y", TensorProto.UINT8, None)
    save(helper.make_graph([n("Neg", ["x"], ["y"], name="neg_u8")],
                           "neg_uint", [xu], [yu]),
         os.path.join(out, "neg_uint8.onnx"))
    bad = numpy_helper.from_array(np.ones(4, np.float32), "s4")
    save(helper.make_graph([n("PRelu", ["x", "s4"], ["y"], name="bad_prelu")],
                           "bad", [x4], [y], [bad]),
         os.path.join(out, "prelu_bad_slope.onnx"))
    chan = numpy_helper.from_array(np.ones((3, 1, 1), np.float32), "s311")
    save(helper.make_graph([n("PRelu", ["x", "s311"], ["y"], name="prelu6")],
                           "prelu6", [x4], [y], [chan]),
         os.path.join(out, "prelu6_channel.onnx"), opset=6)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "prelu_neg":
    os.makedirs(sys.argv[1], exist_ok=True)
    prelu_neg_models(sys.argv[1])


def quant_models(out):
    """QuantizeLinear/DequantizeLinear as quantize.py's exports use them (a
    uint8 activation pair, an int8 per-channel weight quantized from a float
    initializer, an int32 bias), and what is refused."""
    n = helper.make_node
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, [1, 2, 3, 3])
    y = helper.make_tensor_value_info("y", f, None)
    const = numpy_helper.from_array
    inits = [
        const(np.array([0.05], np.float32), "x_scale"),
        const(np.array([128], np.uint8), "x_zero"),
        const(np.full((4, 2, 1, 1), 0.3, np.float32), "conv.weight"),
        const(np.array([0.01, 0.02, 0.03, 0.04], np.float32), "w_scale"),
        const(np.zeros(4, np.int8), "w_zero"),
        const(np.array([100, -100, 7, 0], np.int32), "b_q"),
        const(np.array([0.0005, 0.001, 0.0015, 0.002], np.float32), "b_scale"),
        const(np.zeros(4, np.int32), "b_zero"),
    ]
    nodes = [n("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"], name="q_x"),
             n("DequantizeLinear", ["xq", "x_scale", "x_zero"], ["xd"],
               name="dq_x"),
             n("QuantizeLinear", ["conv.weight", "w_scale", "w_zero"], ["wq"],
               name="q_w", axis=0),
             n("DequantizeLinear", ["wq", "w_scale", "w_zero"], ["wd"],
               name="dq_w", axis=0),
             n("DequantizeLinear", ["b_q", "b_scale", "b_zero"], ["bd"],
               name="dq_b", axis=0),
             n("Conv", ["xd", "wd", "bd"], ["y"], name="conv")]
    save(helper.make_graph(nodes, "qdq", [x], [y], inits),
         os.path.join(out, "qdq.onnx"))
    # A scale that is a runtime input.
    s = helper.make_tensor_value_info("s", f, [])
    save(helper.make_graph([n("QuantizeLinear", ["x", "s"], ["y"], name="q_rt")],
                           "q_rt", [x, s], [helper.make_tensor_value_info(
                               "y", TensorProto.UINT8, None)]),
         os.path.join(out, "runtime_scale.onnx"))
    # Per-axis at opset 10 (the axis attribute came in 13).
    save(helper.make_graph([n("QuantizeLinear", ["x", "c_scale"], ["y"],
                              name="q10")], "q10", [x],
                           [helper.make_tensor_value_info(
                               "y", TensorProto.UINT8, None)],
                           [const(np.array([0.1, 0.2], np.float32), "c_scale")]),
         os.path.join(out, "per_axis10.onnx"), opset=10)
    # A zero scale; a zero point of another type than the input.
    save(helper.make_graph([n("QuantizeLinear", ["x", "zero_scale"], ["y"],
                              name="q_zero")], "qz", [x],
                           [helper.make_tensor_value_info(
                               "y", TensorProto.UINT8, None)],
                           [const(np.array(0.0, np.float32), "zero_scale")]),
         os.path.join(out, "zero_scale.onnx"))
    xi = helper.make_tensor_value_info("xi", TensorProto.INT8, [2, 3])
    save(helper.make_graph([n("DequantizeLinear", ["xi", "sc", "zu"], ["y"],
                              name="dq_mixed")], "dqm", [xi], [y],
                           [const(np.array(0.5, np.float32), "sc"),
                            const(np.array(3, np.uint8), "zu")]),
         os.path.join(out, "zero_point_type.onnx"))
    qlinear_models(out)


def qlinear_models(out):
    """QLinearConv with constant int8 weights (per channel) and an int32
    bias; a QLinearMatMul of 3-D operands (refused); a QLinearConv whose
    output scale is a runtime input."""
    n = helper.make_node
    const = numpy_helper.from_array
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.UINT8, None)
    qparams = [
        const(np.array(0.05, np.float32), "x_scale"),
        const(np.array(128, np.uint8), "x_zero"),
        const(np.array([[[[1]], [[-2]]], [[[3]], [[4]]], [[[5]], [[-6]]]],
                       np.int8), "w"),
        const(np.array([0.01, 0.02, 0.03], np.float32), "w_scale"),
        const(np.zeros(3, np.int8), "w_zero"),
        const(np.array(0.1, np.float32), "y_scale"),
        const(np.array(10, np.uint8), "y_zero"),
        const(np.array([100, -100, 7], np.int32), "b"),
    ]
    inputs = ["x", "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale",
              "y_zero", "b"]
    save(helper.make_graph([n("QLinearConv", inputs, ["y"], name="qconv",
                              pads=[1, 1, 1, 1])], "qlc", [x], [y], qparams),
         os.path.join(out, "qlinearconv.onnx"))
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 2, 4])
    b = helper.make_tensor_value_info("b", TensorProto.UINT8, [2, 4, 3])
    mm = [const(np.array(0.1, np.float32), "s"),
          const(np.array(0, np.uint8), "z")]
    save(helper.make_graph([n("QLinearMatMul", ["a", "s", "z", "b", "s", "z",
                                                "s", "z"], ["y"],
                              name="qmm3")], "qmm3", [a, b], [y], mm),
         os.path.join(out, "qlinearmatmul_3d.onnx"))
    # uint8 in, int8 out (y_zero_point's type), dequantized.
    signed = [q if q.name != "y_zero" else const(np.array(-20, np.int8),
                                                  "y_zero")
              for q in qparams]
    yf = helper.make_tensor_value_info("yf", TensorProto.FLOAT, None)
    save(helper.make_graph([n("QLinearConv", inputs, ["y"], name="qconv_s"),
                            n("DequantizeLinear", ["y", "y_scale", "y_zero"],
                              ["yf"], name="dq_s")],
                           "qlc_s", [x], [yf], signed),
         os.path.join(out, "qlinearconv_signed_out.onnx"))
    ys = helper.make_tensor_value_info("ys", TensorProto.FLOAT, [])
    inputs[6] = "ys"
    save(helper.make_graph([n("QLinearConv", inputs, ["y"], name="qconv_rt")],
                           "qlc_rt", [x, ys], [y],
                           [q for q in qparams if q.name != "y_scale"]),
         os.path.join(out, "qlinearconv_runtime_scale.onnx"))


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "quant":
    os.makedirs(sys.argv[1], exist_ok=True)
    quant_models(sys.argv[1])


def shape_op_models(out):
    """Slice, Split, Expand, Tile, the reductions, Pow, the normalizations,
    GlobalMaxPool and Cast as torchvision-class exports use them, one small
    model each (shape-ops.test)."""
    n = helper.make_node
    f = TensorProto.FLOAT

    def i64(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    def one(name, nodes, in_shape, opset=13, inits=(), in_type=f):
        x = helper.make_tensor_value_info("x", in_type, in_shape)
        outs = [helper.make_tensor_value_info(o, f, None)
                for o in nodes[-1].output if o]
        save(helper.make_graph(nodes, name, [x], outs, list(inits)),
             os.path.join(out, name + ".onnx"), opset)

    # Channels 1..2 and, backwards from column 4 by 2, columns 4 and 2.
    one("slice_steps", [n("Slice", ["x", "st", "en", "ax", "sp"], ["y"],
                          name="slice")], [1, 4, 6, 5], 13,
        [i64("st", [1, 4]), i64("en", [3, 0]), i64("ax", [1, -1]),
         i64("sp", [1, -2])])
    one("slice9", [n("Slice", ["x"], ["y"], name="slice9", starts=[1],
                     ends=[1000], axes=[1])], [2, 5], 9)
    one("slice_empty", [n("Slice", ["x", "st", "en"], ["y"], name="slice")],
        [2, 5], 13, [i64("st", [0, 7]), i64("en", [2, 9])])
    one("split13", [n("Split", ["x", "sizes"], ["a", "b"], name="split",
                      axis=1)], [1, 4, 2], 13, [i64("sizes", [1, 3])])
    one("split2_equal", [n("Split", ["x"], ["a", "b", "c"], name="split",
                           axis=-1)], [2, 6], 2)
    one("split_bad", [n("Split", ["x", "sizes"], ["a", "b"], name="split")],
        [5, 2], 13, [i64("sizes", [2, 2])])
    one("reduce_mean", [n("ReduceMean", ["x"], ["y"], name="mean",
                          axes=[2, 3], keepdims=0)], [1, 3, 4, 5])
    one("reduce_sum13", [n("ReduceSum", ["x", "axes"], ["y"], name="sum")],
        [2, 3, 4], 13, [i64("axes", [-2])])
    one("expand", [n("Expand", ["x", "shape"], ["y"], name="expand")],
        [3, 1], 13, [i64("shape", [2, 1, 4])])
    one("tile", [n("Tile", ["x", "reps"], ["y"], name="tile")], [2, 3], 13,
        [i64("reps", [1, 2])])
    one("pow_scalar", [n("Pow", ["x", "e"], ["y"], name="pow")], [4], 13,
        [numpy_helper.from_array(np.array(3.0, np.float32), "e")])
    one("pow_int_float", [n("Pow", ["x", "e"], ["y"], name="pow")], [3], 13,
        [numpy_helper.from_array(np.array([0.5, 1, 2], np.float32), "e")],
        in_type=TensorProto.INT32)
    one("layer_norm17", [n("LayerNormalization", ["x", "g", "b"],
                           ["y", "mean", "inv"], name="ln", axis=-1)],
        [2, 3], 17, [numpy_helper.from_array(np.ones(3, np.float32), "g"),
                     numpy_helper.from_array(np.zeros(3, np.float32), "b")])
    one("instance_norm", [n("InstanceNormalization", ["x", "g", "b"], ["y"],
                            name="in", epsilon=1e-3)], [1, 2, 3, 3], 13,
        [numpy_helper.from_array(np.ones(2, np.float32), "g"),
         numpy_helper.from_array(np.zeros(2, np.float32), "b")])
    one("global_max", [n("GlobalMaxPool", ["x"], ["y"], name="gmp")],
        [1, 2, 3, 5])
    one("cast_runtime", [n("Cast", ["x"], ["y"], name="cast",
                           to=TensorProto.INT32)], [3])
    one("conv1d", [n("Conv", ["x", "w", "b"], ["y"], name="conv1d",
                     strides=[2], pads=[1, 1])], [1, 2, 8], 13,
        [weight("w", (3, 2, 3), 5), weight("b", (3,), 6)])
    one("conv_transpose", [n("ConvTranspose", ["x", "w", "b"], ["y"],
                             name="up", strides=[2, 2], pads=[1, 1, 1, 1],
                             output_padding=[1, 1])], [1, 2, 3, 4], 13,
        [weight("w", (2, 3, 3, 3), 7), weight("b", (3,), 8)])
    one("conv_transpose_shape", [n("ConvTranspose", ["x", "w"], ["y"],
                                   name="up", strides=[2],
                                   output_shape=[8], auto_pad="SAME_UPPER")],
        [1, 2, 4], 13, [weight("w", (2, 1, 3), 9)])
    one("conv_transpose_3d", [n("ConvTranspose", ["x", "w"], ["y"],
                                name="up3")], [1, 1, 2, 2, 2], 13,
        [weight("w", (1, 1, 2, 2, 2), 10)])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32),
                                     "scales")
    one("resize_nearest", [n("Resize", ["x", "", "scales"], ["y"],
                             name="up", mode="nearest",
                             coordinate_transformation_mode="asymmetric",
                             nearest_mode="floor")], [1, 2, 3, 4], 13,
        [scales])
    one("resize_linear", [n("Resize", ["x", "", "", "sizes"], ["y"],
                            name="up", mode="linear")], [1, 2, 3, 4], 13,
        [i64("sizes", [1, 2, 5, 4])])
    # torch's expand(-1, 3): the -1 picked by Equal/Where on constants.
    one("expand_where", [n("Equal", ["shape", "neg"], ["eq"], name="eq"),
                         n("Where", ["eq", "ones", "shape"], ["s"],
                           name="where"),
                         n("Expand", ["x", "s"], ["y"], name="expand")],
        [2, 1], 13, [i64("shape", [-1, 3]), i64("neg", [-1, -1]),
                     i64("ones", [1, 1])])


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "shapes":
    os.makedirs(sys.argv[1], exist_ok=True)
    shape_op_models(sys.argv[1])
