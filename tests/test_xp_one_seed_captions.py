"""`vislab paper --only <one seed of a row>` (explorer xp): the row's figures drawn of that one seed run say
so, not "summed over 1 seed (counts of the 1 seed runs' ...)" or "the mean over 1 seed, band ± 1 std"."""

import numpy as np

from vislab.report.figure_set import FigureSet
from vislab.report.sections import curve_figures
from vislab.report.seed_figures import SeedPredictions, row_figures


def _seed(run: str) -> SeedPredictions:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    return SeedPredictions(run, probs, np.array([0, 1, 1, 0]), ["a", "b"])


def test_a_rows_test_figures_of_one_seed_name_that_run(tmp_path):
    figs = FigureSet(tmp_path / "figures", [])
    captions = [f["caption"] for f in row_figures(figs, "cnn", [_seed("cnn-s0")])]
    assert captions[0].startswith(
        "cnn: test confusion matrix of one seed run, cnn-s0 (counts of its 4"
    )
    assert captions[1] == "cnn: test accuracy per class of one seed run, cnn-s0"
    assert (
        captions[2]
        == "cnn: ROC curves, one vs rest, of one seed run, cnn-s0 (its test predictions)"
    )
    assert not any("1 seed" in c for c in captions), captions
    two = [f["caption"] for f in row_figures(figs, "cnn", [_seed("cnn-s0"), _seed("cnn-s1")])]
    assert "summed over 2 seeds (counts of the 2 seed runs' 8 test predictions together" in two[0]


def test_the_curves_of_one_seed_per_row_are_no_mean_with_a_band(tmp_path):
    figs = FigureSet(tmp_path / "figures", [])
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5}
            for e in (1, 2)]  # fmt: skip
    made = curve_figures(figs, {"cnn-s0": rows}, {}, {"cnn": ["cnn-s0", "cnn-s1"]})
    assert made[0]["caption"] == "loss and accuracy of 1 run; each curve a row's one seed run"
