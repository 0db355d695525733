"""A suite's dry run sees a run folder a live vislab process holds; a report reads each run's config.yaml
once; augment.p=0 trains exactly as no augmentation; data.limit_per_class keeps N training images of
each class."""

import json
import multiprocessing as mp
import signal
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_base
from vislab.config import build_config
from vislab.data import load_splits
from vislab.errors import ConfigError
from vislab.training.rundir import RunDir

BASE = tiny_base()


def write_suite(path: Path, runs: dict) -> Path:
    path.write_text(yaml.safe_dump({"base": BASE, "runs": runs}, sort_keys=False))
    return path


def _hold(run: Path, ready) -> None:
    """A process that opens run folder ``run`` as a training run does (RunDir.open takes its lock) and
    keeps it until killed."""
    RunDir(run).open()
    ready.set()
    while True:
        signal.pause()


@pytest.fixture
def held(tmp_path):
    """(run folder, pid): a live process of this host holding that folder's lock (forked: no imports)."""
    run = tmp_path / "out" / "mlp"
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold, args=(run, ready), daemon=True)
    proc.start()
    try:
        assert ready.wait(10), "the lock holder did not start"
        yield run, proc.pid
    finally:
        proc.kill()
        proc.join(10)


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_dry_run_says_a_run_whose_folder_a_live_process_holds_is_busy(tmp_path, capsys, held):
    run, pid = held
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "mlp-fast": {"optim.lr": 0.1}})
    stale = tmp_path / "out" / "mlp-fast"  # a lock whose process is gone: a run takes it over
    stale.mkdir()
    (stale / ".lock").write_text(f"{_dead_pid()} {socket.gethostname()}")
    lock = (run / ".lock").read_text()
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out", "--dry-run")
    assert code == 0, text
    said = one_line(text)
    busy = f"run directory '{run}' is in use by another vislab process (pid {pid})"
    assert (
        f"mlp: busy, so the whole suite would be refused before anything is trained or written: {busy}"
        in said
    ), said
    assert "mlp-fast: start" in said
    assert "1 to start, 1 busy" in said, said
    table = vislab.run_suite(spec, out=tmp_path / "out", dry_run=True, quiet=True)
    assert dict(zip(table["run"], table["action"])) == {"mlp": "busy", "mlp-fast": "start"}
    assert f"pid {pid}" in table.set_index("run").loc["mlp", "what"]
    # the lock is read, not taken: the holder's lock is as it was
    assert (run / ".lock").read_text() == lock and lock.split()[0] == str(pid)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """A tiny 1-epoch digits run without augmentation."""
    run = tmp_path_factory.mktemp("plain") / "run"
    vislab.train(**TINY_DIGITS, out=run, quiet=True)
    return run


def test_a_report_reads_each_runs_config_once(plain_run, monkeypatch):
    reads = []
    real = RunDir.load_config

    def counted(self):
        reads.append(self.path.name)
        return real(self)

    monkeypatch.setattr(RunDir, "load_config", counted)
    page = vislab.write_report(plain_run)
    assert reads == ["run"], reads
    # what needs the run's config is drawn from that one read: its data preview and its mistakes
    drawn = {p.name for p in (plain_run / "figures").iterdir()}
    assert {"samples_1.png", "mistakes_run.png"} <= drawn, drawn
    assert page == plain_run / "report.html" and page.is_file()


def test_augment_p_0_trains_exactly_as_no_augmentation(plain_run, tmp_path):
    run = tmp_path / "p0"
    vislab.train(**TINY_DIGITS, augment__p=0, augment__hflip__p=0.5, out=run, quiet=True)
    # every figure of every row to the last bit (JSON writes a float's shortest exact repr); not the time
    assert _rows(run) == _rows(plain_run)


def _rows(run: Path) -> list[dict]:
    """metrics.jsonl's rows without their ``seconds``."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _splits(*sets: str):
    cfg = build_config({}, ["data.name=digits", *sets])
    return load_splits(cfg.data, cfg.train.seed)


def test_limit_per_class_keeps_n_training_images_of_each_class_drawn_with_the_seed(capsys):
    whole, kept = _splits(), _splits("data.limit_per_class=20")
    assert np.bincount(kept.train.y).tolist() == [20] * 10
    # drawn from the train split alone: val and test are the same images as without it
    for name in ("val", "test"):
        assert np.array_equal(getattr(kept, name).x, getattr(whole, name).x)
    rows = {tuple(r) for r in whole.train.x.reshape(len(whole.train.x), -1)}
    assert all(tuple(r) in rows for r in kept.train.x.reshape(200, -1))
    again, other = (
        _splits("data.limit_per_class=20"),
        _splits("data.limit_per_class=20", "train.seed=1"),
    )
    assert np.array_equal(again.train.x, kept.train.x)
    assert not np.array_equal(other.train.x, kept.train.x)
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.limit_per_class=20")
    assert code == 0, text
    assert "train: 20 images of each class (data.limit_per_class, drawn with train.seed=0)" in text
    assert "│ total │   200 │" in text


def test_limit_per_class_refuses_a_class_with_fewer_images_and_a_limit_beside_it(capsys, tmp_path):
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.limit_per_class=145")
    said = one_line(text)
    assert code == 2, text
    assert "data.limit_per_class=145 keeps 145 training images of each class" in said
    assert "fewer of '0' (144)" in said and "'8' (140)" in said and "'1'" not in said
    assert "lower it to at most 140: --set data.limit_per_class=140" in said
    with pytest.raises(ConfigError, match="data__limit_per_class=140"):
        vislab.train(
            **{**TINY_DIGITS, "data__limit": None}, data__limit_per_class=145, out=tmp_path
        )
    code, text = cli(
        capsys,
        "data",
        "info",
        "digits",
        "--set",
        "data.limit_per_class=5",
        "--set",
        "data.limit=30",
    )
    assert code == 2 and "give one of them" in one_line(text), text


def test_a_dry_run_says_a_busy_folder_refuses_the_suite_as_a_run_does(tmp_path, capsys, held):
    held = held[0]
    base = {
        "data": {"name": "digits", "limit": 100},
        "train": {"epochs": 1, "device": "cpu", "figures": False},
        "model": {"name": "mlp", "hidden": [8]},
    }
    spec = tmp_path / "s.yaml"
    runs = {"mlp": {}, "mlp-fast": {"optim.lr": 0.1}}
    spec.write_text(yaml.safe_dump({"base": base, "runs": runs}))
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out)
    said = one_line(text)
    assert code == 2 and "whole suite is refused and nothing was trained or written" in said, said
    assert not (out / "mlp-fast").exists()  # the other run did not start either
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    said = one_line(text)
    assert code == 0, text
    assert "mlp: busy, so the whole suite would be refused before anything is trained or written: " \
        f"run directory '{held}' is in use" in said, said  # fmt: skip
    assert "would fail" not in said
