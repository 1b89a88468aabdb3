"""A teacher of another architecture, handed over as a file (three formats), used from the CLI with no data."""

import json

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from tests.models.foreign_arch import BNNet, FlatNet, NaNNet, VectorNet
from vistransfer.cli.main import app, main
from vistransfer.config import TrainConfig
from vistransfer.models.foreign import load_teacher, save_exported, save_torchscript
from vistransfer.models.spec import InputSpec
from vistransfer.models.train import fit_network, predict_logits

runner = CliRunner()
SPEC = InputSpec((1, 8, 8))
# Measured (synthesis seeds 0-4, 200 hard-labelled visualizations, one CNN_ID student): 18-44% on the
# real digits test set, chance 10%. A foreign teacher's visualizations teach far less than our own
# teacher's (56-72%, tests/test_teaching.py); that gap is the visualization-quality issue's goal.
FOREIGN_BAR = 0.15


@pytest.fixture(scope="module")
def bn_files(digits, tmp_path_factory):
    train, test = digits
    torch.manual_seed(0)
    net = BNNet()
    fit_network(net, train.x, F.one_hot(train.y, 10).float(), TrainConfig(epochs=15, batch_size=64, lr=3e-3), progress=False)
    acc = float((predict_logits(net, test.x).argmax(1) == test.y).float().mean())
    assert acc > 0.95, acc
    d = tmp_path_factory.mktemp("foreign")
    save_exported(net, SPEC, d / "bn.pt2", classes=test.classes)
    save_torchscript(net, SPEC, d / "bn.ts")
    torch.save(net.state_dict(), d / "bn_sd.pt")
    return {
        "pt2": [str(d / "bn.pt2")],
        "torchscript": [str(d / "bn.ts")],
        "state_dict": [str(d / "bn_sd.pt"), "--arch", "tests.models.foreign_arch:make", "--input-shape", "1,8,8"],
    }


def run_main(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr()


@pytest.mark.parametrize("fmt", ["pt2", "torchscript", "state_dict"])
@pytest.mark.slow
def test_foreign_teacher_synthesizes_and_teaches(fmt, bn_files, tmp_path):
    """Every format synthesizes and teaches through the CLI; the bar on what its visualizations teach
    is checked on 200 from the .pt2 teacher. The formats compute the same function
    (test_formats_agree_and_metadata_is_read), and 200 from this batch-norm teacher take about 20 s
    each, so the others make 40 and are held to what the engine promises of every visualization."""
    n = 200 if fmt == "pt2" else 40
    syn = tmp_path / "syn.pt"
    r = runner.invoke(app, ["synthesize", "-t", *bn_files[fmt], "-o", str(syn), "--n", str(n), "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "syn.pt.json").read_text())
    assert meta["teacher"]["source"] == {"pt2": "export"}.get(fmt, fmt) and meta["input_spec"]["shape"] == [1, 8, 8]
    data = torch.load(syn, weights_only=True)
    assert torch.bincount(data["target"], minlength=10).tolist() == [n // 10] * 10
    teacher = load_teacher(bn_files[fmt][0], **({"arch": "tests.models.foreign_arch:make", "input_shape": (1, 8, 8)} if fmt == "state_dict" else {}))
    with torch.no_grad():  # the teacher, loaded again, gives every visualization its class above T
        p = teacher.module(data["x"]).softmax(1)
    torch.testing.assert_close(p, data["probs"])
    assert (p.argmax(1) == data["target"]).all() and (p.max(1).values >= data["threshold"] - 1e-6).all()
    res = tmp_path / "res.json"
    r = runner.invoke(
        app,
        [
            "learn",
            str(syn),
            "-s",
            "cnn_id",
            "--seeds",
            "1",
            "--epochs",
            "30",
            "--min-steps",
            "300",
            "--dataset",
            "digits",
            "-t",
            *bn_files[fmt],
            "-o",
            str(res),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "res.json.students" / "cnn_id-seed0.pt").is_file()
    if fmt == "pt2":
        acc = json.loads(res.read_text())["results"]["cnn_id"]["accuracy"]["mean"]
        assert acc > FOREIGN_BAR, f"{fmt}: {acc:.3f}"


def test_formats_agree_and_metadata_is_read(bn_files):
    a = load_teacher(bn_files["pt2"][0])
    b = load_teacher(bn_files["torchscript"][0])
    x = torch.rand(5, 1, 8, 8)
    torch.testing.assert_close(a.module(x), b.module(x))
    assert a.spec == SPEC and a.classes == tuple(str(i) for i in range(10)) and a.n_classes == 10
    assert a.fingerprint != b.fingerprint  # the file's bytes identify a foreign teacher


def test_features_layer(bn_files):
    x = torch.rand(3, 1, 8, 8)
    pt2 = load_teacher(bn_files["pt2"][0], features_layer="body")
    assert pt2.module.features(x).shape == (3, 32)
    sd = load_teacher(bn_files["state_dict"][0], arch="tests.models.foreign_arch:make", input_shape=(1, 8, 8), features_layer="body")
    torch.testing.assert_close(sd.module.features(x), pt2.module.features(x))
    ts = load_teacher(bn_files["torchscript"][0], features_layer="features")  # an exported method
    torch.testing.assert_close(ts.module.features(x), pt2.module.features(x))


def test_normalization_happens_inside_the_teacher(bn_files):
    t = load_teacher(bn_files["pt2"][0], normalize=((0.5,), (0.25,)))
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(t.module(x), t.net((x - 0.5) / 0.25))


def test_loss2_without_layer_l1_is_refused(bn_files, tmp_path, capsys):
    code, out = run_main(
        ["synthesize", "-t", bn_files["pt2"][0], "-o", str(tmp_path / "s.pt"), "--n", "10", "--loss2", "--dataset", "digits", "-q"], capsys
    )
    assert code == 2 and "--features-layer" in out.err and not (tmp_path / "s.pt").exists()


def _save(tmp_path, name, module, spec=SPEC):
    return str(save_torchscript(module, spec, tmp_path / name))


@pytest.mark.parametrize(
    "case, msg",
    [
        ("text", "not a model file"),
        ("tensor", "holds Tensor, not a model"),
        ("vector", "a classifier teacher must return logits of shape (N, K)"),
        ("nan", "NaN or infinite logits"),
        ("shape", "does not accept inputs of shape [1, 28, 28]"),
        ("layer", "is not a module of this model"),
        ("state_dict_no_arch", "pass --arch"),
        ("bad_arch", "cannot import it"),
    ],
)
def test_bad_teacher_files_are_one_line_and_exit_2(case, msg, bn_files, tmp_path, capsys):
    extra: list[str] = []
    if case == "text":
        path = tmp_path / "notes.pt"
        path.write_text("not a model")
    elif case == "tensor":
        path = tmp_path / "t.pt"
        torch.save(torch.zeros(3), path)
    elif case == "vector":
        path = _save(tmp_path, "v.ts", torch.jit.script(VectorNet()))
    elif case == "nan":
        path = _save(tmp_path, "n.ts", torch.jit.script(NaNNet()))
    elif case == "shape":
        path = tmp_path / "f.ts"
        torch.jit.save(torch.jit.script(FlatNet()), str(path))  # no metadata: the shape comes from the option
        extra = ["--input-shape", "1,28,28"]
    elif case == "layer":
        path, extra = bn_files["pt2"][0], ["--features-layer", "nope"]
    elif case == "state_dict_no_arch":
        path = bn_files["state_dict"][0]
    else:
        path, extra = bn_files["state_dict"][0], ["--arch", "no_such_module:make", "--input-shape", "1,8,8"]
    code, out = run_main(["synthesize", "-t", str(path), *extra, "-o", str(tmp_path / "s.pt"), "--n", "10", "-q"], capsys)
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], out.err
    assert "Traceback" not in out.err and not (tmp_path / "s.pt").exists()


@pytest.mark.parametrize("fmt", ["pt2", "torchscript", "state_dict"])
def test_workers_rebuild_the_teacher_from_plain_data(fmt, bn_files, tmp_path):
    """Shards and Ray workers get Teacher.to_blob() (bytes, tensors, names) and rebuild the same teacher."""
    from vistransfer.config import SynthesisConfig
    from vistransfer.models.foreign import teacher_from_blob
    from vistransfer.pipeline import synthesize_sharded

    args = bn_files[fmt]
    opts = {"arch": args[2], "input_shape": (1, 8, 8)} if fmt == "state_dict" else {}
    t = load_teacher(args[0], **opts)
    blob = t.to_blob()
    assert all(isinstance(v, (bytes, str, int, list, dict, type(None))) for v in blob.values())
    back = teacher_from_blob(blob)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(back.module(x), t.module(x))
    # a low T: this checks the rebuilt teacher and the shards, not how well a BN teacher visualizes (slow at 0.99)
    ds = synthesize_sharded(t, SynthesisConfig(n=20, seed=1, group_size=9, slots=4, threshold=0.5), tmp_path / "job", 10, progress=False)
    assert len(ds) == 20 and ds.meta["shards"]["count"] == 2


@pytest.mark.parametrize("fmt", ["state_dict", "torchscript", "pt2"])
@pytest.mark.slow
def test_a_batchnorm_teacher_gets_one_note_and_a_hidden_one_cannot_take_the_prior(fmt, bn_files, tmp_path, capsys):
    """With bn_prior off, a teacher with batch norm gets one note naming the settings that hold AM to its
    training statistics; a TorchScript or exported teacher hides its layers from the prior's hooks, so the
    note says how to hand it over instead, and asking for the prior is refused in one line, not ignored."""
    args = ["synthesize", "-t", *bn_files[fmt], "-o", str(tmp_path / "s.pt"), "--n", "10", "--threshold", "0.5", "-q"]
    code, out = run_main(args, capsys)
    assert code == 0, out.err
    notes = [line for line in out.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1, out.err
    if fmt == "state_dict":
        assert "3 batch-norm layer(s) and no prior is on" in notes[0] and "configs/batchnorm-teacher.toml" in notes[0]
        for prior in (["--bn-prior", "1"], ["--value-prior", "1", "--dataset", "digits"]):
            code, out = run_main(args + prior, capsys)
            assert code == 0 and "note:" not in out.err, out.err
    else:
        assert "3 batch-norm layer(s) inside a TorchScript or exported graph" in notes[0] and "--arch" in notes[0]
        assert "--value-prior 3" in notes[0]  # the prior that needs no hooks
        code, out = run_main(args + ["--bn-prior", "1"], capsys)
        assert code == 2 and out.err.count("\n") == 1 and "hides (3 of them)" in out.err, out.err
