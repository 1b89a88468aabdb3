"""Figure 4 (the visualizations beside real minutes) and the phone part (students exported to ONNX, 8-bit, their
size and latency) of an Apnea-ECG experiment."""

from __future__ import annotations

import numpy as np

from ..ecg.apnea import CLASSES
from ..export import export_onnx, latency_ms, onnx_predict, quantize_int8
from ..io import fingerprint
from ..students.neural import NeuralStudent
from ..students.registry import canonical_name
from ..viz import plt, save_figure
from .apnea_metrics import binary_metrics


class PhonePart:
    """The ``figure4`` and ``phone`` parts of :class:`.apnea.ApneaRunner` (a mixin: it uses the runner's cached units)."""

    def figure4(self) -> None:
        """Real and generated series side by side (the paper's Figure 4), team 1, seed 0."""
        team, seed = list(self.exp.teams)[0], self.exp.seeds[0]
        d = self.team_data(team, seed)
        ds = self.synthetic(team, self.teacher(f"apnea-{team}", d["train"], d["test"], seed), seed)
        fig, axes = plt.subplots(2, 2, figsize=(10, 5), sharey=True)
        t = np.arange(ds.x.shape[-1]) / 4.0
        g = np.random.default_rng(0)
        for c in (0, 1):
            real = d["test"].x[d["test"].y == c]
            syn = ds.x[(ds.target == c) & ds.from_am]  # visualizations, not the blends or probes beside them
            for j in g.choice(len(real), min(3, len(real)), replace=False):
                axes[c, 0].plot(t, real[j, 0].numpy(), lw=0.8)
            for j in g.choice(len(syn), min(3, len(syn)), replace=False):
                axes[c, 1].plot(t, syn[j, 0].numpy(), lw=0.8)
            axes[c, 0].set_ylabel(f"{CLASSES[c]}\nRR (s)", fontsize=8)
        axes[0, 0].set_title("real minutes (test set)", fontsize=9)
        axes[0, 1].set_title("visualizations of h1", fontsize=9)
        for ax in axes[1]:
            ax.set_xlabel("time in the 5-minute window (s); the labelled minute is 120-180 s", fontsize=8)
        save_figure(fig, self.out / "figure4.png")
        self.record["figure4"] = {"file": "figure4.png", "team": team, "seed": seed, "series_per_panel": 3}

    def phone(self) -> None:
        """Team 1, seed 0: the student (trained on visualizations only) as ONNX, beside the teacher, and the
        [phone] options' further students (e.g. a smaller network) and 8-bit versions of every network."""
        opts = self.exp.phone
        team, seed = list(self.exp.teams)[0], self.exp.seeds[0]
        d = self.team_data(team, seed)
        h1 = self.teacher(f"apnea-{team}", d["train"], d["test"], seed)
        ds = self.synthetic(team, h1, seed)
        y = d["test"].y.numpy()
        models = [
            ("teacher h1 (real minutes)", NeuralStudent.from_net("cnn_ecg", h1.module, h1.in_shape, h1.n_classes), d["train"].x),
            ("student h2 (visualizations, hard)", self.student(ds.x, ds.targets("hard"), seed, teacher=h1), ds.x),
        ]
        for name, st in opts["students"].items():
            over = {} if st["members"] is None else {"members": st["members"]}
            models.append(
                (
                    name,
                    self.student(
                        ds.x, ds.targets(st["labels"]), seed, temperature=st["temperature"], teacher=h1, arch=canonical_name(st["arch"]), **over
                    ),
                    ds.x,
                )
            )
        out = {}
        for name, model, calibration in models:
            path = self.cache / "onnx" / f"{name.split()[0]}-{fingerprint(model.net_.state_dict())[:16]}.onnx"  # one file per model
            export_onnx(model, path)
            ref = model.predict_proba(d["test"].x)[:, 1]
            weights = sum(t.numel() for t in model.net_.parameters())
            files = {name: path}
            if opts["int8"]:
                files[f"{name}, int8"] = quantize_int8(path, path.with_name(path.stem + "-int8.onnx"), calibration.numpy(), seed=seed)
            for row, f in files.items():
                p = onnx_predict(f, d["test"].x.numpy())[:, 1]
                out[row] = {
                    "size_kb": f.stat().st_size / 1024,
                    "latency_ms_one_core": latency_ms(f, h1.in_shape),
                    "parameters": weights,
                    "onnx_vs_torch_max_diff": float(np.abs(p - ref).max()),
                    **binary_metrics(y, p),
                }
        self.record["phone"] = {"team": team, "seed": seed, "cfg": opts, "models": out}
