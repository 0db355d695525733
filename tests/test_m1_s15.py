"""What users see that no test checked before (each test fails with the change its docstring names):
a single run's report keeps the run's own figures; a paper of two runs of one folder name keeps both and
drops an earlier build's per-epoch tables; a sweep minimising its metric details its best trials; a
sweep's trials listed by number; compare's --sort puts the highest of every accuracy first and orders
rows of seeds by their mean; the faded-epochs caption names separate epochs apart; exactly four
differing settings are columns; a row whose first seed failed reads its data from a finished one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, table_run
from vislab.plotting.runs import mean_history
from vislab.report.sections import fewer_note


def fake_run(folder: Path, name: str, *assignments: str, **summary) -> Path:
    """A finished mlp run as the tables read it (table_run), its summary.json holding ``summary`` too."""
    folder.mkdir(parents=True, exist_ok=True)
    run = table_run(folder, name, *assignments)
    record = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**record, **summary}))
    return run


def epochs_of(run: Path, epochs: int = 2) -> None:
    """A metrics.jsonl of ``epochs`` rows in ``run`` (what a paper's per-epoch table reads)."""
    rows = [
        dict(epoch=e, train_loss=1 / e, train_acc=0.5, val_loss=1 / e, val_acc=0.5, lr=0.01)
        for e in range(1, epochs + 1)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def md_rows(text: str) -> list[str]:
    """The first cell of each body row of the markdown tables in ``text``."""
    cells = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    return [c for c in cells if c != "run"]


# ------------------------------------------------------------------ 1. a run's own figures kept


def test_report_of_one_run_keeps_the_figures_it_does_not_draw(capsys, trained):
    """`vislab eval RUN --split val` then `vislab report RUN`: every PNG in RUN/figures/ before the report
    (eval's confusion_val.png among them) is still there after (with the report deleting the PNGs it did
    not draw, eval's figures and the trainer's went)."""
    code, text = cli(capsys, "eval", trained, "--split", "val")
    assert code == 0, text
    before = {p.name for p in (trained / "figures").glob("*.png")}
    assert "confusion_val.png" in before, before
    code, text = cli(capsys, "report", trained)
    assert code == 0, text
    after = {p.name for p in (trained / "figures").glob("*.png")}
    assert before <= after, sorted(before - after)


# ------------------------------------------------------------------ 2, 6. a paper of a/cnn and b/cnn


@pytest.fixture
def two_cnns(tmp_path) -> list[Path]:
    """Runs a/cnn and b/cnn (one folder name, two parents), two epochs each."""
    runs = [fake_run(tmp_path / p, "cnn", f"optim.lr={lr}") for p, lr in (("a", 0.01), ("b", 0.1))]
    for run in runs:
        epochs_of(run)
    return runs


def test_a_paper_of_two_runs_of_one_folder_name_keeps_both(capsys, two_cnns, tmp_path):
    """`vislab paper a/cnn b/cnn --out P`: the table has rows a/cnn and b/cnn, each with its per-epoch
    table (before, keyed by the plain name, b/cnn silently replaced a/cnn)."""
    out = tmp_path / "P"
    code, text = cli(capsys, "paper", *two_cnns, "--out", out, "--no-figures")
    assert code == 0, text
    assert md_rows((out / "tables.md").read_text()) == ["a/cnn", "b/cnn"]
    assert sorted(p.name for p in (out / "tables").iterdir()) == [
        "a_cnn_epochs.tex",
        "b_cnn_epochs.tex",
    ]


def test_a_paper_rebuilt_with_only_drops_the_other_runs_epoch_tables(capsys, two_cnns, tmp_path):
    """A paper rebuilt with `--only a/cnn` keeps only a/cnn's per-epoch table in tables/ (before, b/cnn's
    stayed from the first build, a table of a run the paper no longer holds)."""
    out = tmp_path / "P"
    code, text = cli(capsys, "paper", *two_cnns, "--out", out, "--no-figures")
    assert code == 0, text
    assert len(list((out / "tables").glob("*_epochs.tex"))) == 2
    code, text = cli(capsys, "paper", *two_cnns, "--out", out, "--no-figures", "--only", "a/cnn")
    assert code == 0, text
    assert md_rows((out / "tables.md").read_text()) == ["a/cnn"]
    assert [p.name for p in (out / "tables").iterdir()] == ["a_cnn_epochs.tex"]


# ------------------------------------------------------------------ 3, 7. sweep folders


def fake_sweep(folder: Path, losses: list[float], direction: str = "minimize") -> Path:
    """A sweep folder as its files hold it (sweep.json and trials/<n>), no study: trial n's val_loss
    ``losses[n]``."""
    (folder / "trials").mkdir(parents=True)
    record = {"kind": "sweep", "metric": "val_loss", "direction": direction}
    (folder / "sweep.json").write_text(json.dumps(record))
    for n, loss in enumerate(losses):
        fake_run(folder / "trials", str(n), f"optim.lr={0.001 * (n + 1)}", val_loss=loss)
    return folder


def test_the_report_of_a_sweep_minimising_details_its_lowest_trials(capsys, tmp_path):
    """A sweep minimising val_loss: the report's per-run sections are the trials of lowest val_loss, best
    first (before: its highest, the worst trials)."""
    sweep = fake_sweep(tmp_path / "sw", [0.5, 0.2, 0.9, 0.4, 0.7])
    code, text = cli(capsys, "report", sweep)
    assert code == 0, text
    page = (sweep / "report.html").read_text()
    assert re.findall(r'<details open id="run-(trial-\d+)">', page) == [
        "trial-1",
        "trial-3",
        "trial-0",
    ]


def test_a_sweeps_trials_are_listed_by_number(tmp_path):
    """A sweep folder of 11 trials: compare lists trial-0 ... trial-10 in that order (not trial-10 before
    trial-2, as sorted by name)."""
    sweep = fake_sweep(tmp_path / "sw", [0.5] * 11)
    assert list(vislab.compare(sweep)["run"]) == [f"trial-{n}" for n in range(11)]
    # a trial given alone is named as its sweep's table names it (it was '3', beside 'trial-3')
    alone = vislab.compare([sweep / "trials" / "3", sweep / "trials" / "10"])
    assert list(alone["run"]) == ["trial-3", "trial-10"]


# ------------------------------------------------------------------ 4, 5. compare --sort


@pytest.mark.parametrize("column", ["test_acc", "test_pacc", "val_acc", "val_pacc", "train_acc"])
def test_compare_sort_puts_the_highest_accuracy_first(capsys, tmp_path, column):
    """`vislab compare DIR --sort COLUMN` for every accuracy column, PACC too: highest first (before,
    test_pacc and val_pacc, not ending in '_acc', listed the worst run first)."""
    for name, value in (("low", 0.2), ("high", 0.9), ("mid", 0.5)):
        fake_run(tmp_path / "runs", name, **{column: value})
    assert list(vislab.compare(tmp_path / "runs", sort=column)["run"]) == ["high", "mid", "low"]
    code, text = cli(capsys, "compare", tmp_path / "runs", "--sort", column)
    assert code == 0, text
    assert md_rows(text) == ["high", "mid", "low"]


def test_compare_sort_by_val_loss_orders_rows_of_seeds_by_their_mean(capsys, tmp_path):
    """Rows of seeds sorted by val_loss (not a column of the table: read from each summary.json): row b
    (mean 0.3) before row a (mean 0.5), though a's seed 0 has the lowest val_loss of all (0.1)."""
    losses = {"a-s0": 0.1, "a-s1": 0.9, "b-s0": 0.3, "b-s1": 0.3}
    for name, loss in losses.items():
        fake_run(
            tmp_path / "runs", name, f"train.seed={name[-1]}", seed=int(name[-1]), val_loss=loss
        )
    code, text = cli(capsys, "compare", tmp_path / "runs", "--sort", "val_loss")
    assert code == 0, text
    assert md_rows(text) == ["b", "a"]
    assert "rows ordered by val_loss, best first" in one_line(text)


# ------------------------------------------------------------------ 8. the faded epochs' caption


def test_the_faded_epochs_caption_names_separate_epochs_apart():
    """Seed A stopped after epoch 1, seeds B and C ran on but have no row for epoch 3: the caption names
    epoch 2 and epoch 4 (before, the two were one range, 'epochs 2–4', epoch 3 included)."""
    rows = {e: dict(epoch=e, train_loss=1.0, val_loss=1.0, val_acc=0.5) for e in range(1, 5)}
    stopped, ran_on = [rows[1]], [rows[1], rows[2], rows[4]]
    note = fewer_note({"cnn": mean_history([stopped, ran_on, ran_on])})
    assert note.endswith("cnn 2 of 3 seeds at epoch 2, cnn 2 of 3 seeds at epoch 4"), note
    assert "epochs 2–4" not in note


# ------------------------------------------------------------------ 9. four settings as columns


def test_exactly_four_differing_settings_are_columns(capsys, tmp_path):
    """Four settings differ between the runs: each is a column of the table, none listed under it (the
    README: columns when at most 4 differ)."""
    changes = ("optim.lr", "optim.weight_decay", "train.batch_size", "train.epochs")
    for name, values in (("r1", (0.01, 0.0, 32, 2)), ("r2", (0.1, 0.001, 64, 3))):
        fake_run(tmp_path / "runs", name, *(f"{k}={v}" for k, v in zip(changes, values)))
    code, text = cli(capsys, "compare", tmp_path / "runs")
    assert code == 0, text
    header = next(line for line in text.splitlines() if line.startswith("| run"))
    assert [c.strip() for c in header.split("|")[2:-1]][:6] == ["model", "seed", *changes]
    assert "Settings each run changed" not in text


# ------------------------------------------------------------------ 10. a row whose first seed failed


def test_a_row_whose_first_seed_failed_is_of_its_finished_seeds_data(capsys, tmp_path):
    """Rows a (seed 0 failed), b and c, all on digits: the table bolds b's test ACC, beyond the others by
    far, and says nothing of several datasets (before, row a's dataset read as None: the note under the
    table said bold was the best 'on each dataset' of a table of one dataset)."""
    scores = {"a-s1": 0.40, "a-s2": 0.42, "b-s0": 0.80, "b-s1": 0.82, "c-s0": 0.60, "c-s1": 0.62}
    for name, acc in scores.items():
        fake_run(
            tmp_path / "runs", name, f"train.seed={name[-1]}", seed=int(name[-1]), test_acc=acc
        )
    fake_run(tmp_path / "runs", "a-s0", "train.seed=0", status="failed", message="out of memory")
    code, text = cli(capsys, "compare", tmp_path / "runs")
    assert code == 0, text
    said = one_line(text)
    assert "Data: digits, all runs." in said
    assert "In bold, the best of vislab's runs when it beats every other run" in said
    assert "on each dataset" not in said
    bold = [line for line in text.splitlines() if line.startswith("| ") and "**" in line]
    assert [line.split("|")[1].strip() for line in bold] == ["b"], text
