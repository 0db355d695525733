"""A user's sweep mistakes refused up front with a message naming the culprit and the fix, and the sweep's
messages about folders and storage."""

import warnings
from pathlib import Path

import optuna
import optuna.importance  # the module itself: optuna.importance is a lazy proxy until it loads
import pytest
import yaml
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

import vislab
from vislab.errors import ConfigError, UserError
from vislab.experiments.sweeps import trials
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


def test_importances_are_ped_anovas_whatever_optunas_default(monkeypatch):
    """The report's importances are PED-ANOVA's on every install (Optuna before 5 defaults to fANOVA),
    the estimate the report's note about too few trials describes: the evaluator is named, not left to
    Optuna's default."""
    asked, real = [], optuna.importance.get_param_importances

    def spy(study, evaluator=None, **kw):
        asked.append(type(evaluator).__name__)
        return real(study, evaluator=evaluator, **kw)

    monkeypatch.setattr(optuna.importance, "get_param_importances", spy)
    assert importances(_study([0.1 * i for i in range(12)]))
    assert asked == ["PedAnovaImportanceEvaluator"]


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
    for call in (lambda: vislab.load_run("qs"),):  # vislab.compare takes such folders
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


@pytest.mark.parametrize(
    "space, fix",
    [
        (
            {"optim.lrr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
            "Fix the space entry 'optim.lrr': rename the key to 'optim.lr'",
        ),
        (
            {"optm.lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
            "Fix the space entry 'optm.lr': rename the key to 'optim.lr'",
        ),
    ],
)
def test_a_misspelt_space_key_is_named_as_the_key_to_rename(tmp_path, space, fix):
    with pytest.raises(ConfigError) as e:
        load_sweep(sweep_file(tmp_path, space))
    msg = str(e.value)
    key = next(iter(space))
    assert f"space key '{key}' is not a config key" in msg and "Did you mean" in msg, msg
    assert fix in msg and "change that value" not in msg and "the value" not in msg, msg


def test_a_space_value_with_an_unknown_key_inside_is_a_value_to_change(tmp_path):
    space = {"optim": {"type": "categorical", "choices": [{"name": "adam", "lrr": 0.1}]}}
    with pytest.raises(ConfigError) as e:
        load_sweep(sweep_file(tmp_path, space))
    assert "unknown config key 'optim.lrr'" in str(e.value)
    assert "Fix the space entry 'optim': change that value" in str(e.value)


def _study_whose_range_grew() -> optuna.Study:
    """Three trials of optim.lr in [1e-4, 0.1], then one in [1e-4, 0.5] (the sweep file's high raised and
    the sweep run again): PED-ANOVA's regime of the new range holds one trial."""
    study = optuna.create_study(direction="maximize")
    for i, (value, high) in enumerate([(0.34, 0.1), (0.19, 0.1), (0.57, 0.1), (0.82, 0.5)]):
        study.add_trial(
            create_trial(
                params={"optim.lr": 0.01 * (i + 1)},
                distributions={"optim.lr": FloatDistribution(1e-4, high, log=True)},
                value=value,
            )
        )
    return study


def test_importances_of_a_regime_of_one_trial_warn_nothing(monkeypatch):
    """Optuna's 'Some regimes for parameter `optim.lr` have less than 2 trials' stays out of the output."""
    monkeypatch.setattr(trials, "MIN_IMPORTANCE_TRIALS", 2)  # a report asks for 11
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert importances(_study_whose_range_grew()) == {"optim.lr": 1.0}


def test_importances_keep_warnings_not_about_few_trials(monkeypatch):
    def get_param_importances(study, evaluator=None):
        warnings.warn(
            "Some regimes for parameter `optim.lr` have less than 2 trials.",
            UserWarning,
            stacklevel=2,
        )
        warnings.warn("something else went wrong", UserWarning, stacklevel=2)
        return {"optim.lr": 1.0}

    monkeypatch.setattr(optuna.importance, "get_param_importances", get_param_importances)
    monkeypatch.setattr(trials, "MIN_IMPORTANCE_TRIALS", 2)  # a report asks for 11
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importances(_study_whose_range_grew())
    assert [str(w.message) for w in caught] == ["something else went wrong"]
