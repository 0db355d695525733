"""Records damaged by hand or by the disk, named with what works (explorer xb's bad-input tour):

- a summary.json whose known keys hold values of the wrong type (``"val_acc": "x"``) is an unreadable
  summary — named by compare, left out of its table, with the fix `vislab train --resume RUN`, which
  rewrites it — not a row showing "x" as a score; older files (keys missing, unknown keys) still read;
- a damaged study.db (cut short, no database) is named as damaged, with the trials' run folders to compare
  and the --overwrite that starts the sweep over, not as a storage this user cannot write;
- an LR range test whose loss diverges from its very first step suggests no lr: it says the range starts
  too high and names a lower --start-lr.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml

from conftest import cli, table_run, tiny_base, tiny_sets, tiny_sweep
from vislab.errors import UserError
from vislab.experiments.sweeps.study import load_existing_study
from vislab.training.lr_find import lr_range_test
from vislab.training.lr_finding import RangeTest
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


# ------------------------------------------------------------------- summary.json of the wrong types
def test_compare_names_a_summary_whose_values_have_the_wrong_types(tmp_path, capsys):
    (tmp_path / "grp").mkdir()
    for name in ("a", "c"):
        table_run(tmp_path / "grp", name, "data.name=digits")
    (tmp_path / "grp" / "c" / "summary.json").write_text('{"status": "complete", "val_acc": "x"}')
    code, text = cli(capsys, "compare", tmp_path / "grp")
    assert code == 0, text
    assert "| a |" in text and "| c |" not in text and "| x |" not in text  # no row showing "x"
    assert "? for c" not in text
    flat = " ".join(text.split())
    assert f"'{tmp_path / 'grp' / 'c' / 'summary.json'}' cannot be read" in flat
    assert 'val_acc is "x", not a number' in flat


@pytest.mark.parametrize(
    ("edited", "said"),
    [
        ({"status": 3}, "status is 3, not a string"),
        ({"test_per_class": [0.5, 0.5]}, "test_per_class is [0.5, 0.5], not an object of numbers"),
        ({"epochs_run": "three"}, 'epochs_run is "three", not a whole number'),
        ({"stopped_early": "no"}, 'stopped_early is "no", not true or false'),
    ],
)
def test_a_summary_value_of_the_wrong_type_makes_the_file_unreadable(tmp_path, edited, said):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "complete", "test_acc": 0.5, **edited}))
    assert RunDir(run).read_summary() is None
    with pytest.raises(Exception, match="cannot be read") as e:
        RunDir(run).load_summary()
    assert said in str(e.value)


def test_an_older_summary_missing_keys_or_holding_unknown_ones_still_reads():
    old = {"status": "complete", "test_acc": 0.5, "epochs_run": 2.0, "lab": "x", "best_epoch": None}
    summary = RunSummary.from_json(old)
    assert summary.complete and summary.test_acc == 0.5 and summary.epochs_run == 2
    assert summary.extra == {"lab": "x"} and summary.model is None


def test_resuming_a_run_rewrites_its_summary_of_the_wrong_types(trained, tmp_path, capsys):
    run = tmp_path / "c"
    shutil.copytree(trained, run)
    (run / "summary.json").write_text('{"status": "complete", "val_acc": "x"}')
    code, text = cli(capsys, "train", "--resume", run, "--quiet")
    assert code == 0, text
    summary = RunDir(run).load_summary()
    assert summary.complete and isinstance(summary.val_acc, float) and summary.model == "mlp"


# ------------------------------------------------------------------------------ a damaged study.db
def test_a_damaged_study_db_is_named_with_what_still_works(tmp_path, capsys):
    spec = tiny_sweep(name="s6", base=tiny_base(data__limit=120, model__hidden=[8]))
    path, out = tmp_path / "s6.yaml", tmp_path / "s6"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, text = cli(
        capsys, "sweep", path, "--trials", 1, "--epochs", 1, "--out", out, "--no-report"
    )
    assert code == 0, text
    db = out / "study.db"
    db.write_bytes(db.read_bytes()[:4096])  # a copy cut short
    code, text = cli(capsys, "sweep", "show", out)
    flat = " ".join(text.split())
    assert code == 2, text
    assert f"'{db.resolve()}' is damaged (database disk image is malformed)" in flat
    assert "cannot write" not in flat and "--storage" not in flat
    compare = f"vislab compare {(out / 'trials').resolve()}"
    again = f"vislab sweep {(out / 'sweep.yaml').resolve()} --out {out.resolve()} --overwrite"
    assert compare in flat and again in flat
    # both work: the trials compare, and the sweep starts over
    code, text = cli(capsys, *compare.split()[1:])
    assert code == 0 and "| 0 |" in text, text
    code, text = cli(capsys, *again.split()[1:], "--trials", 1, "--epochs", 1, "--no-report")
    assert code == 0, text
    assert len(load_existing_study(f"sqlite:///{db}", "s6").trials) == 1


def test_a_storage_that_is_no_database_is_named_as_such(tmp_path, capsys):
    db = tmp_path / "shared.db"
    db.write_bytes(b"not a database " * 300)
    code, text = cli(capsys, "sweep", "show", "--storage", f"sqlite:///{db}", "--study", "s")
    flat = " ".join(text.split())
    assert code == 2, text
    assert f"'{db}' is damaged (file is not a database)" in flat and "cannot write" not in flat
    assert f"move '{db}' aside" in flat


# --------------------------------------------------------------------- an lr range starting too high
def test_lr_find_diverging_from_its_first_step_suggests_no_lr(tmp_path, capsys):
    out = tmp_path / "lr.png"
    rng = ("--start-lr", "10", "--end-lr", "1e9", "--steps", "20")
    code, text = cli(capsys, "lr-find", *tiny_sets(), *rng, "--out", out)
    flat = " ".join(text.split())
    assert code == 2, text
    assert "diverged from its first step" in flat and "no lr is suggested" in flat
    assert "--start-lr 1e-07 (Python: start_lr=1e-07)" in flat
    assert "optim.lr" not in flat and not out.exists()


def test_only_a_loss_rising_from_its_first_step_suggests_nothing():
    """The rule is for a range starting too high; a curve that dips once before it diverges keeps its
    suggestion (the steepest fall before the minimum), as does one flat until it explodes."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = iter(lambda: (torch.randn(8, 4), torch.randint(0, 3, (8,))), None)
    test = RangeTest(start_lr=1e-3, end_lr=1e5, steps=30)
    losses = {"rising": [2.3, 2.4, 5, 50, 500], "dip": [2.3, 2.0, 1.5, 5, 50, 500]}

    def by_step(curve):
        steps = iter(curve + [5000] * 30)
        return lambda logits, y: logits.sum() * 0 + next(steps)

    with pytest.raises(UserError, match="no lr is suggested.*--start-lr 1e-07"):
        lr_range_test(model, opt, batches, test, loss_fn=by_step(losses["rising"]))
    found = lr_range_test(model, opt, batches, test, loss_fn=by_step(losses["dip"]))
    assert found.stopped and test.start_lr <= found.suggestion < found.lrs[-1]
