"""A sweep's study storage: a relative SQLite path names the same database from any folder (recorded
absolute; an older relative record is looked for where it can be), a --storage SQLite cannot make is
refused naming --storage, and `vislab sweep show` of a study database that is gone makes no file."""

import json
from pathlib import Path

import yaml

from conftest import cli, one_line, tiny_base
from figures_skipped import skip_report_figures
from vislab.experiments.sweeps.study import load_existing_study

# tiny trials: 1 epoch of 120 digits, no figures
SPEC = {
    "name": "st",
    "base": tiny_base(data__limit=120, model__hidden=[8]),
    "space": {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
    "sampler": "random",
    "seed": 0,
}


def spec_file(folder: Path) -> Path:
    path = folder / "st.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return path


def move_db(db: Path, to: Path) -> None:
    """Move a SQLite database with its WAL files (this process may still hold it open)."""
    for part in db.parent.glob(f"{db.name}*"):
        part.rename(to.parent / (to.name + part.name[len(db.name) :]))


def sweep(capsys, *args) -> tuple[int, str]:
    """``vislab sweep ARGS --no-report`` in-process: (exit code, its output on one line)."""
    code, text = cli(capsys, "sweep", *args, "--no-report")
    return code, one_line(text)


def test_a_relative_sqlite_storage_is_the_same_study_from_another_folder(
    tmp_path, capsys, monkeypatch
):
    """--storage sqlite:///rel.db is recorded as the file it named when the sweep started, so the documented
    `vislab sweep DIR/sweep.yaml --out DIR` and `vislab sweep show DIR` from another folder go on with that
    study: no empty rel.db made there, no trial set aside as another study's."""
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    monkeypatch.chdir(tmp_path)
    code, text = sweep(capsys, spec_file(tmp_path), "--trials", 1, "--storage", "sqlite:///rel.db",
                       "--out", "sw")  # fmt: skip
    assert code == 0, text
    db = (tmp_path / "rel.db").resolve()
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["storage"] == f"sqlite:///{db}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, text = sweep(capsys, "../sw/sweep.yaml", "--out", "../sw", "--trials", 2)
    assert code == 0 and "stale" not in text, text
    assert len(load_existing_study(f"sqlite:///{db}", "st").trials) == 2
    code, text = cli(capsys, "sweep", "show", tmp_path / "sw")
    assert code == 0, text
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "sw" / "trials").iterdir()) == ["0", "1"]


def test_an_older_relative_record_is_found_above_its_folder_or_asked_for(
    tmp_path, capsys, monkeypatch
):
    """A sweep.json of older vislab recording sqlite:///rel.db as typed: the database is looked for in the
    current folder, then in the sweep folder and above it; found nowhere, the command names it and
    --storage, and makes nothing; the --storage it asks for works."""
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    monkeypatch.chdir(tmp_path)
    code, text = sweep(capsys, spec_file(tmp_path), "--trials", 1, "--storage", "sqlite:///rel.db",
                       "--out", "sw")  # fmt: skip
    assert code == 0, text
    record = tmp_path / "sw" / "sweep.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "storage": "sqlite:///rel.db"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, text = cli(capsys, "sweep", "show", "../sw")
    assert code == 0 and "trial-0" in (tmp_path / "sw" / "results.md").read_text(), text
    (tmp_path / "moved").mkdir()
    move_db(tmp_path / "rel.db", tmp_path / "moved" / "rel.db")
    code, text = sweep(capsys, "../sw/sweep.yaml", "--out", "../sw", "--trials", 2)
    assert code == 2 and "records the storage sqlite:///rel.db" in text, text
    assert "--storage sqlite:///PATH/TO/rel.db" in text, text
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "rel.db").exists()
    moved = f"sqlite:///{tmp_path / 'moved' / 'rel.db'}"
    code, text = cli(capsys, "sweep", "show", "../sw", "--storage", moved)
    assert code == 0, text


def test_a_storage_sqlite_cannot_make_is_refused_naming_storage(tmp_path, capsys):
    """A --storage SQLite file under a regular file, or where a folder is: exit 2 naming --storage (not
    --out) and why, before the sweep folder is made."""
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    for url, why in (
        (f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}", f"'{tmp_path / 'afile'}' is a file"),
        (f"sqlite:///{tmp_path / 'adir'}", "unable to open database file"),
    ):
        code, text = sweep(capsys, spec_file(tmp_path), "--trials", 1, "--storage", url,
                           "--out", tmp_path / "sw")  # fmt: skip
        assert code == 2 and f"cannot write to the study storage '{url}': {why}" in text, text
        assert "give --storage a database" in text and "another --out" not in text, text
        assert not (tmp_path / "sw").exists()


def test_show_of_a_study_database_that_is_gone_makes_none(tmp_path, capsys, monkeypatch):
    """`vislab sweep show DIR` whose study.db was deleted or moved says it is missing and how to give it,
    and makes no empty database; the --storage it asks for works."""
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    out = tmp_path / "sw"
    code, text = sweep(capsys, spec_file(tmp_path), "--trials", 1, "--out", out)
    assert code == 0, text
    move_db(out / "study.db", tmp_path / "kept.db")
    code, text = cli(capsys, "sweep", "show", out)
    text = one_line(text)
    assert code == 2 and f"no study database at '{(out / 'study.db').resolve()}'" in text, text
    assert "--storage sqlite:///PATH/TO/study.db" in text and "holds: none" not in text, text
    assert not (out / "study.db").exists()
    code, text = cli(capsys, "sweep", "show", "--storage", f"sqlite:///{tmp_path / 'no.db'}",
                     "--study", "st")  # fmt: skip
    assert code == 2 and not (tmp_path / "no.db").exists(), text
    code, text = cli(capsys, "sweep", "show", out, "--storage", f"sqlite:///{tmp_path / 'kept.db'}")
    assert code == 0, text


def test_report_of_a_sweep_whose_database_moved_names_the_command_that_takes_storage(
    tmp_path, capsys, monkeypatch
):
    """`vislab report DIR` (which has no --storage) of a sweep whose study.db moved: its note names one
    fix, `vislab sweep show NEW_DIR --storage URL --study NAME`; `vislab sweep show DIR --storage URL`
    writes the report in place too."""
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    out = tmp_path / "sw"
    code, text = sweep(capsys, spec_file(tmp_path), "--trials", 1, "--out", out)
    assert code == 0, text
    move_db(out / "study.db", tmp_path / "kept.db")
    code, text = cli(capsys, "report", out)
    text = one_line(text)
    assert (
        "`vislab sweep show NEW_DIR --storage URL --study st`, and give NEW_DIR instead" in text
    ), text
    assert text.count("vislab sweep show") == 1, text
    (out / "report.html").unlink()
    code, text = cli(capsys, "sweep", "show", out, "--storage", f"sqlite:///{tmp_path / 'kept.db'}")
    assert code == 0 and (out / "report.html").is_file(), text
