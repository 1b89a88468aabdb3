"""Making a study file: images as 8-bit PNGs, and the labels that only the report reads.

People see 8-bit images; the teacher's and h_s's labels are computed on exactly those 8-bit images
(a visualization rounded to 8 bits may, rarely, change class), so agreement is measured on what
was shown.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .._version import __version__
from ..errors import VistransferError
from ..models.train import predict_logits
from ..synthesis.dataset import SyntheticDataset
from .store import Store

Labeller = Callable[[torch.Tensor], np.ndarray]  # (N, C, H, W) float in [0, 1] -> (N,) labels


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) float in [0, 1] -> (N, H, W, C) uint8, rounded."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise VistransferError(f"a labelling study shows grey or colour images (N, 1|3, H, W), got {tuple(x.shape)}")
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def from_uint8(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.uint8)).permute(0, 3, 1, 2).float() / 255.0  # a copy: PNG arrays are read-only


def png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a.squeeze(-1) if a.shape[-1] == 1 else a).save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, C) uint8 (what a programmatic participant does with an image it fetched)."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(data)))
    return a[..., None] if a.ndim == 2 else a[..., :3]


def create_study(
    db: str | Path,
    classes: Sequence[str],
    sets: dict[str, tuple[torch.Tensor, np.ndarray | None]],
    teacher: Labeller,
    hs: Labeller,
    practice: tuple[torch.Tensor, np.ndarray],
    class_examples: torch.Tensor,
    meta: dict,
) -> Store:
    """Write a new study file.

    sets: name -> (images (N, C, H, W) in [0, 1], ground truth (N,) or None for visualizations);
    practice: real images with their truth (feedback is shown); class_examples: one image per class
    for the buttons. ``teacher`` (h) and ``hs`` (h_s) label every image as shown.
    """
    if len(class_examples) != len(classes):
        raise VistransferError(f"need one example image per class ({len(classes)}), got {len(class_examples)}")
    store = Store.create(db, classes, [png(a) for a in to_uint8(class_examples)], {**meta, "sets": list(sets), "vistransfer": __version__})
    px, py = practice
    store.add_items("practice", [png(a) for a in to_uint8(px)], py.tolist(), [None] * len(py), [None] * len(py), practice=True)
    for name, (x, truth) in sets.items():
        shown = to_uint8(x)
        xs = from_uint8(shown)
        store.add_items(
            name, [png(a) for a in shown], truth.tolist() if truth is not None else [None] * len(x), teacher(xs).tolist(), hs(xs).tolist()
        )
    return store


def study_from_table3(
    runner,
    db: str | Path,
    n_sample: int = 100,
    n_practice: int = 10,
    seed: int = 0,
    synthesis_seed: int | None = None,
    extra: dict[str, Path] | None = None,
) -> Store:
    """The paper's S2 study from a Table 3 experiment (:class:`vistransfer.experiments.cifar.CifarRunner`):
    ``n_sample`` random real test images, IMGS and IMGS+L of one synthesis seed, and any synthetic sets
    in ``extra`` (name -> SyntheticDataset file); h = h1, h_s = CNN1. Practice and the class buttons
    use real training images, none of which is in the study."""
    exp = runner.exp
    synthesis_seed = exp.synthesis_seeds[0] if synthesis_seed is None else synthesis_seed
    test, train = runner.data("test"), runner.data("train")
    g = np.random.default_rng(seed)
    pick = np.sort(g.choice(len(test), size=min(n_sample, len(test)), replace=False))
    y = train.y.numpy()
    per_class = [g.choice(np.flatnonzero(y == c), size=2, replace=False) for c in range(len(train.classes))]
    icons = torch.as_tensor([p[0] for p in per_class])
    practice = torch.as_tensor([p[1] for p in per_class][:n_practice])
    sets: dict[str, tuple[torch.Tensor, np.ndarray | None]] = {"sample": (test.x[pick], test.y.numpy()[pick])}
    for which in ("imgs", "imgs_l"):
        sets[which] = (runner.synthetic(which, synthesis_seed).x, None)
    for name, path in (extra or {}).items():
        if name in sets or name == "practice":
            raise VistransferError(f"a set named {name!r} exists already; name your synthetic set differently")
        sets[name] = (SyntheticDataset.load(path).x, None)

    def labeller(net: str) -> Labeller:
        module = runner.net(net).module
        return lambda x: predict_logits(module, x, runner.device).argmax(1).numpy()

    meta = {
        "title": "Which class is this picture?",
        "from": exp.source,
        "n_sample": int(len(pick)),
        "seed": seed,
        "synthesis_seed": synthesis_seed,
        "h": "h1",
        "hs": "cnn1",
        "hs_name": "CNN1",
        "data_note": "CIFAR-10 here is a lossy JPEG copy (quality 75)." if exp.dataset == "cifar10" else "",
        "classes": list(test.classes),
    }
    return create_study(db, test.classes, sets, labeller("h1"), labeller("cnn1"), (train.x[practice], y[practice.numpy()]), train.x[icons], meta)
