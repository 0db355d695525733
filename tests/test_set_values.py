"""--set values typed as YAML types them, but a value written as no mapping stays text: 'net.py:' is a
model reference cut short (named as such), not the mapping {'net.py': None}."""

import pytest

from conftest import cli, one_line, tiny_sets
from vislab.config.overrides import parse_value


@pytest.mark.parametrize(
    "text,value",
    [
        ("net.py:", "net.py:"),
        ("a: b", "a: b"),
        ("{a: 1}", {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("1e-3", 0.001),
    ],
)
def test_a_value_is_a_mapping_only_when_written_as_one(text, value):
    assert parse_value(text) == value


def test_a_model_reference_without_its_class_is_named_as_such(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text("import torch.nn as nn\n")
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *tiny_sets("model.name=net.py:"))
    assert (
        code == 2
        and "after ':' comes the name of a class or function defined in net.py" in one_line(out)
    ), out
