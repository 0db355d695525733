"""What a student tuning with `vislab sweep` met: a sampler or pruner option Optuna refuses, a direction
against the metric, a shared storage's refusal offering --out, a --set typo blamed on the file, a pruner
that never acts, no way from the best trial to its retraining, and data or batch sizes no trial can use."""

from pathlib import Path

import pytest
import yaml

import vislab
from conftest import tiny_base
from test_u2_sweep_checks import sweep_cli
from vislab.cli import main
from vislab.data import download as dl
from vislab.errors import ConfigError, DataError, UserError
from vislab.experiments.sweeps import objective
from vislab.experiments.sweeps.data_checks import check_on_data
from vislab.experiments.sweeps.spec import load_sweep

BASE = tiny_base(train__threads=1)
LR = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True}}


def spec_file(tmp_path: Path, name: str = "t", **keys) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": BASE, "space": LR, **keys}))
    return path


@pytest.mark.parametrize(
    "keys, fragments",
    [
        (
            {"pruner": {"name": "median", "n_warmup_steps": -3}},
            ["'pruner.n_warmup_steps' = -3 is invalid", "cannot be negative", "n_startup_trials"],
        ),
        (
            {"pruner": {"name": "halving", "reduction_factor": 1}},
            ["'pruner.reduction_factor' = 1 is invalid", "reduction_factor >= 2"],
        ),
        (
            {"pruner": {"name": "hyperband", "reduction_factor": 1}},
            ["'pruner.reduction_factor' = 1 is invalid", "HyperbandPruner"],
        ),
        (
            {"pruner": {"name": "median", "warmup": 2}},
            ["unknown sweep key 'pruner.warmup'", "Did you mean 'pruner.n_warmup_steps'?"],
        ),
        (
            {"pruner": {"name": "median", "n_warmup_steps": "two"}},
            ["'pruner.n_warmup_steps' = 'two' is invalid"],
        ),
        (
            {"sampler": {"name": "tpe", "n_startup": 3}},
            ["unknown sweep key 'sampler.n_startup'", "Did you mean 'sampler.n_startup_trials'?"],
        ),
    ],
)
def test_a_sampler_or_pruner_option_optuna_refuses_names_the_file_and_key(
    tmp_path, capsys, keys, fragments
):
    spec, out = spec_file(tmp_path, **keys), tmp_path / "sw"
    code, text = sweep_cli(capsys, spec, out, "--trials", "1")
    assert code == 2, text
    assert f"Invalid sweep ({spec})" in text, text
    for fragment in fragments:
        assert fragment in text, text
    assert not out.exists()  # no study.db left behind


def test_a_pruner_option_optuna_refuses_is_a_config_error_in_python(tmp_path):
    spec = {"base": BASE, "space": LR, "pruner": {"name": "halving", "reduction_factor": 1}}
    with pytest.raises(ConfigError, match=r"pruner\.reduction_factor"):
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True)
    assert not (tmp_path / "sw").exists()


def test_a_direction_against_the_metric_is_refused(tmp_path, capsys):
    spec, out = spec_file(tmp_path, metric="val_loss", direction="maximize"), tmp_path / "sw"
    code, text = sweep_cli(capsys, spec, out, "--trials", "1")
    assert code == 2 and "'direction' = 'maximize' is invalid" in text, text
    assert "set direction: minimize" in text and not out.exists(), text
    wandb = tmp_path / "wb.yaml"
    wandb.write_text(
        yaml.safe_dump(
            {
                "method": "random",
                "metric": {"name": "val_loss", "goal": "maximize"},
                "parameters": {"data.name": {"value": "digits"}, "lr": {"min": 0.01, "max": 0.1}},
            }
        )
    )
    with pytest.raises(ConfigError, match=r"'metric.goal' = 'maximize' is invalid.*goal: minimize"):
        load_sweep(wandb)
    assert load_sweep(spec_file(tmp_path, metric="val_loss", direction="minimize")).direction == (
        "minimize"
    )


def test_a_set_typo_is_named_as_the_command_lines(tmp_path, capsys):
    spec, out = spec_file(tmp_path), tmp_path / "sw"
    code, text = sweep_cli(capsys, spec, out, "--trials", "1", "--set", "model.dropuot=0.3")
    assert code == 2, text
    assert (
        "its base with the options given (--set/--data/--epochs; Python:" in text
        and "model.dropuot" in text
    ), text
    assert not out.exists()


def test_a_pruner_that_cannot_act_in_the_epochs_is_noted(tmp_path):
    """A trial is pruned at the earliest at its pruner's warm-up or first rung, never at its last epoch."""
    cases = [
        ({"name": "hyperband", "min_resource": 5}, 3, True),
        ({"name": "median", "n_warmup_steps": 3}, 3, True),
        ({"name": "median"}, 1, True),
        ({"name": "median", "n_warmup_steps": 2}, 3, False),
        ({"name": "halving", "min_resource": 2}, 3, False),
    ]
    for pruner, epochs, said in cases:
        path = tmp_path / "t.yaml"
        base = tiny_base(train__epochs=epochs)
        path.write_text(yaml.safe_dump({"base": base, "space": LR, "pruner": pruner}))
        notes = " ".join(load_sweep(path).notes)
        assert ("never prunes" in notes) == said, (pruner, epochs, notes)


def test_a_study_of_another_base_in_a_given_storage_offers_no_other_out_and_writes_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first = spec_file(tmp_path, name="s")
    assert sweep_cli(capsys, first, tmp_path / "a", "--trials", "1", "--storage", storage)[0] == 0
    code, text = sweep_cli(
        capsys, first, tmp_path / "b", "--trials", "1", "--storage", storage, "--epochs", "2"
    )
    assert code == 2 and "was started with another base config" in text, text
    assert "another --out" not in text and "another name" in text, text
    assert not (tmp_path / "b").exists()
    # the best trial points to its config and the command that trains it again
    code, text = main(["sweep", "show", str(tmp_path / "a")]), capsys.readouterr().out
    config = Path("a") / "trials" / "0" / "config.yaml"
    assert code == 0 and f"vislab train --config {config} --out NEW" in " ".join(text.split())
    assert main(["train", "--config", str(config), "--out", "again"]) == 0


def test_data_that_cannot_be_downloaded_is_refused_before_any_trial(tmp_path, monkeypatch):
    def offline(url, dest, *args, **kwargs):
        raise DataError(f"Could not download '{Path(dest).name}' (no network)")

    monkeypatch.setattr(dl, "download", offline)
    root = tmp_path / "data"
    root.mkdir()
    base = tiny_base(data__name="cifar10", data__root=str(root), data__download=True)
    with pytest.raises(DataError) as e:
        vislab.sweep({"base": base, "space": LR}, out=tmp_path / "sw", trials=3, quiet=True)
    said = " ".join(str(e.value).split())
    assert "none was started" in said and "Could not download" in said, said
    assert not (tmp_path / "sw").exists()


def test_a_batch_size_larger_than_the_train_split_is_refused_up_front(tmp_path):
    space = {"train.batch_size": {"type": "categorical", "choices": [64, 256, 512]}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"base": BASE, "space": space}))  # 200 train images
    with pytest.raises(ConfigError) as e:
        check_on_data(load_sweep(path), (), "t.yaml")
    said = " ".join(str(e.value).split())
    assert "'train.batch_size' draws 256, 512, larger than" in said and "200 samples" in said, said


def test_trials_failing_in_a_row_still_write_the_tables(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise UserError("broken on purpose")

    monkeypatch.setattr(objective, "train", broken)
    out = tmp_path / "sw"
    with pytest.raises(UserError, match="3 trials in a row failed"):
        vislab.sweep({"base": BASE, "space": LR}, out=out, trials=5, quiet=True)
    assert "broken on purpose" in (out / "trials.csv").read_text()
    assert (out / "results.md").is_file()
