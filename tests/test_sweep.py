"""Sweeps: shared storage across worker processes, resuming after a killed worker, pruning, narrowing.

Worker processes are forked from a zygote (tests/fixtures.py) that imported vislab once, so that each starts
in milliseconds."""

import json
import os
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from conftest import tiny_base
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.config.schema import SELECT_METRICS
from vislab.errors import ConfigError, Note
from vislab.experiments.sweeps import samplers
from vislab.experiments.sweeps import space as sp
from vislab.experiments.sweeps.builtin_files import builtin_sweeps
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep
from vislab.experiments.sweeps.study import load_existing_study
from vislab.report.figure_set import FigureSet

# trials skip their own figures/ (most of a tiny trial's time): nothing here looks at them (a sweep's
# report draws its own), and test_train checks them
BASE = tiny_base()
SPACE = {
    "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
    "model.hidden": {"type": "categorical", "choices": [[8], [16], [32, 16]]},
    "train.batch_size": {"type": "int", "low": 16, "high": 48, "step": 16},
}


def write_spec(path: Path, name: str = "t", **extra) -> Path:
    spec = {
        "name": name,
        "base": BASE,
        "space": SPACE,
        "metric": "val_pacc",
        "sampler": "random",
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def worker(zygote, spec: Path, out: Path, *args: str, pre: str = "") -> tuple[int, Path]:
    """A ``vislab sweep SPEC --out OUT --no-report ARGS`` process; (its pid, its log OUT.log)."""
    log = out.parent / f"{out.name}.log"
    return zygote.start(["sweep", spec, "--out", out, "--no-report", *args], log, pre), log


# Workers of the shared-storage tests train the majority baseline (no optimizer: quick to start) on varied data.
SHARED = {
    "base": {**BASE, "model": {"name": "majority"}},
    "space": {
        "data.limit": {"type": "int", "low": 50, "high": 300},
        "train.seed": {"type": "int", "low": 0, "high": 10_000},
    },
}


# inside each worker: its first trial, about to save, waits (up to 60 s) for the other worker's first
# trial to get there too: the two processes hold trials of one study at the same time
MEET_THE_OTHER_WORKER = textwrap.dedent("""
    import os, time
    import vislab.training.saving as saving
    _save_checkpoint = saving.save_checkpoint
    def save_checkpoint(path, payload):
        if not os.path.exists(os.path.join(MEET, str(os.getpid()))):
            open(os.path.join(MEET, str(os.getpid())), "w").close()
            deadline = time.monotonic() + 60
            while len(os.listdir(MEET)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        _save_checkpoint(path, payload)
    saving.save_checkpoint = save_checkpoint
""")


def check_workers_shared_study(
    zygote, spec: Path, out: Path, storage_args: list[str], storage: str, name: str, k: int = 2
):
    """Two worker processes asked for 2k trials together, each holding a trial while the other does:
    exactly 2k complete, distinct numbers and folders, trained by both workers."""
    meet = out / "meet"
    meet.mkdir()
    pre = f"MEET = {str(meet)!r}\n" + MEET_THE_OTHER_WORKER
    workers = [
        worker(zygote, spec, out / f"w{i}", "--trials", str(2 * k), *storage_args, pre=pre)
        for i in range(2)
    ]
    codes = [zygote.wait(pid, 120) for pid, _ in workers]
    logs = [log.read_text() for _, log in workers]
    assert codes == [0, 0], logs
    study = load_existing_study(storage, name)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 2 * k, logs
    assert len({t.number for t in complete}) == 2 * k
    dirs = {t.user_attrs["run_dir"] for t in complete}
    assert {Path(d).relative_to(out).parts[0] for d in dirs} == {"w0", "w1"}, dirs
    assert len(dirs) == 2 * k and all(
        json.loads((Path(d) / "summary.json").read_text())["status"] == "complete" for d in dirs
    )
    assert all(
        t.value
        == json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())["val_pacc"]
        for t in complete
    )
    others = [
        t
        for t in study.trials
        if t.state != TrialState.COMPLETE and not t.user_attrs.get("surplus")
    ]
    assert others == []
    return study


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(tmp_path, zygote):
    spec = write_spec(tmp_path / "s.yaml", **SHARED)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    check_workers_shared_study(zygote, spec, tmp_path, ["--storage", storage], storage, "t")


@pytest.mark.skipif(
    not os.environ.get("VISLAB_TEST_POSTGRES_URL"), reason="VISLAB_TEST_POSTGRES_URL not set"
)
def test_two_workers_share_one_postgres_study(tmp_path, zygote):
    pytest.importorskip("psycopg2")
    url = os.environ["VISLAB_TEST_POSTGRES_URL"]
    name = f"t-{uuid.uuid4().hex[:8]}"
    spec = write_spec(tmp_path / "s.yaml", name=name, **SHARED)
    study = check_workers_shared_study(zygote, spec, tmp_path, ["--storage", url], url, name)
    optuna.delete_study(study_name=study.study_name, storage=study._storage)


# inside the worker: once trial 0 has written its first last.pt, the process waits there to be killed
STOP_AT_THE_FIRST_CHECKPOINT = textwrap.dedent("""
    import time
    import vislab.training.saving as resume
    _save_checkpoint = resume.save_checkpoint
    def save_checkpoint(path, payload):
        _save_checkpoint(path, payload)
        if path.name == "last.pt":
            open(MARK, "w").close()
            time.sleep(300)
    resume.save_checkpoint = save_checkpoint
""")


def test_killed_worker_trial_is_retried_and_finished_trials_are_kept(tmp_path, zygote):
    spec = write_spec(tmp_path / "s.yaml", base={**BASE, "train": {**BASE["train"], "epochs": 2}})
    out, mark = tmp_path / "sweep", tmp_path / "checkpointed"
    pre = f"MARK = {str(mark)!r}\n" + STOP_AT_THE_FIRST_CHECKPOINT
    pid, log = worker(zygote, spec, out, "--trials", "2", pre=pre)
    deadline = time.monotonic() + 60
    while not mark.exists():  # trial 0 is after its first epoch
        ended = zygote.wait(pid, 0.02)
        assert ended is None, (
            f"the worker ended ({ended}) before it could be killed: {log.read_text()}"
        )
        assert time.monotonic() < deadline
    zygote.kill(pid)  # SIGKILL
    assert (out / "trials" / "0" / "checkpoints" / "last.pt").is_file()
    # The next worker finds trial 0 RUNNING with a dead pid: failed and re-queued with the same parameters.
    study = run_sweep(load_sweep(spec), out, trials=2, log=lambda s: None)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 2
    assert any(t.params == trials[0].params for t in complete)  # the retry
    before = {t.number: t.datetime_complete for t in complete}
    run_sweep(load_sweep(spec), out, trials=2, log=lambda s: None)
    again = load_existing_study(f"sqlite:///{out / 'study.db'}", "t")
    assert {
        t.number: t.datetime_complete for t in again.get_trials(states=(TrialState.COMPLETE,))
    } == before


def test_sweep_narrow_report_and_show(tmp_path, capsys, monkeypatch):
    """Random stage → --narrow over the best 2 → reports with importances and parallel coordinates."""
    import vislab.experiments.sweeps.trials
    import vislab.report.plan

    monkeypatch.setattr(vislab.report.plan, "MAX_DETAILED_TRIALS", 1)
    # importances from the 4 trials here (a report asks for 11; tests/test_imports_h1.py checks that)
    monkeypatch.setattr(vislab.experiments.sweeps.trials, "MIN_IMPORTANCE_TRIALS", 4)
    # the sweep figures and curves this test reads; not the detailed trial's own (test_report_browser's)
    skip_report_figures(monkeypatch, keep=("sweep_", "curves"))
    spec = write_spec(tmp_path / "s.yaml", seed=0, curves=3)
    out = tmp_path / "sweep"
    # nor the narrow stage's (only its report's path is read here): half of `sweep show`'s drawing
    kept = FigureSet.make

    def make(figs, *args, **kw):
        return None if out / "narrow" in figs.fig_dir.parents else kept(figs, *args, **kw)

    monkeypatch.setattr(FigureSet, "make", make)
    assert (
        main(
            [
                "sweep",
                str(spec),
                "--trials",
                "4",
                "--out",
                str(out),
                "--narrow",
                "2",
                "--narrow-trials",
                "2",
                "--no-report",
            ]
        )
        == 0
    )
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", "t")
    best = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: -t.value)[:2]
    narrow = load_existing_study(f"sqlite:///{out / 'study.db'}", "t-narrow")
    done = narrow.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2
    lrs = [t.params["optim.lr"] for t in best]
    for t in done:
        assert min(lrs) <= t.params["optim.lr"] <= max(lrs)
        assert t.params["model.hidden"] in {b.params["model.hidden"] for b in best}
    assert (out / "trials.csv").read_text().count("\n") == 5 and not (out / "report.html").exists()
    plan = vislab.report.plan.plan_report(out)  # what the report will hold
    assert len(plan.detailed) == 1
    # curves of the best K trials (the file's curves: 3; default 30), not only the detailed one
    assert len(plan.shown) == 3
    capsys.readouterr()
    # prints the best trials, writes the reports; K is an option of `sweep show` (and of `sweep FILE`)
    assert main(["sweep", "show", str(out), "--top", "3", "--curves", "2"]) == 0
    shown = capsys.readouterr()
    assert f"{study.best_value:.4f}" in shown.out and "optim.lr" in shown.out
    # each stage's report path, once
    assert [line for line in shown.err.splitlines() if line.startswith("report:")] == [
        f"report: {out / 'report.html'}",
        f"report: {out / 'narrow' / 'report.html'}",
    ], shown.err
    for name in ("sweep_parallel.png", "sweep_importances.png", "sweep_history.png"):
        assert (out / "figures" / name).is_file()
    # the best 2 of 4 from now on, and the curves figure the report drew says so
    plan = vislab.report.plan.plan_report(out)
    assert [plan.complete[n].get("val_pacc") for n in plan.shown] == [t.value for t in best]
    html = (out / "report.html").read_text()
    assert "training curves of the best 2 trials by val_pacc" in html
    assert "parallel coordinates" in html and 'id="trials"' in html and "narrow/report.html" in html
    assert (out / "narrow" / "report.html").is_file()


@pytest.mark.parametrize("eval_at_start", [False, True])
def test_pruned_trials_stop_early(tmp_path, monkeypatch, eval_at_start):
    monkeypatch.setattr(
        samplers, "build_pruner", lambda spec: optuna.pruners.ThresholdPruner(lower=1.01)
    )
    spec = write_spec(
        tmp_path / "s.yaml",
        base={**BASE, "train": {**BASE["train"], "epochs": 3, "eval_at_start": eval_at_start}},
    )
    study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=2, log=lambda s: None)
    assert [t.state for t in study.trials] == [TrialState.PRUNED, TrialState.PRUNED]
    for t in study.trials:
        assert list(t.intermediate_values) == [
            1
        ]  # the untrained model (epoch 0) is never a reason to prune
        summary = json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())
        assert summary["status"] == "pruned"


def test_grid_sampler_covers_the_grid(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "g",
                "base": BASE,
                "sampler": "grid",
                "space": {
                    "optim.name": {"type": "categorical", "choices": ["sgd", "adam"]},
                    "train.batch_size": {"type": "int", "low": 16, "high": 32, "step": 16},
                },
            }
        )
    )
    study = run_sweep(
        load_sweep(spec),
        tmp_path / "sw",
        overrides=["data.limit=100"],
        log=lambda s: None,
    )
    combos = {(t.params["optim.name"], t.params["train.batch_size"]) for t in study.trials}
    assert (
        combos == {("sgd", 16), ("sgd", 32), ("adam", 16), ("adam", 32)} and len(study.trials) == 4
    )


def test_a_rerun_asking_for_no_more_trials_says_so_and_overwrite_starts_over(tmp_path, capsys):
    """--trials is the total a study should hold: a re-run asking for no more trains nothing, and says so
    with the ways to add trials; --overwrite starts a new study."""
    spec = write_spec(tmp_path / "s.yaml", **SHARED)
    out = tmp_path / "sw"
    args = ["sweep", str(spec), "--out", str(out), "--no-report"]
    assert main([*args, "--trials", "2"]) == 0
    capsys.readouterr()
    assert main([*args, "--trials", "1"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "study 't' already holds 2 finished trials (--trials 1 counts all of the study's trials): "
        "nothing to train; give --trials 3 or more (Python: trials=3) to add trials, or --overwrite "
        "(Python: overwrite=True) to start the sweep over." in err
    ), err
    storage = f"sqlite:///{out / 'study.db'}"
    assert len(load_existing_study(storage, "t").trials) == 2
    assert main([*args, "--trials", "1", "--overwrite"]) == 0
    assert len(load_existing_study(storage, "t").trials) == 1
    assert not (out / "trials" / "1").exists()
    assert "already holds" not in capsys.readouterr().err


def test_a_full_grid_says_no_trial_can_be_added(tmp_path):
    spec = write_spec(
        tmp_path / "g.yaml",
        sampler="grid",
        base=SHARED["base"],
        space={"data.limit": {"type": "categorical", "choices": [50, 100]}},
    )
    run_sweep(load_sweep(spec), tmp_path / "sw", log=lambda line: None)
    with pytest.warns(Note, match="nothing to train; every combination of its space is taken"):
        run_sweep(load_sweep(spec), tmp_path / "sw", log=lambda line: None)


def test_builtin_sweeps_are_valid_and_every_sampled_trial_builds(capsys):
    """Random points of each built-in space make valid configs and models that run on the data's images."""
    import torch

    from vislab.config import build_config
    from vislab.experiments.sweeps.spec import base_tree
    from vislab.models import build_model

    assert {"dlvc-cnn", "dlvc-vit", "dlvc-augment"} <= set(builtin_sweeps())
    for name in builtin_sweeps():
        spec = load_sweep(name)
        base = base_tree(spec.base, [], "test")
        assert spec.metric in SELECT_METRICS and spec.distributions
        assert base["data"]["name"] == "cifar10"
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(6):
            trial = study.ask()
            cfg = build_config(
                base,
                [f"{k}={json.dumps(v)}" for k, v in sp.suggest(trial, spec.distributions).items()],
            )
            model = build_model(cfg.model.name, (3, 32, 32), 10, **cfg.model.kwargs())
            assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    vit = load_sweep("dlvc-vit").distributions
    assert {
        "train.batch_size",
        "model.patch_size",
        "model.dropout",
        "optim.lr",
        "schedule.gamma",
        "optim.name",
        "model.embed_dim",
        "model.depth",
        "model.mlp_hidden",
        "model.head_dim",
        "model.num_heads",
        "model.head_hidden",
        "optim.weight_decay",
    } == set(vit)  # DLVC group report C §6.1.3's list
    assert main(["sweep", "list"]) == 0
    assert "dlvc-vit" in capsys.readouterr().out


def test_narrowed_space_and_spec_errors(tmp_path):
    dists = {
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "n": IntDistribution(1, 9, step=2),
        "opt": CategoricalDistribution(["sgd", "adam", "adamw"]),
    }
    best = [
        create_trial(value=v, params=p, distributions=dists)
        for v, p in (
            (0.9, {"lr": 0.01, "n": 3, "opt": "adam"}),
            (0.8, {"lr": 0.1, "n": 7, "opt": "adam"}),
        )
    ]
    got = sp.narrowed(dists, best)
    assert (got["lr"].low, got["lr"].high, got["lr"].log) == (0.01, 0.1, True)
    assert (got["n"].low, got["n"].high, got["n"].step) == (3, 7, 2)
    assert got["opt"].choices == ("adam",)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": BASE, "space": SPACE, "metric": "test_acc"}))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "x")]) == 2
    bad.write_text(
        yaml.safe_dump({"base": BASE, "space": {"optim.lr": {"type": "float", "low": 0.1}}})
    )
    assert main(["sweep", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert main(["sweep", "show", str(tmp_path)]) == 2


def test_joining_a_study_with_another_base_is_refused(tmp_path, capsys):
    """Trials of one study must be comparable: another --epochs/--set/base is refused, the machine's own
    settings (data.root, train.device, ...) are not part of the comparison."""
    spec = write_spec(tmp_path / "s.yaml")
    out = tmp_path / "sw"
    assert main(["sweep", str(spec), "--trials", "1", "--out", str(out), "--no-report"]) == 0
    capsys.readouterr()
    for extra in (["--epochs", "2"], ["--set", "data.name=circles"]):
        assert (
            main(["sweep", str(spec), "--trials", "2", "--out", str(out), "--no-report", *extra])
            == 2
        )
        err = " ".join(capsys.readouterr().err.split())
        assert "was started with another base config" in err and "Traceback" not in err, err
        assert "another name (the name: key of its file), another --out or --storage" in err
        assert "new name:" not in err
    changed = write_spec(
        tmp_path / "s2.yaml", base={**BASE, "train": {**BASE["train"], "epochs": 3}}
    )
    assert main(["sweep", str(changed), "--trials", "2", "--out", str(out), "--no-report"]) == 2
    assert "train.epochs: 1 → 3" in " ".join(capsys.readouterr().err.split())
    # nothing was added
    assert len(load_existing_study(f"sqlite:///{out / 'study.db'}", "t").trials) == 1
    assert (
        main(
            [
                "sweep",
                str(spec),
                "--trials",
                "2",
                "--out",
                str(out),
                "--no-report",
                "--set",
                f"data.root={tmp_path}",
                "--set",
                "train.threads=1",
            ]
        )
        == 0
    )  # machine settings may differ


def test_interrupted_sweep_queues_the_trial_again_and_says_how_to_go_on(tmp_path, monkeypatch):
    import vislab.experiments.sweeps.objective as sweep_mod
    from vislab.errors import TrainingInterrupted

    real, calls = sweep_mod.train, []

    def train_once_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TrainingInterrupted(
                "training stopped by SIGINT at epoch 1, step 3; state saved in x"
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_mod, "train", train_once_interrupted)
    spec = load_sweep(write_spec(tmp_path / "s.yaml"))
    with pytest.raises(
        TrainingInterrupted, match="queued again. Run the same `vislab sweep` command"
    ):
        run_sweep(spec, tmp_path / "sw", trials=1, log=lambda s: None)
    study = run_sweep(spec, tmp_path / "sw", trials=1, log=lambda s: None)
    first, retry = study.trials[0], study.trials[1]
    assert first.state == TrialState.FAIL and first.user_attrs["error"].startswith("interrupted")
    assert (
        retry.state == TrialState.COMPLETE
        and retry.params == first.params
        and not retry.user_attrs.get("error")
    )


@pytest.mark.parametrize(
    "space, fragment",
    [
        (
            {"model.hiden": {"type": "categorical", "choices": [[8], [16]]}},
            "model 'mlp' has no option 'model.hiden'",
        ),
        (
            {"optim.lrr": {"type": "float", "low": 1e-3, "high": 1e-1}},
            "unknown config key 'optim.lrr'",
        ),
    ],
)
def test_a_space_key_no_trial_could_use_stops_the_sweep_before_any_trial(
    tmp_path, capsys, space, fragment
):
    spec = write_spec(tmp_path / "s.yaml", space=space)
    assert (
        main(["sweep", str(spec), "--trials", "3", "--out", str(tmp_path / "sw"), "--no-report"])
        == 2
    )
    assert fragment in " ".join(capsys.readouterr().err.split())
    assert not list((tmp_path / "sw" / "trials").glob("*"))


@pytest.mark.parametrize(
    "entry, fragments",
    [
        (
            {"type": "float", "low": "tiny", "high": 0.1},
            ["sweep value 'space.optim.lr.low' = 'tiny'", "valid number"],
        ),
        (
            {"type": "float", "lo": 1e-3, "high": 0.1},
            ["unknown sweep key 'space.optim.lr.lo'", "Did you mean 'space.optim.lr.low'"],
        ),
        ({"type": "float", "low": 0.1, "high": 1e-3}, ["'space.optim.lr'", "low <= high"]),
        ({"type": "real", "low": 1e-3, "high": 0.1}, ["'space.optim.lr.type'", "categorical"]),
    ],
)
def test_sweep_parameter_mistakes_name_the_key_path_and_the_file(tmp_path, entry, fragments):
    spec = write_spec(tmp_path / "s.yaml", space={"optim.lr": entry})
    with pytest.raises(ConfigError) as e:
        load_sweep(spec)
    msg = str(e.value)
    assert str(spec) in msg and all(f in msg for f in fragments), msg


def test_sweep_file_top_level_mistakes(tmp_path):
    spec = write_spec(tmp_path / "s.yaml", metric="test_acc", trial=3)
    with pytest.raises(ConfigError) as e:
        load_sweep(spec)
    msg = str(e.value)
    assert "never on test" in msg and "Did you mean 'trials'" in msg and str(spec) in msg


def test_sweeps_silence_their_own_optuna_warnings_and_keep_real_ones(tmp_path):
    """vislab's heartbeats, re-queued trials and constant-liar TPE are Optuna features it uses on purpose: their
    ExperimentalWarnings stay out of the output. A user's own mistake (a deprecated sampler option) shows."""
    import warnings

    from vislab.experiments.sweeps.study import requeue

    spec = write_spec(tmp_path / "s.yaml", sampler={"name": "tpe", "consider_prior": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=1, log=lambda s: None)
        requeue(study, study.trials[0])  # the path of a dead worker's trial
    shown = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not [m for m in shown if m.startswith("ExperimentalWarning")], shown
    if tuple(int(v) for v in optuna.__version__.split(".")[:2]) >= (4, 3):  # deprecated in 4.3
        assert any(m.startswith("FutureWarning") and "consider_prior" in m for m in shown), shown


@pytest.mark.slow
def test_the_dlvc_augmentation_dropout_study_is_built_in(tmp_path):
    """DLVC assignment 1 §6.2: augmentation probability 0–100 % × dropout 0–0.7 on the tuned CNN, val ACC."""
    spec = load_sweep("dlvc-augment")
    d = spec.distributions
    assert d == {
        "augment.p": FloatDistribution(0.0, 1.0),
        "model.dropout": CategoricalDistribution([0.0, 0.3, 0.5, 0.7]),
    }
    assert (spec.metric, spec.direction, spec.curves) == ("val_acc", "maximize", 30)
    base = spec.base
    assert base["model"]["name"] == "cnn" and base["data"]["name"] == "cifar10"
    # the augmentation it gates: flip, rotation, resized crop
    assert {k for k, v in base["augment"].items() if v.get("p", 0) > 0} == {
        "hflip",
        "rotation",
        "resized_crop",
    }
    out = tmp_path / "aug"
    args = ["sweep", "dlvc-augment", "--data", "digits", "--epochs", "1", "--trials", "2"]
    sets = ["--set", "data.limit=300", "--set", "train.figures=false"]  # (figures: see BASE)
    assert main([*args, *sets, "--out", str(out), "--no-report"]) == 0
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", "dlvc-augment")
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2 and all(0 <= t.params["augment.p"] <= 1 for t in done)


def test_a_narrowed_grid_walks_its_own_smaller_grid(tmp_path):
    """--narrow on a grid sweep: the second stage's grid is the best trials' values, each point once."""
    spec = tmp_path / "g.yaml"
    space = {
        "optim.name": {"type": "categorical", "choices": ["sgd", "adam"]},
        "train.batch_size": {"type": "int", "low": 16, "high": 32, "step": 16},
    }
    spec.write_text(yaml.safe_dump({"name": "g", "base": BASE, "sampler": "grid", "space": space}))
    out = tmp_path / "sw"
    study = run_sweep(
        load_sweep(spec), out, overrides=["data.limit=100"], narrow=2, log=lambda s: None
    )
    best = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: -t.value)[:2]
    narrow = load_existing_study(f"sqlite:///{out / 'study.db'}", "g-narrow").trials
    grid = sp.narrowed(load_sweep(spec).distributions, best)
    points = [(t.params["optim.name"], t.params["train.batch_size"]) for t in narrow]
    assert len(points) == len(set(points)) == sp.grid_size(grid)  # every narrowed point, once
    assert {p[0] for p in points} == {t.params["optim.name"] for t in best}


@pytest.mark.parametrize("epochs, state", [(1, TrialState.COMPLETE), (2, TrialState.PRUNED)])
def test_a_trial_that_reaches_its_last_epoch_is_complete_never_pruned(tmp_path, epochs, state):
    """`pruner: {name: halving, bootstrap_count: 100}` prunes every trial at epoch 1: a trial of 2 epochs is
    pruned there, but one of 1 epoch has finished — it is complete, and in results.md."""
    pruner = {"name": "halving", "min_resource": 1, "bootstrap_count": 100}
    base = {**BASE, "train": {**BASE["train"], "epochs": epochs}}
    spec = write_spec(tmp_path / "s.yaml", base=base, pruner=pruner)
    study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=2, log=lambda s: None)
    assert [t.state for t in study.trials] == [state, state]
    assert all(list(t.intermediate_values) == [1] for t in study.trials)
    rows = (tmp_path / "sw" / "results.md").read_text()
    assert ("| trial-1 |" in rows) == (state == TrialState.COMPLETE)


@pytest.mark.parametrize("pruner", ["median", "halving", "hyperband"])
def test_no_pruner_prunes_a_trial_at_its_last_epoch(pruner):
    """Eight trials scored 0.9 at epochs 1 and 2; a ninth scores 0.1 at epoch 2. The sweep file's pruner
    stops it there when the run has a third epoch to go, never when epoch 2 was its last."""
    from vislab.experiments.sweeps.objective import _PruneReport
    from vislab.experiments.sweeps.spec import Sweep

    sweep = Sweep("p", None, {}, {}, metric="val_pacc", direction="maximize", pruner=pruner)
    # a fixed name: hyperband puts a trial in a bracket by a hash of the study's name and its number
    study = optuna.create_study(
        study_name="p", direction="maximize", pruner=samplers.build_pruner(sweep)
    )
    for _ in range(8):
        trial = study.ask()
        for epoch in (1, 2):
            _PruneReport(trial, "val_pacc", epochs=2).on_epoch_end(dict(epoch=epoch, val_pacc=0.9))
        study.tell(trial, 0.9)
    last, not_last = study.ask(), study.ask()
    _PruneReport(last, "val_pacc", epochs=2).on_epoch_end(dict(epoch=2, val_pacc=0.1))
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2"):
        _PruneReport(not_last, "val_pacc", epochs=3).on_epoch_end(dict(epoch=2, val_pacc=0.1))


class _PruneTrialOne(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.number == 1


def test_results_md_shows_each_trials_parameters_and_counts_the_pruned(tmp_path, monkeypatch):
    """results.md: a column per swept key (4 significant digits, a list choice as [16]), and a line saying
    how many trials were pruned and that trials.csv lists them; results.csv keeps the values in full."""
    monkeypatch.setattr(samplers, "build_pruner", lambda spec: _PruneTrialOne())
    base = {**BASE, "train": {**BASE["train"], "epochs": 2}}
    spec = write_spec(tmp_path / "s.yaml", base=base, seed=0)
    study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=3, log=lambda s: None)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    md = (tmp_path / "sw" / "results.md").read_text()
    assert "| run | model | seed | model.hidden | optim.lr | train.batch_size | train ACC |" in md
    for t in (study.trials[0], study.trials[2]):
        p = t.params
        cells = f"| {p['model.hidden']} | {p['optim.lr']:.4g} | {p['train.batch_size']} |"
        cells = f"| trial-{t.number} | mlp | 0 {cells}"
        assert cells in md and p["model.hidden"].startswith("["), md
    assert "| trial-1 |" not in md
    assert "2 complete trials in this table; 1 pruned. trials.csv lists every trial" in md, md
    csv_text = (tmp_path / "sw" / "results.csv").read_text()
    assert repr(study.trials[0].params["optim.lr"]) in csv_text


class _PruneFromEpoch2(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return max(trial.intermediate_values, default=0) >= 2


def test_a_trial_that_early_stopping_ends_is_complete_never_pruned_at_its_last_row(
    tmp_path, monkeypatch
):
    """A pruner that prunes every trial from epoch 2 on, trials of 4 epochs that train.early_stop ends after
    epoch 2 (train.min_delta=1: val_pacc never improves by 1): epoch 2 is their last row, so they are
    complete — as a trial that reaches train.epochs is — and in results.md."""
    from vislab.experiments.sweeps.objective import _PruneReport

    monkeypatch.setattr(samplers, "build_pruner", lambda spec: _PruneFromEpoch2())
    train_cfg = {**BASE["train"], "epochs": 4, "early_stop": 1, "min_delta": 1}
    spec = write_spec(tmp_path / "s.yaml", base={**BASE, "train": train_cfg})
    study = run_sweep(load_sweep(spec), tmp_path / "sw", trials=2, log=lambda s: None)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert all(list(t.intermediate_values) == [1, 2] for t in study.trials)
    assert "| trial-1 |" in (tmp_path / "sw" / "results.md").read_text()
    # the same row without the early stop's mark is pruned there
    study = optuna.create_study(pruner=_PruneFromEpoch2())
    marked, unmarked = study.ask(), study.ask()
    _PruneReport(marked, "val_pacc", epochs=4).on_epoch_end(
        dict(epoch=2, val_pacc=0.5, stopped_early=True)
    )
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2"):
        _PruneReport(unmarked, "val_pacc", epochs=4).on_epoch_end(dict(epoch=2, val_pacc=0.5))


def test_joining_a_study_whose_choices_changed_is_refused_before_any_trial(tmp_path, capsys):
    """A categorical's choices (or a range's kind or log scale) cannot change within an Optuna study: its
    trials failed one by one with an Optuna traceback. A range's new bounds still join, with a note."""
    out = tmp_path / "sw"
    hidden = {"model.hidden": {"type": "categorical", "choices": [[16], [32]]}}
    first = write_spec(tmp_path / "s.yaml", space=hidden)
    assert main(["sweep", str(first), "--trials", "1", "--out", str(out), "--no-report"]) == 0
    capsys.readouterr()
    hidden["model.hidden"]["choices"] = [[8], [128]]
    changed = write_spec(tmp_path / "s2.yaml", space=hidden)
    code = main(["sweep", str(changed), "--trials", "3", "--out", str(out), "--no-report"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "'model.hidden'" in err and "another name" in err, err
    assert "Traceback" not in err
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", "t")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]  # no failed trial left in it


def test_sweep_show_with_a_storage_but_no_study_lists_the_studies(tmp_path, capsys):
    spec = write_spec(tmp_path / "s.yaml")
    out = tmp_path / "sw"
    assert main(["sweep", str(spec), "--trials", "1", "--out", str(out), "--no-report"]) == 0
    capsys.readouterr()
    code = main(["sweep", "show", "--storage", f"sqlite:///{out / 'study.db'}"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "give --study NAME" in err and "holds t." in err, err
