import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facegan.config import SECTIONS, Config, all_keys, help_table, iter_fields
from facegan.errors import ConfigError
from facegan.presets import PRESETS, from_preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_and_round_trips_through_json(name):
    cfg = from_preset(name)
    assert cfg.preset == name
    again = Config.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(again.to_json()) == json.loads(cfg.to_json())


def test_presets_differ_where_they_say():
    paper, stable, big = from_preset("dcgan-paper"), from_preset("stable-64"), from_preset("faces-128")
    assert (paper.data.resolution, paper.optim.batch_size, paper.model.d_norm) == (64, 128, "batch")
    assert paper.optim.lr_g == paper.optim.lr_d == 2e-4 and paper.optim.betas_g == (0.5, 0.999)
    assert paper.tricks == type(paper.tricks)()  # the paper uses no stabilising trick
    assert stable.model.d_norm == "spectral" and stable.model.d_noise_std > 0 and stable.model.ema
    assert stable.tricks.real_label == (0.9, 0.9) and stable.tricks.replay_capacity > 0
    assert big.data.resolution == 128


def test_overrides_by_dotted_and_short_name_and_typed_parsing():
    cfg = from_preset("dcgan-paper", ["model.latent_dim=128", "lr_d=1e-4", "ema=yes",
                                      "real_label=0.8,1.0", "limit=none", "flip=false"])
    assert cfg.model.latent_dim == 128 and cfg.optim.lr_d == 1e-4 and cfg.model.ema is True
    assert cfg.tricks.real_label == (0.8, 1.0) and cfg.data.limit is None and cfg.data.flip is False
    assert from_preset("dcgan-paper", {"data.limit": 50}).data.limit == 50


@pytest.mark.parametrize("override, field, fragment", [
    ("resolution=48", "data.resolution", "one of 32, 64, 128"),
    ("latent_dim=0", "model.latent_dim", ">= 1"),
    ("latent_dim=1.5", "model.latent_dim", "whole number"),
    ("lr_g=fast", "optim.lr_g", "a number"),
    ("lr_g=nan", "optim.lr_g", "finite"),
    ("ema=maybe", "model.ema", "true or false"),
    ("d_dropout=1", "model.d_dropout", "< 1"),
    ("real_label=1.0,0.5", "tricks.real_label", "low <= high"),
    ("real_label=1,2,3", "tricks.real_label", "2 numbers"),
    ("crop=circle", "data.crop", "'center'"),
    ("latent_dimm=3", "setting", "'model.latent_dim'"),
    ("no-equals-sign", "override", "key=value"),
])
def test_bad_values_name_the_field_the_value_and_what_is_allowed(override, field, fragment):
    with pytest.raises(ConfigError) as err:
        from_preset("dcgan-paper", [override])
    assert err.value.field == field
    assert fragment in str(err.value)
    assert str(err.value).startswith(field + ": got ")


def test_combination_errors():
    with pytest.raises(ConfigError, match="optim.loss"):
        from_preset("stable-64", ["loss=hinge"])  # stable-64 smooths labels, which hinge cannot use
    with pytest.raises(ConfigError, match="tricks.real_label"):
        from_preset("dcgan-paper", ["real_label=0.2,0.5", "fake_label=0.3,0.6"])
    assert from_preset("dcgan-paper", ["loss=wgan", "gp=wgan-gp", "d_norm=none"]).optim.gp == "wgan-gp"


def test_from_dict_rejects_unknown_keys_and_wrong_types():
    d = from_preset("dcgan-paper").to_dict()
    d["model"]["widht"] = 3
    with pytest.raises(ConfigError, match="widht"):
        Config.from_dict(d)
    d = from_preset("dcgan-paper").to_dict()
    d["optim"]["batch_size"] = "many"
    with pytest.raises(ConfigError, match="optim.batch_size"):
        Config.from_dict(d)
    with pytest.raises(ConfigError, match="valid JSON"):
        Config.from_json("{not json")
    with pytest.raises(ConfigError, match="sections"):
        Config.from_dict({"modle": {}})


def test_validate_catches_values_set_directly():
    cfg = from_preset("dcgan-paper")
    cfg.optim.batch_size = 0
    with pytest.raises(ConfigError, match="optim.batch_size"):
        cfg.validate()


def test_every_field_has_help_and_appears_in_the_help_table():
    table = help_table()
    for section in SECTIONS:
        for f, _ in iter_fields(section):
            assert len(f.metadata["help"]) > 15, f"{section}.{f.name} needs a real help text"
            assert f"{section}.{f.name} =" in table
    assert len(all_keys()) == len(set(all_keys()))


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(all_keys()), value=st.one_of(
    st.text(max_size=12), st.integers(-10**9, 10**9), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_any_override_gives_a_valid_config_or_a_config_error(key, value):
    try:
        cfg = from_preset("dcgan-paper", {key: value})
    except ConfigError as e:
        assert str(e)
    else:
        assert Config.from_json(cfg.to_json()) == cfg


def test_quick_64_is_stable_64_at_width_32_as_the_quality_benchmark_measured_it():
    quick = from_preset("quick-64").to_dict()
    measured = from_preset("stable-64", ["model.g_width=32", "model.d_width=32"]).to_dict()
    assert quick.pop("preset") == "quick-64" and measured.pop("preset") == "stable-64"
    assert quick == measured


def test_diff_names_each_field_that_differs_with_both_values():
    from facegan.presets import from_preset
    a = from_preset("dcgan-paper")
    b = a.with_overrides(["optim.batch_size=32", "tricks.real_label=[0.9,0.9]"])
    assert a.diff(b) == {"optim.batch_size": (128, 32), "tricks.real_label": ((1.0, 1.0), (0.9, 0.9))}
    assert a.diff(a) == {} and b.diff(a)["optim.batch_size"] == (32, 128)
