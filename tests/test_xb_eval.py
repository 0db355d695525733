"""eval of a run on data with an official test set when only the test files are on disk; eval's --set and
Run.evaluate's arguments named as such in config errors; a damaged best.pt or last.pt of a run pointing to
its other checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from fixtures import MNIST_FILES, write_mnist
from vislab.training.trainer import train

TRAIN_FILES = [f"{stem}.gz" for stem in MNIST_FILES["train"]]
TEST_FILES = [f"{stem}.gz" for stem in MNIST_FILES["test"]]


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory) -> dict[str, Path]:
    """A tiny MLP run on MNIST-named files (100 train, 40 test images; data.limit_eval=20: its test split
    is 20 of the official test set) whose own data.root has lost its train files since; ``full``: a copy of
    all the files, ``t10k``: of the test files only."""
    folder = tmp_path_factory.mktemp("mnist-run")
    full, own, t10k = folder / "full", folder / "own", folder / "t10k"
    write_mnist(full, n_train=100, n_test=40)
    shutil.copytree(full, own)
    t10k.mkdir()
    for name in TEST_FILES:
        shutil.copy(full / name, t10k / name)
    sets = ["data.limit=null", "data.limit_eval=20", "train.batch_size=30"]
    cfg = tiny_config("data.name=mnist", f"data.root={own}", *sets)
    train(cfg, folder / "run", quiet=True)
    for name in TRAIN_FILES:
        (own / name).unlink()
    return {"run": folder / "run", "full": full, "t10k": t10k}


def _scores(text: str) -> str:
    """eval's first line: the split, its accuracies and how many samples were scored."""
    return next(line for line in text.splitlines() if " acc " in line)


def test_test_split_is_scored_from_the_test_files_alone(mnist_run, capsys, tmp_path):
    run, out = mnist_run["run"], ["--out", tmp_path]
    code, whole = cli(
        capsys, "eval", run, "--set", f"data.root={mnist_run['full']}", *out, "--force"
    )
    assert code == 0, whole
    want = _scores(whole)
    assert want.endswith("n=20")
    # the run's own data.root without its train files; another folder of the test files only
    code, text = cli(capsys, "eval", run, "--split", "test", *out, "--force")
    assert code == 0, text
    assert _scores(text) == want
    assert "note:" not in text  # the test set is as the run recorded it
    code, text = cli(capsys, "eval", run, "--set", f"data.root={mnist_run['t10k']}", *out)
    assert code == 0, text
    assert _scores(text) == want
    assert vislab.load_run(run).evaluate(data__root=str(mnist_run["t10k"]))["n"] == 20


def test_split_all_of_the_test_set_alone_needs_no_split_sizes(mnist_run, capsys, tmp_path):
    sets = ["--set", f"data.root={mnist_run['t10k']}", "--set", "data.use=[test]"]
    code, text = cli(capsys, "eval", mnist_run["run"], "--split", "all", *sets, "--out", tmp_path)
    assert code == 0, text
    assert _scores(text).endswith("n=40")  # every sample of the official test file
    run = vislab.load_run(mnist_run["run"])
    assert run.evaluate("all", data__root=str(mnist_run["t10k"]), data__use=["test"])["n"] == 40


def test_other_splits_without_train_files_point_to_eval_not_training(mnist_run, capsys):
    run, t10k = mnist_run["run"], f"data.root={mnist_run['t10k']}"
    code, text = cli(capsys, "eval", run, "--split", "val", "--set", t10k)
    message = one_line(text)
    assert code == 2
    assert "missing train-images-idx3-ubyte.gz" in message
    assert f"vislab eval {run} --split test --set {t10k}" in message
    assert "train on its" not in message and "data.split" not in message
    code, text = cli(
        capsys, "eval", run, "--split", "val", "--set", t10k, "--set", "data.use=[test]"
    )
    message = one_line(text)
    assert code == 2
    assert "loads no train set" in message and "--split test" in message
    assert "data.split" not in message


@pytest.mark.parametrize("setting", ["data.nme=x", "data.limit_eval=abc"])
@pytest.mark.parametrize("split", ["test", "all"])
def test_eval_setting_mistakes_name_set(trained, capsys, setting, split):
    code, text = cli(capsys, "eval", trained, "--split", split, "--set", setting)
    assert code == 2
    assert "Invalid config (--set)" in text and "checkpoint config" not in text


def test_evaluate_argument_mistakes_name_its_arguments(trained):
    run = vislab.load_run(trained)
    for split in ("test", "all"):
        with pytest.raises(vislab.errors.ConfigError, match=r"\(Run.evaluate arguments\)"):
            run.evaluate(split, data__nme="x")


def _damaged(trained: Path, folder: Path, which: str) -> Path:
    """A copy of run ``trained`` whose checkpoints/``which`` is cut short."""
    run = folder / f"damaged-{which.removesuffix('.pt')}"
    shutil.copytree(trained, run)
    path = run / "checkpoints" / which
    path.write_bytes(path.read_bytes()[:5000])
    return run


def test_damaged_best_points_to_last(trained, capsys, tmp_path, digit_png):
    run = _damaged(trained, tmp_path, "best.pt")
    for args in (["eval", run], ["predict", run, digit_png], ["eval", run / "checkpoints/best.pt"]):
        code, text = cli(capsys, *args)
        assert code == 2
        assert "--checkpoint last" in one_line(text), text
        assert "from a vislab run directory" not in text
    with pytest.raises(vislab.errors.DataError, match="checkpoint='last'"):
        vislab.load_run(run).evaluate()
    code, text = cli(capsys, "eval", run, "--checkpoint", "last")  # the fix named works
    assert code == 0, text
    lone = tmp_path / "model.pt"  # a file of no run: no run's checkpoint to name
    shutil.copy(run / "checkpoints" / "best.pt", lone)
    code, text = cli(capsys, "eval", lone)
    assert code == 2
    assert "Use best.pt/last.pt from a vislab run directory." in one_line(text)


def test_damaged_last_points_to_best(trained, capsys, tmp_path):
    run = _damaged(trained, tmp_path, "last.pt")
    code, text = cli(capsys, "eval", run, "--checkpoint", "last")
    message = one_line(text)
    assert code == 2
    assert "checkpoints/best.pt" in message and "without --checkpoint last" in message
    assert "from a vislab run directory" not in message
    (run / "checkpoints" / "best.pt").unlink()  # neither left: train it again
    code, text = cli(capsys, "eval", run)
    assert code == 2
    assert f"vislab train --config {run / 'config.yaml'}" in one_line(text)
