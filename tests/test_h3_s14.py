"""Results tables show a row's model option at its model's default where another row changes it, and
``n/a`` where the row's model has no such option (counted as unset there); seed means fade only the epochs
past where a seed stopped, not one a seed's file lost, and a one-epoch mean shows its spread
(``paper --no-figures`` naming every seed's unreadable metrics.jsonl: test_e47_notes)."""

import json
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection

from conftest import cli, one_line
from vislab.config import build_config
from vislab.models import option_defaults
from vislab.plotting.runs import FEWER_ALPHA, curves_figure, mean_history


def _run(folder: Path, name: str, model: str, *assignments: str) -> Path:
    """A finished run as the tables read it (config.yaml, summary.json), without training."""
    run = folder / name
    run.mkdir()
    (run / "config.yaml").write_text(
        build_config({}, [f"model.name={model}", *assignments]).to_yaml()
    )
    summary = dict(status="complete", model=model, seed=0, test_acc=0.5, data="digits")
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def _table(text: str) -> dict[str, dict[str, str]]:
    """The first pipe table of ``text``: run → {header: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    heads = [h.strip() for h in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {cells[0]: dict(zip(heads, cells)) for cells in rows}


def test_a_row_that_leaves_a_model_option_unset_shows_its_models_value(capsys, tmp_path):
    base, wide = _run(tmp_path, "base", "mlp"), _run(tmp_path, "wide", "mlp", "model.hidden=[32]")
    code, said = cli(capsys, "compare", base, wide)
    table = _table(said)
    assert code == 0 and table["wide"]["model.hidden"] == "[32]"
    assert table["base"]["model.hidden"] == str(option_defaults("mlp")["hidden"])  # not '-'


def test_an_option_a_rows_model_does_not_have_shows_n_a_and_counts_as_unset(capsys, tmp_path):
    """An MLP beside CNNs: the CNNs' widths show (n/a for the MLP) where they are not the CNN's
    default, shared or not; CNNs at their default widths show none."""
    mlp = _run(tmp_path, "mlp", "mlp")
    default = [_run(tmp_path, f"cnn-d{i}", "cnn") for i in (1, 2)]
    code, said = cli(capsys, "compare", mlp, *default)
    assert code == 0 and "model.widths" not in said
    same = [_run(tmp_path, f"cnn{i}", "cnn", "model.widths=[8,16]") for i in (1, 2)]
    code, said = cli(capsys, "compare", mlp, *same)
    table = _table(said)  # the CNNs share their widths, which are not a CNN's default: they show
    assert code == 0 and table["mlp"]["model.widths"] == "n/a", said
    assert table["cnn1"]["model.widths"] == table["cnn2"]["model.widths"] == "[8, 16]"
    other = _run(tmp_path, "cnn3", "cnn", "model.widths=[4,8]")
    code, said = cli(capsys, "compare", mlp, same[0], other)
    table = _table(said)
    assert code == 0 and table["mlp"]["model.widths"] == "n/a"
    assert [table[r]["model.widths"] for r in ("cnn1", "cnn3")] == ["[8, 16]", "[4, 8]"]
    assert "n/a: the row's model has no such option (mlp: model.widths)" in one_line(said)


def test_an_option_only_one_rows_model_has_shows_where_that_row_changes_it(capsys, tmp_path):
    """The quickstart's shape: a majority, one MLP with its own widths and a CNN with batch norm — each
    model's option set away from its default shows, n/a for the others (E49: they vanished)."""
    rows = [
        _run(tmp_path, "majority", "majority"),
        _run(tmp_path, "mlp", "mlp", "model.hidden=[16,8]"),
        _run(tmp_path, "cnn", "cnn", "model.batchnorm=true"),
    ]
    code, said = cli(capsys, "compare", *rows)
    table = _table(said)
    assert code == 0 and table["mlp"]["model.hidden"] == "[16, 8]", said
    assert table["cnn"]["model.hidden"] == table["majority"]["model.hidden"] == "n/a"
    assert table["cnn"]["model.batchnorm"] in ("True", "true"), said


def test_listed_settings_name_a_model_default_but_no_option_the_model_lacks(capsys, tmp_path):
    more = ("optim.lr=0.5", "train.epochs=3", "train.batch_size=8", "data.limit=50")
    mlp = _run(tmp_path, "mlp", "mlp")
    wide = _run(tmp_path, "wide", "mlp", "model.hidden=[32]", *more)
    cnn = _run(tmp_path, "cnn", "cnn", "model.widths=[4,8]")
    code, said = cli(capsys, "compare", mlp, wide, cnn, _run(tmp_path, "cnn2", "cnn"))
    lines = {line.split("**")[1]: line for line in said.splitlines() if line.startswith("- **")}
    assert code == 0 and "Settings each run changed" in said
    assert f"model.hidden={option_defaults('mlp')['hidden']}" in lines["mlp"]
    assert "model.widths" not in lines["mlp"] and "model.hidden" not in lines["cnn"]
    assert "model.widths=[4, 8]" in lines["cnn"]
    assert f"model.widths={option_defaults('cnn')['widths']}" in lines["cnn2"]


def _rows(*epochs: int, acc: float = 0.5) -> list[dict]:
    return [dict(epoch=e, train_loss=1.0, val_loss=1.0, train_acc=acc, val_acc=acc) for e in epochs]


def _alphas(histories: dict[str, list[dict]]) -> list[float]:
    """The opacities of the accuracy panel's curves (1 where none is set)."""
    ax = curves_figure(histories).axes[1]
    return [line.get_alpha() or 1.0 for line in ax.lines if len(line.get_xdata()) > 1]


def test_a_row_lost_from_one_seeds_file_is_not_faded_but_an_early_stop_is():
    lost = mean_history([_rows(1, 2, 3, 4), _rows(1, 3, 4, acc=0.7)])  # epoch 2's row lost
    assert [r["seeds"] for r in lost] == [2, 1, 2, 2]
    assert FEWER_ALPHA not in _alphas({"row": lost})
    stopped = mean_history([_rows(1, 2, 3, 4), _rows(1, 2)])
    assert FEWER_ALPHA in _alphas({"row": stopped})
    # a seed whose last row was lost (cut short) ran as far as summary.json says: no stop either
    cut = mean_history([_rows(1, 2, 3), _rows(1, 2)], ran=[3, 3])
    assert FEWER_ALPHA not in _alphas({"row": cut})


def test_a_one_epoch_mean_of_seeds_shows_its_spread():
    mean = mean_history([_rows(1, acc=0.4), _rows(1, acc=0.6)])
    ax = curves_figure({"row": mean}).axes[1]
    spans = [
        sorted(seg[:, 1])
        for c in ax.collections
        if isinstance(c, LineCollection)
        for seg in c.get_segments()
    ]
    std = float(np.std([0.4, 0.6], ddof=1))
    assert any(np.allclose(s, [0.5 - std, 0.5 + std]) for s in spans), spans
