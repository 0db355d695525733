"""Sweeps shared between workers: --narrow waits for the first stage's running trials, a trial whose worker
stopped beating (on any host) is failed and re-run, a study database that fails mid-sweep or refuses writes
is named in one line, and --nproc beyond the train split says to use fewer processes."""

import csv
import os
import socket
import sqlite3
from datetime import datetime

import optuna
import pytest
import sqlalchemy
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

import vislab.experiments.sweeps.runner as runner
from conftest import cli, one_line, tiny_base, tiny_sweep
from vislab.experiments.sweeps.spec import load_sweep
from vislab.experiments.sweeps.study import open_storage, open_study

# the tests ask for trials themselves (as another worker would), outside Study.optimize
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")


def write(path, spec: dict):
    path.write_text(yaml.safe_dump(spec))
    return path


def csv_rows(folder) -> list[dict]:
    with open(folder / "trials.csv") as f:
        return list(csv.DictReader(f))


def running_trial(study: optuna.Study, distributions: dict, host: str, pid: int) -> optuna.Trial:
    """A RUNNING trial of another worker (``host``, ``pid``) that sent a heartbeat just now."""
    trial = study.ask(distributions)
    for key, value in (("host", host), ("pid", pid), ("run_dir", "/elsewhere/trials/0")):
        trial.set_user_attr(key, value)
    study._storage.record_heartbeat(trial._trial_id)
    return trial


def test_narrow_waits_for_the_first_stages_running_trials(tmp_path, monkeypatch):
    """Worker A's own first-stage trial is done while worker B's still runs: A waits for it (saying so) and
    narrows to the best of both, not of its own alone; the narrowed study records that trial."""
    spec = tiny_sweep(
        name="race", space={"train.epochs": {"type": "categorical", "choices": [1, 2]}},
        sampler="grid", metric="val_acc", direction="maximize",
    )  # fmt: skip
    sweep = load_sweep(write(tmp_path / "race.yaml", spec))
    out = tmp_path / "sw"
    url = f"sqlite:///{out / 'study.db'}"
    study = open_study(sweep, open_storage(url))
    dist = {"train.epochs": CategoricalDistribution([1, 2])}
    other = running_trial(study, dist, socket.gethostname(), os.getpid())  # a live worker
    pauses = []

    def pause() -> None:  # while A waits, B's trial ends, better than A's
        pauses.append(1)
        study._storage.set_trial_state_values(other._trial_id, TrialState.COMPLETE, [2.0])

    monkeypatch.setattr(runner, "_pause", pause, raising=False)
    lines = []
    runner.run_sweep(sweep, out, trials=2, narrow=1, narrow_trials=1, storage=url, log=lines.append)
    text = "\n".join(lines)
    assert "waiting for 1 running trial of other workers" in text, text
    assert f"narrowing to the ranges of the best 1 trials ({other.number})" in text, text
    narrow = optuna.load_study(study_name="race-narrow", storage=url)
    assert narrow.user_attrs["narrowed_from"] == [other.number]
    assert narrow.user_attrs["narrowed_space"]["train.epochs"]["choices"] == [
        other.params["train.epochs"]
    ]
    assert pauses


def test_a_trial_whose_worker_on_another_host_stopped_beating_is_failed_and_run_again(tmp_path):
    """The only missing trial runs on a worker of another host that died (no heartbeat for longer than the
    grace period): the next run fails it, saying why in trials.csv, and trains its parameters again."""
    sweep = load_sweep(write(tmp_path / "s.yaml", tiny_sweep(name="beats")))
    out = tmp_path / "sw"
    url = f"sqlite:///{out / 'study.db'}"
    storage = open_storage(url)
    study = open_study(sweep, storage)
    lr = FloatDistribution(1e-3, 1e-1, log=True)
    dead = running_trial(study, {"optim.lr": lr}, "otherhost", 4242)
    with storage.engine.begin() as conn:  # its last heartbeat long ago
        conn.execute(
            sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :t WHERE trial_id = :i"),
            {"t": datetime(2000, 1, 1), "i": dead._trial_id},
        )
    lines = []
    runner.run_sweep(sweep, out, trials=1, storage=url, log=lines.append)
    text = "\n".join(lines)
    assert "nothing to train" not in text, text
    rows = {int(r["number"]): r for r in csv_rows(out)}
    # interrupted, as a Ctrl-C'd trial: its retry counts toward --trials instead
    assert rows[dead.number]["state"] == "interrupted"
    assert "stopped sending heartbeats" in rows[dead.number]["error"]
    (redo,) = [r for n, r in rows.items() if n != dead.number]
    assert redo["state"] == "complete"
    assert float(redo["optim.lr"]) == pytest.approx(dead.params["optim.lr"])


# run before a forked `vislab sweep` (the zygote's ``pre``): its study database fails as its trial reports the
# first epoch — that write alone (a blip: the trial is then marked failed), or (DOWN) every later one too, the
# trial staying RUNNING
DATABASE_GOES_DOWN = """
import contextlib
import optuna, sqlalchemy
import optuna.storages._rdb.storage as rdb

down = []

def lost(*a, **kw):
    down.append(True)
    raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))

real = rdb._create_scoped_session

@contextlib.contextmanager
def session(*a, **kw):
    if down:
        lost()
    with real(*a, **kw) as s:
        yield s

optuna.storages.RDBStorage.set_trial_intermediate_value = lost
if DOWN:
    rdb._create_scoped_session = session
"""


@pytest.mark.parametrize("how", ["blip", "down"])
def test_a_study_database_failing_mid_sweep_is_one_line_and_the_rerun_resumes(
    tmp_path, how, zygote
):
    """The database fails as a trial reports its first epoch: one line naming it (no traceback), exit 1
    as the shared suite's; run again, the trial goes on from its checkpoint and completes."""
    spec = tiny_sweep(name="db", base=tiny_base(train__epochs=2))
    path = write(tmp_path / "s.yaml", spec)
    out = tmp_path / "sw"
    args = ["sweep", path, "--trials", "1", "--out", out]
    pre = f"DOWN = {how == 'down'}\n{DATABASE_GOES_DOWN}"
    pid = zygote.start(args, tmp_path / "first.log", pre=pre)
    code = zygote.wait(pid, 300)
    said = one_line((tmp_path / "first.log").read_text())
    assert code == 1 and "Traceback" not in said, said
    assert f"the study database sqlite:///{out / 'study.db'} failed" in said, said
    assert "server closed the connection" in said and "Run the same command again" in said
    assert (out / "trials" / "0" / "checkpoints" / "last.pt").is_file()
    # the rerun's report (nothing here reads it; test_sweep's are checked) is left out
    pid = zygote.start([*args, "--no-report"], tmp_path / "again.log")
    code, said = zygote.wait(pid, 300), (tmp_path / "again.log").read_text()
    assert code == 0, said
    assert "resumes the interrupted run" in said, said
    rows = csv_rows(out)
    # a blip: the worker marked it interrupted, as a Ctrl-C'd trial; down: the rerun found it RUNNING,
    # its worker gone: interrupted too
    first = "interrupted"
    assert [r["state"] for r in rows] == [first, "complete"]
    why = "died during the trial" if how == "down" else "study database failed"
    assert why in rows[0]["error"]
    assert f"1 {first}" in (out / "results.md").read_text()
    assert not (out / "trials" / "0").exists() and (out / "trials" / "1" / "summary.json").is_file()


def test_a_read_only_study_storage_is_refused_in_one_line_and_nothing_is_made(
    tmp_path, capsys, monkeypatch
):
    """A storage that opens but refuses writes (SQLite opened read-only) is named with the fix, exit 2,
    and neither the sweep's folder nor stray files appear; a URL that cannot be opened makes no folder."""
    path = write(tmp_path / "s.yaml", tiny_sweep(name="ro"))
    db = tmp_path / "ro.db"
    open_storage(
        f"sqlite:///{db}"
    ).engine.dispose()  # the tables exist; the file is opened read-only
    with sqlite3.connect(
        db
    ) as conn:  # (in WAL mode, SQLite itself adds files beside it to read it)
        conn.execute("PRAGMA journal_mode=DELETE")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    code, text = cli(
        capsys, "sweep", path, "--trials", "1", "--out", tmp_path / "sw", "--storage", url
    )
    assert code == 2, text
    said = one_line(text)
    assert (
        "cannot write to the study storage 'sqlite:///file" in said and "ro.db?mode=ro" in said
    ), text
    assert "readonly" in said and "leave --storage out" in said
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "bad", "--storage", "foo://x")
    assert code == 2 and "cannot open the study storage 'foo://x'" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_nproc_beyond_the_train_split_says_use_fewer_processes():
    """3 digits (2 to train) over 4 processes: every share is empty — no batch size fits; the fix is fewer
    processes or more data. A share too small for the batch still says to use a smaller batch size."""
    from vislab.training.parts import no_batch_message

    said = no_batch_message(1, 2, 4)
    assert "smaller batch size" not in said
    assert "--nproc 2 at most" in said and "data.limit" in said
    assert "Use a smaller batch size" in no_batch_message(64, 40, 2)


def test_a_full_study_with_trials_running_elsewhere_offers_no_overwrite():
    """A worker that finds the study full while other workers still run trials is not told to start the
    sweep over (--overwrite would delete what they are running); once none runs, it is."""
    study = optuna.create_study(direction="maximize")
    study.tell(study.ask(), 0.5)
    study.ask()  # another worker's trial, running
    said = runner._nothing_to_train(study, 2, "--trials", busy=2, full=False)
    assert "1 finished trial and 1 running on other workers" in said and "--overwrite" not in said
    study.tell(study.get_trials()[-1].number, 0.6)
    assert "--overwrite" in runner._nothing_to_train(study, 2, "--trials", busy=2, full=False)
