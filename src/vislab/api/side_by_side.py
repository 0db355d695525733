"""Runs side by side: the table of finished runs (:func:`compare`) and their curves on one figure
(:func:`plot_curves`). Apart from :mod:`vislab.api.runs`, which loads torch for training: comparing
finished runs in a notebook does not wait for it (tests/test_s26_lazy_imports.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import InstanceOf

from vislab.arguments import Folders, checked
from vislab.errors import UserError, show_note
from vislab.experiments.results.reported import Reported
from vislab.training.rundir import RunDir

# The results table and the figures are imported by the functions that use them ("on use" below): they
# load matplotlib and pandas, which `import vislab.api` should not wait for (see its __init__).
if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


@checked
def compare(
    runs: Folders,
    reported: InstanceOf[Reported] | Mapping[str, Any] | None = None,
    *,
    sort: str | None = None,
) -> pd.DataFrame:
    """The comparison table of finished runs, as ``vislab compare --csv`` writes it (one implementation:
    ``vislab.api.comparison``): ``run``, what each run was — its ``model``, ``seed`` and a column per
    config setting whose value differs between the runs (dotted keys, ``optim.lr``; a setting a run does
    not have, or that its model does not take, is NaN, results.csv's empty cell; where and how a run
    ran, e.g. data.root or train.device, is not compared) — then the figures as results.csv has them
    (train_acc, val_acc, ..., params, best_epoch): the DataFrame equals ``pd.read_csv`` of the file,
    dtypes included (a list setting is its text, ``[8, 16]``).

    ``runs``: run folders (or :class:`Run`), or folders of runs (a suite's — or what :func:`run_suite`
    returns —, a sweep's, any folder with runs at any depth below it, a suite's inside it too: its runs
    named by their path below it, ``alice``, ``carol/cnn``), as ``vislab report`` and ``vislab paper``
    find them; a run is named by its folder (``a/cnn`` and ``b/cnn`` where two share a name); of several
    given, a folder of runs' runs by it (``s07/cnn``, ``s07/mlp``); a mapping names each by its key (a
    folder of runs: ``key/run``); one run or folder is a list of one. One suite folder gives its own
    rows (mean and ``<key>_std`` over its seeds) and ``reported:`` block.
    Runs that have not finished are left out of the table: the DataFrame's ``attrs["left_out"]`` maps
    each to why, and a :class:`vislab.errors.Note` warning lists them. ``reported``: a suite's
    ``reported:`` block, whose figures join as ``<key>_reported_<source>`` columns (as in results.csv).
    ``sort``: a column to order the rows by, best first for an accuracy or loss, else ascending.

    >>> vislab.compare([run_a, "runs/cnn"], sort="val_acc")   # run, model, seed, optim.lr, ...
    >>> vislab.compare("runs/suite-quickstart").attrs["left_out"]   # {'cnn': 'not finished (...)'}
    """
    import pandas as pd  # on use (see the imports)

    from vislab.api.comparison import comparison_table

    table, columns, found = comparison_table(_run_folders(runs), sort, reported)
    frame = pd.DataFrame(table, columns=columns)
    frame.attrs["left_out"] = dict(found.left_out)
    if found.left_out:
        listed = "; ".join(f"{name}: {why}" for name, why in found.left_out.items())
        show_note(f"left out of the table: {listed}")
    return frame


@checked
def plot_curves(runs: Folders) -> Figure:
    """Loss, accuracy and per-class accuracy (where the runs recorded it) per epoch of several runs on one
    figure (an lr study's runs, side by side), drawn
    as a report's curves.png draws them: a colour per run, solid = train, dashed = val, dotted = tracked
    test (``vislab.plotting.runs.curves_figure``). ``runs`` as :func:`compare` takes them — run folders
    (or :class:`Run`), folders of runs, a mapping naming each — and named so; every run found that
    trained an epoch is drawn, finished or not (a model fitted once, svm, as one point, as curves.png draws
    it). Returns the Figure (``fig.savefig("curves.png")``).

    >>> vislab.plot_curves(["runs/lr0.1", "runs/lr0.01", run])   # or a folder of them: "runs/lr-study"
    """
    # on use (see the imports)
    from vislab.api.found_runs import find_runs
    from vislab.plotting.runs import curves_figure, drawn_runs

    found = find_runs(_run_folders(runs), "plot")
    histories = {name: RunDir(folder).read_metrics() for name, folder in found.folders.items()}
    trained = drawn_runs(histories)  # as a report's curves.png draws them
    if not trained:  # finished runs whose rows hold no train_loss (an early vislab's fitted model)
        raise UserError(
            f"no run of {', '.join(found.folders)} trained epochs (their metrics.jsonl hold no "
            f"train_loss): nothing to plot. vislab.compare gives their scores."
        )
    return curves_figure(trained)


def _run_folders(
    runs: Folders,
) -> Path | list[Path] | dict[str, Path]:
    """``runs`` as folders (a :class:`Run` or ``SuiteResult`` as its own; a string is one path, not a
    list of characters)."""
    if isinstance(runs, (str, os.PathLike)):
        return Path(runs)
    if isinstance(runs, Mapping):
        return {str(name): Path(r) for name, r in runs.items()}
    return [Path(r) for r in runs]
