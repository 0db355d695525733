"""A user's sweep mistakes refused up front with a message naming the culprit and the fix, and the sweep's
messages about folders and storage."""

import warnings
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

import vislab
from vislab.errors import ConfigError, UserError
from vislab.experiments.sweeps.spec import load_sweep
from vislab.experiments.sweeps.study import open_storage
from vislab.experiments.sweeps.trials import best_table, importances
from vislab.training.rundir import RunDir


def sweep_file(tmp_path: Path, space: dict, model: str = "mlp") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": {"model": {"name": model}}, "space": space}))
    return path


@pytest.mark.parametrize(
    "space, fragments",
    [
        (
            {"optim.name": {"type": "categorical", "choices": ["adam", "sgdd"]}},
            ["space 'optim.name'", "'sgdd'", "Input should be 'sgd', 'adam'"],
        ),
        (
            {"train.batch_size": {"type": "float", "low": 16, "high": 64}},
            ["space 'train.batch_size'", "fractional", "valid integer", "use type: int"],
        ),
        (
            {
                "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "train.epochs": {"type": "int", "low": 0, "high": 3},
            },
            ["space 'train.epochs'", "the value 0", "greater than or equal to 1"],
        ),
    ],
)
def test_a_space_value_no_config_takes_is_refused_when_the_file_is_loaded(
    tmp_path, space, fragments
):
    with pytest.raises(ConfigError) as e:
        load_sweep(sweep_file(tmp_path, space))
    for fragment in fragments:
        assert fragment in str(e.value)


def test_a_good_space_loads(tmp_path):
    space = {
        "optim.name": {"type": "categorical", "choices": ["adam", "sgd"]},
        "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "train.batch_size": {"type": "int", "low": 16, "high": 64},
        "model.widths.0": {"type": "categorical", "choices": [32, 64]},
        "model.widths.1": {"type": "int", "low": 8, "high": 16},
    }
    assert set(load_sweep(sweep_file(tmp_path, space, "cnn")).distributions) == set(space)


def test_a_base_valid_only_with_the_command_lines_options_is_checked_with_them(tmp_path):
    path = tmp_path / "s.yaml"  # train.epochs: 0 is no config; --epochs 1 makes one
    path.write_text(
        yaml.safe_dump(
            {
                "base": {
                    "data": {"name": "digits"},
                    "model": {"name": "mlp"},
                    "train": {"epochs": 0},
                },
                "space": {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
            }
        )
    )
    with pytest.raises(ConfigError, match="its base"):
        load_sweep(path)
    study = vislab.sweep(path, out=tmp_path / "sw", trials=1, epochs=1, quiet=True)
    assert [t.state.name for t in study.trials] == ["COMPLETE"]


def test_options_that_no_trial_could_use_are_refused_before_overwrite_deletes(tmp_path):
    path = sweep_file(tmp_path, {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}})
    out = tmp_path / "sw"
    vislab.sweep(path, out=out, trials=1, epochs=1, quiet=True)
    with pytest.raises(ConfigError) as e:
        vislab.sweep(path, out=out, trials=1, overrides=["model.name=majority"], overwrite=True)
    assert "has no option 'model.dropout'" in str(e.value)
    assert (out / "trials" / "0" / "summary.json").is_file()  # the earlier sweep is kept


def _study(values: list[float]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for i, value in enumerate(values):
        study.add_trial(
            create_trial(
                params={"optim.lr": 0.01 * (i + 1)},
                distributions={"optim.lr": FloatDistribution(0.001, 1.0)},
                value=value,
            )
        )
    return study


def test_the_table_title_counts_the_trials_it_shows():
    assert "best 2 by" in best_table(_study([0.5, 0.7]), 5).title
    assert "best 3 by" in best_table(_study([0.1, 0.5, 0.7, 0.9]), 3).title


def test_importances_of_few_trials_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        importances(_study([0.5, 0.5]))  # PED-ANOVA: its quantiles hold the same trials


def test_a_storage_without_its_driver_names_the_urls_that_work():
    with pytest.raises(UserError) as e:
        open_storage("mysql://x@h/db", attempts=1)
    for fragment in ("no database driver", "sqlite:///", "postgresql://", "pip install"):
        assert fragment in str(e.value)


@pytest.mark.parametrize("info, runs", [("suite.json", "qs"), ("sweep.json", "qs/trials")])
def test_a_suite_or_sweep_folder_is_not_a_run(tmp_path, monkeypatch, info, runs):
    monkeypatch.chdir(tmp_path)
    (tmp_path / runs / "cnn").mkdir(parents=True)
    (tmp_path / runs / "cnn" / "config.yaml").write_text("{}")
    (tmp_path / "qs" / info).write_text("{}")
    for call in (
        lambda: vislab.load_run("qs"),
        lambda: vislab.compare(["qs"]),
        lambda: vislab.compare("qs"),  # one path: not its characters
    ):
        with pytest.raises(UserError) as e:
            call()
        assert info.split(".")[0] + " folder" in str(e.value)
        assert f"vislab.load_run('{runs}/cnn')" in str(e.value)


def test_resuming_a_run_in_a_folder_it_cannot_write(tmp_path, monkeypatch):
    run = tmp_path / "cnn"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UserError) as e:
        RunDir(run).open()
    assert "--out" not in str(e.value)
    assert "copy it somewhere writable" in str(e.value)
