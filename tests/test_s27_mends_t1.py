"""Session 27, mends T1: a sweep folder whose study.db is gone gets one fix in compare's, report's and
paper's words (not `vislab sweep show DIR --storage URL` after it); a Ctrl-C as a shared suite writes
its tables says to re-run it (`vislab report` leaves a shared suite's tables to its workers); an int
and a float choice of one value are one choice; a --storage SQLite file that is not there is said so."""

import json
from pathlib import Path

import pytest
import yaml

import vislab.experiments.shared.runner as shared
from conftest import cli, one_line, tiny_suite, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.api.suites import resolve_suite
from vislab.errors import ConfigError, TrainingInterrupted
from vislab.experiments.records import SuiteInfo
from vislab.experiments.suites.catch_up import caught_up

ELSEWHERE = "`vislab sweep show NEW_DIR --storage URL --study tiny`"
SHOW = "`vislab sweep show sw --storage URL`"


# ----------------------------------------------------------------------------------------------- T1a
@pytest.fixture
def gone_db(tmp_path, monkeypatch) -> Path:
    """A sweep folder, sw, with no trial's run folder, whose sweep.json records its own study.db, gone;
    the current folder holds it."""
    folder = tmp_path / "sw"
    (folder / "trials").mkdir(parents=True)
    record = dict(
        kind="sweep", study="tiny", storage=f"sqlite:///{folder}/study.db", default_storage=True
    )
    (folder / "sweep.json").write_text(json.dumps(record))
    monkeypatch.chdir(tmp_path)
    skip_report_figures(monkeypatch)
    return folder


@pytest.mark.parametrize(
    "args",
    [("compare", "sw"), ("report", "sw"), ("paper", "sw", "--out", "p", "--no-figures")],
    ids=["compare", "report", "paper"],
)
def test_a_gone_study_db_gets_one_fix_in_each_message(gone_db, capsys, args):
    code, text = cli(capsys, *args)
    said = one_line(text)
    assert "is not at" in said and "where its sweep.json records it" in said, said
    assert ELSEWHERE in said, said
    assert SHOW not in said, said
    assert "`vislab paper` has no --storage" not in said, said
    told = [
        line for line in text.splitlines() if "sweep study not loaded" in line or "error" in line
    ]
    assert told, text
    assert all(one_line(line).count("--storage URL") <= 1 for line in told), text


def test_the_report_page_names_the_fix_once(gone_db, capsys):
    code, text = cli(capsys, "report", "sw")
    assert code == 0, text
    page = one_line((gone_db / "report.html").read_text())
    assert page.count("--storage URL") == 1, page


# ----------------------------------------------------------------------------------------------- T1b
class _SettledClaims:
    """A shared database whose runs are all settled, this worker to write the tables."""

    worker = "w1"

    def __init__(self, *args):
        pass

    def join(self, runs):
        return True

    def records(self):
        return {}

    def take_report(self):
        return True

    def close(self):
        pass


def test_a_ctrl_c_as_a_shared_suites_tables_are_written_says_to_run_it_again(tmp_path, monkeypatch):
    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(shared, "SuiteClaims", _SettledClaims)
    monkeypatch.setattr(shared, "ClaimSource", lambda *args: None)
    monkeypatch.setattr(shared, "_work", lambda *args: None)
    monkeypatch.setattr(shared, "write_results", ctrl_c)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    suite, out = resolve_suite(spec, tmp_path / "s")
    storage = shared.SharedStorage("postgresql://u@db.example/x")
    with pytest.raises(TrainingInterrupted) as e:
        shared.run_shared_suite(suite, out, storage, log=lambda line: None)
    said = one_line(str(e.value))
    assert "Ctrl-C while the suite's tables were written" in said, said
    assert "Write them: re-run the same `vislab suite` command" in said, said
    assert "rejoins the shared suite" in said, said
    assert "vislab report" not in said, said
    # vislab report (catch_up) leaves a shared suite's tables to its workers, as the message says
    info = SuiteInfo.read(out)
    assert info.storage, info
    assert caught_up(out, info, log=print).storage == info.storage
    assert not (out / "results.md").exists()


# ----------------------------------------------------------------------------------------------- T1c
@pytest.mark.parametrize(
    "key, choices, shown",
    [("optim.lr", [1, 1.0], "1 and 1.0"), ("optim.weight_decay", [0, 0.0], "0 and 0.0")],
)
def test_an_int_and_a_float_of_one_value_are_one_choice(tmp_path, capsys, key, choices, shown):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        yaml.safe_dump(tiny_sweep(space={key: {"type": "categorical", "choices": choices}}))
    )
    code, text = cli(capsys, "sweep", spec, "--out", tmp_path / "sw", "--dry-run")
    said = one_line(text)
    assert code == ConfigError.exit_code, said
    assert f"'space.{key}' is invalid: the choices {shown} are one number" in said, said
    assert not (tmp_path / "sw").exists()


def test_true_and_1_stay_two_choices():
    from vislab.experiments.sweeps.choices import _no_choice_twice

    _no_choice_twice("train.amp", [True, 1], [True, 1], "s.yaml")  # no error


# ----------------------------------------------------------------------------------------------- T1d
def test_a_storage_file_that_is_not_there_is_said_so(tmp_path, capsys):
    out = tmp_path / "sw"
    (out / "trials").mkdir(parents=True)
    record = dict(
        kind="sweep", study="tiny", storage=f"sqlite:///{out}/study.db", default_storage=True
    )
    (out / "sweep.json").write_text(json.dumps(record))
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(trials=1)))
    missing = tmp_path / "missing.db"
    code, text = cli(
        capsys, "sweep", spec, "--out", out, "--storage", f"sqlite:///{missing}", "--dry-run"
    )
    said = one_line(text)
    assert code == 2, said
    assert f"The storage given, sqlite:///{missing}, names '{missing}', which is not there" in said
    assert "holds no study" not in said, said
    assert not missing.exists()
