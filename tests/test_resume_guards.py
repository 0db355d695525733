"""What ``--resume`` refuses, and what an interrupted run's summary.json says it kept.

- A run goes on with as many processes as trained it (last.pt records them): with another number each
  step's batch and each process's share of the epoch change, so the run would not end as it began.
  last.pt files from before vislab recorded the number resume as they did.
- A sweep's pruned trial is not resumed: its config starts a new run.
- An interrupted run's summary.json (``epochs_run``, ``step``) says where its last.pt is: a data-parallel
  run keeps the last epoch end's, whatever step the signal came at.
"""

from __future__ import annotations

import json

import pytest
import torch

import vislab.training.parts as parts_mod
from conftest import cli, one_line, tiny_config
from test_resume import sigterm_at_step
from vislab.errors import TrainingInterrupted, UserError
from vislab.training.checkpoint import load_checkpoint, weights_at
from vislab.training.launch import check_launchable
from vislab.training.resume import open_resume
from vislab.training.rundir import RunDir
from vislab.training.runtime import Distributed
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

NO_FIGURES = "train.figures=false"


class TwoRanksAsOne(Distributed):
    """Rank 0 of a data-parallel run of 2 processes, alone: its collectives return its own values (what
    rank 0 computes and saves is what it would with a peer; only the sums it would add are missing)."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.world = 2

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def sync_buffers(self, model: torch.nn.Module) -> None:
        pass

    def from_main(self, obj):
        return obj

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory):
    """A finished 1-epoch run trained by one process (its last.pt says so)."""
    run = tmp_path_factory.mktemp("one") / "run"
    train(tiny_config("train.epochs=1", NO_FIGURES), run, quiet=True)
    return run


def test_last_pt_records_the_processes_that_trained_it(one_process_run):
    assert load_checkpoint(one_process_run / "checkpoints" / "last.pt").resume.world == 1


def test_a_data_parallel_run_stopped_mid_epoch_says_it_kept_the_epoch_end_and_resumes_with_as_many(
    tmp_path, monkeypatch, capsys
):
    """Rank 0 of 2 stopped by a SIGTERM at the 2nd step of epoch 2: last.pt is the end of epoch 1, and
    summary.json says so (not the step the signal came at). Resumed by one process: refused (exit 2),
    naming both counts and the commands that resume it with 2; nothing is trained."""
    run = tmp_path / "run"
    cfg = tiny_config("train.epochs=3", NO_FIGURES)
    steps = len(parts_mod.build_parts(cfg, torch.device("cpu"), TwoRanksAsOne())[0].train)
    with (
        sigterm_at_step(monkeypatch, lambda per_epoch: steps + 1),
        pytest.raises(TrainingInterrupted, match="resume from the end of epoch 1"),
    ):
        train(cfg, run, quiet=True, dist=TwoRanksAsOne())
    summary = json.loads((run / "summary.json").read_text())
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert weights_at(last) == (1, None)
    assert (summary["status"], summary["epochs_run"], summary["step"]) == ("interrupted", 1, 0)
    assert last.resume.world == 2

    code, text = cli(capsys, "train", "-q", "--resume", run)
    flat = one_line(text)
    assert code == 2, text
    assert f"cannot resume '{run}' with one process: it trained with 2 processes" in flat, flat
    assert f"vislab train --resume {run} --nproc 2" in flat, flat
    assert f"torchrun --nproc-per-node 2 -m vislab train --resume {run}" in flat, flat
    assert json.loads((run / "summary.json").read_text()) == summary  # nothing trained


def test_a_one_process_run_is_not_resumed_by_two(one_process_run, monkeypatch):
    """Under torchrun (WORLD_SIZE=2) or ``--nproc 2`` (checked once, before any worker starts): refused,
    naming the one-process resume in the command's and the API's words."""
    run = one_process_run
    one = f"vislab train --resume {run} (no --nproc) / vislab.train(out={str(run)!r}, resume=True)"
    with monkeypatch.context() as env:
        env.setenv("WORLD_SIZE", "2")
        with pytest.raises(UserError, match="with 2 processes: it trained with one process") as e:
            open_resume(RunDir(run))
    assert one in str(e.value)
    with pytest.raises(UserError, match="with 2 processes: it trained with one process"):
        check_launchable(None, run, nproc=2)


def test_resume_with_nproc_is_refused_before_any_process_starts(
    one_process_run, monkeypatch, capsys
):
    import vislab.training.launch as launch

    started = []
    monkeypatch.setattr(launch, "launch_torchrun", lambda *a: started.append(a) or 0)
    code, text = cli(capsys, "train", "--resume", one_process_run, "--nproc", "2")
    assert code == 2 and not started, text
    assert "with 2 processes: it trained with one process" in one_line(text)


def test_a_last_pt_from_before_the_count_was_recorded_resumes_as_before(one_process_run, tmp_path):
    old = tmp_path / "old"
    (old / "checkpoints").mkdir(parents=True)
    (old / "config.yaml").write_text((one_process_run / "config.yaml").read_text())
    saved = load_checkpoint(one_process_run / "checkpoints" / "last.pt").to_dict()
    del saved["world_size"]
    torch.save(saved, old / "checkpoints" / "last.pt")
    assert open_resume(RunDir(old), world=2).resume.world is None


def test_a_pruned_sweep_trial_is_not_resumed_and_its_config_starts_a_new_run(tmp_path, capsys):
    """A trial the sweep's pruner stopped after epoch 1 (of 3): ``--resume`` is refused (exit 2), saying
    so and naming the command that trains its config as a new run; that command works."""

    class Pruned(Exception):
        pass

    class PruneAfterEpoch1:
        def on_epoch_end(self, row):
            raise Pruned

        def close(self):
            pass

    trial = tmp_path / "trials" / "0"
    with pytest.raises(Pruned):
        train(
            tiny_config("train.epochs=3", NO_FIGURES),
            trial,
            quiet=True,
            callbacks=[PruneAfterEpoch1()],
        )
    # as the sweep's objective writes it
    pruned = RunSummary(status="pruned", run="0", message="pruned after epoch 1")
    RunDir(trial).write_summary(pruned)

    code, text = cli(capsys, "train", "-q", "--resume", trial)
    flat = one_line(text)
    assert code == 2, text
    assert "is a sweep trial that the sweep's pruner stopped after epoch 1" in flat, flat
    new = tmp_path / "new"
    fix = f"vislab train --config {trial / 'config.yaml'} --out NEW"
    assert fix in flat, flat
    assert json.loads((trial / "summary.json").read_text())["status"] == "pruned"

    code, text = cli(capsys, "train", "-q", *fix.replace("NEW", str(new)).split()[2:])
    assert code == 0, text
    assert json.loads((new / "summary.json").read_text())["epochs_run"] == 3


def test_resuming_a_complete_run_says_so_and_rewrites_nothing(one_process_run, capsys):
    """`vislab train --resume RUN` of a finished run (or with --epochs it already has): nothing trained,
    nothing scored again, every record byte for byte as it was (its test time was measured anew)."""
    records = ("summary.json", "metrics.jsonl", "config.yaml", "checkpoints/last.pt")
    before = {f: (one_process_run / f).read_bytes() for f in records}
    for more in ([], ["--epochs", "1"]):
        code, text = cli(capsys, "train", "--resume", one_process_run, *more)
        assert code == 0, text
        said = one_line(text)
        assert (
            f"nothing left to train: '{one_process_run}' is complete (1 of 1 epochs trained)"
            in said
        )
        assert f"`vislab eval {one_process_run}`" in said and "done (" not in said
        assert {f: (one_process_run / f).read_bytes() for f in records} == before


def test_a_hand_edited_config_yaml_is_named_on_resume(tmp_path, capsys):
    """optim.lr edited in config.yaml, then --resume: the resume trains by last.pt's config (as it always
    did) and says which edits it drops and how to train with them; an unedited run says nothing."""
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", NO_FIGURES), run, quiet=True)
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 0 and "was edited" not in text, text
    saved = run / "config.yaml"
    lr = load_checkpoint(run / "checkpoints" / "last.pt").record.config["optim"]["lr"]
    saved.write_text(saved.read_text().replace(f"  lr: {lr}\n", "  lr: 0.5\n"))
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "3")
    said = one_line(text)
    assert code == 0, text
    assert f"'{saved}' was edited since the run wrote it (optim.lr: {lr} → 0.5)" in said, said
    assert f"--init-from {run}" in said
    assert f"  lr: {lr}\n" in saved.read_text()  # written again from last.pt
    kept = json.loads((run / "summary.json").read_text())[
        "notes_given"
    ]  # and the run keeps the note
    assert [n for n in kept if n.startswith(f"'{saved}' was edited since")], kept
