"""Teachers handed over as a file: ours, ``torch.export`` (.pt2), TorchScript, or a state_dict + factory.

A user who may not share their data hands over the model alone. :func:`load_teacher` finds the
format from the file's content (not its name), reads the input spec from the file's metadata
(a ``vistransfer.json`` extra file, written by :func:`save_exported` / :func:`save_torchscript`),
else from the model (an exported program records its input shape), else from the options, and
then checks it with a probe forward: a wrong spec is one clear error, not a traceback later.

What loading trusts: our checkpoints and state_dicts are read with ``torch.load(weights_only=True)``
(tensors and plain containers only, no code). A .pt2 file holds a graph of PyTorch operators and
its weights; a TorchScript file holds TorchScript code, which runs in PyTorch's interpreter when
the model is called. Neither runs Python at load time, but both run the model's own computation:
load them from people you would let run a model on your machine. ``--arch module:function``
imports and calls that Python function: it is your code, or code you trust as such.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..errors import VistransferError
from ..io import atomic_path
from .registry import create_model, is_model, list_models
from .spec import InputSpec
from .teacher import Teacher, builtin_teacher

META_FILE = "vistransfer.json"
FORMATS = (
    "our checkpoint from 'vistransfer teach' (.pt)",
    "torch.export (.pt2)",
    "TorchScript (torch.jit.save)",
    "a state_dict (torch.save) with --arch module:function",
)


def _accepted() -> str:
    return "accepted: " + "; ".join(FORMATS)


def sniff(path: Path) -> str:
    """'export', 'torchscript' or 'pickle' (a torch.save zip), from the archive's members."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        raise VistransferError(f"{path} is not a model file ({_accepted()})") from None
    if any(n.endswith("/models/model.json") or "serialized_exported_program" in n for n in names):
        return "export"
    if any("/code/__torch__" in n for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") for n in names):
        return "pickle"
    raise VistransferError(f"{path} is a zip archive but not a PyTorch model ({_accepted()})")


FORMAT_NAMES = {"export": "torch.export (.pt2)", "torchscript": "TorchScript"}


def _quiet(fn, *args, **kwargs):
    """Call a torch loader with its warnings and log records held back (torch.export logs a traceback
    before it raises): our one-line error must come first and alone."""
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    finally:
        logging.disable(previous)


def _import_factory(arch: str) -> Callable[..., nn.Module]:
    if is_model(arch):
        return lambda in_shape, n_classes: create_model(arch, in_shape, n_classes)
    mod_name, _, fn_name = arch.partition(":")
    if not fn_name:
        raise VistransferError(f"--arch {arch!r} is neither a built-in ({list_models()}) nor module:function")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise VistransferError(f"--arch {arch}: cannot import it ({e}); the module must be importable (on PYTHONPATH)") from None
    if not callable(fn):
        raise VistransferError(f"--arch {arch}: {fn_name} is not a function; pass module:function returning the untrained model")

    def build(in_shape, n_classes):
        try:
            net = fn()
        except Exception as e:  # the user's own code: say whose it is
            raise VistransferError(f"--arch {arch}: calling {fn_name}() failed ({type(e).__name__}: {e}); it must take no arguments") from None
        if not isinstance(net, nn.Module):
            raise VistransferError(f"--arch {arch}: {fn_name}() returned a {type(net).__name__}, not a torch.nn.Module; pass the model's factory")
        return net

    return build


def load_teacher(
    path: str | Path,
    arch: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    value_range: tuple[float, float] | None = None,
    features_layer: str | None = None,
    classes: tuple[str, ...] | None = None,
    n_classes: int | None = None,
):
    """Load any teacher file; options override what the file says about itself.

    input_shape: (C, H, W) or (C, L); normalize: (means, stds) per channel; value_range: (low, high)
    of the data domain; features_layer: the module whose output is layer L-1 (Loss2); n_classes:
    for ``--arch NAME`` built-ins only.
    """
    path = Path(path)
    if not path.is_file():
        raise VistransferError(f"teacher file {path} does not exist; check the path ({_accepted()})")
    kind = sniff(path)
    raw = path.read_bytes()
    if kind == "pickle":
        try:
            obj = _quiet(torch.load, io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - anything here means "not a weights-only file"
            raise VistransferError(
                f"{path} cannot be read as weights only ({type(e).__name__}); it may hold pickled code, which is never loaded ({_accepted()})"
            ) from None
        if isinstance(obj, dict) and obj.get("artifact") == "teacher":
            if any(v is not None for v in (arch, input_shape, normalize, value_range)):
                raise VistransferError(
                    f"{path} is our own teacher checkpoint and knows its input; drop --arch/--input-shape/--normalize/--value-range"
                )
            t = builtin_teacher(obj, path)
            t.features_layer = features_layer
            _check_features(t)
            return t
        if isinstance(obj, dict) and obj.get("artifact"):
            raise VistransferError(f"{path} is a vistransfer {obj['artifact']} file, not a teacher ({_accepted()})")
        state, meta = _state_dict_of(obj, path)
        if arch is None:
            raise VistransferError(
                f"{path} holds a state_dict (weights without the network): pass --arch module:function "
                f"(a function returning the untrained model) or one of {list_models()}"
            )
        spec = _spec(path, meta, None, input_shape, normalize, value_range)
        if spec is None:
            raise VistransferError(f"{path}: cannot tell the model's input shape; pass --input-shape C,H,W (or C,L)")
        k = n_classes or meta.get("n_classes") or _infer_classes_from_state(state)
        net = _import_factory(arch)(spec.shape, k)
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
            detail = next((ln for ln in lines if "size mismatch" in ln or "key(s)" in ln), lines[0] if lines else "")[:240]
            raise VistransferError(
                f"{path}: the weights do not fit --arch {arch} built for inputs {list(spec.shape)} ({detail}); "
                "check --input-shape, and that --arch is the model they came from"
            ) from None
        net.eval()
        blob = {"source": "state_dict", "arch": arch, "state_dict": state}
    else:
        extra = {META_FILE: ""}
        try:
            net = _load_graph(kind, raw, extra)
        except Exception as e:  # noqa: BLE001
            said = str(e).strip().splitlines()[0].split(" Please check the warnings above")[0][:160] if str(e).strip() else ""
            raise VistransferError(
                f"{path} looks like a {FORMAT_NAMES[kind]} file but does not load ({type(e).__name__}: {said}); re-save it with this PyTorch"
            ) from None
        if arch is not None:
            raise VistransferError(f"{path} is a {kind} file and carries its network; drop --arch")
        meta = _meta(extra[META_FILE], path)
        spec = _spec(path, meta, net if kind == "export" else None, input_shape, normalize, value_range)
        if spec is None:
            raise VistransferError(
                f"{path}: cannot tell the model's input shape from the file; pass --input-shape C,H,W "
                "(or C,L for series), or save it with vistransfer.models.foreign.save_torchscript"
            )
        blob = {"source": kind, "bytes": raw}
    features_layer = features_layer or meta.get("features_layer")
    k = _probe(net, spec, path)
    if n_classes is not None and n_classes != k:
        raise VistransferError(f"{path}: the model gives {k} outputs but {n_classes} classes were asked for")
    names = tuple(classes or meta.get("classes") or (str(i) for i in range(k)))
    if len(names) != k:
        raise VistransferError(f"{path}: {len(names)} class names given for a model with {k} outputs")
    blob.update(spec=spec.to_dict(), n_classes=k, classes=list(names), features_layer=features_layer)
    t = Teacher(
        net,
        spec,
        k,
        names,
        meta.get("dataset"),
        meta.get("test_accuracy"),
        hashlib.sha256(raw).hexdigest(),
        {"file": str(path), "format": blob["source"], "file_meta": meta},
        blob["source"],
        features_layer,
        blob,
    )
    _check_features(t)
    return t


def teacher_from_blob(blob: dict):
    """Rebuild a teacher from :meth:`Teacher.to_blob` (in a Ray worker or a shard)."""
    if blob["source"] == "vistransfer":
        return builtin_teacher(blob)
    spec = InputSpec.from_dict(blob["spec"])
    if blob["source"] == "state_dict":
        net = _import_factory(blob["arch"])(spec.shape, blob["n_classes"])
        net.load_state_dict(blob["state_dict"])
        net.eval()
    else:
        net = _load_graph(blob["source"], blob["bytes"])
    return Teacher(
        net, spec, blob["n_classes"], tuple(blob["classes"]), None, None, blob["fingerprint"], {}, blob["source"], blob.get("features_layer"), blob
    )


def _load_graph(kind: str, raw: bytes, extra: dict | None = None) -> nn.Module:
    """A model that carries its network: ``kind`` "export" (.pt2) or "torchscript"; ``extra`` receives
    the archive's extra files (our metadata)."""
    if kind == "export":
        return _quiet(torch.export.load, io.BytesIO(raw), extra_files=extra).module()
    return _quiet(torch.jit.load, io.BytesIO(raw), map_location="cpu", _extra_files=extra or {}).eval()


def _state_dict_of(obj, path: Path) -> tuple[dict, dict]:
    meta = {}
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        meta = obj.get("vistransfer") or {}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        what = type(obj).__name__ if not isinstance(obj, dict) else "a dict that is not a state_dict"
        raise VistransferError(f"{path} holds {what}, not a model ({_accepted()})")
    return obj, meta


def _infer_classes_from_state(state: dict) -> int:
    last = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2]
    if not last:
        raise VistransferError("cannot tell the number of classes from the weights; pass n_classes")
    return int(last[-1].shape[0])


def _meta(text, path: Path) -> dict:
    if not text:
        return {}
    try:
        meta = json.loads(text.decode() if isinstance(text, bytes) else text)
    except (ValueError, UnicodeDecodeError):
        raise VistransferError(f"{path}: its {META_FILE} metadata is not valid JSON; re-save the model") from None
    if not isinstance(meta, dict):
        raise VistransferError(f"{path}: its {META_FILE} metadata must be a JSON object")
    return meta


def _exported_shape(net: nn.Module) -> tuple[int, ...] | None:
    for node in net.graph.nodes:
        if node.op == "placeholder" and "val" in node.meta:
            dims = node.meta["val"].shape[1:]
            if all(isinstance(d, int) for d in dims):
                return tuple(int(d) for d in dims)
    return None


def _spec(path, meta, exported, input_shape, normalize, value_range) -> InputSpec | None:
    """Options, then the file's metadata, then what the model itself records."""
    m = meta.get("input_spec", {})
    shape = input_shape or (tuple(m["shape"]) if m.get("shape") else None) or (_exported_shape(exported) if exported is not None else None)
    if shape is None:
        return None
    low, high = value_range or (m.get("low", 0.0), m.get("high", 1.0))
    mean, std = normalize or (m.get("mean"), m.get("std"))
    return InputSpec(tuple(shape), float(low), float(high), tuple(mean) if mean else None, tuple(std) if std else None)


def _probe(net: nn.Module, spec: InputSpec, path: Path) -> int:
    """Run the model on two inputs of the spec; return K, or fail naming what is wrong."""
    x = spec.normalize(spec.low + (spec.high - spec.low) * torch.rand((3,) + spec.shape, generator=torch.Generator().manual_seed(0)))
    try:
        with torch.no_grad():
            out = net(x[:2])
    except Exception as e:  # noqa: BLE001 - the model's own error, reported in one line
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        if "cuda" in str(e).lower():
            raise VistransferError(
                f"{path} needs a GPU to run ({type(e).__name__}: {first}); save it from a model moved to the CPU (model.cpu()) first"
            ) from None
        if "batch" in first.lower() or "guard" in first.lower():
            first += " (a .pt2 exported with a fixed batch size? export with dynamic_shapes={'x': {0: torch.export.Dim('batch')}})"
        raise VistransferError(
            f"{path} does not accept inputs of shape {list(spec.shape)} ({type(e).__name__}: {first}); pass the --input-shape it was trained with"
        ) from None
    try:
        with torch.no_grad():
            net(x)
    except Exception as e:  # noqa: BLE001 - a batch of 2 runs, one of 3 does not: the batch is fixed
        raise VistransferError(
            f"{path} runs a batch of 2 but not of 3 ({type(e).__name__}); it was exported with a fixed batch size: export it with "
            "dynamic_shapes={'x': {0: torch.export.Dim('batch')}} (synthesis runs many inputs at once)"
        ) from None
    if not isinstance(out, torch.Tensor):
        raise VistransferError(
            f"{path}: the model returns {type(out).__name__}, not a tensor of logits (N, K); wrap it so that forward returns the logits"
        )
    if out.dim() != 2 or out.shape[0] != 2 or out.shape[1] < 2:
        raise VistransferError(
            f"{path}: the model's output has shape {list(out.shape)} for a batch of 2; a classifier "
            "teacher must return logits of shape (N, K) with K >= 2"
        )
    if not torch.isfinite(out).all():
        raise VistransferError(
            f"{path}: the model returns NaN or infinite logits on inputs in [{spec.low}, {spec.high}]; "
            "check the --value-range / --normalize it was trained with"
        )
    return int(out.shape[1])


def _check_features(t) -> None:
    """Resolve the features layer now, so an unknown name fails at load time, not in Loss2."""
    if t.features_layer is None:
        return
    spec = t.spec
    x = torch.full((2,) + spec.shape, (spec.low + spec.high) / 2)
    with torch.no_grad():
        try:
            f = t.module.features(x)  # builds the extractor once, for the module's later use too
        except VistransferError:
            raise
        except Exception as e:  # noqa: BLE001
            raise VistransferError(f"--features-layer {t.features_layer}: calling it failed ({type(e).__name__}); pick another layer") from None
    if not isinstance(f, torch.Tensor) or f.shape[0] != 2:
        raise VistransferError(f"--features-layer {t.features_layer} does not give one tensor per example; pick another layer")


def spec_meta(spec: InputSpec, classes: tuple[str, ...] | None = None, features_layer: str | None = None, **extra) -> str:
    """The ``vistransfer.json`` metadata that makes a model file self-describing."""
    meta = {"input_spec": spec.to_dict(), **extra}
    if classes:
        meta["classes"] = list(classes)
    if features_layer:
        meta["features_layer"] = features_layer
    return json.dumps(meta)


def save_exported(
    model: nn.Module, spec: InputSpec, path: str | Path, classes: tuple[str, ...] | None = None, features_layer: str | None = None, **extra
) -> Path:
    """``torch.export`` a model (in eval mode, any batch size) with its input spec as metadata."""
    model = model.eval()
    example = torch.full((2,) + spec.shape, (spec.low + spec.high) / 2)
    ep = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with atomic_path(path) as tmp:
        torch.export.save(ep, tmp, extra_files={META_FILE: spec_meta(spec, classes, features_layer, **extra)})
    return Path(path)


def save_torchscript(
    model: nn.Module, spec: InputSpec, path: str | Path, classes: tuple[str, ...] | None = None, features_layer: str | None = None, **extra
) -> Path:
    """``torch.jit.script`` (or keep a ScriptModule) and save with its input spec as metadata."""
    sm = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model.eval())
    with atomic_path(path) as tmp:
        torch.jit.save(sm, str(tmp), _extra_files={META_FILE: spec_meta(spec, classes, features_layer, **extra)})
    return Path(path)


__all__ = ["load_teacher", "teacher_from_blob", "save_exported", "save_torchscript", "sniff", "FORMATS"]
