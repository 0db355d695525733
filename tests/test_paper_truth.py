"""What `vislab paper` (and results.md) say is true of the runs: bold only for a best beyond the spread of
EVERY other row; --no-figures never empties figures.tex of the figures already drawn for the paper's runs;
a metrics.jsonl row lost (cut short) said in the notes and in its epoch table's caption; the training
settings said under the tables; the seeds' own splits said where the test figures pool them."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, cli, one_line, tiny_base, tiny_config, tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.experiments.results.cells import best_row, bold_note
from vislab.experiments.results.spread import Spread, verdict
from vislab.paper_folder.tables import latex_tables, markdown_tables, parts
from vislab.training.trainer import train

SUITE = tiny_suite(
    base=tiny_base(train__seed=0),
    runs={
        "mlp": {"optim.lr": 0.01},
        "cnn": {"model.name": "cnn", "model.widths": [4], "model.fc": [8]},
    },
)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """A digits suite of two rows (mlp at lr 0.01, a tiny cnn at the default lr), 2 seeds, 1 epoch."""
    root = tmp_path_factory.mktemp("truth")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    args = ["suite", str(spec), "--seeds", "2", "--out", str(root / "suite"), "-q", "--no-report"]
    assert main(args) == 0
    return root / "suite"


@pytest.fixture(scope="module")
def drawn_paper(suite, tmp_path_factory) -> Path:
    """`vislab paper` of ``suite`` with its curves and pooled test figures (confusion, ROC), drawn once for
    the tests that read them (the others are skipped: figures_skipped); they read it or copy it."""
    paper = tmp_path_factory.mktemp("truth-paper") / "paper"
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp, keep=("curves", "confusion_", "roc_"))
        assert main(["paper", str(suite), "--out", str(paper)]) == 0
    return paper


def _paper(capsys, suite: Path, out: Path, *args: str) -> str:
    code, text = cli(capsys, "paper", suite, "--out", out, *args)
    assert code == 0, text
    return one_line(text)


def _graphics(paper: Path) -> list[str]:
    return re.findall(
        r"\\includegraphics(?:\[[^]]*\])?\{figures/([^}]*)\.pdf\}",
        (paper / "figures.tex").read_text(),
    )


def test_bold_only_when_the_best_beats_every_other_row_beyond_the_spread():
    """mlp 0.7870 ± 0.0470 beats mlp-wide (p < 0.05) but not cnn 0.5630 ± 0.1330, whose spread is wide
    (p = 0.08, "within the spread"): no bold, and the rule under the table says against every run."""
    acc = {
        "mlp": [0.740, 0.787, 0.834],
        "mlp-wide": [0.60, 0.61, 0.62],
        "cnn": [0.430, 0.563, 0.696],
    }
    rows = [{"run": r, "seeds": 3, "test_acc": Spread(v)} for r, v in acc.items()]
    assert verdict("", acc["mlp"], "", acc["mlp-wide"]).exceeds  # beats the second best...
    assert not verdict("", acc["mlp"], "", acc["cnn"]).exceeds  # ...but not the third
    assert best_row(rows, "test_acc") is None
    tables = parts(rows, [("run", "run"), ("test_acc", "test ACC")], seeded=True)
    assert "\\textbf" not in latex_tables(tables, {}, "")
    md = markdown_tables(tables, {}, "", {})
    assert "| **" not in md and "beats every other run beyond the spread" in md
    assert "not only against the second best" in bold_note(True)
    rows[2]["test_acc"] = Spread([0.50, 0.51, 0.52])  # now beyond the spread of both: bold
    assert best_row(rows, "test_acc") == 0
    readme = one_line((REPO / "README.md").read_text())
    assert "only when it beats every other run beyond their spread" in readme
    assert "beats the second best beyond" not in readme


def test_no_figures_with_only_keeps_the_chosen_rows_figures_and_all_come_back(
    suite, drawn_paper, tmp_path, capsys
):
    paper = Path(shutil.copytree(drawn_paper, tmp_path / "paper"))  # written again below: a copy
    drawn = _graphics(paper)
    assert {"curves", "confusion_mlp", "roc_mlp", "confusion_cnn", "roc_cnn"} <= set(drawn)
    said = _paper(capsys, suite, paper, "--no-figures", "--only", "cnn")
    assert sorted(_graphics(paper)) == ["confusion_cnn", "roc_cnn"]  # cnn's own, not mlp's curves
    assert "leaves out 1 figure of several runs (curves)" in said and "mlp-s0" in said
    _paper(capsys, suite, paper, "--no-figures")
    assert _graphics(paper) == drawn  # every figure figures/ holds of the paper's runs, in order


def test_a_metrics_row_cut_short_is_in_the_notes_and_the_epoch_caption_says_it_is_missing(
    tmp_path, capsys
):
    run = tmp_path / "run"
    train(tiny_config(), run, quiet=True)  # 2 epochs: the kept one is the last
    assert json.loads((run / "summary.json").read_text())["best_epoch"] == 2
    metrics = run / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes()[:-40])  # `head -c -40`: epoch 2's line cut
    said = _paper(capsys, run, tmp_path / "paper", "--no-figures")
    assert "epoch 2's row is lost" in said
    texts = one_line((tmp_path / "paper" / "texts.tex").read_text())
    assert "Notes" in texts and "epoch 2\\textquotesingle{}s row is lost" in texts
    table = (tmp_path / "paper" / "tables" / "run_epochs.tex").read_text()
    assert "in bold epoch 2" not in table and "\\textbf" not in table
    assert (
        "epoch 2, whose weights were kept (best.pt: the best val PACC, train.select\\_metric), is not in it"
        in one_line(table)
    )


def test_the_training_settings_are_said_once_in_the_texts_and_pointed_to_under_each_table(
    suite, tmp_path, capsys
):
    paper = tmp_path / "paper"
    _paper(capsys, suite, paper, "--no-figures")
    shared = (
        "Training settings, the same in every run that uses them: optimizer adam, weight decay 0, "
        "batch size 32, epochs 1, schedule none, normalization standard, augmentation off."
    )
    per_run = "Set per run (the table's settings give each run's): learning rate."
    md = one_line((paper / "tables.md").read_text())
    assert shared in md and per_run in md
    tex = one_line((paper / "tables.tex").read_text()).replace("\\textquotesingle{}", "'")
    assert shared not in tex  # said once, in texts.tex: under each table where to find it
    assert (
        tex.count("Data and how the runs were made: see ``Data and runs'' on page")
        == len(re.findall(r"\\begin\{table\*?\}", tex))  # table*: wider than a column
        >= 2
    )
    texts = one_line((paper / "texts.tex").read_text())
    assert per_run in texts.replace("\\textquotesingle{}", "'")
    assert shared in texts.replace("\\textquotesingle{}", "'")
    assert "| 0.01 |" in md  # the learning rate each row trained with, in the table


def test_each_seeds_own_split_is_said_in_the_data_line_and_the_pooled_captions(suite, drawn_paper):
    paper = drawn_paper
    texts = one_line((paper / "texts.tex").read_text()).replace("\\textquotesingle{}", "'")
    assert "each drew their own train/val/test split" in texts and "test images differ" in texts
    assert "each drew their own train/val/test split" in (suite / "results.md").read_text()
    figures = one_line((paper / "figures.tex").read_text())
    # the caption of each figure that pools the seeds' test predictions (not the curves')
    pooled = re.findall(
        r"figures/(?:confusion|roc)_[^}]*\.pdf\}.*?\\caption\{(.*?)\}\s*\\label", figures
    )
    assert len(pooled) == 4, figures  # confusion and ROC of each row
    for caption in pooled:
        assert "on its own test split, drawn with its train.seed" in caption, caption
    # only when they differ: the same test set (its labels in order) every seed says nothing
    from vislab.report.seed_figures import own_test_sets
    from vislab.training.rundir import SavedPredictions

    def saved(labels, origin=None):
        return SavedPredictions(np.zeros((len(labels), 3)), np.array(labels), origin)

    same = [0, 1, 2, 1]
    assert not own_test_sets([saved(same), saved(same)]) and own_test_sets(
        [saved(same), saved(same[::-1])]
    )
    # where every seed saved its samples' origins, those tell: a folder's test sets sorted by class
    one, other = np.array([[2, 0], [2, 1]]), np.array([[0, 5], [0, 9]])
    assert own_test_sets([saved([0, 1], one), saved([0, 1], other)])
    assert not own_test_sets([saved([0, 1], one), saved([0, 1], one.copy())])


def test_seeds_of_an_image_folder_are_said_to_draw_their_own_splits(tmp_path):
    """E41: a folder's images are read sorted by class, so two seeds' test splits (other files) gave the
    same label sequence, and results.md did not say the seeds' test images differ. The saved origins
    (each test image's index in the folder) tell them apart."""
    from fixtures import write_image_folder

    write_image_folder(tmp_path / "imgs", per_class=10, gray=True)
    base = tiny_base(
        data__name="folder",
        data__root=str(tmp_path / "imgs"),
        data__image_size=8,
        train__batch_size=8,
    )
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(base=base, runs={"mlp": {}}), sort_keys=False))
    out = tmp_path / "suite"
    assert main(["suite", str(spec), "--seeds", "2", "--out", str(out), "-q", "--no-report"]) == 0
    assert "each drew their own train/val/test split" in (out / "results.md").read_text()
