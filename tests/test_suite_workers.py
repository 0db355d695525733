"""Suites on several machines (`vislab suite --storage postgresql://...`): each run claimed once, a dead
worker's run finished by another, the table written once; bad storage options; and a suite re-run with
another --epochs, which keeps the finished runs instead of calling them failed.

The shared-database tests need PostgreSQL: CI sets VISLAB_TEST_POSTGRES_URL (.ci/run starts a server);
without it they skip. Worker processes are forked from a zygote (tests/fixtures.py) that imported vislab
once, so that each starts in milliseconds."""

import contextlib
import csv
import errno
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import cli, one_line, tiny_base
from vislab.errors import UserError
from vislab.experiments.shared.claims import Claim, SuiteClaims
from vislab.experiments.shared.postgres import SharedStorage
from vislab.experiments.shared.runner import ClaimSource, taken_from
from vislab.experiments.suites.plan import plan_run
from vislab.experiments.suites.spec import load_suite, run_config
from vislab.training.rundir import RunDir
from vislab.training.state import Callback
from vislab.training.trainer import train

PG_URL = os.environ.get("VISLAB_TEST_POSTGRES_URL")
# runs skip their own figures/ (most of a tiny run's time): nothing here looks at them
BASE = tiny_base()
SIX = {  # six quick runs (~1 s each)
    "majority": {"model.name": "majority"},
    "mlp": {},
    "mlp-seed1": {"train.seed": 1},
    "mlp-wide": {"model.hidden": [32]},
    "mlp-lr": {"optim.lr": 0.05},
    "mlp-2ep": {"train.epochs": 2},
}


def write_suite(path: Path, runs: dict, name: str | None = None) -> Path:
    spec = {"description": "test suite", "base": BASE, "runs": runs}
    path.write_text(yaml.safe_dump({**({"name": name} if name else {}), **spec}, sort_keys=False))
    return path


# ----------------------------------------------------------------------- a re-run with another --epochs
def test_rerun_with_other_epochs_keeps_the_finished_runs_and_calls_none_failed(
    tmp_path, capsys, train_spy
):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "majority": {"model.name": "majority"}})
    out = tmp_path / "out"
    args = ["suite", spec, "--out", out, "-q", "--no-report"]
    assert cli(capsys, *args)[0] == 0
    first = (out / "mlp" / "summary.json").read_text()
    trained_by = {
        r: json.loads((out / r / "summary.json").read_text())["trained_by"]
        for r in ("mlp", "majority")
    }
    assert trained_by == {"mlp": "optimizer", "majority": "fit_arrays"}  # what a re-run reads

    train_spy.clear()
    code, text = cli(capsys, *args, "--epochs", "2")
    assert code == 0, text
    assert "FAILED" not in text and "failed" not in text
    assert "train.epochs=1, not 2" in one_line(text) and "training it for 2 epochs" in text
    assert train_spy == [("mlp", False)]  # trained anew, not resumed
    # majority is fitted, not trained by epochs: the same run whatever --epochs says
    assert (
        "majority: already complete, skipped" in text and not (out / "majority.epochs-1").exists()
    )
    assert (out / "mlp.epochs-1" / "summary.json").read_text() == first  # kept as it was
    assert json.loads((out / "mlp" / "summary.json").read_text())["epochs_run"] == 2
    state = json.loads((out / "suite.json").read_text())
    assert {r["status"] for r in state["runs"].values()} == {"complete"}
    with open(out / "results.csv") as f:
        assert {r["run"]: r["epochs_run"] for r in csv.DictReader(f)}["mlp"] == "2"

    # back to 1 epoch: the kept run comes back, nothing trains, the 2-epoch run is kept in turn
    train_spy.clear()
    code, text = cli(capsys, *args, "--epochs", "1")
    assert code == 0 and train_spy == [] and "FAILED" not in text
    assert (out / "mlp" / "summary.json").read_text() == first
    assert json.loads((out / "mlp.epochs-2" / "summary.json").read_text())["epochs_run"] == 2
    assert "is back" in text and "mlp: already complete, skipped" in text


# ----------------------------------------------------------------------- Ctrl-C with --jobs 2
def start_endless_jobs_suite(zygote, tmp_path: Path) -> tuple[int, Path]:
    """`vislab suite --jobs 2` of two runs that never finish, in its own process group (a terminal's),
    forked from the tests' zygote (tests/fixtures.py: its imports done once), its output into
    tmp_path/suite.log; its pid and its --out."""
    long = {"train.epochs": 100_000}
    spec = write_suite(tmp_path / "s.yaml", {"a": long, "b": {**long, "train.seed": 1}})
    out = tmp_path / "out"
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--jobs", "2"]
    return zygote.start(args, tmp_path / "suite.log", pre="import os; os.setsid()"), out


def wait_until_both_train(zygote, pid: int, out: Path, written: str) -> None:
    """Until runs a and b of :func:`start_endless_jobs_suite` have each written ``written`` (both are
    training); fails if the suite ended first or after 120 s."""
    deadline = time.monotonic() + 120
    while not all((out / r / written).is_file() for r in "ab"):
        assert zygote.wait(pid, 0.02) is None and time.monotonic() < deadline, (
            out.parent / "suite.log"
        ).read_text()


def stopped_jobs_suite(zygote, tmp_path: Path, written: str, stop) -> tuple[int, str, Path]:
    """:func:`start_endless_jobs_suite`, ``stop(pid, out)`` once both runs wrote ``written``; the suite's
    exit code, its output and its --out (its process group killed if it outlives the test)."""
    pid, out = start_endless_jobs_suite(zygote, tmp_path)
    code = None
    try:
        wait_until_both_train(zygote, pid, out, written)
        stop(pid, out)
        code = zygote.wait(pid, 120)
    finally:
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            zygote.wait(pid, 30)
    return code, (tmp_path / "suite.log").read_text(), out


def test_ctrl_c_with_two_workers_records_the_runs_in_flight_as_interrupted(tmp_path, zygote):
    # never done: Ctrl-C (to the whole process group) stops both
    code, text, out = stopped_jobs_suite(
        zygote, tmp_path, "metrics.jsonl", lambda pid, out: os.killpg(pid, signal.SIGINT)
    )
    assert code == 130 and "Traceback" not in text, text
    said = one_line(text)
    assert "interrupted, and with it 2 runs" in said and "- a: training stopped by SIGINT" in said
    assert "- b: training stopped by SIGINT" in said, text
    runs = json.loads((out / "suite.json").read_text())["runs"]
    assert {r: runs[r]["status"] for r in "ab"} == {"a": "interrupted", "b": "interrupted"}
    unfinished = (out / "results.md").read_text().partition("Failed or unfinished runs")[2]
    assert "a" in unfinished and "b" in unfinished and "SIGINT" in unfinished
    assert all((out / r / "checkpoints" / "last.pt").is_file() for r in "ab")  # resumable


# ----------------------------------------------------------------------- shared suites, without a database
def test_a_waiting_worker_asks_again_within_seconds_whatever_its_heartbeat():
    claims = SimpleNamespace(storage=SimpleNamespace(heartbeat_s=20.0))
    assert ClaimSource(claims, None, Path("out"), [], print).poll_s == 2.0
    claims.storage.heartbeat_s = 0.5
    assert ClaimSource(claims, None, Path("out"), [], print).poll_s == 0.5


def test_a_run_handed_back_is_not_said_to_be_taken_over():
    back = taken_from(Claim("cnn", 2, "vm", 13731, silent_s=3.0, handed_back=True))
    assert (
        back
        == "interrupted by its worker on vm (pid 13731), which handed it back; going on with it"
    )
    lost = taken_from(Claim("cnn", 2, "vm", 13731, silent_s=41.0))
    assert lost == "taking it over from the worker on vm (pid 13731, silent for 41 s)"


# ----------------------------------------------------------------------- bad storage options
def test_storage_options_mistakes_exit_2_before_anything_runs(tmp_path, capsys, train_spy):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}})
    out = tmp_path / "out"
    cases = [
        (["--storage", "mysql://u@h/db"], ["PostgreSQL", "not 'mysql'", "leave --storage out"]),
        (["--storage", f"sqlite:///{tmp_path}/x.db"], ["postgresql://", "not 'sqlite'"]),
        (["--heartbeat", "5"], ["--storage", "--heartbeat"]),
        (
            ["--storage", "postgresql://u@h/db", "--heartbeat", "30", "--heartbeat-lapse", "10"],
            ["--heartbeat-lapse 10 must be longer than --heartbeat 30"],
        ),
    ]
    for extra, fragments in cases:
        code, text = cli(capsys, "suite", spec, "--out", out, "-q", *extra)
        assert code == 2, (extra, text)
        assert all(f in one_line(text) for f in fragments), (extra, text)
    assert train_spy == [] and not out.exists()


def test_unreachable_database_is_a_user_error_naming_it(tmp_path, capsys, train_spy):
    pytest.importorskip("psycopg2")
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}})
    url = "postgresql://someone:secret@127.0.0.1:1/nowhere"  # nothing listens on port 1
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out", "--storage", url)
    assert code == 2
    msg = one_line(text)
    assert "cannot open the suite database postgresql://someone:***@127.0.0.1:1/nowhere" in msg
    assert "secret" not in msg and "that the server runs" in msg
    assert train_spy == [] and not (tmp_path / "out").exists()


# ----------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg():
    """(url, a fresh suite name); the suite's rows are deleted afterwards."""
    if not PG_URL:
        pytest.skip("VISLAB_TEST_POSTGRES_URL not set")
    pytest.importorskip("psycopg2")
    name = f"t-{uuid.uuid4().hex[:8]}"
    yield PG_URL, name
    _delete_suite(PG_URL, name)


@pytest.fixture
def forks(pg, request):
    """The module's zygote (tests/fixtures.py), started only when PostgreSQL is there to use."""
    return request.getfixturevalue("zygote")


def rows(url: str, name: str) -> dict[str, dict]:
    claims = SuiteClaims(SharedStorage(url), name, log=lambda s: None)
    try:
        return claims.records()
    finally:
        claims.close()


def start_workers(zygote, spec: Path, out: Path, url: str, n: int = 2) -> list[tuple[int, Path]]:
    """``n`` workers of `vislab suite SPEC --storage URL`: (pid, log file) each."""
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--storage", url]
    logs = [out.parent / f"w{i}.log" for i in range(n)]
    return [(zygote.start([*args, "--heartbeat", "0.5"], log), log) for log in logs]


def finish(zygote, workers, timeout=180) -> list[str]:
    codes = [zygote.wait(pid, timeout) for pid, _ in workers]
    logs = [log.read_text() for _, log in workers]
    assert codes == [0] * len(workers), logs
    return logs


@pytest.mark.slow
def test_two_workers_train_every_run_once_and_write_the_table_once(tmp_path, forks, pg):
    zygote, (url, name) = forks, pg
    spec = write_suite(tmp_path / "s.yaml", SIX, name=name)
    out = tmp_path / "out"
    logs = finish(zygote, start_workers(zygote, spec, out, url))
    both = "\n".join(logs)
    for run in SIX:  # trained exactly once, by one of the two
        assert both.count(f"{run}: starting") == 1, both
        assert json.loads((out / run / "summary.json").read_text())["status"] == "complete"
    assert all(log.count(": starting") >= 1 for log in logs), logs  # both worked
    records = rows(url, name)
    assert {r["status"] for r in records.values()} == {"complete"}
    assert {r["attempts"] for r in records.values()} == {1}
    assert [log.count(f"results: {out / 'results.md'}") for log in logs].count(1) == 1, logs
    assert sum("results: written by worker" in log for log in logs) == 1
    with open(out / "results.csv") as f:
        table = {r["run"]: r for r in csv.DictReader(f)}
    assert list(table) == list(SIX)
    for run, row in table.items():
        summary = json.loads((out / run / "summary.json").read_text())
        assert float(row["test_acc"]) == summary["test_acc"]
        # kept in the database too, for machines that cannot see this folder
        assert records[run]["summary"]["test_acc"] == summary["test_acc"]


@pytest.mark.slow
def test_a_killed_workers_run_is_finished_by_the_other_from_its_checkpoint(tmp_path, forks, pg):
    zygote, (url, name) = forks, pg
    runs = {
        "long": {"train.epochs": 25, "data.limit": 300},
        **{k: SIX[k] for k in ("mlp", "majority")},
    }
    spec = write_suite(tmp_path / "s.yaml", runs, name=name)
    out = tmp_path / "out"
    workers = start_workers(zygote, spec, out, url)
    deadline = time.time() + 120
    while not (out / "long" / "checkpoints" / "last.pt").is_file():
        assert time.time() < deadline, [log.read_text() for _, log in workers]
        time.sleep(0.05)
    holder = rows(url, name)["long"]["pid"]
    victim = next(w for w in workers if w[0] == holder)
    zygote.kill(victim[0])
    survivor = [w for w in workers if w is not victim]
    (log,) = finish(zygote, survivor)
    assert "long: taking it over from the worker on" in log and "long: resuming" in log, log
    summary = json.loads((out / "long" / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["epochs_run"] == 25
    assert len((out / "long" / "metrics.jsonl").read_text().splitlines()) == 25
    records = rows(url, name)
    assert records["long"]["attempts"] == 2 and {r["status"] for r in records.values()} == {
        "complete"
    }
    assert f"results: {out / 'results.md'}" in log  # the survivor settled the last run
    with open(out / "results.csv") as f:
        assert [r["run"] for r in csv.DictReader(f)] == list(runs)


class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt  # as if the process died here: last.pt is saved, no summary


def test_a_lapsed_claim_of_another_host_is_taken_over_in_its_shared_folder(
    tmp_path, capsys, train_spy, pg
):
    """A worker on 'elsewhere' claimed run 'mlp', wrote a checkpoint into the shared folder and went
    silent: this worker breaks its stale lock and resumes the run from that checkpoint."""
    import vislab

    url, name = pg
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {"train.epochs": 3}}, name=name)
    out = tmp_path / "out"
    suite = load_suite(spec)
    cfg = run_config(suite, "mlp")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out / "mlp", quiet=True, callbacks=[_StopAfterFirstEpoch()])
    (out / "mlp" / ".lock").write_text("4242 elsewhere")
    gone = SuiteClaims(SharedStorage(url), name, log=lambda s: None)
    gone.join({"mlp": cfg.to_dict()})
    gone.host, gone.pid = "elsewhere", 4242
    assert gone.claim(out).run == "mlp"
    gone._stop.set()  # no more heartbeats: a silent worker
    with gone._tx() as cur:
        cur.execute(
            "UPDATE vislab_suite_run SET heartbeat_at = now() - interval '1 hour' WHERE suite = %s",
            (name,),
        )
    gone._conn.close()

    lines = []
    vislab.run_suite(spec, out=out, storage=url, heartbeat=0.2, log=lines.append)
    text = "\n".join(lines)
    assert "mlp: taking it over from the worker on elsewhere (pid 4242" in text, text
    assert train_spy == [("mlp", True)]
    assert len((out / "mlp" / "metrics.jsonl").read_text().splitlines()) == 3
    assert not (out / "mlp" / ".lock").exists()
    assert rows(url, name)["mlp"]["attempts"] == 2


def registered_suite(tmp_path: Path, url: str, name: str) -> Path:
    """A suite file of runs mlp and wide, its runs registered in the database as a worker joining it does."""
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "wide": {"model.hidden": [32]}}, name=name)
    suite = load_suite(spec)
    claims = SuiteClaims(SharedStorage(url), name, log=lambda s: None)
    claims.join({run: run_config(suite, run).to_dict() for run in suite.runs})
    claims.close()
    return spec


def test_joining_a_suite_registered_with_other_runs_is_refused(tmp_path, capsys, train_spy, pg):
    url, name = pg
    spec = registered_suite(tmp_path, url, name)
    suite = load_suite(spec)
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--storage", url, "--epochs", "3")
    assert code == 2
    msg = one_line(text)
    assert f"suite '{name}' is in" in msg and "with other runs" in msg
    assert "run 'mlp': train.epochs: 1 → 3" in msg and "give this suite its own name" in msg
    assert train_spy == [] and not out.exists()
    with pytest.raises(UserError, match="runs only here: extra"):
        SuiteClaims(SharedStorage(url), name).join(
            {**{r: run_config(suite, r).to_dict() for r in suite.runs}, "extra": None}
        )


# ----------------------------------------------------------------------- a re-run with another --set
def finished_suite(tmp_path: Path, capsys) -> tuple[list, Path]:
    """A suite of mlp and majority run once into ``tmp_path/out``: (its command's arguments, its --out)."""
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "majority": {"model.name": "majority"}})
    out = tmp_path / "out"
    args = ["suite", spec, "--out", out, "-q", "--no-report"]
    assert cli(capsys, *args)[0] == 0
    return args, out


def test_rerun_with_another_set_is_refused_up_front_and_writes_nothing(tmp_path, capsys, train_spy):
    args, out = finished_suite(tmp_path, capsys)
    before = {f: (out / f).read_bytes() for f in ("suite.json", "results.md", "results.csv")}

    train_spy.clear()
    code, text = cli(capsys, *args, "--set", "optim.lr=0.01")
    msg = one_line(text)
    assert code == 2 and train_spy == [], text  # a user error, said before anything trains
    assert "FAILED" not in text and "nothing was trained or written" in msg
    assert "- mlp: optim.lr: 0.001 → 0.01 Re-run" in msg  # majority never reads optim.lr: the same
    assert "(suite.json: no --set, --data or --epochs;" in msg  # the options it was run with
    assert "--overwrite" in msg and "another --out" in msg
    assert {f: (out / f).read_bytes() for f in before} == before  # its record stays true

    # starting it over with the new options, as the message says
    code, text = cli(capsys, *args, "--set", "optim.lr=0.01", "--overwrite")
    assert code == 0 and sorted(train_spy) == [("majority", False), ("mlp", False)], text
    assert json.loads((out / "suite.json").read_text())["overrides"] == ["optim.lr=0.01"]
    assert yaml.safe_load((out / "mlp" / "config.yaml").read_text())["optim"]["lr"] == 0.01


# ----------------------------------------------------------------------- seeds added later
def test_adding_seeds_takes_the_runs_trained_without_seeds_as_seed_0(tmp_path, capsys, train_spy):
    args, out = finished_suite(tmp_path, capsys)
    first = {r: json.loads((out / r / "summary.json").read_text()) for r in ("mlp", "majority")}

    train_spy.clear()
    code, text = cli(capsys, *args, "--seeds", "2")
    assert code == 0, text
    assert train_spy == [("mlp-s1", False), ("majority-s1", False)]  # only the new seeds train
    assert f"mlp-s0: {out / 'mlp'} holds this run, trained before without seeds: moved to" in text
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "majority-s0", "majority-s1", "mlp-s0", "mlp-s1"
    ]  # fmt: skip
    for row, summary in first.items():
        moved = json.loads((out / f"{row}-s0" / "summary.json").read_text())
        assert moved == {**summary, "run": f"{row}-s0"}  # the same run, named by its folder
    state = json.loads((out / "suite.json").read_text())
    assert set(state["runs"]) == {"mlp-s0", "mlp-s1", "majority-s0", "majority-s1"}
    assert {r["status"] for r in state["runs"].values()} == {"complete"}
    with open(out / "results.csv") as f:
        assert {r["run"]: r["seeds"] for r in csv.DictReader(f)} == {"mlp": "2", "majority": "2"}


def test_adding_seeds_resumes_an_interrupted_run_without_seeds_as_seed_0(
    tmp_path, capsys, train_spy
):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {"train.epochs": 2}})
    out = tmp_path / "g"
    with pytest.raises(KeyboardInterrupt):  # `vislab suite s.yaml --out g` stopped after epoch 1
        train(run_config(load_suite(spec), "mlp"), out / "mlp", quiet=True,
              callbacks=[_StopAfterFirstEpoch()])  # fmt: skip
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report", "--seeds", "2")
    assert code == 0, text
    assert train_spy == [("mlp-s0", True), ("mlp-s1", False)]
    assert not (out / "mlp").exists()
    assert len((out / "mlp-s0" / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((out / "mlp-s0" / "summary.json").read_text())["run"] == "mlp-s0"


def test_adding_seeds_on_shared_storage_takes_the_run_without_seeds_as_seed_0(
    tmp_path, capsys, train_spy, pg
):
    """The same as on one machine, for the runs a worker claims from the database."""
    url, name = pg
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}}, name=name)
    out = tmp_path / "g"
    assert cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")[0] == 0
    assert cli(capsys, "suite", spec, "--out", out, "-q", "--no-report", "--storage", url)[0] == 0
    train_spy.clear()
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--seeds", "2", "--storage", url]
    code, text = cli(capsys, *args)  # the database holds the suite without seeds: other runs
    assert code == 2 and "Other --seeds make other runs" in one_line(text), text
    seeded = f"{name}-s"  # as the message says: the suite under its own name, the same --out
    renamed = write_suite(tmp_path / "s.yaml", {"mlp": {}}, name=seeded)
    try:
        code, text = cli(capsys, "suite", renamed, *args[2:])
        assert code == 0, text
        assert train_spy == [("mlp-s1", False)] and "trained before without seeds: moved to" in text
        assert rows(url, seeded)["mlp-s0"]["status"] == "complete"
    finally:
        _delete_suite(url, seeded)


def _delete_suite(url: str, name: str) -> None:
    """The suite's rows in the test database (its runs' rows go with them)."""
    import psycopg2

    with psycopg2.connect(SharedStorage(url).dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM vislab_suite WHERE name = %s", (name,))
    conn.close()


# ----------------------------------------------------------------------- a --jobs suite killed outright
def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_jobs_suite_takes_its_job_processes_with_it_and_leaves_its_runs_resumable(
    tmp_path, zygote
):
    """`vislab suite --jobs 2` killed by SIGKILL: its two job processes do not train on as orphans that
    hold the runs' folders; each saves its run, resumable, and ends within seconds."""
    pid, out = start_endless_jobs_suite(zygote, tmp_path)  # never done: only the kill ends them
    try:
        wait_until_both_train(zygote, pid, out, "checkpoints/last.pt")
        jobs = [int((out / r / ".lock").read_text().split()[0]) for r in "ab"]
        os.kill(
            pid, signal.SIGKILL
        )  # the suite's process alone, as the OOM killer or `kill -9 PID` does
        assert zygote.wait(pid, 30) == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while not all(_gone(job) for job in jobs):
            assert time.monotonic() < deadline, f"job processes {jobs} outlived their suite"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):  # raised when every one of them ended
            os.killpg(pid, signal.SIGKILL)  # the suite's process group: its job processes too
    suite = load_suite(tmp_path / "s.yaml")
    for r in "ab":
        assert json.loads((out / r / "summary.json").read_text())["status"] == "interrupted"
        plan = plan_run(r, out / r, lambda r=r: run_config(suite, r))
        assert plan.action == "resume" and RunDir(out / r).live_holder() is None


# ----------------------------------------------------------------------- a stopped worker's run
def test_a_worker_whose_claim_was_taken_over_records_the_run_it_completed(pg):
    """Worker A, stopped for a while, lost its claim to B; A finishes the run after all: its complete
    result is recorded (nobody else completed it), and B's later outcome is not."""
    url, name = pg
    said = []
    a, b = (SuiteClaims(SharedStorage(url), name, log=said.append) for _ in "ab")
    try:
        a.join({"mlp": None})
        b.join({"mlp": None})
        assert a.claim(Path("out")).run == "mlp"
        with a._tx() as cur:  # A's heartbeat lapsed: B takes the run over
            cur.execute(
                "UPDATE vislab_suite_run SET heartbeat_at = now() - interval '1 hour' "
                "WHERE suite = %s",
                (name,),
            )
        assert b.claim(Path("out")).previous_pid == a.pid
        files = dict(summary={"status": "complete", "test_acc": 0.9}, metrics="{}\n", config="x")
        assert a.release("mlp", "complete", files=files) is True
        assert "none has completed it: this worker's complete result is recorded" in said[-1]
        assert b.release("mlp", "failed", "in use") is False
        assert "completed it; its outcome here (failed) is not recorded" in said[-1]
        assert a.release("mlp", "complete", files=files) is False  # settled once
    finally:
        a.close()
        b.close()
    row = rows(url, name)["mlp"]
    assert row["status"] == "complete" and row["summary"]["test_acc"] == 0.9
    assert row["pid"] == a.pid and row["attempts"] == 2


@pytest.mark.slow
def test_a_stopped_workers_run_is_not_taken_over_while_it_holds_the_folder(tmp_path, forks, pg):
    """Two workers on one host and one --out: worker 1 is stopped (SIGSTOP) mid-run, its heartbeat
    lapses; worker 2 sees that worker 1 still holds the run's folder, trains the other runs instead of
    failing that one, and waits; worker 1, continued, finishes and records it. Both exit 0."""
    zygote, (url, name) = forks, pg
    runs = {
        "long": {"train.epochs": 40, "data.limit": 300},
        **{k: SIX[k] for k in ("mlp", "majority")},
    }
    spec = write_suite(tmp_path / "s.yaml", runs, name=name)
    out = tmp_path / "out"
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--storage", url]
    timing = ["--heartbeat", "0.5", "--heartbeat-lapse", "2"]
    first = (zygote.start([*args, *timing], tmp_path / "w0.log"), tmp_path / "w0.log")
    deadline = time.time() + 120
    while not (out / "long" / "checkpoints" / "last.pt").is_file():
        assert time.time() < deadline, first[1].read_text()
        time.sleep(0.05)
    os.kill(first[0], signal.SIGSTOP)
    try:
        second = (zygote.start([*args, *timing], tmp_path / "w1.log"), tmp_path / "w1.log")
        deadline = time.time() + 120
        said = lambda: second[1].read_text() if second[1].exists() else ""  # noqa: E731
        # worker 2 meets worker 1's lapsed claim (taking it over before this fix, which failed it)
        while not any(f"long: {s}" in said() for s in ("its folder", "taking it")):
            assert time.time() < deadline, said()
            time.sleep(0.1)
    finally:
        os.kill(first[0], signal.SIGCONT)
    logs = finish(zygote, [first, second])
    said = one_line(logs[1])
    assert f"long: its folder {out / 'long'} is in use by vislab process {first[0]}" in said
    assert "not taken over while that process lives" in said and "FAILED" not in said, logs
    assert "taking it over" not in said and "not recorded" not in logs[0], logs
    records = rows(url, name)
    assert {r: records[r]["status"] for r in runs} == dict.fromkeys(runs, "complete")
    assert records["long"]["attempts"] == 1 and records["long"]["pid"] == first[0]
    assert json.loads((out / "long" / "summary.json").read_text())["epochs_run"] == 40


# ----------------------------------------------------------------------- a read-only --out
def _unwritable(monkeypatch, folder: Path) -> None:
    """``folder`` as a read-only mount: readable, but creating a file in it fails (tests may run as root,
    who writes whatever the permissions)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):
        if dir is not None and Path(dir) == folder:
            raise PermissionError(errno.EROFS, "Read-only file system", str(folder))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_a_worker_with_a_read_only_out_claims_nothing(tmp_path, capsys, train_spy, monkeypatch, pg):
    """A worker whose --out exists but is read-only stops with exit 2 naming it, before it claims (and
    fails) any of the runs the healthy workers share."""
    url, name = pg
    spec = registered_suite(tmp_path, url, name)  # the healthy workers' suite
    ro = tmp_path / "ro"
    ro.mkdir()
    _unwritable(monkeypatch, ro)
    code, text = cli(capsys, "suite", spec, "--out", ro, "-q", "--storage", url)
    msg = one_line(text)
    assert code == 2 and f"the folder '{ro}' is not writable" in msg, text
    assert "Choose a writable --out" in msg and train_spy == []
    assert {r: (v["status"], v["attempts"]) for r, v in rows(url, name).items()} == {
        "mlp": ("pending", 0), "wide": ("pending", 0)
    }  # fmt: skip


def test_a_suite_into_a_read_only_out_stops_before_any_run(
    tmp_path, capsys, train_spy, monkeypatch
):
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}})
    ro = tmp_path / "ro"
    ro.mkdir()
    _unwritable(monkeypatch, ro)
    code, text = cli(capsys, "suite", spec, "--out", ro / "suite", "-q", "--no-report")
    assert code == 2 and f"the folder '{ro}' is not writable" in one_line(text), text
    assert train_spy == [] and list(ro.iterdir()) == []
    (tmp_path / "file").write_text("")
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "file" / "suite", "-q")
    assert code == 2 and f"'{tmp_path / 'file'}' is a file, not a folder" in one_line(text), text


# ----------------------------------------------------------------------- notes from --jobs processes
def test_the_notes_of_runs_in_jobs_processes_are_shown_once_each(tmp_path, capsys):
    """Each --jobs process is quiet, but a setting that does nothing is said as with --jobs 1: its note
    comes back with the run's outcome and the suite's process shows it, once per text."""
    runs = {"a": {"schedule.gamma": 0.5}, "b": {"schedule.gamma": 0.5, "train.seed": 1}}
    spec = write_suite(tmp_path / "s.yaml", runs)
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report", "--jobs", "2")
    assert code == 0, text
    said = one_line(text)
    assert said.count("note: schedule.gamma=0.5 does nothing") == 1, said
    assert "notes" not in json.loads((out / "suite.json").read_text())["runs"]["a"]
