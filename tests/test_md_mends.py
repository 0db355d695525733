"""MD's mends of reviewer R4's findings on sweeps and the paper's recipe: mlp-scratch's own step said as
the optimizer it amounts to, a --narrow stage's swept values in `vislab compare`, the retraining command
naming the sweep folder given."""

import contextlib
import shutil
from pathlib import Path

import optuna
import pytest
import yaml

import vislab
from conftest import DROP, cli, tiny_base
from figures_skipped import skip_report_figures
from vislab.config import build_config
from vislab.errors import ConfigError, UserError
from vislab.experiments.results.provenance import recipe_sentence
from vislab.experiments.sweeps.results import load_study_of
from vislab.experiments.sweeps.spec import load_sweep, sweep_of
from vislab.training.summary import RunSummary

LR = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True}}


def test_the_paper_says_the_optimizer_is_set_per_run_of_mlp_scratch_by_hand_and_with_adam():
    def config(impl):
        model = {"name": "mlp-scratch", "impl": impl}
        return build_config(tiny_base(model=model, optim__name="adam"), source="test")

    configs = {"manual": config("manual"), "optim": config("optim")}
    summaries = {
        "manual": RunSummary(trained_by="manual_step"),
        "optim": RunSummary(trained_by="optimizer"),
    }
    said = recipe_sentence(configs, summaries)
    assert "optimizer adam" not in said, said  # the table shows sgd for the hand-written step
    assert said.endswith(
        "Set per run (the table's settings give each run's): optimizer, model.impl."
    )


@pytest.fixture(scope="module")
def narrowed(tmp_path_factory) -> Path:
    """A sweep of two trials over optim.lr, narrowed by a stage of one trial."""
    spec = {"base": tiny_base(train__threads=1), "space": LR, "sampler": "random", "seed": 0}
    out = tmp_path_factory.mktemp("md") / "sw"
    vislab.sweep(spec, out=out, trials=2, narrow=1, narrow_trials=1, quiet=True)
    return out


def test_compare_of_a_narrowed_sweep_gives_the_narrow_stage_trials_swept_values(narrowed):
    table = vislab.compare(narrowed).set_index("run")
    narrow = load_study_of(narrowed / "narrow").trials[0].params["optim.lr"]
    assert table.loc["narrow/trial-0", "optim.lr"] == pytest.approx(narrow, rel=1e-3)
    assert table["optim.lr"].notna().all(), table


def test_sweep_show_of_a_moved_sweep_names_its_trials_where_they_are_now(
    narrowed, tmp_path, monkeypatch, capsys
):
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    shutil.copytree(narrowed, tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    with _moved_away(narrowed):
        code, text = cli(capsys, "sweep", "show", "moved")
    text = " ".join(text.split())
    best = Path("moved") / "trials" / str(load_study_of(Path("moved")).best_trial.number)
    assert code == 0 and f"vislab train --config {best / 'config.yaml'} --out NEW" in text, text
    narrow = Path("moved") / "narrow" / "trials" / "0" / "config.yaml"
    assert f"vislab train --config {narrow} --out NEW" in text, text
    assert str(narrowed) not in text, text


@contextlib.contextmanager
def _moved_away(folder: Path):
    """``folder`` renamed for the block (the trials' recorded folders gone), then back."""
    away = folder.with_name(f"{folder.name}-away")
    folder.rename(away)
    try:
        yield
    finally:
        away.rename(folder)


@pytest.mark.parametrize(
    ("limit", "fix"),
    [
        (200, "give the base a larger data.limit (now 200)."),
        (DROP, "give the base more training data."),
    ],
)
def test_a_batch_size_larger_than_the_data_names_the_limit_only_where_the_base_sets_one(
    tmp_path, limit, fix
):
    space = {"train.batch_size": {"type": "categorical", "choices": [16, 5000]}}
    spec = {"base": tiny_base(data__limit=limit), "space": space}
    with pytest.raises(ConfigError) as e:
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True)
    said = " ".join(str(e.value).split())
    assert "space 'train.batch_size' draws 5000" in said and said.endswith(fix), said
    assert limit != DROP or "data.limit" not in said, said


@pytest.mark.parametrize(
    ("pruner", "said"),
    [
        ({"max_resource": 0}, "'pruner.max_resource' = 0 is invalid"),
        ({"min_resource": 3, "max_resource": 2}, "min_resource 3 is larger than max_resource 2"),
    ],
)
def test_hyperband_resources_it_cannot_use_are_refused_when_the_sweep_is_read(
    tmp_path, pruner, said
):
    spec = {"base": tiny_base(), "space": LR, "pruner": {"name": "hyperband", **pruner}}
    with pytest.raises(ConfigError) as e:
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True)
    assert said in " ".join(str(e.value).split()), e.value
    assert not (tmp_path / "sw" / "trials").exists()


def test_a_pruner_that_fails_is_the_sweeps_fault_not_a_callers_callback(tmp_path, monkeypatch):
    def fails(*args):
        raise ValueError("math domain error")

    monkeypatch.setattr(optuna.pruners.MedianPruner, "prune", fails)
    spec = {"base": tiny_base(train__epochs=2), "space": LR, "pruner": "median"}
    with pytest.raises(UserError) as e:
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True)
    said = " ".join(str(e.value).split())
    assert "the sweep's pruner (Optuna's MedianPruner) failed after epoch 1" in said, said
    assert "callback" not in said, said
    summary = (tmp_path / "sw" / "trials" / "0" / "summary.json").read_text()
    assert "the sweep's pruner" in summary and "callbacks=[...]" not in summary, summary


def test_a_python_callers_typo_in_the_base_is_named_in_pythons_words_too(tmp_path):
    spec = {"base": tiny_base(), "space": LR}
    with pytest.raises(ConfigError) as e:
        vislab.sweep(spec, out=tmp_path / "sw", trials=1, quiet=True, model__dropuot=0.3)
    said = " ".join(str(e.value).split())
    assert "its base with the options given (--set/--data/--epochs; Python: section__key=" in said
    assert "model.dropuot" in said and "command line" not in said, said


def _wandb_file(tmp_path: Path, **changes) -> Path:
    """A W&B sweep file of the tiny base over lr, with ``changes`` to its top-level keys."""
    params = {
        "data.name": {"value": "digits"},
        "data.limit": {"value": 200},
        "epochs": {"value": 1},
    }
    tree = {"method": "random", "metric": {"name": "val_acc", "goal": "maximize"}, **changes}
    tree["parameters"] = {**params, "lr": {"min": 0.001, "max": 0.01}}
    path = tmp_path / "wandb.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_a_wandb_pruner_note_names_min_iter_and_reads_whole(tmp_path):
    hyperband = {"type": "hyperband", "min_iter": 1, "eta": 2}
    notes = load_sweep(_wandb_file(tmp_path, early_terminate=hyperband)).notes
    said = next(n for n in notes if "never prunes" in n)
    assert "(early_terminate.min_iter: 1)" in said and said.endswith("give it more epochs"), said


def test_a_wandb_file_without_goal_is_told_it_has_none(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_sweep(_wandb_file(tmp_path, metric={"name": "val_acc"}))
    said = " ".join(str(e.value).split())
    assert "has no 'metric.goal' (W&B's default: minimize)" in said, said
    assert "= 'minimize' is invalid" not in said and "set metric.goal: maximize" in said, said


def test_a_sweep_folders_own_file_with_a_wrong_direction_offers_a_new_start(tmp_path):
    (tmp_path / "sweep.json").write_text("{}")
    tree = {"base": tiny_base(), "space": LR, "metric": "val_acc", "direction": "minimize"}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(ConfigError) as e:
        load_sweep(tmp_path / "sweep.yaml")
    said = " ".join(str(e.value).split())
    assert "set direction: maximize" in said and "--overwrite (Python: overwrite=True" in said
    assert "a new name: in the file and another folder (--out NEW" in said, said


def test_a_sampler_seed_points_to_the_sweeps_own_seed(tmp_path):
    tree = {"base": tiny_base(), "space": LR, "sampler": {"name": "tpe", "seed": 3}}
    with pytest.raises(ConfigError) as e:
        vislab.sweep(tree, out=tmp_path / "sw", trials=1, quiet=True)
    said = " ".join(str(e.value).split())
    assert "'sampler.seed'" in said and "the sweep's top-level key: seed: 3" in said, said


def test_a_sweeps_base_data_is_read_once_before_its_trials(tmp_path, monkeypatch):
    import vislab.experiments.data_checks as suite_checks
    import vislab.experiments.sweeps.data_checks as sweep_checks

    reads = []

    def counted(cfg, *args, **kwargs):
        reads.append(cfg.name)
        return real(cfg, *args, **kwargs)

    real = sweep_checks.load_splits
    monkeypatch.setattr(sweep_checks, "load_splits", counted)
    monkeypatch.setattr(suite_checks, "load_splits", counted)
    spec = sweep_of({"base": tiny_base(), "space": LR}, tmp_path / "spec.yaml")
    sweep_checks.check_on_data(spec, [], "the test's sweep")
    assert reads == ["digits"], reads
