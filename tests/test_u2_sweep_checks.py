"""A sweep checks its base config on its data before its first trial (a model that cannot take the data is
refused before any folder or study is made, with the fix in the sweep's terms), ``--trials N`` never
starts more than N trials even when they fail, and a study whose trials all failed names the way to start
it over with another base."""

import copy
from pathlib import Path

import optuna
import pytest
import yaml

import vislab
from conftest import tiny_base
from vislab.cli import main
from vislab.errors import ConfigError
from vislab.experiments.sweeps import data_checks
from vislab.experiments.sweeps.data_checks import check_on_data
from vislab.experiments.sweeps.spec import load_sweep

BASE = tiny_base(train__threads=1)
LR = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True}}


def spec_file(tmp_path: Path, spec: dict, name: str = "t") -> Path:
    """A sweep file (a W&B one, with ``method:``, as it is) of study ``name``."""
    own = {} if "method" in spec else {"sampler": "random", "seed": 0}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **own, **spec}))
    return path


def sweep_cli(capsys, spec: Path, out: Path, *args: str) -> tuple[int, str]:
    code = main(["sweep", str(spec), "--out", str(out), "--no-report", *args])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert "Traceback" not in text, text
    return code, text


def trials_of(out: Path, name: str = "t") -> list:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}").trials


def test_a_base_model_that_cannot_take_the_data_is_refused_before_any_trial(tmp_path, capsys):
    """A W&B sweep of the CNN, run on 2-D points: refused at once (exit 2), nothing made; its fix works."""
    wandb = {
        "method": "random",
        "metric": {"name": "val_acc", "goal": "maximize"},
        "parameters": {
            "model.name": {"value": "cnn"},
            "train.threads": {"value": 1},
            "data.limit": {"value": 200},
            "lr": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.1},
        },
    }
    spec, out = spec_file(tmp_path, wandb, name="w"), tmp_path / "sw"
    args = ("--trials", "1", "--epochs", "1", "--data", "circles")
    code, text = sweep_cli(capsys, spec, out, *args)
    assert code == 2, text
    assert "model 'cnn' needs images but the data are 2-D feature vectors" in text, text
    assert "none was started" in text and "--set model.name=mlp" in text, text
    assert "model.name: {value: mlp}" in text, text  # the W&B file's own way
    assert not out.exists()  # no folder, no study.db
    code, text = sweep_cli(capsys, spec, out, *args, "--set", "model.name=mlp")
    assert code == 0, text
    assert [t.state for t in trials_of(out, "w")] == [optuna.trial.TrialState.COMPLETE]


def test_a_mapping_whose_model_cannot_take_the_data_is_refused_in_python_words(tmp_path):
    """vislab.sweep of a mapping: ConfigError naming the Python fix, before its folder (spec.yaml) is made."""
    base = tiny_base(data__name="circles", model={"name": "cnn"})
    spec = {"base": base, "space": LR}
    with pytest.raises(ConfigError) as e:
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True)
    assert "the sweep given to vislab.sweep" in str(e.value)
    assert "model__name='mlp'" in str(e.value), e.value
    assert not (tmp_path / "sw").exists()


def test_a_space_over_models_notes_those_that_cannot_take_the_data(tmp_path):
    """Some models of the space cannot take the data: a note (their trials fail); none can: refused."""
    base = tiny_base(data__name="circles", model={"name": "mlp"})  # no option of one model only
    some = {
        "base": base,
        "space": {"model.name": {"type": "categorical", "choices": ["mlp", "cnn"]}},
    }
    sweep = check_on_data(load_sweep(spec_file(tmp_path, some)), (), "t.yaml")
    notes = [n for n in sweep.notes if "model.name=cnn will fail" in n]
    assert notes and "needs images" in notes[0] and "mlp" not in notes[0].split(":")[0], sweep.notes
    none = {
        "base": base,
        "space": {"model.name": {"type": "categorical", "choices": ["cnn", "vit"]}},
    }
    with pytest.raises(ConfigError) as e:
        check_on_data(load_sweep(spec_file(tmp_path, none)), (), "t.yaml")
    message = str(e.value)
    assert "no model of the space entry 'model.name' can take" in message, message
    assert "model.name=cnn" in message and "model.name=vit" in message, message


def test_trials_1_starts_one_trial_even_when_it_fails(tmp_path, capsys, monkeypatch):
    """A batch larger than the train split fails the trial that draws it: --trials 1 runs that one trial
    only (not three), writes trials.csv with its error, and ends with exit 2 naming the way on. (The sweep's
    up-front check refuses such a space entry: let it through, so that the trial meets it.)"""
    monkeypatch.setattr(data_checks, "_check_batch_sizes", lambda *args: None)
    space = {"train.batch_size": {"type": "categorical", "choices": [500]}}
    spec, out = spec_file(tmp_path, {"base": BASE, "space": space}), tmp_path / "sw"
    code, text = sweep_cli(capsys, spec, out, "--trials", "1")
    assert code == 2, text
    assert len(trials_of(out)) == 1, text
    assert text.count("FAILED") == 1 and "in a row" not in text, text
    assert "the trial of study 't' failed" in text and "--overwrite" in text, text
    assert "train.batch_size=500" in (out / "trials.csv").read_text()
    # run again as it was: no "give --trials 2 to add trials" beside the refusal's --overwrite
    code, text = sweep_cli(capsys, spec, out, "--trials", "1")
    assert code == 2 and "each of its trials failed: fix the cause, then start it over" in text, (
        text
    )
    assert "to add trials" not in text


def test_a_study_whose_trials_all_failed_names_the_way_to_start_it_over(tmp_path, capsys):
    """Its base changed after every trial failed: the refusal leads with --overwrite, which then works."""
    base = tiny_base(train__threads=1, train__batch_size=500)  # larger than the train split
    spec, out = spec_file(tmp_path, {"base": base, "space": LR}), tmp_path / "sw"
    assert sweep_cli(capsys, spec, out, "--trials", "1")[0] == 2
    fixed = ("--trials", "1", "--set", "train.batch_size=32")
    code, text = sweep_cli(capsys, spec, out, *fixed)
    assert code == 2, text
    assert "each of its trials failed" in text and "add --overwrite" in text, text
    code, text = sweep_cli(capsys, spec, out, *fixed, "--overwrite")
    assert code == 0, text
    assert [t.state for t in trials_of(out)] == [optuna.trial.TrialState.COMPLETE]


def test_a_space_over_models_gives_the_base_model_options_to_the_base_model_alone(tmp_path, capsys):
    """The base trains an MLP with hidden=[16]; the space draws model.name from mlp and cnn: the cnn
    trials start from an empty model section, as a suite's row does (cnn has no option 'hidden'), and
    train; the mlp trials keep the base's hidden."""
    spec = {
        "base": BASE,
        "space": {"model.name": {"type": "categorical", "choices": ["mlp", "cnn"]}},
    }
    checked = check_on_data(load_sweep(spec_file(tmp_path, spec)), (), "t.yaml")
    assert not any("will fail" in n for n in checked.notes), checked.notes
    out = tmp_path / "sw"
    code, text = sweep_cli(
        capsys, spec_file(tmp_path, {**spec, "sampler": "grid"}), out, "--trials", "2"
    )
    assert code == 0, text
    trials = trials_of(out)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2, text
    configs = [
        yaml.safe_load((run / "config.yaml").read_text()) for run in (out / "trials").iterdir()
    ]
    models = {c["model"]["name"]: c["model"] for c in configs}
    assert models["mlp"]["hidden"] == [16] and "hidden" not in models["cnn"], models


def test_the_api_a_suite_and_a_sweep_switch_models_by_one_rule():
    """Model options of a tree naming no model are given for the model named (kept); those of a tree
    naming another model are that model's (dropped): vislab.train(model=...), a suite's row and a
    sweep's trial build the same config."""
    from vislab.api.configs import make_config
    from vislab.experiments.suites.spec import apply_run_overrides
    from vislab.experiments.sweeps.space import apply_values

    for base, kept in (({"hidden": [16]}, True), ({"name": "cnn", "widths": [8]}, False)):
        tree = tiny_base(model=base)
        api = make_config(tree, model="mlp").model.kwargs()
        suite = apply_run_overrides(tree, {"model.name": "mlp"})["model"]
        sweep = copy.deepcopy(tree)
        apply_values(sweep, {"model.name": "mlp"})
        assert suite == sweep["model"] and {k: v for k, v in suite.items() if k != "name"} == (
            {k: v for k, v in api.items() if k in suite}
        )
        assert ("hidden" in suite) is kept and "widths" not in suite
