"""A sweep's numbers mean what they say: a trial's score is its metric's best epoch, a swept list item keeps
the rest of the list, a study keeps one metric, a grid tries each point once, and options the sweep would
ignore or values it cannot train are refused before any trial."""

import json
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from conftest import tiny_base
from vislab.cli import main
from vislab.errors import ConfigError, Note, UserError
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep

BASE = tiny_base(train__threads=1)


def spec_file(tmp_path: Path, name: str = "t", base: dict | None = None, **keys) -> Path:
    spec = {"name": name, "base": base or BASE, "sampler": "random", "seed": 0, **keys}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sweep_cli(capsys, spec: Path, out: Path, *args: str) -> tuple[int, str]:
    code = main(["sweep", str(spec), "--out", str(out), "--no-report", *map(str, args)])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert "Traceback" not in text, text
    return code, text


def rows(run_dir: str) -> list[dict]:
    lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("epoch", 0) >= 1]


LR_SPACE = {"optim.lr": {"type": "float", "low": 0.05, "high": 0.5, "log": True}}


def test_a_trial_is_scored_at_the_best_epoch_of_the_sweeps_metric(tmp_path):
    """metric: val_loss: each trial's score is its lowest val_loss, the epoch best.pt and summary.json keep."""
    base = {**BASE, "train": {**BASE["train"], "epochs": 3}}
    spec = spec_file(tmp_path, base=base, space=LR_SPACE, metric="val_loss", trials=2)
    lines: list[str] = []
    study = run_sweep(load_sweep(spec), tmp_path / "sw", log=lines.append)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2
    for t in done:
        by_epoch = {r["epoch"]: r["val_loss"] for r in rows(t.user_attrs["run_dir"])}
        best_epoch = min(by_epoch, key=by_epoch.get)
        summary = json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())
        assert t.value == pytest.approx(by_epoch[best_epoch]), (t.value, by_epoch)
        assert summary["best_epoch"] == best_epoch and summary["val_loss"] == t.value
        config = yaml.safe_load((Path(t.user_attrs["run_dir"]) / "config.yaml").read_text())
        assert config["train"]["select_metric"] == "val_loss"
    assert not any("select_metric" in line for line in lines)


def test_a_base_that_selects_by_another_metric_is_named_once(tmp_path):
    base = {**BASE, "train": {**BASE["train"], "select_metric": "val_acc"}}
    spec = spec_file(tmp_path, base=base, space=LR_SPACE, metric="val_loss", trials=2)
    lines: list[str] = []
    study = run_sweep(load_sweep(spec), tmp_path / "sw", log=lines.append)
    notes = [line for line in lines if "train.select_metric: val_acc" in line]
    assert len(notes) == 1 and "val_loss at its best epoch by val_acc" in notes[0], lines
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        config = yaml.safe_load((Path(t.user_attrs["run_dir"]) / "config.yaml").read_text())
        assert config["train"]["select_metric"] == "val_acc"


def test_sweeping_one_item_of_a_default_list_keeps_the_rest(tmp_path):
    """model.hidden.1 on an mlp whose base sets no hidden: item 1 of mlp's default list [256], not a list
    from nothing. A list with no default (cnn's widths: its preset decides) is made of the swept items,
    which the sweep says."""
    base = {**BASE, "model": {"name": "mlp"}}
    spec = spec_file(
        tmp_path,
        base=base,
        space={"model.hidden.1": {"type": "categorical", "choices": [8, 12]}},
        trials=1,
    )
    study = run_sweep(load_sweep(spec), tmp_path / "sw", log=lambda s: None)
    (t,) = study.trials
    config = yaml.safe_load((Path(t.user_attrs["run_dir"]) / "config.yaml").read_text())
    assert t.state == TrialState.COMPLETE
    assert config["model"]["hidden"] == [256, t.params["model.hidden.1"]]
    cnn = spec_file(
        tmp_path,
        name="cnn",
        base={**BASE, "model": {"name": "cnn"}},
        space={"model.widths.0": {"type": "categorical", "choices": [8, 16]}},
    )
    notes = " ".join(" ".join(load_sweep(cnn).notes).split())
    assert "neither the base nor the model sets a 'model.widths' list" in notes, notes
    assert "set model.widths in the base" in notes


@pytest.mark.parametrize("metric", ["val_acc", "val_loss"])
def test_rejoining_a_study_with_another_metric_is_refused(tmp_path, capsys, metric):
    """val_acc after val_pacc (both maximised) would mix two metrics in one column of the study."""
    out = tmp_path / "sw"
    first = spec_file(tmp_path, space=LR_SPACE, metric="val_pacc")
    assert sweep_cli(capsys, first, out, "--trials", "1")[0] == 0
    other = spec_file(tmp_path, name="t", space=LR_SPACE, metric=metric)
    code, text = sweep_cli(capsys, other, out, "--trials", "2")
    assert code == 2, text
    assert f"study 't' scores its trials by val_pacc, but this sweep asks for {metric}" in text
    assert "metric: val_pacc" in text and "another --out" in text
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 1


def test_a_failed_grid_point_is_tried_once_and_counted_failed(tmp_path):
    """lr 1e12 diverges: the grid's other two points train once each, the failed one stays failed."""
    spec = spec_file(
        tmp_path,
        sampler="grid",
        base={**BASE, "optim": {"name": "sgd"}},
        space={"optim.lr": {"type": "categorical", "choices": [1e12, 0.01, 0.05]}},
    )
    lines: list[str] = []
    study = run_sweep(load_sweep(spec), tmp_path / "sw", log=lines.append)
    lrs = [t.params["optim.lr"] for t in study.trials]
    assert sorted(lrs) == [0.01, 0.05, 1e12], lrs
    states = {t.params["optim.lr"]: t.state for t in study.trials}
    assert states[1e12] == TrialState.FAIL
    assert states[0.01] == states[0.05] == TrialState.COMPLETE
    results = (tmp_path / "sw" / "results.md").read_text()
    assert "2 complete" in results and "1 failed" in results, results
    with pytest.warns(Note, match="every combination of its space is taken"):
        run_sweep(load_sweep(spec), tmp_path / "sw", log=lambda line: None)
    assert (
        len(
            optuna.load_study(
                study_name="t", storage=f"sqlite:///{tmp_path / 'sw' / 'study.db'}"
            ).trials
        )
        == 3
    )


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["--epochs", "3"], "'train.epochs=3'"),
        (["--set", "train.epochs=2"], "'train.epochs=2'"),
    ],
)
def test_a_command_line_change_of_a_swept_key_is_refused(tmp_path, capsys, args, culprit):
    spec = spec_file(tmp_path, space={"train.epochs": {"type": "categorical", "choices": [1, 2]}})
    out = tmp_path / "sw"
    code, text = sweep_cli(capsys, spec, out, "--trials", "2", *args)
    assert code == 2, text
    assert f"the command line sets {culprit}" in text and "samples 'train.epochs'" in text
    assert "remove 'train.epochs' from the space" in text
    assert not (out / "trials").exists() or not any((out / "trials").iterdir())


def test_overlapping_space_keys_are_refused(tmp_path):
    spec = spec_file(
        tmp_path,
        space={
            "model.hidden": {"type": "categorical", "choices": [[8], [16]]},
            "model.hidden.0": {"type": "int", "low": 4, "high": 16},
        },
    )
    with pytest.raises(ConfigError) as e:
        load_sweep(spec)
    assert "space keys 'model.hidden' and 'model.hidden.0' overlap" in str(e.value)


@pytest.mark.parametrize(
    "entry, fragments",
    [
        (
            {"model.hidden.0": {"type": "float", "low": 4, "high": 16}},
            ["space 'model.hidden.0'", "fractional", "use type: int"],
        ),
        (
            {"model.dropout": {"type": "categorical", "choices": [0.1, 0.2, True]}},
            ["space 'model.dropout'", "the value True", "[0, 1)"],
        ),
        (
            {"model.dropout": {"type": "float", "low": 0.0, "high": 1.0}},
            ["space 'model.dropout'", "the value 1.0", "[0, 1)"],
        ),
    ],
)
def test_every_model_value_of_the_space_is_checked_before_any_trial(tmp_path, entry, fragments):
    with pytest.raises(ConfigError) as e:
        load_sweep(spec_file(tmp_path, space=entry))
    message = " ".join(str(e.value).split())
    for fragment in fragments:
        assert fragment in message, message


def test_a_value_too_big_for_the_data_names_the_space_entry(tmp_path):
    """A batch larger than the train split is found when the trial loads its data: its error says which
    space entry drew it."""
    spec = spec_file(
        tmp_path,
        space={"train.batch_size": {"type": "categorical", "choices": [500]}},
        trials=1,
    )
    with pytest.raises(UserError):  # every trial fails: the worker stops
        run_sweep(load_sweep(spec), tmp_path / "sw", log=lambda s: None)
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'sw' / 'study.db'}")
    error = study.trials[0].user_attrs["error"]
    assert "train.batch_size=500" in error
    assert "drop that value from the space entry 'train.batch_size'" in error, error
