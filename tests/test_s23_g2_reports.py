"""Reports and shared suites in Python (session 23, round 2): a shared suite's report written on a
machine whose runs trained elsewhere says once where their model figures are drawn; a sweep's report
has the model and seed columns of its results.md; ``vislab.run_suite(dry_run=True, storage=URL)`` lists
each run's state in the shared database, as the CLI's --dry-run --storage does.

The shared-suite dry run needs PostgreSQL (VISLAB_TEST_POSTGRES_URL, as tests/test_suite_workers.py);
without it it skips."""

import json
import re
import shutil
import socket
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base, tiny_suite, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.errors import UserError


# ----------------------------------------------------------------------- runs trained on another host
def _as_gathered(out: Path, hosts: dict[str, str]) -> None:
    """Make suite folder ``out`` look as a shared suite's worker leaves it for runs another host trained
    (shared/runner.py's _gather): suite.json names the storage and each run's host and run_dir there; the
    run folders hold config.yaml, metrics.jsonl and summary.json alone."""
    info = json.loads((out / "suite.json").read_text())
    info["storage"] = "postgresql://u@db.example/vl"
    for name, host in hosts.items():
        info["runs"][name].update(host=host, attempts=1, run_dir=f"/data/a/suite-tiny/{name}")
        for f in (out / name).iterdir():
            if f.name not in ("config.yaml", "metrics.jsonl", "summary.json"):
                shutil.rmtree(f) if f.is_dir() else f.unlink()
    (out / "suite.json").write_text(json.dumps(info))


def test_a_shared_suites_report_says_once_which_host_draws_the_model_figures(tmp_path, capsys):
    spec, out = tmp_path / "s.yaml", tmp_path / "suite"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny", base__data__limit=200)))
    vislab.run_suite(spec, out=out, epochs=1, quiet=True)
    # mlp trained on worker-a; majority here, its checkpoint deleted since: that one is still warned
    _as_gathered(out, {"mlp": "worker-a", "majority": socket.gethostname()})
    code, text = cli(capsys, "report", out)
    said = one_line(text)
    assert code == 0, text
    note = (
        "note: the model figures of mlp are left out: they trained on worker-a, whose --out holds "
        "their checkpoints; `vislab report /data/a/suite-tiny` there draws them."
    )
    assert said.count(note) == 1, said
    assert "mlp: its model figures" not in said, said  # no "checkpoint is gone" warning for it
    assert "majority: its model figures (Grad-CAM, attention maps) are left out" in said, said
    page = one_line((out / "report.html").read_text())
    assert note.removeprefix("note: ") in page


# ----------------------------------------------------------------------- a sweep's report
def test_a_sweeps_report_has_the_model_and_seed_columns_of_its_results(tmp_path, monkeypatch):
    skip_report_figures(monkeypatch)  # its results table is what is read
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(), out=out, trials=1, quiet=True, report=True)
    page = (out / "report.html").read_text()
    keys = re.findall(r'<th data-key="([^"]+)"', page)
    assert keys[:4] == ["run", "model", "seed", "optim.lr"], keys
    header = next(
        line for line in (out / "results.md").read_text().splitlines() if line[:5] == "| run"
    )
    assert header.startswith("| run | model | seed | optim.lr |"), header


# ----------------------------------------------------------------------- shared suites (PostgreSQL)
def test_a_python_dry_run_with_storage_returns_each_runs_state(tmp_path, train_spy, pg):
    url, name = pg
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "base": tiny_base(), "runs": {"mlp": {}}}))
    with pytest.raises(UserError, match=f"suite '{name}' is not in"):
        vislab.run_suite(spec, dry_run=True, storage=url, quiet=True)
    out = tmp_path / "g"
    vislab.run_suite(spec, out=out, storage=url, quiet=True)
    train_spy.clear()
    lines: list[str] = []
    table = vislab.run_suite(spec, dry_run=True, storage=url, log=lines.append)
    assert list(table.columns) == ["run", "state", "what"], table
    assert list(table["run"]) == ["mlp"] and list(table["state"]) == ["done"], table
    assert table["what"][0].startswith("done (trained on "), table
    assert lines[0].startswith(f"suite {name} in") and "1 run (1 done)" in lines[0], lines
    assert any(line.startswith("  mlp: done (trained on ") for line in lines), lines
    assert train_spy == []  # the dry run trained nothing
