"""CIFAR-10 pieces: Appendix D's nets, training that resumes, and the Table 3 experiment on a tiny zip."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.data.test_cifar import make_zip
from vistransfer.config import TrainConfig
from vistransfer.data import cifar
from vistransfer.experiments import load_any
from vistransfer.experiments.cifar import CifarRunner
from vistransfer.models import registry
from vistransfer.models.nets import TEACHER_ARCH, ConvArch, ConvNet
from vistransfer.models.registry import model_arch
from vistransfer.models.train import checkpoint_seconds, fit_network


def test_appendix_d_layer_counts():
    def count(name, kind):
        return sum(isinstance(m, kind) for m in ConvNet((3, 32, 32), 10, model_arch(name)).modules())

    assert (count("cifar-cnn1", nn.Conv2d), count("cifar-cnn1", nn.Linear), count("cifar-cnn1", nn.ELU)) == (6, 1, 6)
    assert (count("cifar-cnn2", nn.Conv2d), count("cifar-cnn2", nn.Linear)) == (10, 1)
    assert (count("cifar-cnn3", nn.Conv2d), count("cifar-cnn3", nn.Linear), count("cifar-cnn3", nn.ReLU)) == (10, 3, 12)
    assert count("cifar-cnn1", nn.BatchNorm2d) == 6


def test_older_archs_keep_their_records():
    # fields added later are left out of to_dict at their defaults: old cache keys and files stay valid
    assert set(TEACHER_ARCH.to_dict()) == {"channels", "kernel", "fc", "pool", "act", "dropout"}
    assert ConvArch.from_dict(TEACHER_ARCH.to_dict()) == TEACHER_ARCH
    assert ConvArch.from_dict(model_arch("cifar-cnn3").to_dict()) == model_arch("cifar-cnn3")


class Interrupt(Exception):
    pass


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(96, 3, 8, 8, generator=g)
    t = F.one_hot(torch.randint(0, 3, (96,), generator=g), 3).float()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05, optimizer="sgd", weight_decay=5e-4, augment="flip-shift-rotate")
    arch = ConvArch(channels=(4, 8), kernel=3, fc=(), per_block=2, batchnorm=True, block_dropout=0.1)

    torch.manual_seed(0)
    whole = ConvNet((3, 8, 8), 3, arch)
    fit_network(whole, x, t, cfg, progress=False)

    torch.manual_seed(0)
    net = ConvNet((3, 8, 8), 3, arch)
    calls = {"n": 0}

    def stop_in_epoch_two(mod, inp):
        calls["n"] += 1
        if calls["n"] == 5:  # 3 batches per epoch: the 5th forward is in epoch 2
            raise Interrupt

    h = net.register_forward_pre_hook(stop_in_epoch_two)
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Interrupt):
        fit_network(net, x, t, cfg, progress=False, checkpoint=ckpt)
    h.remove()
    assert ckpt.is_file() and checkpoint_seconds(ckpt) > 0  # the finished epoch's time is kept

    torch.manual_seed(123)  # a new process: other RNG state, which the checkpoint restores
    resumed = ConvNet((3, 8, 8), 3, arch)
    losses = fit_network(resumed, x, t, cfg, progress=False, checkpoint=ckpt)
    assert len(losses) == 3 and not ckpt.exists()
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k


SPEC = """
kind = "cifar"
title = "tiny table 3"
paper_table = "Table 3"
n_imgs = 10
synthesis_seeds = [0, 1]
admissibility = 0.0
[nets.h1]
arch = "tiny"
[nets.cnn1]
arch = "tiny"
seed = 1
[nets.cnn2]
arch = "tiny"
seed = 2
[nets.cnn3]
arch = "tiny"
seed = 3
augment = ""
[teacher]
epochs = 2
min_steps = 60
batch_size = 16
lr = 0.05
optimizer = "sgd"
augment = "flip-shift-rotate"
[synthesis]
threshold = 0.3
slots = 8
max_steps = 60
max_failed_groups = 1000
[loss2]
loss2 = true
[student]
n_synthetic = 20
arch = "cnn_tiny"
epochs = 1
[paper]
cnn1 = [88.6, 89.0, 75.0]
hidden_message = [2.4, 9.0, 11.0]
"""


@pytest.mark.slow
def test_table3_runs_end_to_end_and_is_cached(tmp_path, monkeypatch):
    path = make_zip(tmp_path / "cifar10", per_class=4)
    import hashlib

    monkeypatch.setattr(cifar, "ZIP_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setattr(cifar, "SPLIT_SIZES", {"train": 40, "test": 40})
    tiny = ConvArch(channels=(4, 8), kernel=3, fc=(), per_block=2, batchnorm=True)  # a test-sized CNN1
    monkeypatch.setitem(registry._MODELS, "tiny", registry.Model("tiny", tiny))
    spec = tmp_path / "tiny3.toml"
    spec.write_text(SPEC)
    exp = load_any(spec)
    logs = []
    runner = CifarRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=logs.append, progress=False)
    runner.run()
    out = tmp_path / "results" / "tiny3"
    rec = json.loads((out / "results.json").read_text())
    assert set(rec["nets"]) == {"h1", "cnn1", "cnn2", "cnn3"}
    t3 = rec["table3"]
    assert len(t3["sets"]["imgs"]["runs"]) == 2 and len(t3["sets"]["imgs_l"]["runs"]) == 2
    for w in ("imgs", "imgs_l"):
        for r in t3["sets"][w]["runs"]:
            assert r["n"] == 10 and r["target_is_h1_label"] == 1.0
            assert r["hidden_message"]["value"] <= r["fooling_example"]["value"]
        assert t3["sets"][w]["pooled"]["n"] == 20
    assert "lossy JPEG" in t3["note"]
    assert set(rec["student"]["runs"]) == {"hard-seed0", "soft-seed0"}
    table = (out / "table.md").read_text()
    assert "CNN1 (h_s), paper | 88.6 | 89.0 | 75.0" in table and "lossy JPEG" in table
    assert (out / "figure3.png").stat().st_size > 1000 and (out / "figure3_loss2.png").is_file()

    from vistransfer.experiments.report import summary_markdown

    summary = summary_markdown(tmp_path / "results")
    assert "| [Table 3](tiny3/table.md) | IMGS agreement | CNN1 (h_s) |" in summary and "89.00" in summary

    logs.clear()  # everything is cached: a second run trains and synthesizes nothing
    CifarRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache", log=logs.append, progress=False).run()
    assert not any("training" in m or "synthesizing" in m or "data-free student (" in m for m in logs)
    assert json.loads((out / "results.json").read_text())["table3"] == t3
    # the student part alone trains only h1, keeps the other parts' records and names the h1 it learned from
    logs.clear()
    CifarRunner(exp, tmp_path, tmp_path / "results", tmp_path / "cache2", log=logs.append, progress=False).run(("student",))
    assert [m.split(" (")[0] for m in logs if "training" in m] == ["[tiny3] training h1"]
    again = json.loads((out / "results.json").read_text())
    assert again["table3"] == t3 and again["nets"] == rec["nets"]
    assert again["student"]["device"].startswith("cpu") and "versions" in again["student"]
    assert again["student"]["teacher"]["fingerprint"] == rec["nets"]["h1"]["fingerprint"]  # the same seed, the same h1
    assert "trained again" not in (out / "table.md").read_text()
    from vistransfer.experiments.cifar_report import render_table3

    again["student"]["teacher"]["fingerprint"] = "another"  # a student of another h1 says so
    assert "trained again for this run on cpu" in render_table3(again)

    # Table 4 on top: a study from these sets, taken by two simulated participants over HTTP, and its report
    from vistransfer.models.train import predict_logits
    from vistransfer.study.build import study_from_table3
    from vistransfer.study.report import table4, write_report
    from vistransfer.study.simulate import serving, take_study

    store = study_from_table3(runner, tmp_path / "study.sqlite", n_sample=8, n_practice=3)
    assert store.n_study_items() == 8 + 10 + 10
    with serving(store.path) as url:
        for name in ("cnn2", "cnn3"):
            m = runner.net(name).module
            tok = store.invite(f"{name} (simulated)", kind="simulated")
            assert take_study(url, tok, lambda x, m=m: predict_logits(m, x).argmax(1).numpy()) == 3 + 28
    rec = table4(store)
    assert rec["S2"] == ["cnn2 (simulated)", "cnn3 (simulated)"] and set(rec["by_set"]) == {"sample", "imgs", "imgs_l"}
    # a simulated participant answers as its network does on the images as shown
    imgs = runner.synthetic("imgs", 0)
    from vistransfer.study.build import from_uint8, to_uint8

    shown = predict_logits(runner.net("cnn2").module, from_uint8(to_uint8(imgs.x))).argmax(1).numpy()
    h1 = predict_logits(runner.net("h1").module, from_uint8(to_uint8(imgs.x))).argmax(1).numpy()
    assert rec["participants"]["cnn2 (simulated)"]["imgs"]["agreement_with_h1"] == pytest.approx((shown == h1).mean())
    table = write_report(store, tmp_path / "table4").read_text()
    assert "Simulated participants (cnn2 (simulated), cnn3 (simulated))" in table and "paper, subjects 1–5" in table
