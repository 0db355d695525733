"""Suites end to end: the comparison table, skipping finished runs, resuming after a kill, failures."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from vislab.cli import main
from vislab.config import build_config
from vislab.errors import ConfigError
from vislab.experiments.results.table import COLUMNS
from vislab.experiments.suites.spec import builtin_suites, load_suite, run_config
from vislab.models import build_model, skip_pretrained

BASE = {
    "data": {"name": "digits", "limit": 300},
    "train": {"epochs": 2, "batch_size": 32, "device": "cpu"},
    "model": {"name": "mlp", "hidden": [32]},
}


def write_suite(path: Path, runs: dict, base: dict = BASE, **extra) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"description": "test suite", "base": base, "runs": runs, **extra}, sort_keys=False
        )
    )
    return path


def test_suite_table_matches_summaries_failures_reported_and_rerun_skips(
    tmp_path, capsys, train_spy
):
    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "majority": {"model.name": "majority"},
            "mlp": {},
            "cnn": {
                "model.name": "cnn",
                "model.widths": [8],
                "model.fc": [16],
                "augment.crop.p": 1,
                "augment.crop.padding": 1,
            },
            "too-deep": {
                "model.name": "cnn",
                "model.widths": [4, 4, 4, 4],
            },  # 8×8 digits cannot take 4 pools
        },
        groups={"nets": ["mlp", "cnn"]},
    )
    out = tmp_path / "out"
    # the report: test_report_browser
    code = main(["suite", str(spec), "--out", str(out), "-q", "--no-report"])
    text = capsys.readouterr()
    assert code == 1  # one run failed, the suite went on
    assert (
        "too-deep" in text.err
        and "max-pools" in text.err
        and "Traceback" not in text.err + text.out
    )

    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["majority", "mlp", "cnn"]
    assert list(rows[0]) == [k for k, _ in COLUMNS]
    for r in rows:
        summary = json.loads((out / r["run"] / "summary.json").read_text())
        for key, _ in COLUMNS[1:]:
            assert float(r[key]) == pytest.approx(summary[key], abs=0, rel=0), key
    md = (out / "results.md").read_text()
    assert "| mlp |" in md and "too-deep" in md and "val PACC" in md
    state = json.loads((out / "suite.json").read_text())
    assert state["runs"]["too-deep"]["status"] == "failed"

    # Re-running trains nothing that is finished (only the failed run is tried again).
    mtimes = {n: (out / n / "summary.json").stat().st_mtime_ns for n in ("majority", "mlp", "cnn")}
    train_spy.clear()
    assert main(["suite", str(spec), "--out", str(out), "-q", "--no-report"]) == 1
    assert [name for name, _ in train_spy] == ["too-deep"]
    assert mtimes == {n: (out / n / "summary.json").stat().st_mtime_ns for n in mtimes}


def test_suite_report_follows_how_the_suite_ended(tmp_path, capsys, monkeypatch):
    """report.html is written when every run finished and when some failed, not when interrupted."""
    import vislab.experiments.suites.runner as runner
    from vislab.errors import TrainingInterrupted

    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "majority": {"model.name": "majority"},
            "too-deep": {"model.name": "cnn", "model.widths": [4] * 4},
        },
    )
    assert main(["suite", str(spec), "--out", str(tmp_path / "failed"), "-q"]) == 1
    page = (tmp_path / "failed" / "report.html").read_text()
    assert "too-deep" in page and "max-pools" in page  # the failure is on the page
    assert f"report: {tmp_path / 'failed' / 'report.html'}" in capsys.readouterr().err

    def interrupted(cfg, out, **kw):
        raise TrainingInterrupted("training stopped by SIGINT at epoch 1, step 3; state saved in x")

    monkeypatch.setattr(runner, "train", interrupted)
    assert main(["suite", str(spec), "--out", str(tmp_path / "stopped"), "-q"]) == 130
    assert (tmp_path / "stopped" / "results.md").is_file()
    assert not (tmp_path / "stopped" / "report.html").exists()


def test_killed_suite_resumes_only_the_missing_runs(tmp_path, train_spy):
    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "first": {"model.name": "majority"},
            "second": {
                "train.epochs": 12,
                "data.limit": 200,
            },  # long enough to be killed in the middle
            "third": {"model.name": "majority", "data.limit": 100},
        },
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vislab",
            "suite",
            str(spec),
            "--out",
            str(out),
            "-q",
            "--no-report",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while not (out / "second" / "checkpoints" / "last.pt").is_file():
            assert proc.poll() is None, "the suite ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads((out / "first" / "summary.json").read_text())["status"] == "complete"
    assert not (out / "third").exists()
    first_mtime = (out / "first" / "summary.json").stat().st_mtime_ns

    assert main(["suite", str(spec), "--out", str(out), "-q", "--no-report"]) == 0
    assert train_spy == [("second", True), ("third", False)]
    assert (out / "first" / "summary.json").stat().st_mtime_ns == first_mtime
    second = json.loads((out / "second" / "summary.json").read_text())
    assert second["status"] == "complete" and second["epochs_run"] == 12
    assert len((out / "second" / "metrics.jsonl").read_text().splitlines()) == 12
    with open(out / "results.csv") as f:
        assert [r["run"] for r in csv.DictReader(f)] == ["first", "second", "third"]


@pytest.mark.slow
def test_parallel_jobs_and_data_override(tmp_path, capsys):
    """--jobs 2 trains in two spawned processes; --data circles makes the image-only run fail cleanly."""
    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "majority": {"model.name": "majority"},
            "cnn": {"model.name": "cnn", "model.widths": [8]},
            "majority-small": {"model.name": "majority", "data.limit": 100},
        },
    )
    out = tmp_path / "out"
    code = main(
        [
            "suite",
            str(spec),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--data",
            "circles",
            "-q",
            "--no-report",
            "--set",
            "data.n_samples=300",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "cnn" in err and "needs images" in err
    for name in ("majority", "majority-small"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["data"] == "circles"
    assert (
        yaml.safe_load((out / "majority" / "config.yaml").read_text())["data"]["n_samples"] == 300
    )


def test_changed_config_is_not_silently_reused(tmp_path, capsys):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {"train.epochs": 1}})
    out = tmp_path / "out"
    assert main(["suite", str(spec), "--out", str(out), "-q", "--no-report"]) == 0
    code = main(
        ["suite", str(spec), "--out", str(out), "-q", "--no-report", "--set", "optim.lr=0.5"]
    )
    err = capsys.readouterr().err
    assert code == 1 and "different config" in err and "optim.lr" in err


def test_run_overrides_switching_model_drop_base_kwargs_and_null_removes(tmp_path):
    spec = write_suite(
        tmp_path / "s.yaml",
        {"maj": {"model.name": "majority"}, "plain": {"augment.crop": None, "model.hidden": [8]}},
        base={**BASE, "augment": {"crop": {"p": 1.0, "padding": 2}}},
    )
    suite = load_suite(spec)
    assert run_config(suite, "maj").model.kwargs() == {}
    plain = run_config(suite, "plain")
    assert plain.augment.crop.p == 0.0 and plain.model.kwargs() == {"hidden": [8]}


def test_builtin_suites_are_valid_and_faithful():
    names = builtin_suites()
    assert {
        "quickstart",
        "dlvc-compare",
        "dlvc-final",
        "cnn-ladder",
        "vit-study",
        "vit-small-data",
        "mlp-basics",
        "timm-mnist",
    } <= set(names)
    assert all(names.values())  # every suite says what it is in `vislab suite`
    for name in names:
        suite = load_suite(name)
        for run in suite.runs:
            assert isinstance(run_config(suite, run), type(build_config({})))
    dlvc = load_suite("dlvc-compare")
    cfg = run_config(dlvc, "cnn-deep-bn")
    assert (
        cfg.optim.name,
        cfg.optim.lr,
        cfg.optim.weight_decay,
        cfg.train.batch_size,
        cfg.train.epochs,
    ) == ("adam", 0.001, 0.0001, 64, 10)
    assert cfg.augment.crop.p > 0 and cfg.augment.hflip.p > 0
    assert run_config(dlvc, "resnet18-noaug").augment.hflip.p == 0
    ladder = load_suite("cnn-ladder")
    base, top = run_config(ladder, "baseline"), run_config(ladder, "batchnorm")
    assert (base.optim.name, base.optim.lr, base.train.batch_size, base.data.normalize) == (
        "sgd",
        0.1,
        128,
        "none",
    )
    assert not base.data.official_val  # RDFIA 1-cd trains on all five CIFAR-10 batches
    assert (
        top.model.kwargs()["batchnorm"]
        and top.optim.momentum == 0.9
        and top.schedule.name == "exponential"
    )
    assert (
        run_config(ladder, "lr-0.01").optim.lr,
        run_config(ladder, "batch-32").train.batch_size,
    ) == (0.01, 32)
    final = load_suite("dlvc-final")
    vit_aug = run_config(final, "vit-aug")
    assert (
        vit_aug.model.kwargs()
        == run_config(final, "vit-noaug").model.kwargs()
        == dict(
            patch_size=2,
            embed_dim=32,
            depth=4,
            mlp_hidden=1024,
            head_dim=16,
            num_heads=20,
            dropout=0.25,
            head_hidden=[1024],
            pos_embed="learned",
        )
    )
    assert (
        vit_aug.optim.name,
        vit_aug.optim.lr,
        vit_aug.optim.weight_decay,
        vit_aug.schedule.name,
        vit_aug.schedule.gamma,
        vit_aug.train.batch_size,
        vit_aug.train.epochs,
    ) == ("adamw", 0.000365, 0.1, "exponential", 0.9, 128, 60)
    assert vit_aug.augment.rotation.p > 0 and run_config(final, "vit-noaug").augment.rotation.p == 0
    assert [run_config(final, r).train.epochs for r in ("resnet18", "cnn")] == [60, 120]
    timm_suite = load_suite("timm-mnist")
    # each builds for MNIST's 1×28×28 (pretrained weights are not needed to check)
    for run in timm_suite.runs:
        cfg = run_config(timm_suite, run)
        with skip_pretrained():
            model = build_model(cfg.model.name, (1, 28, 28), 10, **cfg.model.kwargs())
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    small = load_suite("vit-small-data")
    assert (
        run_config(small, "spt-lsa").model.kwargs()["spt"]
        and run_config(small, "spt-lsa").model.kwargs()["lsa"]
    )
    assert (
        run_config(small, "base").model.kwargs()
        == run_config(load_suite("vit-study"), "base").model.kwargs()
    )
    vit = load_suite("vit-study")
    for axis, values in (
        ("patch_size", [2, 4, 7, 14, 28]),
        ("embed_dim", [16, 32, 64, 128]),
        ("depth", [2, 4, 6, 8]),
    ):
        assert sorted(run_config(vit, r).model.kwargs()[axis] for r in vit.groups[axis]) == values
    mlp = load_suite("mlp-basics")
    assert sorted(run_config(mlp, r).optim.lr for r in mlp.groups["learning-rate"]) == [
        0.001,
        0.03,
        0.3,
    ]
    assert {
        run_config(mlp, r).model.kwargs().get("impl", "manual")
        for r in mlp.groups["implementation"]
    } == {"manual", "autograd", "module", "optim"}


def test_suite_without_name_lists_builtins_and_unknown_is_user_error(capsys):
    assert main(["suite"]) == 0
    assert "cnn-ladder" in capsys.readouterr().out
    assert main(["suite", "no-such-suite"]) == 2
    assert "built-in suite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--data", "bogus"], "unknown dataset data.name='bogus'"),
        (["--set", "optim.lrr=0.1"], "unknown config key 'optim.lrr'"),
    ],
)
def test_a_mistake_every_run_shares_stops_the_suite_before_training(
    capsys, tmp_path, train_spy, args, fragment
):
    out = tmp_path / "s"
    assert main(["suite", "quickstart", "--out", str(out), "-q", *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "no run of suite 'quickstart' has a valid config" in err
        and fragment in err
        and not train_spy
    )
    assert not out.exists()


def test_suite_file_mistakes_name_the_key_path_and_the_file(tmp_path):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}}, runz={"x": {}})
    with pytest.raises(ConfigError) as e:
        load_suite(spec)
    msg = str(e.value)
    assert str(spec) in msg and "unknown suite key 'runz'" in msg and "Did you mean 'runs'" in msg
    write_suite(spec, {"mlp": {}, "bad/name": {}, "lr": 0.1})
    with pytest.raises(ConfigError) as e:
        load_suite(spec)
    msg = str(e.value)
    assert str(spec) in msg and "'runs.bad/name'" in msg and "'runs.lr' = 0.1" in msg
    write_suite(spec, {"mlp": {}}, groups={"ladder": ["mlp", "cnn"]})
    with pytest.raises(ConfigError, match=r"'groups'.*names unknown runs \['cnn'\]"):
        load_suite(spec)
