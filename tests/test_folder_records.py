"""A sweep's sweep.json and a suite's suite.json read in one place each (experiments/records.py): a damaged
sweep.json is named with its fix (no traceback) by the commands that need it, and a note where a command
can go on without it; a sweep stopped before writing its sweep.json is a sweep to every command (what kind
a folder is: folder_kind, asked in one place)."""

import json
import shutil

import pytest
import yaml

import vislab
from conftest import cli, tiny_sweep
from figures_skipped import skip_report_figures
from fixtures import made_once
from vislab.cli import main
from vislab.errors import UserError

DAMAGED = {"cut short": '{"kind": "sweep", "study": "rec', "a JSON list": '["sweep"]'}


def _make(root):
    spec = root / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(name="rec"), sort_keys=False))
    out = root / "sweep"
    assert main(["sweep", str(spec), "--trials", "2", "--out", str(out), "--no-report"]) == 0
    return {}


@pytest.fixture
def sweep(tmp_path_factory, tmp_path):
    """A finished sweep of two tiny trials (made once per module), copied for the test."""
    root, _ = made_once(tmp_path_factory, "test_folder_records", _make)
    shutil.copytree(root / "sweep", tmp_path / "sweep")
    return tmp_path / "sweep"


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_sweep_json_is_named_with_its_fix(sweep, capsys, monkeypatch, damage):
    """`vislab sweep show DIR` needs sweep.json: exit 2, naming it and the command that writes it again
    (before: a traceback); `vislab compare DIR` and `vislab report DIR` go on from trials/ with a note
    (before: a traceback). The fix it names works."""
    as_run = (sweep / "sweep.yaml").read_text()
    (sweep / "sweep.json").write_text(DAMAGED[damage])
    code, out = cli(capsys, "sweep", "show", sweep)
    assert code == 2, out
    assert f"'{sweep / 'sweep.json'}'" in out
    assert f"vislab sweep show {sweep} --storage URL --study NAME" in out
    code, out = cli(capsys, "compare", sweep)
    assert code == 0, out
    assert "sweep.json" in out and "trial-0" in out and "trial-1" in out
    skip_report_figures(monkeypatch)
    code, out = cli(capsys, "report", sweep)
    assert code == 0, out
    assert "sweep.json" in (sweep / "report.html").read_text()
    storage = f"sqlite:///{sweep / 'study.db'}"
    code, out = cli(capsys, "sweep", "show", sweep, "--storage", storage, "--study", "rec")
    assert code == 0, out
    assert json.loads((sweep / "sweep.json").read_text())["study"] == "rec"  # written again
    assert (sweep / "sweep.yaml").read_text() == as_run  # the sweep as it ran: kept
    code, out = cli(capsys, "sweep", "show", sweep)
    assert code == 0, out


def test_a_sweep_stopped_before_its_sweep_json_is_a_sweep(sweep, capsys, monkeypatch):
    """study.db beside trials/, no sweep.json yet: `vislab compare` and `vislab report` read its trials
    (before: "holds no runs", exit 2), and vislab.load_run names it a sweep folder and a trial to give."""
    (sweep / "sweep.json").unlink()
    code, out = cli(capsys, "compare", sweep)
    assert code == 0, out
    assert "trial-0" in out and "trial-1" in out
    skip_report_figures(monkeypatch)
    code, out = cli(capsys, "report", sweep)
    assert code == 0, out
    assert "trial-1" in (sweep / "report.html").read_text()
    with pytest.raises(UserError) as e:
        vislab.load_run(sweep)
    assert "a sweep folder (it holds study.db and trials/)" in str(e.value)
    assert f"vislab.load_run('{(sweep / 'trials' / '0').as_posix()}')" in str(e.value)


def test_a_study_db_alone_is_no_sweep(tmp_path, capsys):
    """A study.db in a folder (`--storage sqlite:///study.db` run from it) does not make it a sweep's:
    `vislab eval DIR` says it has no checkpoint rather than calling it a sweep folder."""
    (tmp_path / "study.db").write_bytes(b"")
    code, out = cli(capsys, "eval", tmp_path)
    assert code != 0
    assert "sweep folder" not in out


def test_records_keep_the_files_layout_and_what_they_do_not_know(sweep, tmp_path):
    """sweep.json read and written back is the same JSON, key for key and in order; a key added by hand,
    and a known key of another type, are kept as they are."""
    from vislab.experiments.records import SuiteInfo, SweepInfo  # here: the rest runs on old code

    text = (sweep / "sweep.json").read_text()
    assert SweepInfo.read(sweep).to_json() == json.loads(text)
    assert list(SweepInfo.read(sweep).to_json()) == list(json.loads(text))
    edited = dict(json.loads(text), note="by hand", curves="many")
    (sweep / "sweep.json").write_text(json.dumps(edited))
    info = SweepInfo.read(sweep)
    assert info.curves is None and info.extra == {"note": "by hand", "curves": "many"}
    info.write(sweep)
    assert json.loads((sweep / "sweep.json").read_text()) == edited
    (tmp_path / "suite.json").write_text("[1, 2")
    assert SuiteInfo.read(tmp_path) == SuiteInfo()  # a tolerant read: nothing to go on, no error
    with pytest.raises(UserError, match="suite.json"):
        SuiteInfo.strict(tmp_path)


def test_a_damaged_suite_json_is_named_and_its_runs_still_compared(sweep, tmp_path, capsys):
    """Was "'DIR' is a suite folder that holds no runs yet" though its runs were there, finished."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for n, name in ((0, "a"), (1, "b")):
        shutil.copytree(sweep / "trials" / str(n), suite / name)
    (suite / "suite.json").write_text('{"name": "s", "order": ["a", ')
    code, out = cli(capsys, "compare", suite)
    said = " ".join(out.split())
    assert code == 0, out
    assert f"'{suite / 'suite.json'}' cannot be read" in said and "| a |" in out and "| b |" in out
