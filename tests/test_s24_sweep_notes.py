"""A sweep says each note its trials give once, as a suite does; every trial's summary.json keeps it."""

import json
import warnings

import yaml

import vislab
from conftest import tiny_sweep


def test_a_note_every_trial_gives_is_said_once_and_kept_by_each(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(base__train__batch_size=90, trials=3)))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        vislab.sweep(spec, out=tmp_path / "sw", report=False)
    batch = [w for w in said if "train.batch_size=90" in str(w.message)]
    assert len(batch) == 1, [str(w.message) for w in said]
    for trial in sorted((tmp_path / "sw" / "trials").iterdir()):
        notes = json.loads((trial / "summary.json").read_text())["notes_given"]
        assert any("train.batch_size=90" in n for n in notes), trial


def test_the_best_trials_title_is_one_line_in_a_log(tmp_path, capsys):
    """It wrapped at the table's width, mid-phrase: "study tiny: best 3 by val_pacc" / "(maximize); 3
    complete"."""
    from conftest import cli

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(trials=2)))
    code, out = cli(capsys, "sweep", spec, "--out", tmp_path / "sw", "--no-report")
    assert code == 0, out
    assert any(
        line.startswith("study tiny: best 2 by val_pacc (maximize); 2 complete")
        for line in out.splitlines()
    ), out


def test_sweep_show_no_report_rewrites_the_tables_only(tmp_path, capsys):
    from conftest import cli

    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(trials=1)))
    out = tmp_path / "sw"
    assert cli(capsys, "sweep", spec, "--out", out, "--no-report")[0] == 0
    (out / "results.md").unlink()
    code, text = cli(capsys, "sweep", "show", out, "--no-report")
    assert code == 0, text
    assert (out / "results.md").is_file() and not (out / "report.html").exists()
