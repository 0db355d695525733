"""Config schema, YAML files and --set overrides."""

import pytest

from vislab.config import Config, build_config, config_differences, load_config, parse_value
from vislab.errors import ConfigError


def test_defaults_use_report_words():
    cfg = Config()
    assert cfg.data.normalize in ("none", "standard", "zca")
    for key in ("name", "root", "normalize"):
        assert hasattr(cfg.data, key)
    for key in ("name", "lr", "momentum", "weight_decay"):
        assert hasattr(cfg.optim, key)
    for key in ("epochs", "batch_size", "seed", "device"):
        assert hasattr(cfg.train, key)


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        ("1e-3", 1e-3),
        ("0.5", 0.5),
        ("true", True),
        ("false", False),
        ("[32, 64]", [32, 64]),
        ("adam", "adam"),
        ("null", None),
    ],
)
def test_set_values_are_typed(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_yaml_file_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "data: {name: mnist}\noptim: {lr: 0.1, name: sgd}\nmodel: {name: cnn, widths: [8, 16]}\n"
    )
    cfg = load_config(
        f, ["optim.lr=0.01", "train.epochs=3", "model.batchnorm=true", "augment.hflip.p=0.5"]
    )
    assert cfg.data.name == "mnist" and cfg.optim.name == "sgd"
    assert cfg.optim.lr == 0.01 and cfg.train.epochs == 3
    assert cfg.model.kwargs() == {"widths": [8, 16], "batchnorm": True}
    assert cfg.augment.hflip.p == 0.5


def test_unknown_key_names_key_and_valid_ones():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["optim.lrr=0.1"])
    msg = str(e.value)
    assert "optim.lrr" in msg and "optim.lr" in msg and "momentum" in msg


def test_unknown_section_lists_sections():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["optimiser.lr=0.1"])
    assert "optimiser" in str(e.value) and "optim" in str(e.value)


def test_bad_value_names_field_and_expected_type():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["train.epochs=many"])
    assert "train.epochs" in str(e.value) and "integer" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(None, ["optim.lr=-1"])
    assert "optim.lr" in str(e.value) and "greater than 0" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_config(None, ["data.normalize=whiten"])
    assert "data.normalize" in str(e.value) and "zca" in str(e.value)


def test_bad_set_syntax_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(None, ["optim.lr"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listy)


def test_round_trip_yaml(tmp_path):
    cfg = load_config(None, ["model.name=mlp", "model.hidden=[4]", "data.split=[10,5,5]"])
    f = tmp_path / "c.yaml"
    f.write_text(cfg.to_yaml())
    assert load_config(f) == cfg


def test_a_stored_config_from_an_older_vislab_differs_only_where_values_differ():
    """A run folder written before a key existed (train.track_test, ...) is not "a different config" when
    a suite is re-run: the stored config is read through the current schema, its defaults filled in."""
    wanted = build_config({"data": {"name": "digits"}}).to_dict()
    stored = {k: dict(v) if isinstance(v, dict) else v for k, v in wanted.items()}
    del stored["train"]["track_test"]
    assert config_differences(stored, wanted) == []
    stored["train"]["epochs"] = 7
    assert config_differences(stored, wanted) == [f"train.epochs: 7 → {wanted['train']['epochs']}"]


def test_every_config_key_is_in_the_readmes_config_table():
    """A user reads the keys in the README's table: each key of each section is named in its row."""
    import re

    from conftest import REPO
    from vislab.config.schema import Config

    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*)\|$", readme, re.M))
    missing = [
        f"{section}.{key}"
        for section, field in Config.model_fields.items()
        if section != "model"  # a model's own kwargs: the models table
        for key in field.annotation.model_fields
        if f"`{key}`" not in rows.get(section, "")
    ]
    assert not missing, f"not in README.md's config table: {missing}"


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path, capsys):
    """PyYAML keeps the last of two equal keys: a suite with two runs named `a` trained one of them."""
    from conftest import cli, one_line

    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: dup\nbase: {data: {name: digits}}\nruns:\n  a: {model.name: mlp}\n  a: {model.name: cnn}\n"
    )
    code, text = cli(capsys, "suite", suite, "--out", tmp_path / "out")
    said = one_line(text)
    assert code == 2 and "found the key 'a' a second time" in said, text
    assert f'in "{suite}", line 4' in said and f'in "{suite}", line 5' in said
    assert not (tmp_path / "out").exists()  # nothing trained
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  epochs: 3\n  epochs: 5\n")
    with pytest.raises(ConfigError, match="'epochs' a second time"):
        load_config(config)


def test_a_merged_mapping_may_be_overridden(tmp_path):
    """`<<: *base` then a key of its own: YAML's way to override, not a key written twice."""
    from vislab.config.files import read_yaml

    spec = tmp_path / "s.yaml"
    spec.write_text("a: &t {epochs: 3, batch_size: 16}\nb:\n  <<: *t\n  epochs: 5\n")
    assert read_yaml(spec)["b"] == {"epochs": 5, "batch_size": 16}


def test_an_override_without_a_value_is_refused_in_the_callers_terms():
    """The same words serve the command line (--set) and Python (overrides=[...]): both forms shown."""
    with pytest.raises(ConfigError) as e:
        load_config(overrides=["optim.lr"])
    said = str(e.value)
    assert "override 'optim.lr' is not of the form key.sub=value" in said
    assert "--set optim.lr=0.01" in said and "overrides=['optim.lr=0.01']" in said
