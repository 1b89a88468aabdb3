"""Students to ONNX, for a phone or a watch: one input ``input`` (N, *in_shape) in the data
domain, one output ``probabilities`` (N, K) equal to the student's ``predict_proba``.

Neural students go through ``torch.onnx.export`` (a softmax appended); scikit-learn students
through skl2onnx, with a Reshape in front (the same input as the neural ones) and, for the SVM,
the softmax of its decision values that ``predict_proba`` uses.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import VistransferError, require
from .io import atomic_path
from .students.base import Student
from .students.classical import SVMStudent
from .students.neural import NeuralStudent

OPSET = 17


def export_onnx(student: Student, path: str | Path) -> Path:
    """Write ``student`` as an ONNX model (atomically)."""
    student._check_fitted()
    if isinstance(student, NeuralStudent):
        model = _neural(student)
    else:
        model = _sklearn(student)
    with atomic_path(path) as tmp:
        tmp.write_bytes(model)
    return Path(path)


def _neural(student: NeuralStudent) -> bytes:
    import io

    net = torch.nn.Sequential(student.net_.cpu().eval(), torch.nn.Softmax(dim=1))
    example = torch.zeros((1,) + tuple(student.in_shape_))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            buf,
            input_names=["input"],
            output_names=["probabilities"],
            dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def _sklearn(student: Student) -> bytes:
    onnx = require("onnx", "onnx", "exporting a student to ONNX")
    from onnx import TensorProto, helper

    to_onnx = require("skl2onnx", "onnx", "exporting an SVM or random forest to ONNX").to_onnx

    d = math.prod(student.in_shape_)
    opts = {} if isinstance(student, SVMStudent) else {"zipmap": False}
    sample = np.zeros((1, d), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = to_onnx(student.model_, sample, options=opts, target_opset={"": OPSET, "ai.onnx.ml": 3})
    g = model.graph
    flat_name = g.input[0].name
    renamed = {o.name: f"vt_sk_{o.name}" for o in g.output}  # free the name 'probabilities' for our output
    for node in g.node:
        node.output[:] = [renamed.get(o, o) for o in node.output]
        node.input[:] = [renamed.get(i, i) for i in node.input]
    scores = renamed[g.output[1].name]
    shape = helper.make_tensor("vt_flat_shape", TensorProto.INT64, [2], [-1, d])
    nodes = [helper.make_node("Reshape", ["input", "vt_flat_shape"], [flat_name], name="vt_flatten")]
    if isinstance(student, SVMStudent):
        if student.model_.decision_function(sample).ndim == 1:
            raise VistransferError("a two-class SVM's ONNX scores differ from predict_proba's; export the RF or a neural student")
        nodes.append(helper.make_node("Softmax", [scores], ["vt_soft"], axis=1, name="vt_softmax"))
        scores = "vt_soft"
    # columns of the training classes -> all K classes (absent classes keep probability 0)
    cols = np.zeros((len(student.model_.classes_), student.n_classes_), np.float32)
    cols[np.arange(len(cols)), student.model_.classes_] = 1.0
    colmap = helper.make_tensor("vt_columns", TensorProto.FLOAT, cols.shape, cols.ravel().tolist())
    tail = [helper.make_node("MatMul", [scores, "vt_columns"], ["probabilities"], name="vt_columns_to_classes")]
    del g.input[:]
    g.input.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *student.in_shape_]))
    g.initializer.extend([shape, colmap])
    old = list(g.node)
    del g.node[:]
    g.node.extend(nodes[:1] + old + nodes[1:] + tail)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", student.n_classes_]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def output_tail(model) -> list[str]:
    """Names of the nodes that turn the last weighted layers' outputs into probabilities: the output
    layers themselves (one per member of an ensemble) and everything after them (softmax, the members'
    average). Quantized, the probabilities take a few dozen values (uint8 over [0, 1], most near 0 or
    1), and the many ties lose the student's ranking (Apnea-ECG phone part: AUC 0.946 -> 0.910, 5
    distinct values on 401 test minutes); kept in float they cost a few hundred bytes."""
    nodes = list(model.graph.node)  # ONNX keeps them in topological order: consumers come later
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in n.input:
            consumers.setdefault(name, []).append(i)
    nxt = [[c for o in n.output for c in consumers.get(o, [])] for n in nodes]
    below = [False] * len(nodes)  # a weighted op lies strictly downstream of node i
    for i in reversed(range(len(nodes))):
        below[i] = any(nodes[c].op_type in WEIGHTED_OPS or below[c] for c in nxt[i])
    tail: set[int] = set()
    frontier = [i for i, n in enumerate(nodes) if n.op_type in WEIGHTED_OPS and not below[i]]
    while frontier:
        i = frontier.pop()
        if i not in tail:
            tail.add(i)
            frontier.extend(nxt[i])
    return sorted(nodes[i].name for i in tail)


def quantize_int8(path: str | Path, out: str | Path, calibration: np.ndarray, max_examples: int = 512, seed: int = 0) -> Path:
    """A neural student's ONNX model (``path``) quantized to 8 bits, written atomically to ``out``.

    Static quantization by ONNX Runtime (``quantize_static``, QDQ format): weights int8 per output
    channel, activations uint8 with ranges calibrated (min-max) on up to ``max_examples`` inputs drawn
    from ``calibration``. A student's own training set serves for that: its visualizations, so no real
    data is needed and nothing about the private data enters the file beyond what the student holds.
    The output layer and what follows it stay in float (``output_tail``), so the probabilities keep
    their ranking. About a quarter of the float model's size; ONNX Runtime runs the convolutions in
    integers.
    """
    import logging

    onnx = require("onnx", "onnx", "8-bit quantization")
    require("onnxruntime", "onnx", "8-bit quantization")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    x = np.ascontiguousarray(calibration, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise VistransferError("int8 calibration needs at least one input example (N, *in_shape)")
    pick = np.random.default_rng(seed).permutation(len(x))[:max_examples]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"input": x[i : i + 1]} for i in np.sort(pick)])

        def get_next(self):
            return next(self.batches, None)

    quant_log = logging.getLogger()  # quantize_static advises pre-processing through the root logger
    level = quant_log.level
    quant_log.setLevel(logging.ERROR)
    try:
        with atomic_path(out) as tmp:
            quantize_static(
                str(path),
                str(tmp),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                weight_type=QuantType.QInt8,
                activation_type=QuantType.QUInt8,
                nodes_to_exclude=output_tail(onnx.load(str(path))),
            )
    finally:
        quant_log.setLevel(level)
    return Path(out)


def onnx_session(path: str | Path, threads: int = 1):
    ort = require("onnxruntime", "onnx", "running an ONNX model")

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_predict(path: str | Path, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """(N, K) probabilities of the ONNX model on x (N, *in_shape)."""
    sess = onnx_session(path, threads=0)
    x = np.ascontiguousarray(x, dtype=np.float32)
    return np.concatenate([sess.run(["probabilities"], {"input": x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def latency_ms(path: str | Path, in_shape: tuple[int, ...], repeats: int = 200) -> float:
    """Median time (ms) of one example on one CPU thread (the phone's case: one minute at a time)."""
    sess = onnx_session(path, threads=1)
    x = np.random.default_rng(0).random((1, *in_shape), dtype=np.float32)
    for _ in range(10):
        sess.run(["probabilities"], {"input": x})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(["probabilities"], {"input": x})
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))
