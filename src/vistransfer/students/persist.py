"""Students on disk: neural ones as weights (``torch.load(weights_only=True)``), scikit-learn ones
with skops (a format that names every type it holds and loads only trusted ones; never pickle).

Both carry the same header: ``arch`` (the registry name), ``in_shape``, ``n_classes``, ``classes``
and the dataset/spec they were trained for, so ``evaluate`` and ``export`` need nothing else.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import VistransferError
from ..io import atomic_path, load_torch, save_torch
from .base import Student
from .classical import RandomForestStudent, SVMStudent
from .neural import NeuralStudent

SKLEARN = {"svm": SVMStudent, "rf": RandomForestStudent}


def student_suffix(student: Student) -> str:
    return ".pt" if isinstance(student, NeuralStudent) else ".skops"


def save_student(path: str | Path, name: str, student: Student, info: dict | None = None) -> Path:
    """Write a fitted student (atomically). info: plain data kept beside it (dataset, input spec, seed)."""
    student._check_fitted()
    # a standardizer's stats live in the weights; "window" has none and is kept by name
    params = {k: (bool(v) if k == "standardize" and v != "window" else v) for k, v in student.get_params().items()}
    head = {
        "artifact": "student",
        "arch": name,
        "in_shape": list(student.in_shape_),
        "n_classes": int(student.n_classes_),
        "params": {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))},
        "info": info or {},
    }
    path = Path(path)
    if isinstance(student, NeuralStudent):
        save_torch(path, {**head, "state_dict": student.net_.state_dict()})
        return path
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump({**head, "model": student.model_}, tmp)
    return path


def load_student(path: str | Path) -> tuple[str, Student, dict]:
    """(registry name, fitted student, header) from a file written by :func:`save_student`."""
    path = Path(path)
    if not path.is_file():
        raise VistransferError(f"student file {path} does not exist; train one with 'vistransfer learn'")
    if is_skops(path):
        return _load_sklearn(path)
    d = load_torch(path, "student")
    try:
        params = {k: v for k, v in d.get("params", {}).items() if k in ("seed", "standardize", "members")}
        net = NeuralStudent(arch=d["arch"], **params)._build(tuple(d["in_shape"]), d["n_classes"])
        net.load_state_dict(d["state_dict"])
        return d["arch"], NeuralStudent.from_net(d["arch"], net, d["in_shape"], d["n_classes"], **params), d
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:  # a header without its network
        raise VistransferError(f"{path} is a damaged student file ({type(e).__name__}: {e}); train it again with 'vistransfer learn'") from None


def is_skops(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "schema.json" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _load_sklearn(path: Path) -> tuple[str, Student, dict]:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:  # noqa: BLE001 - a zip with a schema.json that is not skops'
        raise VistransferError(f"{path} is not a readable skops file ({type(e).__name__}); pass a student written by 'vistransfer learn'") from None
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if foreign:
        raise VistransferError(f"{path} holds types other than scikit-learn's ({foreign[:3]}); refusing to load it")
    try:
        d = sio.load(path, trusted=untrusted)
    except Exception as e:  # noqa: BLE001 - only trusted types are built; anything failing here is a damaged file
        raise VistransferError(f"{path} is a damaged skops file ({type(e).__name__}); train the student again with 'vistransfer learn'") from None
    if not isinstance(d, dict) or d.get("artifact") != "student" or d.get("arch") not in SKLEARN:
        raise VistransferError(f"{path} is not a vistransfer student file; pass one written by 'vistransfer learn'")
    student = SKLEARN[d["arch"]](**{k: v for k, v in d.get("params", {}).items() if k in ("seed", "soft")})
    student.model_ = d["model"]
    student.classes_ = np.arange(d["n_classes"])
    student.n_classes_, student.in_shape_ = d["n_classes"], tuple(d["in_shape"])
    return d["arch"], student, d
