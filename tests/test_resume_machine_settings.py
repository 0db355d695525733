"""A resume takes the settings of where and how the run runs given with it (data.root, train.device,
train.eval_batch_size, track.*: RESULT_NEUTRAL_KEYS) over the saved ones, uses them and records them in
config.yaml — from the command's options, vislab.train's overrides and a sweep trial's config; settings
that change what the run computes stay refused."""

import optuna
import pytest
import yaml

import vislab
from conftest import TINY_RUN, cli, one_line, tiny_sets
from fixtures import write_image_folder
from vislab.config import build_config
from vislab.errors import UserError
from vislab.experiments.sweeps.objective import Objective
from vislab.experiments.sweeps.spec import Sweep
from vislab.training.state import Callback
from vislab.training.trainer import train

PETS = dict(data="folder", data__image_size=8, train__batch_size=4)


def pets(folder):
    """An image folder of two classes, six images each."""
    write_image_folder(folder, classes=("cat", "dog"), per_class=6)
    return folder


@pytest.fixture
def moved_run(tmp_path):
    """A finished 1-epoch run on an image folder that then moved: (the run, the folder's new place)."""
    old, new = pets(tmp_path / "pets"), tmp_path / "moved" / "pets"
    run = tmp_path / "run"
    vislab.train(out=run, **TINY_RUN, **PETS, data__root=str(old))
    new.parent.mkdir()
    old.rename(new)
    return run, new


def saved(run) -> dict:
    return yaml.safe_load((run / "config.yaml").read_text())


def test_cli_resume_uses_and_records_the_data_root_and_eval_batch_size_given(moved_run, capsys):
    run, root = moved_run
    sets = ["--set", f"data.root={root}", "--set", "train.eval_batch_size=7"]
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2", *sets, "-q")
    assert code == 0, text
    assert saved(run)["data"]["root"] == str(root) and saved(run)["train"]["eval_batch_size"] == 7
    assert [r["epoch"] for r in vislab.load_run(run).history.to_dict("records")] == [1, 2]
    # last.pt records them too: a later resume without the options keeps them
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert code == 0, text
    assert saved(run)["data"]["root"] == str(root) and saved(run)["train"]["eval_batch_size"] == 7


def test_cli_resume_refuses_a_setting_that_changes_the_run_even_without_config_yaml(
    moved_run, capsys
):
    """config.yaml deleted: the options are checked against last.pt's config (they were let through
    unchecked, and ignored)."""
    run, root = moved_run
    lr = saved(run)["optim"]["lr"]
    before = (run / "metrics.jsonl").read_text()
    (run / "config.yaml").unlink()
    sets = ["--set", f"data.root={root}", "--set", "optim.lr=0.5"]
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2", *sets)
    said = one_line(text)
    assert code == 2, said
    assert f"these options change it: optim.lr: {lr} → 0.5. Resume without them" in said, said
    assert (run / "metrics.jsonl").read_text() == before  # nothing trained


def test_api_resume_uses_and_records_the_overrides_of_where_it_runs(moved_run):
    run, root = moved_run
    got = vislab.train(
        out=run, resume=True, epochs=2, data__root=str(root), train__eval_batch_size=7
    )
    assert got.config.data.root == str(root) and got.config.train.eval_batch_size == 7
    assert list(got.history["epoch"]) == [1, 2]


@pytest.mark.parametrize(
    "overrides, fix",
    [
        (dict(optim__lr=0.5), "Leave them out, or start a new run (another out=;"),
        (dict(train__epochs=3), "To train it on to 3 epochs, give epochs=3 instead."),
    ],
)
def test_api_resume_refuses_overrides_that_change_the_run_and_names_them(moved_run, overrides, fix):
    run, root = moved_run
    before = (run / "metrics.jsonl").read_text()
    ((key, value),) = overrides.items()
    dotted = key.replace("__", ".")
    was = saved(run)[dotted.split(".")[0]][dotted.split(".")[1]]
    with pytest.raises(UserError) as e:
        vislab.train(out=run, resume=True, data__root=str(root), **overrides)
    said = one_line(str(e.value))
    assert f"these arguments change it: {dotted}: {was!r} → {value!r}. {fix}" in said, said
    assert "data.root" not in said and "--set" not in said
    assert (run / "metrics.jsonl").read_text() == before


class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, row: dict) -> None:
        if row["epoch"] == 1:
            raise RuntimeError("stopped (the machine went away)")


def test_a_sweep_trial_resumed_on_another_machine_uses_the_trials_data_root(tmp_path):
    """A trial interrupted after epoch 1 on machine A; machine B's sweep (its data elsewhere) resumes it
    with its own config: it trains on B's data.root and records it."""
    old, new = pets(tmp_path / "a" / "pets"), tmp_path / "b" / "pets"
    tree = build_config(
        {
            "data": {"name": "folder", "root": str(old), "image_size": 8},
            "model": {"name": "mlp", "hidden": [16]},
            "train": {"epochs": 2, "batch_size": 4, "device": "cpu", "figures": False},
        }
    ).to_dict()
    run_dir = tmp_path / "trials" / "0"
    with pytest.raises(RuntimeError, match="machine went away"):
        train(build_config(tree), run_dir, quiet=True, callbacks=[_StopAfterFirstEpoch()])
    new.parent.mkdir()
    old.rename(new)
    tree["data"]["root"] = str(new)
    sweep = Sweep(name="s", path=None, base=tree, distributions={}, metric="val_acc")
    objective = Objective(sweep, tree, tmp_path / "trials", 1, True, lambda line: None)
    trial = optuna.create_study(direction="maximize").ask()
    summary = objective._train(trial, tree, run_dir, resumed=True)
    assert summary.complete and summary.epochs_run == 2
    assert saved(run_dir)["data"]["root"] == str(new)


def test_a_cosine_run_is_not_told_to_train_on_with_epochs(tmp_path, capsys):
    """cosine spreads over train.epochs, so --epochs is refused for it: neither the refusal of a changed
    train.epochs nor the nothing-left-to-train note may send the user there."""
    run = tmp_path / "cos"
    code, text = cli(capsys, "train", *tiny_sets("schedule.name=cosine", "train.figures=false"),
                     "--out", run, "-q")  # fmt: skip
    assert code == 0, text
    code, text = cli(capsys, "train", "--resume", run, "--set", "train.epochs=3")
    said = one_line(text)
    assert code == 2 and "train.epochs: 1 → 3" in said and "--epochs" not in said, said
    code, text = cli(capsys, "train", "--resume", run)
    said = one_line(text)
    assert code == 0 and "nothing left to train" in said and "--epochs" not in said, said
    with pytest.raises(UserError) as e:
        vislab.train(out=run, resume=True, train__epochs=3)
    assert "epochs=3 instead" not in str(e.value)
