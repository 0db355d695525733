"""Session 26: the RDFIA 1-e suites draw the report's train-vs-test curves from the untrained model on
(report A's Figures 19-24 are train and test curves; the timm runs' differ most at the start)."""

from __future__ import annotations

import pytest

from vislab.experiments.suites.spec import load_suite, run_config


@pytest.mark.parametrize("name", ["vit-study", "timm-mnist"])
def test_rdfia_transformer_suites_track_the_test_set_from_epoch_0(name):
    suite = load_suite(name)
    for run in suite.runs:
        train = run_config(suite, run).train
        assert train.track_test and train.eval_at_start, run
        # the curves only: best.pt is still picked on val
        assert train.select_metric.startswith("val_"), run
