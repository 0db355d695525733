"""Suites end to end: the comparison table, skipping finished runs, resuming after a kill, failures; seeds
and the spread over them."""

import csv
import html
import json
import os
import re
import signal
import statistics
import time
from pathlib import Path

import pytest
import torch
import yaml

from conftest import tiny_base
from figures_skipped import skip_report_figures
from vislab.api import run_suite
from vislab.cli import main
from vislab.config import build_config
from vislab.errors import ConfigError
from vislab.experiments.results.spread import RULE
from vislab.experiments.results.table import COLUMNS
from vislab.experiments.suites.spec import builtin_suites, load_suite, run_config, with_seeds
from vislab.models import build_model, skip_pretrained
from vislab.report.build import build_report
from vislab.report.plan import plan_report
from vislab.report.seeds import plan_verdicts

# runs skip their own figures/ (most of a tiny run's time): nothing here looks at them (a suite's report
# draws its own), and test_train checks them
BASE = tiny_base(data__limit=300, train__epochs=2, model__hidden=[32])


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
            # fails as it sets up (its batches), after the suite's checks: the others go on
            "too-deep": {"train.batch_size": 4096},
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
        and "larger than the train split" in text.err
        and "Traceback" not in text.err + text.out
    )

    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["majority", "mlp", "cnn"]
    assert list(rows[0])[:3] == ["run", "model", "seed"]  # then the settings the runs changed
    assert [k for k in rows[0] if k in dict(COLUMNS)] == [k for k, _ in COLUMNS]
    for r in rows:
        summary = json.loads((out / r["run"] / "summary.json").read_text())
        for key, _ in COLUMNS[
            1:
        ]:  # majority's epochs too: its one fit, epoch 1, as summary.json says
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
    import vislab.experiments.suites.jobs as jobs
    from vislab.errors import TrainingInterrupted

    skip_report_figures(monkeypatch)  # the page's text alone is read here

    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "majority": {"model.name": "majority"},
            "too-deep": {"train.batch_size": 4096},  # fails as it sets up
        },
    )
    assert main(["suite", str(spec), "--out", str(tmp_path / "failed"), "-q"]) == 1
    page = (tmp_path / "failed" / "report.html").read_text()
    # the failure is on the page
    assert "too-deep" in page and "larger than the train split" in page
    assert f"report: {tmp_path / 'failed' / 'report.html'}" in capsys.readouterr().err

    def interrupted(cfg, out, **kw):
        raise TrainingInterrupted("training stopped by SIGINT at epoch 1, step 3; state saved in x")

    monkeypatch.setattr(jobs, "train", interrupted)
    assert main(["suite", str(spec), "--out", str(tmp_path / "stopped"), "-q"]) == 130
    assert (tmp_path / "stopped" / "results.md").is_file()
    assert not (tmp_path / "stopped" / "report.html").exists()


def test_killed_suite_resumes_only_the_missing_runs(tmp_path, train_spy, zygote):
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
    out, log = tmp_path / "out", tmp_path / "suite.log"
    # `vislab suite` in a process of its own, forked from the tests' zygote (its imports done once)
    pid = zygote.start(["suite", spec, "--out", out, "-q", "--no-report"], log)
    try:
        deadline = time.time() + 60
        while not (out / "second" / "checkpoints" / "last.pt").is_file():
            assert zygote.wait(pid, 0.02) is None, "the suite ended before it could be killed"
            assert time.time() < deadline
        os.kill(pid, signal.SIGKILL)
        assert zygote.wait(pid, 30) == -signal.SIGKILL
    finally:
        zygote.kill(pid)
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
    """--jobs 2 trains in two spawned processes, each seed of a run with its own train.seed; a run failing
    in its process (batches larger than the train split) fails cleanly, the others go on. (An image-only
    model on --data circles stops the suite before anything trains: test_suite_dry_run_data.)"""
    spec = write_suite(
        tmp_path / "s.yaml",
        {
            "majority": {"model.name": "majority"},
            "big-batch": {"model.name": "mlp", "train.batch_size": 4096},
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
            "--seeds",
            "2",
            "--data",
            "circles",
            "-q",
            "--no-report",
            "--set",
            "data.n_samples=300",
            "--set",
            "train.seed=3",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "big-batch-s0" in err and "big-batch-s1" in err
    assert "larger than the train split" in err
    for name in ("majority", "majority-small"):
        for i in (0, 1):
            summary = json.loads((out / f"{name}-s{i}" / "summary.json").read_text())
            assert summary["status"] == "complete" and summary["data"] == "circles"
            assert summary["seed"] == 3 + i
    config = yaml.safe_load((out / "majority-s0" / "config.yaml").read_text())
    assert config["data"]["n_samples"] == 300


def test_changed_config_is_not_silently_reused(tmp_path, capsys):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {"train.epochs": 1}})
    out = tmp_path / "out"
    assert main(["suite", str(spec), "--out", str(out), "-q", "--no-report"]) == 0
    code = main(
        ["suite", str(spec), "--out", str(out), "-q", "--no-report", "--set", "optim.lr=0.5"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "different config" in err and "optim.lr" in err  # refused before any work


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
    # each builds for MNIST's 1×28×28 (pretrained weights are not needed to check); on the meta device, which
    # builds every layer and follows an image's shapes through them without drawing ViT-Base's 86 M weights
    for run in timm_suite.runs:
        cfg = run_config(timm_suite, run)
        with skip_pretrained(), torch.device("meta"):
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


# ------------------------------------------------------------------------------------------ seeds
def test_seeded_runs_are_named_per_seed_and_add_to_the_seed_after_overrides(tmp_path, capsys):
    spec = write_suite(tmp_path / "s.yaml", {"maj": {"model.name": "majority"}, "mlp": {}})
    suite = with_seeds(load_suite(spec), 3)
    assert list(suite.run_names()) == [f"{r}-s{i}" for r in ("maj", "mlp") for i in range(3)]
    assert suite.rows() == {r: [f"{r}-s{i}" for i in range(3)] for r in ("maj", "mlp")}
    assert [run_config(suite, f"mlp-s{i}").train.seed for i in range(3)] == [0, 1, 2]
    moved = [run_config(suite, f"mlp-s{i}", ["train.seed=5"]).train.seed for i in range(3)]
    assert moved == [5, 6, 7]  # --set train.seed=5 moves every seed, it does not collapse them
    assert list(load_suite(spec).run_names()) == ["maj", "mlp"]  # no seeds: the runs' own names

    code = main(["suite", str(spec), "--out", str(tmp_path / "o"), "--seeds", "0", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "seeds 0" in err and "1 or more" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_seeds_train_each_run_n_times_give_mean_std_and_resume_only_new_seeds(tmp_path, train_spy):
    spec = write_suite(
        tmp_path / "s.yaml",
        {"maj": {"model.name": "majority"}, "mlp": {"train.epochs": 1}},
        base={**BASE, "train": {**BASE["train"], "seed": 3}},
    )
    out = tmp_path / "out"
    args = ["--out", str(out), "--seeds", "2", "-q", "--no-report"]
    assert main(["suite", str(spec), *args]) == 0
    names = [f"{r}-s{i}" for r in ("maj", "mlp") for i in range(2)]
    assert [name for name, _ in train_spy] == names
    seeds = {n: json.loads((out / n / "summary.json").read_text())["seed"] for n in names}
    assert seeds == {"maj-s0": 3, "maj-s1": 4, "mlp-s0": 3, "mlp-s1": 4}
    mtimes = {n: (out / n / "summary.json").stat().st_mtime_ns for n in names}
    train_spy.clear()

    # a third seed: only the new runs train; the table is then over 3 seeds
    result = run_suite(str(spec), out=out, seeds=3, log=lambda line: None)
    assert train_spy == [("maj-s2", False), ("mlp-s2", False)]
    assert mtimes == {n: (out / n / "summary.json").stat().st_mtime_ns for n in names}
    with open(out / "results.csv") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["maj", "mlp"] and list(result.table["run"]) == ["maj", "mlp"]
    for row in ("maj", "mlp"):
        runs = [json.loads((out / f"{row}-s{i}" / "summary.json").read_text()) for i in range(3)]
        assert rows[row]["seeds"] == "3" and result.table.set_index("run").loc[row, "seeds"] == 3
        for key in ("val_acc", "test_acc", "test_loss", "train_time_s"):
            values = [s[key] for s in runs]
            assert float(rows[row][key]) == pytest.approx(statistics.mean(values), abs=1e-12)
            assert float(rows[row][f"{key}_std"]) == pytest.approx(
                statistics.stdev(values), abs=1e-12
            )
    md = (out / "results.md").read_text()
    mean, std = float(rows["mlp"]["test_acc"]), float(rows["mlp"]["test_acc_std"])
    assert "| mlp | 3 |" in md and f"{mean:.4f} ± {std:.4f}" in md
    assert "- **all runs**: mlp vs maj: " in md  # the verdict, as report.html gives it

    train_spy.clear()  # the same command again (seeds as suite.json records them) trains nothing
    run_suite(str(spec), out=out, log=lambda line: None)
    assert train_spy == []


def _fake_runs(folder: Path, accuracies: dict[str, list[float]]) -> None:
    """Finished runs ``<row>-s<i>`` with only a summary.json: the given test accuracies."""
    for row, values in accuracies.items():
        for i, acc in enumerate(values):
            run = folder / f"{row}-s{i}"
            run.mkdir(parents=True)
            (run / "summary.json").write_text(json.dumps({"status": "complete", "test_acc": acc}))


def test_a_difference_beyond_the_seeds_spread_is_told_from_one_within_it(tmp_path):
    accuracies = {  # a folder of runs: each row compared with the best (s25: not its neighbour)
        "depth-2": [0.80, 0.81, 0.79, 0.80, 0.82],
        "depth-6": [0.90, 0.91, 0.89, 0.92, 0.90],  # clearly above depth-2
        "depth-8": [0.91, 0.88, 0.93, 0.87, 0.90],  # overlaps depth-6
    }
    _fake_runs(tmp_path, accuracies)
    [(_, [beyond, within])] = plan_verdicts(plan_report(tmp_path)).items()
    mean = {row: statistics.mean(v) for row, v in accuracies.items()}
    assert (beyond.first, beyond.second) == ("depth-6", "depth-2")
    assert (within.first, within.second) == ("depth-6", "depth-8")
    assert beyond.exceeds is True and within.exceeds is False
    up, down = 100 * (mean["depth-6"] - mean["depth-2"]), 100 * (mean["depth-6"] - mean["depth-8"])
    assert beyond.sentence().startswith(f"depth-6 vs depth-2: +{up:.1f} ± ")
    assert within.sentence().startswith(f"depth-6 vs depth-8: +{down:.1f} ± ")
    assert "pt test ACC over 5 seeds" in beyond.sentence()
    assert beyond.sentence().endswith("exceeds the spread.")
    assert within.sentence().endswith("within the spread.")
    page = build_report(tmp_path).read_text()  # the report says both, with the rule beside them
    assert html.escape(beyond.sentence(), quote=True) in page
    assert html.escape(within.sentence(), quote=True) in page
    items = re.findall(r'<li class="(exceeds|within)" title="([^"]*)"', page)
    assert [(kind, html.unescape(rule)) for kind, rule in items] == [
        ("exceeds", RULE),
        ("within", RULE),
    ]
    assert "0.8040 ± 0.0114" in page  # depth-2's test ACC in the table: mean ± std over its seeds
