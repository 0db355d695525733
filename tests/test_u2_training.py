"""Defects a second explorer's session found in the training vocabulary's tools: lr-find on a short test
suggested the learning rate of the loss minimum itself."""

from __future__ import annotations

import numpy as np

from vislab.training.lr_curve import suggest


def test_a_short_tests_steepest_last_step_into_the_minimum_is_not_suggested():
    """Five steps: the loss falls most on the step into its minimum (1.8 → 1.0). The minimum's lr (the
    edge of divergence) was suggested; now the steepest point before it is."""
    lrs = list(np.logspace(-3, 1, 5))
    smoothed = [2.0, 1.9, 1.8, 1.0, 3.0]
    assert suggest(lrs, smoothed) == lrs[2]
    assert suggest(lrs, smoothed) < lrs[int(np.argmin(smoothed))]
