"""Does this checkout make what another revision made? The committed experiments' resolved configurations
and, on the digits data (no download), a teacher, five synthesis configurations and five students, each
compared tensor by tensor with what ``--against REV`` makes (run from a temporary ``git worktree``).

    python -m benchmarks.same_results --against 652aaa8    # a few minutes on 2 cores

Prints one line per item, ``same`` or ``differs``; the resolved configurations leave out the knobs that
the later revision removed (their values must have been the off ones, which this checks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REMOVED = {"level_prior", "layout_prior", "layout_tiles", "histogram_prior", "min_contrast", "tv_prior", "bn_prior_scope"}
OFF = {
    "level_prior": 0.0,
    "layout_prior": 0.0,
    "layout_tiles": 4,
    "histogram_prior": 0.0,
    "min_contrast": 0.0,
    "tv_prior": 0.0,
    "bn_prior_scope": "image",
}

WORK = r"""
import dataclasses, json, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from vistransfer.config import SynthesisConfig, TrainConfig
from vistransfer.data import load_dataset
from vistransfer.experiments import find_experiment, list_experiments, load_any
from vistransfer.models.teacher import train_teacher
from vistransfer.pipeline import make_synthetic
from vistransfer.students import create_student

def plain(o):
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: plain(getattr(o, f.name)) for f in dataclasses.fields(o) if f.name not in ("description", "source")}
    if hasattr(o, "model_dump"):
        return plain(o.model_dump())
    if isinstance(o, dict):
        return {str(k): plain(v) for k, v in o.items() if k not in ("description", "source")}
    if isinstance(o, (list, tuple)):
        return [plain(v) for v in o]
    return o if isinstance(o, (int, float, str, bool, type(None))) else repr(o)

repo, out = Path(sys.argv[1]), Path(sys.argv[2])
configs = {n: plain(load_any(find_experiment(n, repo / "experiments"))) for n in list_experiments(repo / "experiments")}
train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
teacher = train_teacher(train, test, TrainConfig(epochs=30, batch_size=64, lr=3e-3), "digits", progress=False)
sets = {"default": SynthesisConfig(n=60, seed=1),
        "paper": SynthesisConfig(n=60, seed=2, gen_upsample="deconv", plan="count", gen_start="bias", race_tail=True),
        "value_prior": SynthesisConfig(n=40, seed=3, value_prior=3.0, blend=1.0, offset=1.0),
        "jitter": SynthesisConfig(n=40, seed=5, jitter=2, threshold=0.95),
        "probe": SynthesisConfig(n=30, seed=6, probe=0.5, probe_rounds=1, probe_steps=3)}
tensors = {}
for name, cfg in sets.items():
    ds = make_synthetic(teacher, cfg, real=train if cfg.real_uses else None, progress=False)
    tensors[f"set {name}"] = [ds.x, ds.probs, ds.target]
ds = make_synthetic(teacher, SynthesisConfig(n=300, seed=4), progress=False)
for name in ("cnn_id", "cnn_small", "mlp", "svm", "rf"):
    s = create_student(name, seed=1, progress=False, epochs=3, min_steps=100, temperature=4.0).fit(ds.x, ds.targets("soft"))
    tensors[f"student {name}"] = [torch.as_tensor(s.predict_proba(test.x))]
torch.save({"configs": configs, "tensors": tensors}, out)
"""


def make(src: Path, repo: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    subprocess.run([sys.executable, "-c", WORK, str(repo), str(out)], check=True, env=env, cwd=tempfile.gettempdir())
    import torch

    return torch.load(out, weights_only=False)


def strip(cfg, found_on: list):
    if isinstance(cfg, dict):
        for k in REMOVED & set(cfg):
            if cfg[k] != OFF[k]:
                found_on.append(k)
        return {k: strip(v, found_on) for k, v in cfg.items() if k not in REMOVED}
    if isinstance(cfg, list):
        return [strip(v, found_on) for v in cfg]
    return cfg


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="the git revision to compare with")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(other), args.against], check=True)
        try:
            theirs = make(other / "src", other, Path(tmp) / "theirs.pt")
            ours = make(REPO / "src", REPO, Path(tmp) / "ours.pt")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=True)
    import torch

    on: list = []
    for name in sorted(set(theirs["configs"]) | set(ours["configs"])):
        same = json.dumps(strip(theirs["configs"].get(name), on), sort_keys=True) == json.dumps(ours["configs"].get(name), sort_keys=True)
        print(f"config {name}: {'same' if same else 'differs'}")
    print(f"removed knobs on in {args.against}: {sorted(set(on)) or 'none'}")
    for name, tensors in theirs["tensors"].items():
        same = all(torch.equal(a, b) for a, b in zip(tensors, ours["tensors"][name]))
        print(f"{name}: {'same' if same else 'differs'}")


if __name__ == "__main__":
    main()
