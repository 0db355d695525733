"""A sweep folder is one by what a sweep writes there as a sweep (a study.db the user names elsewhere makes
no folder a sweep's), and a live worker of a sweep keeps it from being started over, between its trials
too — while the workers that share it still run."""

import os
import time
from pathlib import Path

import yaml

from conftest import cli, tiny_base, tiny_sets

# tiny trials: 1 epoch of 200 digits, an 8-unit MLP, one thread, no figures
BASE = tiny_base(train__threads=1, model__hidden=[8])


def spec_file(folder: Path, name: str = "tiny") -> Path:
    path = folder / f"{name}.yaml"
    space = {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
    tree = {"name": name, "base": BASE, "space": space, "sampler": "random", "seed": 0}
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


def sweep(capsys, *args) -> tuple[int, str]:
    """``vislab sweep ARGS --no-report`` in-process: (exit code, its output)."""
    return cli(capsys, "sweep", *args, "--no-report")


# A worker that stops between its first and second trial until told to go on: the loop of runner._work
# checks for dead trials before each trial (its 1st call is run_stage's, its 2nd before trial 0). A real
# `vislab sweep` process, forked by the module's zygote (tests/fixtures.py) instead of seconds of imports.
BETWEEN = """
import time
from pathlib import Path
from vislab.experiments.sweeps import runner

flag, real, calls = Path({flag!r}), runner.fail_dead_trials, []

def between_trials(study, log):
    calls.append(1)
    if len(calls) == 3:
        flag.with_suffix(".between").write_text("")
        while not flag.with_suffix(".go").exists():
            time.sleep(0.05)
    real(study, log)

runner.fail_dead_trials = between_trials
"""


def start_worker(zygote, tmp_path: Path, spec: Path, out: Path) -> tuple[int, Path]:
    """A worker process (its pid) of sweep ``spec`` in ``out``, returned once it waits between two trials."""
    flag = tmp_path / "worker"
    argv = ["sweep", spec, "--out", out, "--trials", 3, "--no-report"]
    pid = zygote.start(argv, tmp_path / "worker.log", pre=BETWEEN.format(flag=str(flag)))
    for _ in range(1200):
        if flag.with_suffix(".between").exists() or zygote.wait(pid, 0) is not None:
            break
        time.sleep(0.1)
    assert flag.with_suffix(".between").exists(), (tmp_path / "worker.log").read_text()
    return pid, flag


def stop_worker(zygote, pid: int, flag: Path) -> int | None:
    flag.with_suffix(".go").write_text("")
    try:
        return zygote.wait(pid, 300)
    finally:
        zygote.kill(pid)


def test_a_study_db_in_the_current_folder_makes_it_no_sweep(tmp_path, capsys, monkeypatch):
    """The README's `--storage sqlite:///study.db`, relative, puts the study in the current folder: the same
    command again goes on, and a run started there is no run inside a sweep."""
    spec = spec_file(tmp_path)
    here = tmp_path / "x"
    here.mkdir()
    monkeypatch.chdir(here)
    args = ("--storage", "sqlite:///study.db", "--out", "sw")
    code, text = sweep(capsys, spec, "--trials", 1, *args)
    assert code == 0, text
    code, text = sweep(capsys, spec, "--trials", 2, *args)
    assert code == 0, text
    assert sorted(p.name for p in (here / "sw" / "trials").iterdir()) == ["0", "1"]
    code, text = cli(capsys, "train", *tiny_sets("model.hidden=[8]", "train.threads=1", drop="model.hidden=[32]"),
                     "--out", "r1")  # fmt: skip
    assert code == 0, text
    assert (here / "r1" / "summary.json").is_file()


def test_the_way_out_of_a_sweep_folder_is_a_usable_out(tmp_path, capsys, monkeypatch):
    """A sweep written into the current folder (--out .) refuses a run inside it, and the --out it suggests
    is the folder beside it, x-r1, not '-r1' (an option to the command line)."""
    spec = spec_file(tmp_path)
    here = tmp_path / "x"
    here.mkdir()
    monkeypatch.chdir(here)
    code, text = sweep(capsys, spec, "--trials", 1, "--out", ".")
    assert code == 0, text
    code, text = cli(capsys, "train", *tiny_sets(), "--out", "r1")
    assert code == 2, text
    assert f"--out {here.resolve().parent / 'x-r1'} " in " ".join(text.split()), text
    assert not (here / "r1").exists()


def test_overwrite_is_refused_while_a_worker_is_between_trials(zygote, tmp_path, capsys):
    """`--overwrite` from another process while a worker waits between two trials: refused (exit 2), naming
    that worker's pid, and nothing deleted; once the worker is gone (killed: its marker left stale), it
    starts the sweep over."""
    spec = spec_file(tmp_path)
    out = tmp_path / "sw"
    pid, flag = start_worker(zygote, tmp_path, spec, out)
    try:
        code, text = sweep(capsys, spec, "--trials", 1, "--out", out, "--overwrite")
        assert code == 2, text
        assert f"pid {pid}" in text, text
        assert (out / "study.db").is_file() and (out / "trials" / "0" / "summary.json").is_file()
    finally:
        zygote.kill(pid)  # SIGKILL
    code, text = sweep(capsys, spec, "--trials", 1, "--out", out, "--overwrite")
    assert code == 0, text
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0"]
    assert not (out / ".workers").exists()


def test_workers_share_a_sweep_folder_and_each_keeps_it(zygote, tmp_path, capsys):
    """A second worker joins the sweep of a live one and runs its trials; once it is done, the first one
    still keeps the folder from --overwrite, and finishes the study."""
    spec = spec_file(tmp_path)
    out = tmp_path / "sw"
    pid, flag = start_worker(zygote, tmp_path, spec, out)
    try:
        code, text = sweep(capsys, spec, "--trials", 2, "--out", out)
        assert code == 0, text
        assert (out / "trials" / "1" / "summary.json").is_file()
        code, text = sweep(capsys, spec, "--trials", 1, "--out", out, "--overwrite")
        assert code == 2, text
        assert f"pid {pid}" in text and f"pid {os.getpid()}" not in text, text
    finally:
        assert stop_worker(zygote, pid, flag) == 0, (tmp_path / "worker.log").read_text()
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0", "1", "2"]
    code, text = sweep(capsys, spec, "--trials", 1, "--out", out, "--overwrite")
    assert code == 0, text
