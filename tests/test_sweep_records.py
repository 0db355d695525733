"""A sweep's records say what ran: sweep.yaml's base holds the command line's changes (--epochs, --set, or
the Python API's settings), sweep.json lists them as a suite's suite.json does, and a re-run from that
sweep.yaml continues the same study."""

import json
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

import vislab
from conftest import cli, tiny_base, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.errors import Note
from vislab.experiments.sweeps.study import load_existing_study

# the file's base trains 3 epochs; every test cuts it to 1 from outside (trials skip their figures)
BASE = tiny_base(data__limit=120, train__epochs=3, model__hidden=[8])
SPEC = tiny_sweep(name="rec", base=BASE)


def spec_file(folder: Path) -> Path:
    path = folder / "rec.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return path


def sweep(capsys, *args) -> str:
    """``vislab sweep ARGS --no-report`` in-process: its output (exit code 0 asserted)."""
    code, text = cli(capsys, "sweep", *args, "--no-report")
    assert code == 0, text
    return text


def records(out: Path) -> tuple[dict, dict]:
    """(sweep.yaml, sweep.json) of sweep folder ``out``."""
    return (
        yaml.safe_load((out / "sweep.yaml").read_text()),
        json.loads((out / "sweep.json").read_text()),
    )


def complete_epochs(url: str) -> list[int]:
    """The epochs each complete trial of study 'rec' trained."""
    done = load_existing_study(url, "rec").get_trials(states=(TrialState.COMPLETE,))
    return [
        json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())["epochs_run"]
        for t in done
    ]


def test_a_rerun_from_the_recorded_sweep_yaml_continues_the_sweep(tmp_path, capsys):
    """`vislab sweep FILE --epochs 1`: sweep.yaml records the base as its trials ran it (train.epochs: 1),
    sweep.json the command line's changes; `vislab sweep DIR/sweep.yaml --out DIR` joins the same study
    (no "another base config" refusal), its trials train 1 epoch, and the records still name the file and
    the changes the sweep was made with."""
    spec, out = spec_file(tmp_path), tmp_path / "sw"
    sweep(capsys, spec, "--trials", 1, "--epochs", 1, "--out", out)
    recorded, info = records(out)
    assert recorded["base"]["train"] == {**BASE["train"], "epochs": 1}
    assert info["overrides"] == ["train.epochs=1"] and info["spec"] == str(spec)
    assert "another base config" not in sweep(
        capsys, out / "sweep.yaml", "--trials", 2, "--out", out
    )
    assert complete_epochs(f"sqlite:///{out / 'study.db'}") == [1, 1]
    recorded, info = records(out)
    assert recorded["base"]["train"]["epochs"] == 1
    assert info["overrides"] == ["train.epochs=1"] and info["spec"] == str(spec)


def test_a_recorded_sweep_yaml_edited_by_hand_is_recorded_as_its_own_file(tmp_path, capsys):
    """A sweep run from another folder's sweep.yaml records the file and changes that folder recorded —
    unless the file no longer holds those changes (edited by hand): then it is a sweep file of its own."""
    spec, out = spec_file(tmp_path), tmp_path / "sw"
    sweep(capsys, spec, "--trials", 1, "--epochs", 1, "--out", out)
    copy = tmp_path / "copy"
    sweep(capsys, out / "sweep.yaml", "--trials", 1, "--out", copy, "--set", "train.threads=1")
    assert records(copy)[1]["spec"] == str(spec)
    assert records(copy)[1]["overrides"] == ["train.epochs=1", "train.threads=1"]
    edited = records(out)[0]
    edited["base"]["train"]["epochs"] = 2
    (out / "sweep.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    sweep(capsys, out / "sweep.yaml", "--trials", 1, "--out", tmp_path / "edited")
    info = records(tmp_path / "edited")[1]
    assert info["spec"] == str(out / "sweep.yaml") and info["overrides"] == []


def test_the_python_api_records_its_settings_as_the_command_line_does(tmp_path):
    """vislab.sweep(..., train__epochs=1): the same records as --epochs 1, and a re-run from sweep.yaml
    joins the study (nothing left to train)."""
    spec, out = spec_file(tmp_path), tmp_path / "sw"
    vislab.sweep(spec, out=out, trials=1, train__epochs=1, quiet=True)
    recorded, info = records(out)
    assert recorded["base"]["train"]["epochs"] == 1 and info["overrides"] == ["train.epochs=1"]
    with pytest.warns(Note, match="nothing to train"):
        study = vislab.sweep(out / "sweep.yaml", out=out, trials=1, quiet=True)
    assert len(study.trials) == 1


def test_a_sweep_shown_from_its_storage_records_the_base_it_ran(tmp_path, capsys, monkeypatch):
    """`vislab sweep show --storage URL --study NAME` into a new folder: its sweep.yaml holds the base the
    study's trials were built from (not an empty one), so a sweep run from it joins that study; its
    sweep.json the command line's changes, as the study records them."""
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    sweep(
        capsys, spec_file(tmp_path), "--trials", 1, "--out", "w1", "--storage", url, "--epochs", 1
    )
    code, text = cli(capsys, "sweep", "show", "--storage", url, "--study", "rec")
    assert code == 0, text
    shown = tmp_path / "runs" / "sweep-rec"
    recorded, info = records(shown)
    assert recorded["base"]["train"]["epochs"] == 1
    assert info["overrides"] == ["train.epochs=1"]  # as the study records it
    text = sweep(capsys, shown / "sweep.yaml", "--trials", 2, "--storage", url, "--out", shown)
    assert "another base config" not in text
    assert complete_epochs(url) == [1, 1]


def test_results_md_and_the_report_say_what_the_command_line_changed(tmp_path, capsys):
    """results.md and the sweep report's provenance line name the command line's changes, as a suite's
    tables do; a re-run from sweep.yaml keeps saying them (its trials were made with them)."""
    from vislab.report.build import provenance_of
    from vislab.report.plan import plan_report

    spec, out = spec_file(tmp_path), tmp_path / "sw"
    sweep(capsys, spec, "--trials", 1, "--epochs", 1, "--out", out)
    said = "changed on the command line: train.epochs=1"
    assert said in (out / "results.md").read_text()
    sweep(capsys, out / "sweep.yaml", "--trials", 2, "--out", out)
    assert said in (out / "results.md").read_text()
    assert said in provenance_of(plan_report(out))
