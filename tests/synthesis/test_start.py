import json
import math
from dataclasses import replace

import pytest
import torch
from benchmarks.reference import synthesize_reference

from vistransfer.cli.main import main
from vistransfer.config import SynthesisConfig
from vistransfer.errors import VistransferError
from vistransfer.models.foreign import save_torchscript
from vistransfer.models.spec import InputSpec
from vistransfer.synthesis.engine import synthesize
from vistransfer.synthesis.start import CONFIDENT, LEVELS, NO_MAJORITY, neutral_level, start_advice, start_bias, start_verdict


class _LevelTeacher(torch.nn.Module):
    """Three classes: "bright" (the input's mean m above ``balance``), "dark" (below it) and "busy" (contrast: the
    std of the input), sure of "bright" or "dark" on flat inputs far from the balance. Its least sure flat input is
    at m = balance, where it holds 1/3 for each."""

    def __init__(self, balance: float):
        super().__init__()
        self.balance = balance

    def forward(self, x):
        f = x.flatten(1)
        m = f.mean(1)
        return torch.stack([30 * (m - self.balance), -30 * (m - self.balance), 40 * f.std(1)], 1)


NAMES = ("bright", "dark", "busy")


class _SureTeacher(torch.nn.Module):
    """Sure of class 0 whatever the input."""

    def forward(self, x):
        return torch.stack([x.flatten(1).mean(1) * 0 + 5.0, x.flatten(1).mean(1) * 0], 1)


class _MajorityTeacher(torch.nn.Module):
    """Two classes, sure of class 0 on flat inputs away from 0.3 and still 0.82 at 0.3 (as Table 5's Apnea-ECG teachers
    are sure of "normal" for any flat RR series, 0.84 or more at their least sure one)."""

    def forward(self, x):
        d = 1.5 + 40 * (x.flatten(1).mean(1) - 0.3).abs()
        return torch.stack([d, d * 0], 1)


class _Counting(torch.nn.Module):
    """A teacher that counts the rows of every forward pass."""

    def __init__(self, net):
        super().__init__()
        self.net, self.rows = net, 0

    def forward(self, x):
        self.rows += x.shape[0]
        return self.net(x)


def test_the_neutral_level_is_the_flat_input_the_teacher_is_least_sure_of_in_the_data_domain():
    assert neutral_level(_LevelTeacher(0.5), InputSpec((1, 4, 4))) == pytest.approx(0.5)
    # a domain of [-1, 1] (a series, say): the teacher is torn at 0.2 there, which is 0.6 of G's (0, 1) scale
    assert neutral_level(_LevelTeacher(0.2), InputSpec((2, 16), low=-1.0, high=1.0)) == pytest.approx(0.6)
    # past the ends of the range it keeps to the levels tried, whose output bias is finite
    assert neutral_level(_LevelTeacher(-5.0), InputSpec((1, 4, 4))) == pytest.approx(float(LEVELS[0]))


def test_start_bias_is_the_configured_bias_or_the_logit_of_the_neutral_level():
    spec = InputSpec((1, 4, 4))
    assert start_bias(_LevelTeacher(0.5), SynthesisConfig(gen_start="bias", gen_out_bias=-2.0), spec, "cpu") == (-2.0, 0)
    bias, rows = start_bias(_LevelTeacher(0.3), SynthesisConfig(gen_start="neutral", gen_out_bias=-2.0), spec, "cpu")
    assert 1 / (1 + math.exp(-bias)) == pytest.approx(0.3) and rows == len(LEVELS)
    with pytest.raises(VistransferError, match="gen_start"):
        SynthesisConfig(gen_start="black")


def test_auto_starts_neutral_only_for_a_teacher_sure_of_the_paper_start_and_not_of_the_neutral_one():
    spec, auto = InputSpec((1, 4, 4)), SynthesisConfig(gen_out_bias=-2.0)
    assert auto.gen_start == "auto"  # the default
    # sure of the start (sigmoid(-2) = 0.12 is "dark" at 1.00), torn at 0.3: the neutral start, one row more than its search
    bias, rows = start_bias(_LevelTeacher(0.3), auto, spec, "cpu")
    assert bias == start_bias(_LevelTeacher(0.3), replace(auto, gen_start="neutral"), spec, "cpu")[0] and rows == len(LEVELS) + 1
    # not sure of the start (torn at 0.12 itself): the paper's start, one row to ask
    assert start_bias(_LevelTeacher(0.12), auto, spec, "cpu") == (-2.0, 1)
    # a majority class on every flat input: nowhere better to start, the paper's start
    for teacher in (_SureTeacher(), _MajorityTeacher()):
        assert start_bias(teacher, auto, spec, "cpu") == (-2.0, len(LEVELS) + 1)
    v = start_verdict(_SureTeacher(), spec, 0.0)
    assert v.sure and v.neutral_p >= CONFIDENT and not v.go_neutral
    v = start_verdict(_MajorityTeacher(), spec, 0.0)
    assert v.sure and v.neutral == pytest.approx(0.3) and NO_MAJORITY <= v.neutral_p < CONFIDENT and not v.go_neutral
    assert not start_verdict(_LevelTeacher(0.5), spec, 0.0).sure and start_verdict(_LevelTeacher(0.5), spec, 0.0).neutral is None


@pytest.mark.parametrize("run", [synthesize, synthesize_reference])
@pytest.mark.slow
def test_auto_makes_the_neutral_or_the_paper_start_bit_for_bit(run):
    shape, cfg = (1, 4, 4), dict(n=6, seed=0, group_size=1, slots=3, max_steps=60, gen_upsample="deconv")
    for teacher, same in ((_LevelTeacher(0.3), "neutral"), (_LevelTeacher(0.5), "bias")):
        auto, auto_stats = run(teacher, SynthesisConfig(**cfg), shape, 3)
        other, other_stats = run(teacher, SynthesisConfig(gen_start=same, **cfg), shape, 3)
        assert torch.equal(auto["x"], other["x"]) and auto_stats["gen_start"] == other_stats["gen_start"]
        assert auto_stats["teacher_rows"] == other_stats["teacher_rows"] + 1  # its question: what is the paper's start?


@pytest.mark.parametrize("run", [synthesize, synthesize_reference])
@pytest.mark.slow
def test_a_neutral_start_is_recorded_and_its_passes_are_counted(digits_teacher, run):
    shape = digits_teacher.in_shape
    level = neutral_level(digits_teacher.net, InputSpec(shape))
    cfg = dict(n=10, seed=0, group_size=9, slots=4, max_steps=150)
    _, plain = run(digits_teacher.net, SynthesisConfig(**cfg), shape, 10)
    counting = _Counting(digits_teacher.net)
    out, stats = run(counting, SynthesisConfig(gen_start="neutral", **cfg), shape, 10)
    assert plain["gen_start"].startswith("level 0.50 ")
    assert stats["gen_start"].startswith(f"level {level:.2f} ") and level != 0.5
    assert stats["teacher_rows"] == counting.rows  # the 49 flat inputs that found the level are teacher passes too
    with torch.no_grad():
        probs = torch.softmax(digits_teacher.net(out["x"]), 1)
    assert torch.all(probs.gather(1, out["target"][:, None]).squeeze(1) > 0.99 - 1e-4)


def test_a_teacher_sure_of_gs_grey_start_gets_one_line_naming_the_class_and_where_g_starts():
    spec, paper = InputSpec((1, 4, 4)), SynthesisConfig(gen_start="bias")
    note = start_advice(_LevelTeacher(0.3), paper, spec, NAMES)
    assert note is not None and "'bright' at softmax 1.00" in note and "--gen-start" in note and "\n" not in note
    assert "0.30 of the range" in note
    # the default moves G itself and says so, with the way back
    note = start_advice(_LevelTeacher(0.3), SynthesisConfig(), spec, NAMES)
    assert "'bright' at softmax 1.00" in note and "so G starts at" in note and "--gen-start bias" in note and "\n" not in note
    assert start_advice(_LevelTeacher(0.5), paper, spec) is None  # torn at grey: nothing to say
    assert start_advice(_LevelTeacher(0.5), SynthesisConfig(), spec) is None
    for teacher in (_SureTeacher(), _MajorityTeacher()):  # a majority class on every flat input: no start is better
        assert start_advice(teacher, paper, spec) is None
    assert start_advice(_LevelTeacher(0.3), SynthesisConfig(gen_start="neutral"), spec) is None  # already neutral
    # where G starts is what counts: started dark (sigmoid(-3) = 0.05), this teacher is sure of "dark" instead
    assert "'dark'" in start_advice(_LevelTeacher(0.3), replace(paper, gen_out_bias=-3.0), spec, NAMES)


@pytest.mark.slow
def test_synthesize_says_where_auto_started_g_and_records_it(tmp_path, capsys):
    """The CLI's default moves G off a start the teacher is sure of, says so in one line and records the level;
    --gen-start bias keeps the paper's start and names the remedy instead."""
    path = save_torchscript(_LevelTeacher(0.3), InputSpec((1, 8, 8)), tmp_path / "t.ts", classes=NAMES)
    for extra, level, words in (([], "0.30", "so G starts at"), (["--gen-start", "bias"], "0.50", "AM can reach T")):
        out_path = tmp_path / f"s{len(extra)}.pt"
        with pytest.raises(SystemExit) as e:
            main(["synthesize", "-t", str(path), "-o", str(out_path), "--n", "4", "-q", *extra])
        err = capsys.readouterr().err
        notes = [line for line in err.splitlines() if line.startswith("note:")]
        assert e.value.code == 0 and len(notes) == 1 and "'bright' at softmax 1.00" in notes[0] and words in notes[0], err
        meta = json.loads(out_path.with_name(out_path.name + ".json").read_text())
        assert meta["stats"]["gen_start"].startswith(f"level {level} ")
