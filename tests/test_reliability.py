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
RESULT_KEYS = ["val_acc", "val_pacc", "val_loss", "test_acc", "test_pacc", "test_loss", "test_auc", "best_epoch",
               "epochs_run", "params", "n_train", "n_val", "n_test"]


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
    return dict({k: summary[k] for k in RESULT_KEYS}, status=summary["status"],
                rows=[{k: v for k, v in r.items() if k != "seconds"} for r in rows],
                best=weights_hash(run / "checkpoints" / "best.pt"), last=weights_hash(run / "checkpoints" / "last.pt"))


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
    Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).resize((24, 24)).save(path)
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
    base = {k: good[k] for k in ("model_name", "model_kwargs", "input_shape", "num_classes", "class_names",
                                 "preprocess", "config", "state_dict")}
    return {
        "os.system": {**base, "extra": RunsCode(f"touch {marker}")},
        "exec": {**base, "model_kwargs": ExecsPython(f"open({str(marker)!r}, 'w').close()")},
        "custom class": {**base, "extra": Gadget()},
        "state_dict entry": {**base, "state_dict": {**good["state_dict"], "0.weight": RunsCode(f"touch {marker}")}},
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_hostile_checkpoints_are_refused_and_run_no_code(capsys, tmp_path, trained, digit_png, legacy):
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
    torch.save({**hostile_payloads(marker, load_checkpoint(trained / "checkpoints" / "last.pt"))["os.system"],
                "history": [], "state": {}}, run / "checkpoints" / "last.pt")
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
        ("kwargs-not-dict", lambda c: c.update(model_kwargs=[1]), "lacks or has malformed model_kwargs"),
        ("wrong-shape", lambda c: c["state_dict"].update({"0.weight": torch.zeros(3, 3)}), "do not fit"),
        ("missing-weight", lambda c: c["state_dict"].pop("0.weight"), "do not fit"),
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
                del data[pos:pos + rng.randint(1, 64)]
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
    (run / "checkpoints" / "last.pt").write_bytes((trained / "checkpoints" / "best.pt").read_bytes())
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "not a resumable vislab checkpoint" in one_line(out)


# ============================================================================== 2. interruptions
ZYGOTE = textwrap.dedent(r'''
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
''')


class Zygote:
    """A python process that imported vislab once and forks `vislab ...` children on demand.

    A child is a real process running ``vislab.cli.main(argv)`` with default signal dispositions (what
    ``python -m vislab`` runs), but it starts in milliseconds instead of seconds of imports, which keeps
    a dozen kill/resume cycles affordable. Its stdout+stderr go to a log file.
    """

    def __init__(self, cwd: Path):
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
        self.proc = subprocess.Popen([PY, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, cwd=cwd)
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

    def close(self) -> None:
        for pid in list(self.running):
            os.kill(pid, signal.SIGKILL)
            self.wait(pid, 30)
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
KILL_ARGS = ["train", "-q", "--set", "data.name=digits", "--set", "model.name=mlp", "--set", "model.hidden=[32]",
             "--set", "model.dropout=0.2", "--set", "augment.crop.p=0.5", "--set", "augment.crop.padding=1",
             "--set", "optim.name=sgd", "--set", "optim.lr=0.05", "--set", "optim.momentum=0.9",
             "--set", "schedule.name=cosine", "--set", f"train.epochs={EPOCHS}", "--set", "train.batch_size=4",
             "--set", "train.seed=11", "--set", "train.device=cpu", "--set", "train.threads=1"]

# inside a child: the 2nd end-of-epoch last.pt is half written when the process stops (to be SIGKILLed there)
HALF_WRITE = textwrap.dedent('''
    import io, time, torch
    _save = torch.save
    def save(obj, f, *a, **kw):
        if isinstance(obj, dict) and "history" in obj and obj["state"]["epoch"] == 2 and obj["state"]["step"] == 0:
            buf = io.BytesIO()
            _save(obj, buf, *a, **kw)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            open(MARK, "w").close()
            time.sleep(300)
        return _save(obj, f, *a, **kw)
    torch.save = save
''')


def _one_attempt(zygote: Zygote, run: Path, log: Path, sig: int | None, delay: float, pre: str = "") -> int:
    """Start (or resume) the run; unless it ends first, send ``sig`` after ``delay`` s. Returns the exit code."""
    resume = (run / "checkpoints" / "last.pt").is_file()
    if not resume and run.exists():  # killed before its first checkpoint: --resume says so, then start again
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
    text = log.read_text()
    assert "Traceback" not in text, text
    if code == 130 and "Resume with" in text:  # the signal handler finished the step and saved
        assert f"vislab train --resume {run}" in one_line(text), text
        assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
        assert load_checkpoint(run / "checkpoints" / "last.pt")["state"]["step"] > 0
    else:
        # 0: done (the signal came too late); -N: killed before the handler was installed, or SIGKILL;
        # 130 + "interrupted.": SIGINT before training (nothing to save)
        assert code in (0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL) or (
            code == 130 and "interrupted" in text), (code, text)
    return code


def test_killed_runs_resume_to_the_same_result(tmp_path, zygote):
    """SIGTERM / SIGINT / SIGKILL at random moments, then --resume (again until it completes): the same summary
    metrics, metrics.jsonl rows and final weights as a run that was never interrupted (a real `python -m vislab`)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ref_proc = subprocess.Popen([PY, "-m", "vislab", *KILL_ARGS, "--out", tmp_path / "ref"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    assert [p.name for p in (run / "checkpoints").glob(".last.pt.*.tmp")], "no half-written temp file"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["state"]["epoch"] == 1  # the previous checkpoint
    assert (run / ".lock").read_text().split()[0] == str(pid)  # a stale lock: its process is dead
    assert _one_attempt(zygote, run, log, None, 0) == 0
    assert not list((run / "checkpoints").glob(".*.tmp")) and not (run / ".lock").exists()
    results = {"half-write": run_result(run)}

    # random moments over the whole run (start-up, epochs, checkpoint writes, the final evaluation):
    # 3 trials with SIGTERM/SIGINT (the handler saves), 3 with SIGKILL; up to 2 kills each, then to completion
    span = two_epochs / 2 * (EPOCHS + 0.5)
    rng = random.Random(20240611)
    trials = [signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGKILL, signal.SIGKILL]
    codes: dict[str, list[int]] = {}
    for i, sig in enumerate(trials):
        name = f"{i}-{sig.name}"
        run, log = tmp_path / name, tmp_path / f"{name}.log"
        codes[name] = []
        for _ in range(2):
            codes[name].append(_one_attempt(zygote, run, log, sig, rng.uniform(0.0, span)))
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
    kinds = [c for cs in codes.values() for c in cs]
    assert 130 in kinds and -signal.SIGKILL in kinds, codes  # the handler path and the hard kill both happened
    print(f"kill/resume exit codes per trial: {codes}; kill moments in [0, {span:.1f}] s; "
          f"{time.monotonic() - t0:.1f} s")


def test_signal_at_the_last_step_of_an_epoch_resumes_exactly(tmp_path, monkeypatch):
    """A signal handled at an epoch's final step saves position 'end of epoch, before its evaluation'."""
    import vislab.train.trainer as trainer_mod
    from vislab.errors import TrainingInterrupted

    over = ("train.epochs=1", "optim.name=sgd", "optim.lr=0.05", "optim.momentum=0.9", "model.dropout=0.2")
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
