"""`vislab suite ... --dry-run` (``vislab.run_suite(..., dry_run=True)``): before an hour of training, what
each run would do — start, already complete, retrain, refused — its model and the settings it changes;
checked as a real run checks it (the same errors, exit 2), trained and written nothing."""

from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from vislab.errors import ConfigError, UserError

BASE = tiny_base()
THREE = {"mlp": {}, "mlp-fast": {"optim.lr": 0.1}, "cnn": {"model.name": "cnn"}}


def write_suite(path: Path, runs: dict) -> Path:
    path.write_text(yaml.safe_dump({"base": BASE, "runs": runs}, sort_keys=False))
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every file under ``folder`` with its size and modification time, and every folder (a folder's own
    time changes as a run checks that it can write there: a probe file, made and deleted)."""
    return {
        str(p): None if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """(suite file, its folder): the suite ``s`` run when it had its first run alone (mlp, trained), then
    given the other two (not trained yet)."""
    root = tmp_path_factory.mktemp("dry-run")
    spec, out = write_suite(root / "s.yaml", {"mlp": {}}), root / "out"
    vislab.run_suite(spec, out=out, quiet=True)
    return write_suite(spec, THREE), out


def plan_lines(text: str) -> dict[str, str]:
    """The dry run's line of each run: run name → the rest of its line."""
    found = [line.strip().split(": ", 1) for line in text.splitlines() if line.startswith("  ")]
    return {parts[0]: parts[1] for parts in found if len(parts) == 2}


def test_dry_run_says_each_run_starts_with_its_model_and_settings_and_writes_nothing(
    tmp_path, capsys, train_spy
):
    spec, out = write_suite(tmp_path / "s.yaml", THREE), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    assert code == 0, text
    assert "suite s: 3 runs, 1 epoch each" in text
    lines = plan_lines(text)
    assert list(lines) == ["mlp", "mlp-fast", "cnn"]
    assert all(line.startswith("start — model ") for line in lines.values()), lines
    assert "model mlp" in lines["mlp"] and "model cnn" in lines["cnn"]
    # the settings the runs differ in, as results.md's columns will show them (at most 4 differ: each
    # run's value, vislab's default too); what all share is not said
    assert "optim.lr=0.001" in lines["mlp"] and "optim.lr=0.1" in lines["mlp-fast"]
    assert "model.hidden=[16]" in lines["mlp"] and "model.hidden" not in lines["cnn"]
    assert "data.limit" not in text and "train.epochs" not in text
    assert "3 to start; nothing was trained or written" in text
    assert train_spy == [] and not out.exists()


def test_dry_run_after_a_run_says_it_is_complete_and_what_other_epochs_or_sets_would_do(
    finished, capsys, train_spy
):
    spec, out = finished
    before = snapshot(out)
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    assert code == 0, text
    lines = plan_lines(text)
    assert lines["mlp"].startswith("already complete, skipped — model mlp")
    assert lines["mlp-fast"].startswith("start") and lines["cnn"].startswith("start")
    assert "2 to start, 1 already complete" in text

    # another --epochs: the run trained for 1 is retrained (and kept beside), as a real run would
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run", "--epochs", "2")
    assert code == 0, text
    assert one_line(plan_lines(text)["mlp"]).startswith(
        "retrain (its folder holds it trained for train.epochs=1, not 2"
    )
    # another --set: refused, in the words (and exit code) of the real run, which trains nothing either
    args = ["suite", spec, "--out", out, "--set", "optim.lr=0.5"]
    dry_code, dry = cli(capsys, *args, "--dry-run")
    real_code, real = cli(capsys, *args)
    assert dry_code == real_code == 2
    assert "with a different config" in dry and error_of(dry) == error_of(real)
    assert train_spy == [] and snapshot(out) == before


def test_dry_run_of_more_seeds_says_the_run_trained_before_is_seed_zero(finished, capsys):
    spec, out = finished
    before = snapshot(out)
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run", "--seeds", "2")
    assert code == 0, text
    assert "3 runs × 2 seeds" in text
    lines = plan_lines(text)
    assert list(lines) == ["mlp-s0", "mlp-s1", "mlp-fast-s0", "mlp-fast-s1", "cnn-s0", "cnn-s1"]
    assert lines["mlp-s0"].startswith("already complete, skipped (moved from")
    assert lines["mlp-s1"].startswith("start")
    assert snapshot(out) == before  # nothing moved


def error_of(text: str) -> str:
    """The error a command printed (from ``error:`` on), on one line."""
    _, said, rest = text.partition("error:")
    return one_line(said + rest)


def _file_as_out(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "out"


def _folder_of_other_files(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("mine")
    return tmp_path / "project"


MISTAKES = {  # what a real run refuses before training: suite file (runs, or its text), --set, --out; said
    "bad key": ({**THREE, "mlp-fast": {"optim.lrr": 0.1}}, [], None, "unknown config key 'optim.lrr'"),
    "bad model option": (
        {**THREE, "cnn": {"model.name": "cnn", "model.widht": 8}}, [], None, "'model.widht'"
    ),
    "duplicate run": (
        "base: {}\nruns:\n  mlp: {}\n  mlp: {optim.lr: 0.1}\n", [], None, "'mlp' a second time"
    ),
    "bad value": (THREE, ["--set", "optim.lr=fast"], None, "'optim.lr' = 'fast' is invalid"),
    "unwritable out": (THREE, [], _file_as_out, "is a file, not a folder"),
    "folder of other files": (THREE, [], _folder_of_other_files, "holds files that are not"),
}  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES)
def test_dry_run_refuses_what_a_run_refuses_with_its_message_and_exit_code(
    mistake, tmp_path, capsys, train_spy
):
    runs, sets, make_out, said = MISTAKES[mistake]
    spec = tmp_path / "s.yaml"
    spec.write_text(runs) if isinstance(runs, str) else write_suite(spec, runs)
    out = make_out(tmp_path) if make_out else tmp_path / "out"
    args = ["suite", spec, "--out", out, *sets]
    dry_code, dry = cli(capsys, *args, "--dry-run")
    real_code, real = cli(capsys, *args)
    assert dry_code == real_code == 2, dry
    assert said in error_of(dry) and error_of(dry) == error_of(real)
    assert "(dry run)" not in dry and train_spy == []


def test_python_api_dry_run_returns_the_plan_the_command_prints(finished, capsys, train_spy):
    spec, out = finished
    before = snapshot(out)
    plan = vislab.run_suite(spec, out=out, dry_run=True)
    assert capsys.readouterr() == ("", "")  # in a script: quiet, as a real run
    assert list(plan["run"]) == ["mlp", "mlp-fast", "cnn"]
    assert list(plan["action"]) == ["done", "start", "start"]
    assert list(plan["model"]) == ["mlp", "mlp", "cnn"] and list(plan["epochs"]) == [1, 1, 1]
    assert list(plan["optim.lr"]) == [0.001, 0.1, 0.001]
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    lines = plan_lines(text)
    assert [lines[r].split(" — ")[0] for r in plan["run"]] == list(plan["what"])
    assert train_spy == [] and snapshot(out) == before

    # its mistakes are a real run's: the same errors, raised before anything is written
    with pytest.raises(ConfigError, match="optim.lrr"):
        vislab.run_suite(spec, out=out, dry_run=True, optim__lrr=0.1)
    with pytest.raises(UserError, match="with a different config"):
        vislab.run_suite(spec, out=out, dry_run=True, optim__lr=0.5)
    with pytest.raises(UserError, match="a dry run says what each run would do"):
        vislab.run_suite(spec, out=out, dry_run=True, overwrite=True)  # it would delete the runs
    assert snapshot(out) == before
