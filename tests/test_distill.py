"""Data-free distillation (vistransfer.distill): each method on a tiny batch-norm teacher, the loop's
resume, the CLI's files and its refusals."""

import json

import pytest
import torch

from vistransfer.config import TrainConfig
from vistransfer.data import Split
from vistransfer.distill import DistillConfig, create_method, distill
from vistransfer.errors import VistransferError
from vistransfer.models import registry
from vistransfer.models.nets import ConvArch
from vistransfer.models.teacher import train_teacher
from vistransfer.synthesis.objectives import BatchNormPrior

ARCH = ConvArch(channels=(8, 16), kernel=3, fc=(32,), batchnorm=True, dropout=0.0)


@pytest.fixture(autouse=True)
def _toy_student(monkeypatch):
    """The students here are of the teacher's own small architecture, filed for each test alone."""
    monkeypatch.setitem(registry._MODELS, "toy_bn", registry.Model("toy_bn", ARCH))


def toy(n: int, seed: int) -> Split:
    """8x8 colour images of 4 classes: a red, green or blue left half, or a bright right half, on noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.rand((n, 3, 8, 8), generator=g) * 0.4
    for c in range(3):
        x[y == c, c, :, :4] += 0.5
    x[y == 3, :, :, 4:] += 0.4
    return Split(x.clamp(0, 1), y, ("red", "green", "blue", "right"))


@pytest.fixture(scope="module")
def teacher():
    t = train_teacher(toy(2000, 0), toy(500, 1), TrainConfig(epochs=4, batch_size=64, lr=3e-3, seed=0), "toy", ARCH, progress=False)
    assert t.test_accuracy > 0.95
    return t


def small(**kw) -> DistillConfig:
    base = dict(rounds=4, batch=32, steps=20, student="toy_bn", kd_steps=10, kd_batch=32, warmup=1, jitter=1, kd_jitter=1, temperature=4.0)
    return DistillConfig(**{**base, **kw})


def bn_distance(teacher, x) -> float:
    with BatchNormPrior(teacher.module) as bn, torch.no_grad():
        teacher.module(x)
        return float(bn.distance(len(x))[0])


@pytest.mark.parametrize("method, lr", [("deepinversion", 0.1), ("generator", 1e-3)])
def test_a_method_moves_batchnorm_statistics_toward_the_teachers(teacher, method, lr):
    cfg = small(method=method, lr=lr, steps=30, adv=0.0)
    gen = torch.Generator().manual_seed(0)
    m = create_method(method, teacher.module.eval(), teacher.spec, 4, cfg, torch.device("cpu"), gen)
    start = torch.rand((32, 3, 8, 8), generator=torch.Generator().manual_seed(1))  # noise, as the methods start
    made = m.make(None, use_student=False)
    assert made.x.shape == (32, 3, 8, 8) and made.teacher_rows == 32 * 30
    assert bn_distance(teacher, made.x) < 0.5 * bn_distance(teacher, start)


def test_the_paper_method_makes_its_batch_with_the_engine(teacher):
    cfg = small(method="paper", batch=16, synthesis={"max_steps": 200, "threshold": 0.9, "gen_upsample": "deconv", "slots": 8})
    m = create_method("paper", teacher.module.eval(), teacher.spec, 4, cfg, torch.device("cpu"), torch.Generator().manual_seed(0))
    made = m.make(None, use_student=False)
    p = teacher.module(made.x).softmax(1)
    assert made.x.shape == (16, 3, 8, 8) and bool((p.argmax(1) == made.target).all()) and made.teacher_rows > 16


def test_a_distilled_student_learns_the_toy_problem(teacher):
    test = toy(500, 2)
    res = distill(teacher, small(method="deepinversion", rounds=6), test=test, eval_every=3, progress=False)
    assert res.record["test"]["accuracy"] >= 0.85 and [c["round"] for c in res.record["curve"]] == [3, 6]
    assert len(res.pool) == 6 * 32 and torch.allclose(res.pool.probs.sum(1), torch.ones(len(res.pool)))
    assert res.record["synthesis_teacher_rows"] == 6 * 32 * 20 and res.record["diversity"]["ratio"] > 0


def test_an_interrupted_distillation_resumes_with_the_same_result(teacher, tmp_path, monkeypatch):
    from vistransfer.distill import loop

    cfg = small(method="generator", lr=1e-3, steps=3)
    whole = distill(teacher, cfg, state_dir=tmp_path / "a", progress=False)

    save, saved = loop.save_torch, []

    def stop_after_two_rounds(path, obj):
        save(path, obj)
        saved.append(path)
        if len(saved) == 4:  # round 1's batch and state, round 2's batch and state
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_torch", stop_after_two_rounds)
    with pytest.raises(KeyboardInterrupt):
        distill(teacher, cfg, state_dir=tmp_path / "b", progress=False)
    monkeypatch.setattr(loop, "save_torch", save)
    said = []
    resumed = distill(teacher, cfg, state_dir=tmp_path / "b", progress=False, say=said.append)
    assert said and "round 2 of 4" in said[0]
    assert torch.equal(whole.pool.x, resumed.pool.x)
    assert all(torch.equal(a, b) for a, b in zip(whole.student.net_.state_dict().values(), resumed.student.net_.state_dict().values()))
    with pytest.raises(VistransferError, match="other settings"):
        distill(teacher, small(method="generator", lr=1e-3, steps=4), state_dir=tmp_path / "b", progress=False)


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"method": "gan"}, "method must be one of"),
        ({"rounds": 0}, "rounds must be a whole number > 0"),
        ({"batch": 2.5}, "batch must be a whole number"),
        ({"adv": -1}, "adv must be a number >= 0"),
        ({"flip": "yes"}, "flip must be true or false"),
    ],
)
def test_bad_settings_are_refused_by_name(kw, msg):
    with pytest.raises(VistransferError, match=msg):
        DistillConfig(**kw)


def test_a_teacher_that_hides_its_batchnorm_gets_a_message_naming_what_works(teacher):
    scripted = torch.jit.trace(teacher.module.net.eval(), torch.rand(2, 3, 8, 8))
    with pytest.raises(VistransferError, match="state_dict with --arch"):
        create_method("deepinversion", scripted, teacher.spec, 4, small(), torch.device("cpu"), torch.Generator())


def test_distill_command_writes_a_pool_a_student_and_a_report(teacher, tmp_path, monkeypatch):
    from vistransfer.cli.main import main
    from vistransfer.students.persist import load_student
    from vistransfer.synthesis.dataset import SyntheticDataset

    monkeypatch.setenv("VISTRANSFER_CACHE", str(tmp_path / "cache"))
    teacher.save(tmp_path / "t.pt")
    cfg = tmp_path / "d.toml"
    cfg.write_text('[distill]\nmethod = "deepinversion"\nrounds = 2\nbatch = 16\nsteps = 5\nstudent = "toy_bn"\nkd_steps = 3\nkd_batch = 16\n')
    with pytest.raises(SystemExit) as e:
        main(["distill", "-t", str(tmp_path / "t.pt"), "-c", str(cfg), "-o", str(tmp_path / "out"), "-q"])
    assert e.value.code == 0
    out = tmp_path / "out"
    assert len(SyntheticDataset.load(out / "synthetic.pt")) == 32
    name, student, _ = load_student(out / "student.pt")
    assert name == "toy_bn" and student.predict_proba(toy(8, 3).x).shape == (8, 4)
    assert json.loads((out / "results.json").read_text())["rounds"] == 2 and (out / "pool.png").is_file() and (out / "report.md").is_file()
    cfg.write_text("[distill]\nrounds = 0\n")
    with pytest.raises(SystemExit) as e:
        main(["distill", "-t", str(tmp_path / "t.pt"), "-c", str(cfg), "-o", str(tmp_path / "out2"), "-q"])
    assert e.value.code == 2 and not (tmp_path / "out2").exists()
