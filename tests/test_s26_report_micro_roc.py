"""Session 26: the report's ROC figures draw the micro average beside the macro one, as Run.plot('roc')
does (its area that of scikit-learn's roc_auc_score(average="micro") on the run's test predictions)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import vislab.plotting.roc as roc_module
import vislab.report.sections as sections
import vislab.report.seed_figures as seed_figures
from vislab.report.build import build_report


def test_the_reports_roc_figure_has_the_micro_average(trained, tmp_path, monkeypatch):
    from sklearn.metrics import roc_auc_score

    folder = tmp_path / "runs"
    shutil.copytree(trained, folder / "mlp")
    drawn: list = []

    def spy(*args, micro=None, **kwargs):
        drawn.append(micro)
        return roc_module.plot_roc(*args, micro=micro, **kwargs)

    monkeypatch.setattr(sections, "plot_roc", spy)
    monkeypatch.setattr(seed_figures, "plot_roc", spy)
    build_report(folder, log=lambda _: None)
    saved = np.load(folder / "mlp" / "predictions_test.npz")
    probs, labels = saved["probs"], saved["labels"]
    want = roc_auc_score(np.eye(probs.shape[1])[labels], probs, average="micro")
    assert drawn, "the report drew an ROC figure"
    assert all(m is not None for m in drawn), "every ROC figure has its micro line"
    assert drawn[0][2] == pytest.approx(want, abs=1e-12)
