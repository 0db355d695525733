"""Interruptions: SIGTERM / SIGINT / SIGKILL at random moments (start-up, epochs, checkpoint writes, the final
evaluation), then ``--resume`` until the run completes, ends with the same metrics and weights as a run that was
never interrupted.

Decisions documented here:
- ``vislab train --resume D`` where D has no checkpoints/last.pt (a run killed before its first checkpoint) says
  "nothing to resume" and exits 2; the user (and the harness below) starts it again with ``--out D`` and no
  ``--resume``, which is allowed because D holds no checkpoint. ``--resume`` never silently starts a new run.
- ``kill -9`` at any moment leaves at worst the previous complete checkpoint: every file is written to a temp
  file that is renamed over the old one; the temp file of a killed writer is ignored, and deleted by the next
  process that takes the run directory's lock. A lock whose pid is dead is stale and taken over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import vislab.training.optim as optim_mod
from conftest import one_line, tiny_config
from fixtures import EPOCHS, KILL_ARGS, Zygote
from vislab.errors import TrainingInterrupted
from vislab.training.checkpoint import load_checkpoint
from vislab.training.trainer import train

# the kill/resume runs: KILL_ARGS on 600 of digits' 1,455 training images, in 40 % of the time; still 150 steps
# of 4 images an epoch, so that most random moments fall mid-epoch (the signal handler finishes the step, saves)
RUN_ARGS = [*KILL_ARGS, "--set", "data.limit=600"]
# the in-process runs skip their figures/, which no test here looks at (the kill/resume runs draw theirs: a
# signal may land while they are drawn, after the summary is written)
NO_FIGURES = "train.figures=false"


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


PY = sys.executable
RESULT_KEYS = [
    "val_acc",
    "val_pacc",
    "val_loss",
    "test_acc",
    "test_pacc",
    "test_loss",
    "test_auc",
    "best_epoch",
    "epochs_run",
    "params",
    "n_train",
    "n_val",
    "n_test",
]


def weights_hash(path: Path) -> str:
    sd = raw_checkpoint(path)["state_dict"]
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def sigterm_at_step(monkeypatch, step_of: Callable[[int], int]) -> Iterator[None]:
    """Within: a SIGTERM, once, as the trainer asks the learning rate of optimizer step
    ``step_of(steps_per_epoch)`` (the step then runs, and the loop stops after it)."""
    real, sent = optim_mod.lr_factor, []

    def lr_factor(cfg, step, steps_per_epoch, *a):
        if step == step_of(steps_per_epoch) and not sent:
            sent.append(step)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(cfg, step, steps_per_epoch, *a)

    monkeypatch.setattr(optim_mod, "lr_factor", lr_factor)
    try:
        yield
    finally:
        monkeypatch.setattr(optim_mod, "lr_factor", real)


def run_result(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return dict(
        {k: summary[k] for k in RESULT_KEYS},
        status=summary["status"],
        rows=[{k: v for k, v in r.items() if k != "seconds"} for r in rows],
        best=weights_hash(run / "checkpoints" / "best.pt"),
        last=weights_hash(run / "checkpoints" / "last.pt"),
    )


# inside a child: the 2nd end-of-epoch last.pt is half written when the process stops (to be SIGKILLed there)
HALF_WRITE = textwrap.dedent("""
    import io, time, torch
    import vislab.training.saving as resume
    from vislab.files import atomic_write
    _save_checkpoint = resume.save_checkpoint
    def save_checkpoint(path, payload):  # the second last.pt (state: epoch 2, step 0): half of it, then hang
        loop = payload.resume.loop if payload.resume else None
        if path.name == "last.pt" and loop and loop.epoch == 2 and loop.step == 0:
            buf = io.BytesIO()
            torch.save(payload.to_dict(), buf)
            def half(f):
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                open(MARK, "w").close()
                time.sleep(300)
            return atomic_write(path, half)
        return _save_checkpoint(path, payload)
    resume.save_checkpoint = save_checkpoint
""")


def _one_attempt(
    zygote: Zygote, run: Path, log: Path, sig: int | None, delay: float | None, pre: str = ""
) -> int:
    """Start (or resume) the run; unless it ends first, send ``sig`` after ``delay`` s (None: once the run's
    first last.pt is written, at the end of epoch 1). Returns the exit code."""
    resume = (run / "checkpoints" / "last.pt").is_file()
    # killed before its first checkpoint: --resume says so, then start again
    if not resume and run.exists():
        pid = zygote.start(["train", "--resume", run, "-q"], log)
        assert zygote.wait(pid, 60) == 2 and "nothing to resume" in log.read_text()
    argv = [*RUN_ARGS, "--resume", run] if resume else [*RUN_ARGS, "--out", run]
    pid = zygote.start(argv, log, pre)
    code = None
    if sig is not None and delay is None:
        while code is None and not (run / "checkpoints" / "last.pt").is_file():
            code = zygote.wait(pid, 0.01)
    elif sig is not None:
        code = zygote.wait(pid, delay)
    if sig is not None and code is None:
        os.kill(pid, sig)
    if code is None:
        code = zygote.wait(pid, 120)
    assert code is not None, "the run did not end"
    text = log.read_text() if log.exists() else ""  # (killed before it opened its log)
    assert "Traceback" not in text, text
    if code == 130 and "Resume with" in text:  # the signal handler finished the step and saved
        assert f"vislab train --resume {run}" in one_line(text), text
        assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
        assert raw_checkpoint(run / "checkpoints" / "last.pt")["state"]["step"] > 0
    else:
        # 0: done (the signal came too late); -N: killed before the handler was installed, or SIGKILL;
        # 130 + "interrupted.": SIGINT before training (nothing to save)
        assert code in (0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL) or (
            code == 130 and "interrupted" in text
        ), (code, text)
    return code


@pytest.mark.slow  # ~15-30 s: five runs killed and resumed, and a reference run
def test_killed_runs_resume_to_the_same_result(tmp_path, zygote):
    """SIGTERM / SIGINT / SIGKILL at random moments (and SIGTERM once in epoch 2), then --resume (again until it
    completes): the same summary metrics, metrics.jsonl rows and final weights as a run that was never
    interrupted (a real `python -m vislab`)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ref_proc = subprocess.Popen(
        [PY, "-m", "vislab", *RUN_ARGS, "--out", tmp_path / "ref"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    t0 = time.monotonic()

    # kill -9 in the middle of writing a checkpoint: the previous last.pt stays whole, the temp file is ignored
    run, log = tmp_path / "half-write", tmp_path / "half-write.log"
    mark = tmp_path / "half-write.mark"
    pid = zygote.start([*RUN_ARGS, "--out", run], log, pre=f"MARK = {str(mark)!r}\n" + HALF_WRITE)
    started = time.monotonic()
    while not mark.exists():
        assert zygote.wait(pid, 0.02) is None, log.read_text()
    two_epochs = time.monotonic() - started
    os.kill(pid, signal.SIGKILL)
    assert zygote.wait(pid, 30) == -signal.SIGKILL
    assert [p.name for p in (run / "checkpoints").glob(".last.pt.*.tmp")], (
        "no half-written temp file"
    )
    # the previous checkpoint
    assert raw_checkpoint(run / "checkpoints" / "last.pt")["state"]["epoch"] == 1
    assert (run / ".lock").read_text().split()[0] == str(pid)  # a stale lock: its process is dead
    assert _one_attempt(zygote, run, log, None, 0) == 0
    assert not list((run / "checkpoints").glob(".*.tmp")) and not (run / ".lock").exists()
    results = {"half-write": run_result(run)}

    # random moments over the whole run (start-up, epochs, checkpoint writes, the final evaluation):
    # 2 trials with SIGTERM/SIGINT (the handler saves), 2 with SIGKILL; up to 2 kills each, then to completion.
    # SIGTERM's second comes in epoch 2 (after epoch 1's checkpoint), whatever the machine's speed: the
    # handler's path is taken in every run of the test, not in most.
    span = two_epochs / 2 * (EPOCHS + 0.5)
    rng = random.Random(20240611)
    trials = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGKILL]
    codes: dict[str, list[int]] = {}
    for i, sig in enumerate(trials):
        name = f"{i}-{sig.name}"
        run, log = tmp_path / name, tmp_path / f"{name}.log"
        codes[name] = []
        for k in range(2):
            # at once (before the signal handler and any checkpoint exist), then in epoch 2 / mid-training
            if i == 0:
                delay = 0.0 if k == 0 else None
            elif i == 2:
                delay = 0.0 if k == 0 else rng.uniform(0.1, 0.6) * span
            else:  # mid-training, then anywhere
                delay = rng.uniform(0.1, 0.6) * span if k == 0 else rng.uniform(0.0, span)
            codes[name].append(_one_attempt(zygote, run, log, sig, delay))
            if codes[name][-1] == 0:
                break
        while codes[name][-1] != 0:
            codes[name].append(_one_attempt(zygote, run, log, None, 0))
        results[name] = run_result(run)

    out, _ = ref_proc.communicate(timeout=120)
    assert ref_proc.returncode == 0 and "Traceback" not in out, out
    ref = run_result(tmp_path / "ref")
    assert ref["status"] == "complete" and ref["epochs_run"] == EPOCHS
    for name, got in results.items():
        assert got == ref, (name, codes.get(name))
    handled = [c for i in (0, 1) for c in codes[f"{i}-{trials[i].name}"]]
    # the signal handler's path (finish the step, save, exit 130) was taken
    assert 130 in handled, codes
    assert any(-signal.SIGKILL in codes[f"{i}-SIGKILL"] for i in (2, 3)), codes
    print(
        f"kill/resume exit codes per trial: {codes}; kill moments in [0, {span:.1f}] s; "
        f"{time.monotonic() - t0:.1f} s"
    )


def test_signal_at_the_last_step_of_an_epoch_resumes_exactly(tmp_path, monkeypatch):
    """A signal handled at an epoch's final step saves position 'end of epoch, before its evaluation'."""
    over = (
        "train.epochs=1",
        "optim.name=sgd",
        "optim.lr=0.05",
        "optim.momentum=0.9",
        "model.dropout=0.2",
        NO_FIGURES,
    )
    ref = train(tiny_config(*over), tmp_path / "ref", quiet=True).to_json()
    with (
        sigterm_at_step(monkeypatch, lambda n: n - 1),
        # the command, and for a notebook's run the Python call
        pytest.raises(
            TrainingInterrupted,
            match=r"--resume \S+cut \(Python: vislab\.train\(out='\S+cut', resume=True\)\)",
        ),
    ):
        train(tiny_config(*over), tmp_path / "cut", quiet=True)
    state = raw_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["state"]
    assert state["epoch"] == 0 and state["step"] > 0
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")


class _RaisesSigintWhenDropped:
    # a finaliser: Python prints "Exception ignored" for what it raises, and goes on
    def __del__(self):
        signal.raise_signal(signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_before_training_still_stops_the_run_resumably(tmp_path):
    """An early Ctrl-C that lands in a finaliser (seen as "Exception ignored ... KeyboardInterrupt") while
    the command starts: the run stops at its first step, saved, and resumes to the uninterrupted result."""
    from vislab.interrupts import watch_ctrl_c

    cfg = tiny_config(NO_FIGURES)
    ref = train(cfg, tmp_path / "ref", quiet=True).to_json()
    with watch_ctrl_c():  # what `vislab ...` installs first
        _RaisesSigintWhenDropped()  # dropped at once: the KeyboardInterrupt goes nowhere
        with pytest.raises(TrainingInterrupted, match="--resume"):
            train(cfg, tmp_path / "cut", quiet=True)
        assert train(cfg, tmp_path / "other", quiet=True).to_json()["status"] == "complete"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back on the way out
    state = raw_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["state"]
    assert (state["epoch"], state["step"]) == (0, 1)
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}


def test_a_suite_worker_remembers_a_ctrl_c_that_came_while_its_run_set_up(tmp_path):
    """A suite's worker process (--jobs N) raises nothing on Ctrl-C (the parent stops the pool), but a run
    still setting up when it came stops at its first step, resumably, instead of training to its end."""
    from vislab.interrupts import remember_ctrl_c

    before = signal.getsignal(signal.SIGINT)
    try:
        remember_ctrl_c()  # as a --jobs worker does once started (suites/jobs.py)
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt: the worker goes on
        with pytest.raises(TrainingInterrupted, match="--resume"):
            train(tiny_config(), tmp_path / "cut", quiet=True)
    finally:
        signal.signal(signal.SIGINT, before)
    state = raw_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["state"]
    assert (state["epoch"], state["step"]) == (0, 1)


# ------------------------------------------------------------- resuming after a failure, or on other data
EVAL_NET = """
import torch.nn as nn

BROKEN = {broken}


class Net(nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, num_classes)
        )

    def forward(self, x):
        if BROKEN and not self.training and x.abs().sum() > 0:  # real images, not the dummy batch
            raise RuntimeError("eval mode is broken")
        return self.body(x)
"""


def test_a_run_whose_evaluation_raised_resumes_to_the_uninterrupted_result(
    tmp_path, monkeypatch, capsys
):
    """Your model raises in the evaluation after epoch 1: its training is saved (last.pt after the
    epoch's last step); fixed, the run resumes with the command the message gives, evaluates epoch 1
    and ends with the same metrics, step losses and weights as a run that never failed."""
    import re  # (imports here: the ones above this section stay as they were)

    from conftest import tiny_sets
    from vislab.cli import main

    monkeypatch.chdir(tmp_path)
    net = tmp_path / "net.py"
    sets = tiny_sets(
        "model.name=net.py:Net", "train.epochs=2", "optim.name=sgd", "optim.momentum=0.9",
        "train.log_every=2", NO_FIGURES, drop="model.hidden=[32]",
    )  # fmt: skip
    net.write_text(EVAL_NET.format(broken=True))
    assert main(["train", "-q", "--out", "cut", *sets]) == 2
    text = one_line(capsys.readouterr().err)
    assert "your code raised RuntimeError in the evaluation after training epoch 1" in text, text
    command = re.search(r"resume with: vislab (train --resume cut --trust-code)", text)
    assert command, text
    net.write_text(EVAL_NET.format(broken=False))
    assert main(["train", "-q", "--out", "ref", *sets]) == 0
    assert main(command.group(1).split()) == 0, capsys.readouterr()
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")
    steps = [(tmp_path / r / "steps.jsonl").read_text() for r in ("cut", "ref")]
    assert steps[0] == steps[1] and steps[0]


def test_resuming_on_changed_data_is_refused_naming_the_change(tmp_path, monkeypatch, capsys):
    """An image folder's run stopped in epoch 2; then a class folder is added (the model has one output
    per class it started with), or images are removed (it would go on silently on fewer): exit 2 naming
    the change and the fix. With the data restored, it resumes."""
    import re  # (imports here: the ones above this section stay as they were)
    import shutil

    from conftest import cli
    from fixtures import write_image_folder

    root = tmp_path / "images"
    write_image_folder(root / "train", per_class=12)
    write_image_folder(root / "test", per_class=3, seed=1)
    over = (
        "data.name=folder",
        f"data.root={root}",
        "data.image_size=8",
        "train.batch_size=4",
        NO_FIGURES,
    )
    run = tmp_path / "run"
    with (
        sigterm_at_step(monkeypatch, lambda n: n + 1),
        pytest.raises(TrainingInterrupted, match="--resume"),
    ):
        train(tiny_config(*over), run, quiet=True)

    for split in ("train", "test"):
        write_image_folder(root / split, classes=("bird",), per_class=3)
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 2, text
    text = one_line(text)
    assert "is not what this run started on: class added: bird" in text, text
    assert "restore that data and resume, or start a new run" in text, text

    for split in ("train", "test"):
        shutil.rmtree(root / split / "bird")
    kept = tmp_path / "kept"
    kept.mkdir()
    for image in sorted((root / "train" / "cat").iterdir())[:4]:
        image.rename(kept / image.name)
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 2, text
    assert re.search(r"train 32 → \d+ samples", one_line(text)), text

    for image in kept.iterdir():
        image.rename(root / "train" / "cat" / image.name)
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 0, text
    assert json.loads((run / "summary.json").read_text())["status"] == "complete"


def test_resume_with_another_train_epochs_names_the_epochs_option(capsys, trained):
    """``--set train.epochs=3`` on --resume is refused (it would change the run), naming ``--epochs 3``,
    which trains the resumed run on."""
    from conftest import cli

    code, text = cli(capsys, "train", "-q", "--resume", trained, "--set", "train.epochs=3")
    assert code == 2, text
    assert f"give --epochs instead: vislab train --resume {trained} --epochs 3" in one_line(text)
    code, text = cli(capsys, "train", "-q", "--resume", trained, "--epochs", "3")
    assert code == 0, text
    assert json.loads((trained / "summary.json").read_text())["epochs_run"] == 3


# train.min_delta=1: val_pacc can never improve by 1, so train.early_stop=1 stops the run after epoch 2 of 4
EARLY = ("train.epochs=4", "train.early_stop=1", "train.min_delta=1", "train.figures=false")


def test_resuming_an_early_stopped_run_trains_nothing_and_says_so(tmp_path, capsys):
    """A run that stopped early is over: ``--resume`` trains no epoch past the stop (its metrics, best
    epoch and best.pt stay), says when it stopped, and its last row told the callbacks it was the last."""
    from conftest import cli

    run = tmp_path / "run"
    train(tiny_config(*EARLY), run, quiet=True)
    before = json.loads((run / "summary.json").read_text())
    assert before["epochs_run"] == 2
    best = weights_hash(run / "checkpoints" / "best.pt")
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 0, text
    assert (
        f"nothing left to train: '{run}' is complete (it stopped early after epoch 2"
        in one_line(text)
    ), text
    after = json.loads((run / "summary.json").read_text())
    assert (after["epochs_run"], after["best_epoch"]) == (2, before["best_epoch"])
    assert weights_hash(run / "checkpoints" / "best.pt") == best
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["stopped_early"] is True


def test_more_epochs_for_an_early_stopped_run_are_refused_naming_a_new_run(tmp_path, capsys):
    """``--resume --epochs 6`` of a run that stopped early would keep its patience count and stop again at
    the next evaluation that does not improve: refused (exit 2), naming --init-from; nothing trained."""
    from conftest import cli

    run = tmp_path / "run"
    train(tiny_config(*EARLY), run, quiet=True)
    code, text = cli(capsys, "train", "-q", "--resume", run, "--epochs", "6")
    flat = one_line(text)
    assert code == 2, text
    assert (
        "its train.early_stop patience ran out after epoch 2: val_pacc did not improve" in flat
    ), text
    assert f"--init-from {run}" in flat
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 2
