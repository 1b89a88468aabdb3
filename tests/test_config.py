import dataclasses
from pathlib import Path

import pytest

from vistransfer.config import SynthesisConfig, TrainConfig, from_dict, load_toml, to_dict
from vistransfer.errors import VistransferError


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(threshold=1.0), "threshold T must lie in"),
        (dict(threshold=0.0), "threshold T must lie in"),
        (dict(n=-5), "positive number"),
        (dict(threshold_range=(0.99, 0.9)), "low <= high"),
        (dict(threshold_range=(0.5, 1.2)), "must lie in"),
        (dict(labels="fuzzy"), "'hard' or 'soft'"),
        (dict(movement_kinds=("wiggle",)), "movement_kinds"),
        (dict(z_low=1.0, z_high=-1.0), "z_low must be below"),
        (dict(group_size=0), "group_size"),
    ],
)
def test_bad_synthesis_values_are_refused(kw, msg):
    with pytest.raises(VistransferError, match=msg):
        SynthesisConfig(**kw)


def test_unknown_keys_are_named():
    with pytest.raises(VistransferError, match="thresold"):
        from_dict(SynthesisConfig, {"thresold": 0.9})


def test_toml_loading(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[synthesis]\nthreshold_range = [0.9, 0.99]\nlabels = 'soft'\n")
    cfg = from_dict(SynthesisConfig, load_toml(p, "synthesis"))
    assert cfg.threshold_range == (0.9, 0.99) and cfg.labels == "soft"
    p.write_text("[synthesis\n")
    with pytest.raises(VistransferError, match="not valid TOML"):
        load_toml(p, "synthesis")


def test_train_config_checks():
    with pytest.raises(VistransferError, match="epochs"):
        TrainConfig(epochs=0)


def test_a_later_knob_at_its_default_leaves_the_config_dict_and_so_cache_keys_unchanged():
    d = to_dict(SynthesisConfig())
    assert not {"bn_prior", "blend", "jitter", "settle_steps"} & set(d) and from_dict(SynthesisConfig, d) == SynthesisConfig()
    on = to_dict(SynthesisConfig(bn_prior=0.5, jitter=2))
    assert on["bn_prior"] == 0.5 and from_dict(SynthesisConfig, on).bn_prior == 0.5
    assert on["jitter"] == 2 and from_dict(SynthesisConfig, on).jitter == 2


def test_a_removed_knob_is_refused_by_name_and_its_off_value_still_loads():
    assert from_dict(SynthesisConfig, {"level_prior": 0.0, "bn_prior_scope": "batch", "n": 5}) == SynthesisConfig(n=5)
    with pytest.raises(VistransferError, match=r"\['level_prior', 'tv_prior'\] were removed"):
        from_dict(SynthesisConfig, {"level_prior": 1.0, "tv_prior": 2.0})
    with pytest.raises(VistransferError, match="race_tail must be one of"):
        SynthesisConfig(race_tail="off")


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_builds(path):
    """The files the README points users at (-c configs/...) hold only fields their command knows, in range:
    SynthesisConfig's, or with a [distill] table, DistillConfig's ('vistransfer distill -c')."""
    import tomllib

    if "distill" in tomllib.loads(path.read_text()):
        from vistransfer.cli.distill import read_config
        from vistransfer.distill import DistillConfig

        assert from_dict(DistillConfig, read_config(path)) != DistillConfig()
        return
    cfg = from_dict(SynthesisConfig, load_toml(path, "synthesis"))
    assert cfg != SynthesisConfig()


def test_every_knob_has_a_short_doc_and_a_group_and_docs_config_md_is_current():
    from vistransfer.config import KNOB_GROUPS, reference_markdown

    for f in dataclasses.fields(SynthesisConfig):
        assert f.metadata.get("group") in KNOB_GROUPS and 0 < len(f.metadata["doc"].splitlines()) <= 2, f.name
    page = Path(__file__).parents[1] / "docs" / "config.md"
    assert page.read_text() == reference_markdown(), "regenerate docs/config.md (see vistransfer.config.reference_markdown)"
