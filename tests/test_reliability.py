"""Reliability (issue #6): hostile and broken checkpoints, interruptions (SIGTERM / SIGINT / SIGKILL at random
moments, then --resume), two processes on one run directory, environment failures (unwritable or full output,
read-only data, no CUDA, out of memory) and bad inputs through the real CLI: each gives a message and an exit
code, never a traceback, and never damages what was already written.

Decisions documented here:
- ``vislab train --resume D`` where D has no checkpoints/last.pt (a run killed before its first checkpoint) says
  "nothing to resume" and exits 2; the user (and the harness below) starts it again with ``--out D`` and no
  ``--resume``, which is allowed because D holds no checkpoint. ``--resume`` never silently starts a new run.
- ``kill -9`` at any moment leaves at worst the previous complete checkpoint: every file is written to a temp
  file that is renamed over the old one; the temp file of a killed writer is ignored, and deleted by the next
  process that takes the run directory's lock. A lock whose pid is dead is stale and taken over.
- Writing failures in the middle of a run (disk full, read-only file system) exit 1 (runtime failure); an
  unusable --out at the start exits 2 (the user picks another).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_config
from vislab.cli import main
from vislab.errors import DataError, UserError
from vislab.train.checkpoint import load_checkpoint
from vislab.train.trainer import train

PY = sys.executable
REPO = Path(__file__).resolve().parents[1]
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


def cli(capsys, *args) -> tuple[int, str]:
    """Run ``vislab ARGS`` in-process; return (exit code, stdout + stderr), which never holds a traceback."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return code, text


def one_line(text: str) -> str:
    return " ".join(text.split())


def weights_hash(path: Path) -> str:
    sd = load_checkpoint(path)["state_dict"]
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run: its checkpoints are the raw material for the hostile/broken ones."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(tiny_config("train.epochs=1"), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory) -> Path:
    from sklearn.datasets import load_digits

    path = tmp_path_factory.mktemp("img") / "seven.png"
    Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).resize((24, 24)).save(
        path
    )
    return path


# ============================================================================== 1. checkpoints
class RunsCode:
    """Unpickling it runs a shell command (what a malicious checkpoint does)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class ExecsPython:
    def __init__(self, source: str):
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


class Gadget:  # a plain custom class: not a tensor or plain type, refused as well
    def __init__(self):
        self.payload = "x"


def hostile_payloads(marker: Path, good: dict) -> dict[str, dict]:
    base = {
        k: good[k]
        for k in (
            "model_name",
            "model_kwargs",
            "input_shape",
            "num_classes",
            "class_names",
            "preprocess",
            "config",
            "state_dict",
        )
    }
    return {
        "os.system": {**base, "extra": RunsCode(f"touch {marker}")},
        "exec": {**base, "model_kwargs": ExecsPython(f"open({str(marker)!r}, 'w').close()")},
        "custom class": {**base, "extra": Gadget()},
        "state_dict entry": {
            **base,
            "state_dict": {**good["state_dict"], "1.weight": RunsCode(f"touch {marker}")},
        },
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_hostile_checkpoints_are_refused_and_run_no_code(
    capsys, tmp_path, trained, digit_png, legacy
):
    marker = tmp_path / "MARKER"
    good = load_checkpoint(trained / "checkpoints" / "best.pt")
    for name, payload in hostile_payloads(marker, good).items():
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
        with pytest.raises(DataError, match="refused") as e:
            load_checkpoint(path)
        assert str(path) in str(e.value)
        code, out = cli(capsys, "eval", path)
        assert code == 2 and "refused" in out and str(path) in one_line(out), out
        code, out = cli(capsys, "predict", path, digit_png)
        assert code == 2 and "refused" in out, out
        # the same file as a run directory's best.pt
        run = tmp_path / f"run-{name.replace(' ', '_')}"
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "best.pt").write_bytes(path.read_bytes())
        code, out = cli(capsys, "predict", run, digit_png)
        assert code == 2 and "refused" in out, out
        assert not marker.exists(), f"{name}: the checkpoint ran code"


def test_hostile_last_pt_is_refused_on_resume(capsys, tmp_path, trained):
    marker = tmp_path / "MARKER"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(
        {
            **hostile_payloads(marker, load_checkpoint(trained / "checkpoints" / "last.pt"))[
                "os.system"
            ],
            "history": [],
            "state": {},
        },
        run / "checkpoints" / "last.pt",
    )
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "refused" in out and not marker.exists()


def test_broken_checkpoints_give_data_errors(capsys, tmp_path, trained, digit_png):
    raw = (trained / "checkpoints" / "best.pt").read_bytes()
    good = load_checkpoint(trained / "checkpoints" / "best.pt")
    cases = {
        "empty": (b"", "corrupt or not a PyTorch file"),
        "truncated-10": (raw[:10], "corrupt or not a PyTorch file"),
        "truncated-half": (raw[: len(raw) // 2], "corrupt or not a PyTorch file"),
        "truncated-last-byte": (raw[:-1], "corrupt or not a PyTorch file"),
        "text": (b"model_name: mlp\nstate_dict: {}\n", "corrupt or not a PyTorch file"),
        "png": (digit_png.read_bytes(), "corrupt or not a PyTorch file"),
    }
    for name, obj in {"plain-dict": {"a": 1}, "list": [1, 2], "tensor": torch.zeros(3)}.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        cases[name] = (buf.getvalue(), "not a vislab checkpoint")
    for name, edit, why in [
        ("no-input-shape", lambda c: c.pop("input_shape"), "lacks or has malformed input_shape"),
        (
            "kwargs-not-dict",
            lambda c: c.update(model_kwargs=[1]),
            "lacks or has malformed model_kwargs",
        ),
        (
            "wrong-shape",
            lambda c: c["state_dict"].update({next(iter(c["state_dict"])): torch.zeros(3, 3)}),
            "do not fit",
        ),
        (
            "missing-weight",
            lambda c: c["state_dict"].pop(next(iter(c["state_dict"]))),
            "do not fit",
        ),
        ("unknown-model", lambda c: c.update(model_name="resnet9000"), "unknown model"),
        ("no-config", lambda c: c.pop("config"), "holds no config"),
    ]:
        c = {**good, "state_dict": dict(good["state_dict"])}
        edit(c)
        buf = io.BytesIO()
        torch.save(c, buf)
        cases[name] = (buf.getvalue(), why)
    for name, (data, why) in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        code, out = cli(capsys, "eval", path)
        assert code == 2 and why in one_line(out), (name, out)
        if name != "no-config":  # predict needs no config
            code, out = cli(capsys, "predict", path, digit_png)
            assert code == 2 and why in one_line(out), (name, out)
    code, out = cli(capsys, "predict", tmp_path / "nope.pt", digit_png)
    assert code == 2 and "does not exist" in out
    code, out = cli(capsys, "eval", tmp_path)  # a folder without checkpoints/
    assert code == 2 and "has no checkpoints" in out


def test_randomly_mutated_checkpoints_load_or_give_user_errors(tmp_path, trained):
    from vislab.predict import load_model

    raw = (trained / "checkpoints" / "best.pt").read_bytes()
    rng = random.Random(6)
    path = tmp_path / "m.pt"
    loaded = 0
    for _ in range(60):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 64)]
        path.write_bytes(bytes(data))
        try:
            load_model(path)
            loaded += 1
        except UserError as e:
            assert str(path) in str(e) or "model" in str(e)
    assert loaded < 60


def test_corrupt_last_pt_on_resume(capsys, tmp_path, trained):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    raw = (trained / "checkpoints" / "last.pt").read_bytes()
    (run / "checkpoints" / "last.pt").write_bytes(raw[: len(raw) // 3])
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "corrupt" in out and "last.pt" in out
    (run / "checkpoints" / "last.pt").write_bytes(
        (trained / "checkpoints" / "best.pt").read_bytes()
    )
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "not a resumable vislab checkpoint" in one_line(out)


# ============================================================================== 2. interruptions
ZYGOTE = textwrap.dedent(r"""
    import json, os, signal, sys, time, traceback
    import torch  # the heavy imports (and matplotlib's first figure), once: a child then starts in milliseconds
    import kornia, torchvision, sklearn.datasets
    import vislab.cli, vislab.train.trainer, vislab.predict, vislab.data.sources, vislab.data.sources.digits
    from vislab.report.figures import plot_confusion
    import numpy as np, tempfile
    plot_confusion(np.eye(2, dtype=int), ["a", "b"], tempfile.mkdtemp() + "/warm.png")

    def child(job):
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a fresh python's dispositions
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 1
        try:
            exec(job["pre"], {})
            code = vislab.cli.main(job["argv"])
        except KeyboardInterrupt:  # outside main's handlers: die by SIGINT, as python does
            sys.stdout.flush(); sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)

    for line in sys.stdin:
        job = json.loads(line)
        if job["op"] == "run":
            pid = os.fork()
            if pid == 0:
                child(job)
            reply = pid
        else:  # wait: the exit code (-N: killed by signal N), or None while still running after `timeout` s
            deadline = time.monotonic() + job["timeout"]
            while True:
                done, status = os.waitpid(job["pid"], os.WNOHANG)
                if done:
                    reply = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() >= deadline:
                    reply = None
                    break
                time.sleep(0.005)
        print(json.dumps(reply), flush=True)
""")


class Zygote:
    """A python process that imported vislab once and forks `vislab ...` children on demand.

    A child is a real process running ``vislab.cli.main(argv)`` with default signal dispositions (what
    ``python -m vislab`` runs), but it starts in milliseconds instead of seconds of imports, which keeps
    a dozen kill/resume cycles affordable. Its stdout+stderr go to a log file.
    """

    def __init__(self, cwd: Path):
        env = dict(
            os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO / "src")
        )
        self.proc = subprocess.Popen(
            [PY, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.running: set[int] = set()

    def _ask(self, **job):
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote process died"
        return json.loads(line)

    def start(self, argv: list, log: Path, pre: str = "") -> int:
        pid = self._ask(op="run", argv=[str(a) for a in argv], log=str(log), pre=pre)
        self.running.add(pid)
        return pid

    def wait(self, pid: int, timeout: float) -> int | None:
        code = self._ask(op="wait", pid=pid, timeout=timeout)
        if code is not None:
            self.running.discard(pid)
        return code

    def kill(self, pid: int) -> None:
        """SIGKILL a child if it still runs, and reap it."""
        if pid in self.running:
            os.kill(pid, signal.SIGKILL)
            self.wait(pid, 30)

    def close(self) -> None:
        for pid in list(self.running):
            self.kill(pid)
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


# a short run (~1-2 s of training on one thread): dropout, random crops, momentum and a cosine schedule, so that
# a resume must restore the RNG, the optimizer and the position exactly to end with the same numbers
EPOCHS = 3
KILL_ARGS = [
    "train",
    "-q",
    "--set",
    "data.name=digits",
    "--set",
    "model.name=mlp",
    "--set",
    "model.hidden=[32]",
    "--set",
    "model.dropout=0.2",
    "--set",
    "augment.crop.p=0.5",
    "--set",
    "augment.crop.padding=1",
    "--set",
    "optim.name=sgd",
    "--set",
    "optim.lr=0.05",
    "--set",
    "optim.momentum=0.9",
    "--set",
    "schedule.name=cosine",
    "--set",
    f"train.epochs={EPOCHS}",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.seed=11",
    "--set",
    "train.device=cpu",
    "--set",
    "train.threads=1",
]

# inside a child: the 2nd end-of-epoch last.pt is half written when the process stops (to be SIGKILLed there)
HALF_WRITE = textwrap.dedent("""
    import io, time, torch
    import vislab.train.trainer as trainer
    from vislab.train.checkpoint import atomic_write
    _save_checkpoint = trainer.save_checkpoint
    def save_checkpoint(path, payload):  # the second last.pt (state: epoch 2, step 0): half of it, then hang
        if path.name == "last.pt" and payload["state"]["epoch"] == 2 and payload["state"]["step"] == 0:
            buf = io.BytesIO()
            torch.save(payload, buf)
            def half(f):
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                open(MARK, "w").close()
                time.sleep(300)
            return atomic_write(path, half)
        return _save_checkpoint(path, payload)
    trainer.save_checkpoint = save_checkpoint
""")


def _one_attempt(
    zygote: Zygote, run: Path, log: Path, sig: int | None, delay: float, pre: str = ""
) -> int:
    """Start (or resume) the run; unless it ends first, send ``sig`` after ``delay`` s. Returns the exit code."""
    resume = (run / "checkpoints" / "last.pt").is_file()
    if (
        not resume and run.exists()
    ):  # killed before its first checkpoint: --resume says so, then start again
        pid = zygote.start(["train", "--resume", run, "-q"], log)
        assert zygote.wait(pid, 60) == 2 and "nothing to resume" in log.read_text()
    argv = [*KILL_ARGS, "--resume", run] if resume else [*KILL_ARGS, "--out", run]
    pid = zygote.start(argv, log, pre)
    code = zygote.wait(pid, delay) if sig is not None else None
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
        assert load_checkpoint(run / "checkpoints" / "last.pt")["state"]["step"] > 0
    else:
        # 0: done (the signal came too late); -N: killed before the handler was installed, or SIGKILL;
        # 130 + "interrupted.": SIGINT before training (nothing to save)
        assert code in (0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL) or (
            code == 130 and "interrupted" in text
        ), (code, text)
    return code


def test_killed_runs_resume_to_the_same_result(tmp_path, zygote):
    """SIGTERM / SIGINT / SIGKILL at random moments, then --resume (again until it completes): the same summary
    metrics, metrics.jsonl rows and final weights as a run that was never interrupted (a real `python -m vislab`)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ref_proc = subprocess.Popen(
        [PY, "-m", "vislab", *KILL_ARGS, "--out", tmp_path / "ref"],
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
    pid = zygote.start([*KILL_ARGS, "--out", run], log, pre=f"MARK = {str(mark)!r}\n" + HALF_WRITE)
    started = time.monotonic()
    while not mark.exists():
        assert zygote.wait(pid, 0.02) is None, log.read_text()
    two_epochs = time.monotonic() - started
    os.kill(pid, signal.SIGKILL)
    assert zygote.wait(pid, 30) == -signal.SIGKILL
    assert [p.name for p in (run / "checkpoints").glob(".last.pt.*.tmp")], (
        "no half-written temp file"
    )
    assert (
        load_checkpoint(run / "checkpoints" / "last.pt")["state"]["epoch"] == 1
    )  # the previous checkpoint
    assert (run / ".lock").read_text().split()[0] == str(pid)  # a stale lock: its process is dead
    assert _one_attempt(zygote, run, log, None, 0) == 0
    assert not list((run / "checkpoints").glob(".*.tmp")) and not (run / ".lock").exists()
    results = {"half-write": run_result(run)}

    # random moments over the whole run (start-up, epochs, checkpoint writes, the final evaluation):
    # 3 trials with SIGTERM/SIGINT (the handler saves), 3 with SIGKILL; up to 2 kills each, then to completion
    span = two_epochs / 2 * (EPOCHS + 0.5)
    rng = random.Random(20240611)
    trials = [
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGTERM,
        signal.SIGKILL,
        signal.SIGKILL,
        signal.SIGKILL,
    ]
    codes: dict[str, list[int]] = {}
    for i, sig in enumerate(trials):
        name = f"{i}-{sig.name}"
        run, log = tmp_path / name, tmp_path / f"{name}.log"
        codes[name] = []
        for k in range(2):
            if i in (
                0,
                3,
            ):  # at once (before the signal handler and any checkpoint exist), then mid-training
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
    handled = [c for i in (0, 1, 2) for c in codes[f"{i}-{trials[i].name}"]]
    assert 130 in handled, (
        codes
    )  # the signal handler's path (finish the step, save, exit 130) was taken
    assert any(-signal.SIGKILL in codes[f"{i}-SIGKILL"] for i in (3, 4, 5)), codes
    print(
        f"kill/resume exit codes per trial: {codes}; kill moments in [0, {span:.1f}] s; "
        f"{time.monotonic() - t0:.1f} s"
    )


def test_signal_at_the_last_step_of_an_epoch_resumes_exactly(tmp_path, monkeypatch):
    """A signal handled at an epoch's final step saves position 'end of epoch, before its evaluation'."""
    import vislab.train.trainer as trainer_mod
    from vislab.errors import TrainingInterrupted

    over = (
        "train.epochs=1",
        "optim.name=sgd",
        "optim.lr=0.05",
        "optim.momentum=0.9",
        "model.dropout=0.2",
    )
    ref = train(tiny_config(*over), tmp_path / "ref", quiet=True)
    real = trainer_mod.lr_factor

    def lr_factor(cfg, step, steps_per_epoch, *a):
        if step == steps_per_epoch - 1 and not getattr(lr_factor, "sent", False):
            lr_factor.sent = True
            os.kill(os.getpid(), signal.SIGTERM)
        return real(cfg, step, steps_per_epoch, *a)

    monkeypatch.setattr(trainer_mod, "lr_factor", lr_factor)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(tiny_config(*over), tmp_path / "cut", quiet=True)
    monkeypatch.setattr(trainer_mod, "lr_factor", real)
    state = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["state"]
    assert state["epoch"] == 0 and state["step"] == state["global_step"] > 0
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True)
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")


# ============================================================================== 3. concurrency
def _long_args(epochs: int = 500) -> list[str]:
    return [a if a != f"train.epochs={EPOCHS}" else f"train.epochs={epochs}" for a in KILL_ARGS]


def test_second_process_on_the_same_run_dir_is_refused(capsys, tmp_path, zygote):
    run = tmp_path / "run"
    pid = zygote.start([*_long_args(), "--out", run], tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while not (
            run / "checkpoints" / "last.pt"
        ).is_file():  # it holds the lock and has a checkpoint
            assert zygote.wait(pid, 0.02) is None and time.monotonic() < deadline, (
                tmp_path / "first.log"
            ).read_text()
        assert (run / ".lock").read_text().split()[0] == str(pid)
        for args in ([*_long_args(), "--out", run], ["train", "--resume", run, "-q"]):
            code, out = cli(capsys, *args)
            assert code == 2 and f"in use by another vislab process (pid {pid})" in one_line(out), (
                out
            )
        assert zygote.wait(pid, 0) is None  # the first one is untouched and still running
    finally:
        zygote.kill(pid)


def test_two_processes_started_together_one_wins(tmp_path, zygote):
    run = tmp_path / "run"
    pids = [zygote.start([*_long_args(), "--out", run], tmp_path / f"{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 60
        codes = {}
        while not codes:
            assert time.monotonic() < deadline
            codes = {p: c for p in pids if (c := zygote.wait(p, 0.02)) is not None}
        ((loser, code),) = codes.items()
        winner = next(p for p in pids if p != loser)
        text = one_line((tmp_path / f"{pids.index(loser)}.log").read_text())
        assert code == 2 and f"in use by another vislab process (pid {winner})" in text, text
        assert (run / ".lock").read_text().split()[0] == str(winner)
    finally:
        for p in pids:
            zygote.kill(p)


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_foreign_and_garbage_locks(capsys, tmp_path):
    from vislab.train.rundir import RunDir

    run = tmp_path / "run"
    run.mkdir()
    lock = run / ".lock"
    # a lock held by a process on another machine (shared file system): refused, naming host and pid
    lock.write_text("4242 some-other-host")
    code, out = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.name=mlp", "--out", run, "-q"
    )
    assert code == 2 and "locked by vislab process 4242 on host 'some-other-host'" in one_line(
        out
    ), out
    # a stale lock (its process is dead) or an unreadable one is taken over, and released at the end
    for content in (f"{_dead_pid()} {socket.gethostname()}", "garbage", ""):
        lock.write_text(content)
        with RunDir(run) as rd:
            assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}"
            assert rd._locked
        assert not lock.exists()
    lock.write_text(f"{_dead_pid()}")
    code, out = cli(capsys, "train", *_tiny_sets(), "--out", run, "-q")
    assert code == 0 and not lock.exists(), out


# ============================================================================== 4. environment failures
def _tiny_sets(*extra: str, drop: str | None = None) -> list[str]:
    sets = [
        "data.name=digits",
        "data.limit=300",
        "model.name=mlp",
        "model.hidden=[32]",
        "train.epochs=1",
        "train.batch_size=32",
        "train.device=cpu",
        "train.seed=0",
        *extra,
    ]
    return [x for s in sets if s != drop for x in ("--set", s)]


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def deny_writes(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """Make every write under ``root`` fail with ``err``, as a read-only mount (or chmod a-w) would.

    Used where chmod cannot (tests running as root); patches the calls vislab's writers go through."""
    import builtins
    import io as io_mod

    root = Path(root).resolve()

    def under(path) -> bool:
        try:
            return Path(os.fsdecode(path)).resolve().is_relative_to(root)
        except (TypeError, ValueError):
            return False

    def fail(path):
        raise OSError(err, os.strerror(err), os.fsdecode(path))

    real_open, real_os_open = builtins.open, os.open

    def open_(file, mode="r", *a, **kw):
        if (
            isinstance(file, (str, bytes, os.PathLike))
            and any(c in mode for c in "wax+")
            and under(file)
        ):
            fail(file)
        return real_open(file, mode, *a, **kw)

    def os_open(path, flags, *a, **kw):
        if flags & WRITE_FLAGS and under(path):
            fail(path)
        return real_os_open(path, flags, *a, **kw)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io_mod, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    for name in ("mkdir", "unlink", "remove", "rmdir", "utime", "chmod"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda p, *a, _real=real, **kw: fail(p) if under(p) else _real(p, *a, **kw)
        )
    for name in ("replace", "rename", "link"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os,
            name,
            lambda s, d, *a, _real=real, **kw: (
                fail(d) if under(d) or under(s) else _real(s, d, *a, **kw)
            ),
        )


def make_read_only(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """chmod a-w where that stops writes (not root); otherwise simulate a read-only file system. Undone at the
    end of the test (``restore_writable``)."""
    if os.geteuid() != 0:
        for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            d.chmod(0o555)
    else:
        deny_writes(monkeypatch, root, err)


def restore_writable(monkeypatch, *roots: Path) -> None:
    monkeypatch.undo()
    for root in roots:
        for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            d.chmod(0o755)


def test_unwritable_output_locations(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out = cli(capsys, "train", *_tiny_sets(), "--out", blocker / "sub", "-q")
    assert (
        code == 2 and "cannot create run directory" in one_line(out) and "Not a directory" in out
    ), out
    parent = tmp_path / "read-only"
    parent.mkdir()
    make_read_only(monkeypatch, parent, errno.EACCES)
    try:
        code, out = cli(capsys, "train", *_tiny_sets(), "--out", parent / "run", "-q")
    finally:
        restore_writable(monkeypatch, parent)
    assert (
        code == 2 and "cannot create run directory" in one_line(out) and "Permission denied" in out
    ), out


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_full_disk_keeps_what_was_written(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *_tiny_sets("train.epochs=2"), "--out", run, "-q")
    assert code == 0
    before = _snapshot(run)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    # re-running the end of a finished run rewrites config/summary/predictions: every write fails, none damages
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert (
        code == 1 and "the disk is full" in out and "previous file there is intact" in one_line(out)
    ), out
    assert _snapshot(run) == before  # no temp file left, nothing truncated, lock released
    # a figure written by `eval` (matplotlib, not atomic_write) on a full disk: message, exit 1
    import matplotlib.figure

    def savefig(self, path, *a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    code, out = cli(capsys, "eval", run, "--out", tmp_path / "figs")
    assert (
        code == 1
        and "No space left on device" in out
        and str(tmp_path / "figs" / "confusion_test.png") in out
    )
    monkeypatch.undo()
    (tmp_path / "a-file").write_text("x")
    code, out = cli(
        capsys, "eval", run, "--out", tmp_path / "a-file" / "figs"
    )  # a file where a folder should be
    assert code == 1 and "Not a directory" in out and str(tmp_path / "a-file") in out, out


class _FullDisk:
    """A file on a file system that fills up after 1,000 bytes: later writes fail with ENOSPC (as on a tmpfs)."""

    def __init__(self, f, room: int = 1000):
        self.f, self.room = f, room

    def write(self, data) -> int:
        data = bytes(data)
        self.f.write(data[: self.room])
        if len(data) > self.room:
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return len(data)

    def __getattr__(self, name):  # flush, fileno, close, ... of the real file
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


@pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc to see which file is written"
)
@pytest.mark.parametrize("fails_in", ["write", "fsync"])
def test_disk_full_in_the_middle_of_training_keeps_the_previous_checkpoint(
    capsys, tmp_path, monkeypatch, fails_in
):
    """The end-of-epoch-2 last.pt cannot be written: in ``write`` (a real full file system; torch.save alone
    would turn that into an opaque RuntimeError) or only when flushed to disk (``fsync``)."""
    real_fsync, real_fdopen, seen = os.fsync, os.fdopen, []

    def second_last_pt(fd) -> bool:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".last.pt." in name and name not in seen:
            seen.append(name)
        return seen[1:] == [name]

    def fsync(fd):
        if fails_in == "fsync" and second_last_pt(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    def fdopen(fd, *a, **kw):
        f = real_fdopen(fd, *a, **kw)
        return _FullDisk(f) if fails_in == "write" and second_last_pt(fd) else f

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdopen", fdopen)
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *_tiny_sets("train.epochs=3"), "--out", run, "-q")
    assert (
        code == 1 and "could not write" in out and "last.pt" in out and "the disk is full" in out
    ), out
    assert "Traceback" not in out
    kept = load_checkpoint(run / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["state_dict"].values()
    )
    assert not list(run.rglob(".*.tmp")) and not (run / ".lock").exists()
    monkeypatch.setattr(
        os, "fsync", real_fsync
    )  # space freed: the run continues from that checkpoint
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 0 and json.loads((run / "summary.json").read_text())["epochs_run"] == 3


def test_datasets_on_a_read_only_mount(capsys, tmp_path, monkeypatch):
    from fixtures import write_image_folder, write_mnist

    mnist, images = tmp_path / "mnist", tmp_path / "images"
    write_mnist(mnist, n_train=60, n_test=20)
    write_image_folder(images, per_class=6)
    make_read_only(monkeypatch, tmp_path / "mnist")
    make_read_only(monkeypatch, tmp_path / "images")
    try:
        for sets in (
            ["data.name=mnist", f"data.root={mnist}", "data.download=false"],
            ["data.name=folder", f"data.root={images}", "data.image_size=16"],
        ):
            run = tmp_path / sets[0].split("=")[1]
            args = [
                x
                for s in [
                    *sets,
                    "model.name=mlp",
                    "model.hidden=[16]",
                    "train.epochs=1",
                    "train.batch_size=8",
                    "train.device=cpu",
                ]
                for x in ("--set", s)
            ]
            code, out = cli(capsys, "train", *args, "--out", tmp_path / "runs" / run.name, "-q")
            assert code == 0, out
            assert (
                json.loads((tmp_path / "runs" / run.name / "summary.json").read_text())["status"]
                == "complete"
            )
        assert not (images / ".vislab-cache").exists() and not list(
            images.rglob("*.tmp")
        )  # cache skipped
    finally:
        restore_writable(monkeypatch, mnist, images)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_asked_for_but_absent(capsys, tmp_path):
    code, out = cli(
        capsys, "train", *_tiny_sets("train.device=cuda"), "--out", tmp_path / "a", "-q"
    )
    assert code == 2 and "train.device=cuda but no CUDA GPU" in one_line(out), out
    code, out = cli(capsys, "train", *_tiny_sets("data.device=cuda"), "--out", tmp_path / "b", "-q")
    assert code == 2 and "data.device=cuda needs training on a CUDA GPU" in one_line(out), out


@pytest.mark.parametrize(
    "error, fragment",
    [
        (
            lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
            "the GPU ran out of memory",
        ),
        (
            lambda: RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "the GPU ran out of memory",
        ),
        (
            lambda: RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory: you "
                "tried to allocate 85899345920 bytes. Error code 12"
            ),
            "out of host memory",
        ),
        (lambda: MemoryError(), "out of host memory"),
    ],
    ids=["OutOfMemoryError", "cuda-RuntimeError", "cpu-allocator", "MemoryError"],
)
def test_out_of_memory_batch(capsys, tmp_path, monkeypatch, error, fragment):
    def forward(self, x):
        raise error()

    monkeypatch.setattr(torch.nn.Linear, "forward", forward)
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *_tiny_sets(), "--out", run, "-q")
    assert code == 1 and fragment in out and "train.batch_size" in out, out
    assert not (run / ".lock").exists() and not (run / "checkpoints" / "last.pt").exists()


# ============================================================================== 6. bad inputs, end to end
BAD_TRAIN_INPUTS = [
    # (id, extra CLI args, exit code, fragments of the message)
    (
        "unknown key",
        ["--set", "train.epoch=3"],
        2,
        [
            "unknown config key 'train.epoch'",
            "Did you mean 'train.epochs'",
            "Valid keys here: epochs, batch_size",
        ],
    ),
    (
        "unknown section",
        ["--set", "optimizer.lr=0.1"],
        2,
        ["unknown config key 'optimizer'", "optim"],
    ),
    (
        "wrong value type",
        ["--set", "train.epochs=abc"],
        2,
        ["'train.epochs' = 'abc' is invalid", "valid integer"],
    ),
    (
        "value out of range",
        ["--set", "optim.lr=-1"],
        2,
        ["'optim.lr' = -1 is invalid", "greater than 0"],
    ),
    (
        "bad choice",
        ["--set", "data.normalize=pca"],
        2,
        ["'data.normalize' = 'pca'", "'none', 'standard', 'zca' or 'imagenet'"],
    ),
    (
        "imagenet statistics on 2-D points",
        ["--set", "data.name=circles", "--set", "data.normalize=imagenet"],
        2,
        [
            "data.normalize=imagenet needs RGB or grey images; these samples are 2 float",
            "data.normalize=standard",
        ],
    ),
    (
        "unknown model",
        ["--set", "model.name=resnet9000"],
        2,
        ["unknown model 'resnet9000'", "Available: "],
    ),
    (
        "unknown model option",
        ["--set", "model.hiden=[8]"],
        2,
        ["model 'mlp' has no option 'model.hiden'", "Did you mean 'model.hidden'"],
    ),
    (
        "wrong model option type",
        ["--set", "model.hidden=wide"],
        2,
        ["invalid option for model 'mlp'", "model.hidden"],
    ),
    (
        "dropout out of range",
        ["--set", "model.dropout=2"],
        2,
        ["model.dropout=2 must lie in [0, 1)", "'mlp'"],
    ),
    (
        "cnn kernel size 0",
        ["--set", "model.name=cnn", "--set", "model.kernel_size=0"],
        2,
        ["model.kernel_size=0: every size must be at least 1"],
    ),
    (
        "unknown dataset",
        ["--set", "data.name=imagenet"],
        2,
        ["unknown dataset data.name='imagenet'", "digits"],
    ),
    (
        "bad --set syntax",
        ["--set", "optim.lr"],
        2,
        ["--set 'optim.lr' is not of the form key.sub=value"],
    ),
    (
        "empty key part",
        ["--set", "train..epochs=3"],
        2,
        ["config key 'train..epochs' has an empty part"],
    ),
    (
        "missing config file",
        ["--config", "no-such-config.yaml"],
        2,
        ["Config file 'no-such-config.yaml' does not exist", "fast"],
    ),
    (
        "image too small for the cnn",
        ["--set", "model.name=cnn", "--set", "model.widths=[8,8,8,8]"],
        2,
        ["too small"],
    ),
    (
        "batch larger than the data",
        ["--set", "train.batch_size=100000"],
        2,
        ["train.batch_size=100000 is larger than"],
    ),
    ("rich markup in a value", ["--set", "model.name=x[/a]"], 2, ["unknown model 'x[/a]'"]),
    (
        "NaN loss",
        ["--set", "optim.name=sgd", "--set", "optim.lr=1e12"],
        2,
        [
            "training loss became NaN/inf in epoch 1",
            "Lower optim.lr",
            "none (it diverged in the first epoch)",
        ],
    ),
]


@pytest.mark.parametrize(
    "name, args, exit_code, fragments", BAD_TRAIN_INPUTS, ids=[c[0] for c in BAD_TRAIN_INPUTS]
)
def test_bad_train_inputs_through_the_cli(capsys, tmp_path, name, args, exit_code, fragments):
    run = tmp_path / "run"
    base = _tiny_sets(
        drop="model.hidden=[32]" if "model.name=cnn" in args else None
    )  # (an mlp option)
    code, out = cli(capsys, "train", *base, *args, "--out", run, "-q")
    assert code == exit_code, out
    for f in fragments:
        assert f in one_line(out), (f, out)
    assert not (run / ".lock").exists()
    if name == "NaN loss":
        assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    elif name != "batch larger than the data":
        assert not run.exists()  # failed before writing anything: no empty run folder left behind


def test_failed_start_keeps_a_folder_the_user_made(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    code, _ = cli(capsys, "train", *_tiny_sets(), "--set", "model.dropout=2", "--out", mine, "-q")
    assert code == 2 and mine.is_dir()


def test_bad_yaml_config_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [digits\nmodel: {name: mlp}\n")
    code, out = cli(capsys, "train", "--config", bad, "--out", tmp_path / "run", "-q")
    assert code == 2 and f"Config file '{bad}' is not valid YAML" in one_line(out), out


def test_nan_after_a_good_epoch_keeps_the_last_good_checkpoint(capsys, tmp_path, monkeypatch):
    import types

    import torch.nn.functional as F

    import vislab.train.trainer as trainer_mod

    calls = []

    def cross_entropy(
        logits, y, **kw
    ):  # finite for epoch 1 (8 steps), NaN from the middle of epoch 2
        calls.append(1)
        loss = F.cross_entropy(logits, y, **kw)
        return loss * float("nan") if len(calls) > 11 else loss

    monkeypatch.setattr(trainer_mod, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *_tiny_sets("train.epochs=3"), "--out", run, "-q")
    assert (
        code == 2
        and "became NaN/inf in epoch 2" in out
        and f"{run / 'checkpoints' / 'last.pt'} (after epoch 1)" in one_line(out)
    ), out
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    kept = load_checkpoint(run / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in kept["state_dict"].values()
    )
    assert load_checkpoint(run / "checkpoints" / "best.pt")["epoch"] == 1


def test_run_directory_misuse(capsys, tmp_path, trained):
    code, out = cli(capsys, "train", "--resume", tmp_path / "never-started", "-q")
    assert code == 2 and "nothing to resume" in out and "without --resume" in one_line(out), out
    assert not (tmp_path / "never-started").exists()
    code, out = cli(capsys, "train", *_tiny_sets(), "--out", trained, "-q")
    assert (
        code == 2
        and "already holds a run" in one_line(out)
        and f"--resume {trained}" in one_line(out)
    ), out


def test_predict_and_eval_bad_inputs(capsys, tmp_path, trained, digit_png):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    fake = tmp_path / "fake.png"
    fake.write_bytes(digit_png.read_bytes()[:40])  # a truncated PNG
    odd = tmp_path / "photo[red].png"  # rich markup in a file name
    odd.write_bytes(digit_png.read_bytes())
    code, out = cli(
        capsys, "predict", trained, digit_png, notes, tmp_path / "missing.png", fake, odd, "-k", "2"
    )
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 5, out
    assert any(line.startswith(f"{digit_png}: ") and "error" not in line for line in lines), out
    assert any(line.startswith(f"{odd}: ") and "error" not in line for line in lines), (
        out
    )  # predicted, name intact
    assert any(
        f"{notes}: error:" in line and "is not a readable image" in line for line in lines
    ), out
    assert any("missing.png: error:" in line and "does not exist" in line for line in lines), out
    assert any(f"{fake}: error:" in line and "not a readable image" in line for line in lines), out
    code, out = cli(capsys, "eval", trained, "--split", "validation")
    assert code == 2 and "--split must be train, val or test, not 'validation'" in out


def test_signal_after_an_unnoticed_nan_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """The loss turns NaN mid-epoch (not yet noticed: quiet runs check at epoch ends), then SIGTERM arrives: the
    run is marked diverged and the NaN weights are not saved over the last good last.pt."""
    import types

    import torch.nn.functional as F

    import vislab.train.trainer as trainer_mod
    from vislab.errors import TrainingDiverged

    calls = []

    def cross_entropy(
        logits, y, **kw
    ):  # 8 steps per epoch: NaN from step 11, SIGTERM handled after step 13
        calls.append(1)
        if len(calls) == 13:
            os.kill(os.getpid(), signal.SIGTERM)
        loss = F.cross_entropy(logits, y, **kw)
        return loss * float("nan") if len(calls) >= 11 else loss

    monkeypatch.setattr(trainer_mod, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    with pytest.raises(TrainingDiverged, match="epoch 2"):
        train(tiny_config("train.epochs=3"), tmp_path / "r", quiet=True)
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "diverged"
    kept = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert kept["state"]["epoch"] == 1 and kept["state"]["step"] == 0
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())
