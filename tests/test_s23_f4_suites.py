"""Suites and results (session 23): quickstart refuses a folder a suite would mix with; compare says why
a diverged run is out and the fix, and that a metrics.jsonl lost its last row; a sweep's table has the
model and seed columns; list settings are written as --set takes them; a shared suite takes more seeds,
says exactly why it takes no seeds after none, and shows its progress read-only (--dry-run --storage).

The shared-suite tests need PostgreSQL (VISLAB_TEST_POSTGRES_URL, as tests/test_suite_workers.py);
without it they skip."""

import csv
import json
import shutil
from pathlib import Path

import yaml

import vislab
from conftest import cli, one_line, table_run, tiny_base, tiny_sweep


# ----------------------------------------------------------------------- quickstart's --out
def test_quickstart_refuses_a_run_folder_and_leaves_it_alone(tmp_path, capsys):
    run = table_run(tmp_path, "q1")
    before = sorted(p.name for p in run.iterdir())
    code, text = cli(capsys, "quickstart", "--out", run, "--epochs", "1")
    assert code == 2, text
    assert "holds a vislab run" in one_line(text) and "they would mix" in one_line(text), text
    assert sorted(p.name for p in run.iterdir()) == before


def test_quickstart_refuses_a_folder_holding_other_files(tmp_path, capsys):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "notes.txt").write_text("x\n")
    code, text = cli(capsys, "quickstart", "--out", proj, "--epochs", "1")
    assert code == 2 and "notes.txt" in text and "--out" in text, text
    assert [p.name for p in proj.iterdir()] == ["notes.txt"]


# ----------------------------------------------------------------------- compare's left-out runs
def test_compare_gives_a_diverged_run_its_fix(tmp_path, capsys):
    ok = table_run(tmp_path, "ok")
    nan = table_run(tmp_path, "nan", "optim.lr=0.5")
    summary = json.loads((nan / "summary.json").read_text())
    (nan / "summary.json").write_text(json.dumps({**summary, "status": "diverged"}))
    code, text = cli(capsys, "compare", nan, ok)
    said = one_line(text)
    assert code == 0, text
    assert "status diverged" in said and "lower optim.lr" in said, text
    assert (
        f"vislab train --config {nan}/config.yaml --set optim.lr=0.05 --out {nan}-lower-lr" in said
    )


def test_a_diverged_run_of_arrays_is_told_the_python_fix_alone(tmp_path):
    nan = table_run(tmp_path, "nan", "optim.lr=0.5", "data.name=memory:x1")
    summary = json.loads((nan / "summary.json").read_text())
    (nan / "summary.json").write_text(json.dumps({**summary, "status": "diverged"}))
    frame = vislab.compare([nan, table_run(tmp_path, "ok")])
    said = frame.attrs["left_out"]["nan"]
    assert "optim__lr=0.05 in your vislab.train call" in said and "--config" not in said, said


def test_compare_notes_a_metrics_file_cut_short(tmp_path, capsys, trained):
    run = tmp_path / "cut"
    shutil.copytree(trained, run)
    text = (run / "metrics.jsonl").read_text().rstrip("\n")
    (run / "metrics.jsonl").write_text(text[:-10] + "\n")
    code, out = cli(capsys, "compare", run)
    assert code == 0, out
    assert "metrics.jsonl' ends in a line cut short" in one_line(out), out
    assert f"vislab train --resume {run}" in one_line(out), out


# ----------------------------------------------------------------------- the table's settings
def test_list_settings_are_written_as_set_takes_them(tmp_path):
    a = table_run(tmp_path, "a", "data.split=[2000,500,500]", "data.use=[test]")
    b = table_run(tmp_path, "b", "data.split=[1000,400,397]", "data.use=[train,test]")
    frame = vislab.compare([a, b])
    assert list(frame["data.split"]) == ["[2000, 500, 500]", "[1000, 400, 397]"]
    assert list(frame["data.use"]) == ["[test]", "[train, test]"]


def test_compare_of_a_sweep_folder_has_the_model_and_seed_columns(tmp_path):
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(), out=out, trials=1, quiet=True)
    frame = vislab.compare(out)
    assert list(frame.columns[:4]) == ["run", "model", "seed", "optim.lr"]
    assert list(frame["model"]) == ["mlp"] and list(frame["seed"]) == [0]
    header = next(
        line for line in (out / "results.md").read_text().splitlines() if line[:5] == "| run"
    )
    assert header.startswith("| run | model | seed | optim.lr |"), header


# ----------------------------------------------------------------------- shared suites (PostgreSQL)
def _suite(path: Path, name: str) -> Path:
    path.write_text(yaml.safe_dump({"name": name, "base": tiny_base(), "runs": {"mlp": {}}}))
    return path


def test_a_shared_suite_takes_more_seeds(tmp_path, capsys, train_spy, pg):
    url, name = pg
    spec, out = _suite(tmp_path / "s.yaml", name), tmp_path / "g"
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--storage", url]
    assert cli(capsys, *args, "--seeds", "2")[0] == 0
    train_spy.clear()
    code, text = cli(capsys, *args, "--seeds", "3")
    assert code == 0, text
    assert train_spy == [("mlp-s2", False)], train_spy
    assert "more seeds registered in the database: mlp-s2" in text
    with (out / "results.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["run"] == "mlp" and row["seeds"] == "3", row  # the table written again, of all seeds


def test_seeds_after_none_on_a_shared_suite_say_why_and_what_to_do(tmp_path, capsys, train_spy, pg):
    url, name = pg
    spec, out = _suite(tmp_path / "s.yaml", name), tmp_path / "g"
    args = ["suite", spec, "--out", out, "-q", "--no-report", "--storage", url]
    assert cli(capsys, *args)[0] == 0
    code, text = cli(capsys, *args, "--seeds", "2")
    said = one_line(text)
    assert code == 2, text
    assert f"suite '{name}' is in" in said and "without seeds (its runs: mlp)" in said, said
    assert "Other --seeds make other runs" in said and "its own name" in said, said
    assert "would not be comparable" not in said  # not the message of another suite file


def test_dry_run_with_storage_lists_each_runs_state_read_only(tmp_path, capsys, train_spy, pg):
    url, name = pg
    spec = _suite(tmp_path / "s.yaml", name)
    code, text = cli(capsys, "suite", spec, "--storage", url, "--dry-run")
    assert code == 2 and f"suite '{name}' is not in" in one_line(text), text
    out = tmp_path / "g"
    assert cli(capsys, "suite", spec, "--out", out, "-q", "--no-report", "--storage", url)[0] == 0
    code, text = cli(capsys, "suite", spec, "--storage", url, "--dry-run")
    assert code == 0, text
    assert f"suite {name} in" in text and "1 run (1 done)" in text, text
    assert "  mlp: done (trained on " in text and "results: written by worker" in text, text
    assert train_spy == [("mlp", False)]  # the dry run trained nothing


def test_a_worker_leaves_the_seeds_added_after_it_joined_to_the_worker_that_added_them(pg):
    """Worker A joined with 2 seeds; B adds a third: A never claims it (it has no config for it) and does
    not write the tables (they would lack it); B does both."""
    from vislab.experiments.shared.claims import SuiteClaims
    from vislab.experiments.shared.postgres import SharedStorage

    url, name = pg
    said = []
    a, b = (SuiteClaims(SharedStorage(url), name, log=said.append) for _ in "ab")
    seeds = lambda n: dict.fromkeys(f"mlp-s{i}" for i in range(n))  # noqa: E731
    try:
        a.join(seeds(2))
        b.join(seeds(3))
        assert "more seeds registered in the database: mlp-s2" in said[-1]
        for run in ("mlp-s0", "mlp-s1"):
            assert a.claim(Path("out")).run == run
            a.release(run, "complete", files=dict(summary={"status": "complete"}))
        assert a.claim(Path("out")) is None  # mlp-s2 is not A's
        assert b.claim(Path("out")).run == "mlp-s2"
        b.release("mlp-s2", "complete", files=dict(summary={"status": "complete"}))
        assert a.take_report() is False and b.take_report() is True
    finally:
        a.close()
        b.close()
