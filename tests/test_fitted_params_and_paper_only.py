"""A fitted baseline's size is what its fit stored: summary.json's ``params`` (the tables' parameters
column), the line after its fit and a resumed run agree with the loaded model. ``vislab paper --only``
keeps each row's settings away from vislab's default, as the whole folder's paper lists them."""

import json
import re

import vislab
from conftest import cli, one_line, table_run, tiny_sets
from vislab.experiments.results.for_people import LISTED


def _stored(model) -> int:
    return sum(t.numel() for t in [*model.parameters(), *model.buffers()])


def test_svm_params_are_its_fitted_arrays_and_resume_agrees(tmp_path, capsys):
    run = tmp_path / "svm"
    sets = tiny_sets("model.name=svm", "train.figures=false", drop="model.hidden=[32]")
    code, said = cli(capsys, "train", "--out", run, *sets)
    assert code == 0, said
    said = one_line(said)
    params = json.loads((run / "summary.json").read_text())["params"]
    model = vislab.Run(run).model()
    assert params == _stored(model) > 100  # support vectors, coefficients, ...: not the gamma alone
    assert f"fitted on the train split: {params:,} parameters" in said
    assert "train/val/test, 1 parameter" not in said
    # resumed to train on: fitted again, the same size said and recorded
    code, out = cli(capsys, "train", "--resume", run, "--epochs", 2)
    assert code == 0, out
    assert json.loads((run / "summary.json").read_text())["params"] == params
    assert f"fitted on the train split: {params:,} parameters" in one_line(out)


def _listed(md: str) -> dict[str, str]:
    after = md[md.index(f"**{LISTED}**") :]
    return dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", after, re.M))


def test_paper_only_keeps_a_shared_augmentation_in_each_row(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    crop = ("augment.crop.p=1", "augment.crop.padding=4", "augment.hflip.p=0.5")
    table_run(runs, "plain")
    table_run(runs, "wide", *crop, "model.hidden=[64]", "optim.lr=0.01", "train.epochs=3")
    table_run(
        runs,
        "deep",
        *crop,
        "model.hidden=[32,32]",
        "optim.lr=0.05",
        "model.dropout=0.1",
        "optim.weight_decay=0.001",
    )
    whole = tmp_path / "whole"
    code, out = cli(capsys, "paper", runs, "--out", whole, "--no-figures")
    assert code == 0, out
    chosen = tmp_path / "chosen"
    code, out = cli(
        capsys, "paper", runs, "--out", chosen, "--no-figures", "--only", "wide", "--only", "deep"
    )
    assert code == 0, out
    lines = _listed((chosen / "tables.md").read_text())
    assert sorted(lines) == ["deep", "wide"]
    for row in lines:
        for key in crop:  # the two share it, yet each changed it from vislab's default
            assert key in lines[row], lines[row]
        assert lines[row] == _listed((whole / "tables.md").read_text())[row]
    assert "model.hidden=[64]" in lines["wide"] and "model.dropout" not in lines["wide"]
