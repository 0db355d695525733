"""vislab's Python API: train, load, compare and sweep runs from Python or a notebook.

The ``vislab`` command is a thin layer over these functions (one implementation): ``vislab train`` calls
:func:`train`, ``vislab suite`` :func:`run_suite`, ``vislab sweep`` :func:`sweep`; ``compare`` shares
:mod:`vislab.api.comparison` with :func:`compare` (its ``--csv`` table is the DataFrame); ``eval`` and
``predict`` share :mod:`vislab.predict` with :meth:`Run.evaluate` and :meth:`Run.predict`; ``data preview``
and ``lr-find`` draw what :func:`preview_data` and :func:`lr_find` return, ``explain`` and ``figure
pos-embed --run`` what :meth:`Run.explain` and ``Run.plot("pos-embed")`` return, ``model info`` and
``model gradcheck`` what :func:`model_info` and :func:`gradcheck` return.

>>> import vislab
>>> run = vislab.train(model="cnn", data="digits", train__epochs=3, out="runs/cnn")
>>> run.summary["test_acc"], run.plot("confusion")
"""

# Its modules, each importing only those above it: configs, folders → runs → suites; experiments (what
# suites and sweeps share) → suites, sweeps; configs → inspection; configs, folders → models (looking
# inside a model); written (which files are vislab's) → folders, papers.
#
# The trainer, suites, sweeps, tables and reports are imported by the functions that use them ("on use"
# in each module): they load matplotlib, pandas, optuna and SQLAlchemy (~2 s on 2 cores), which a notebook
# that opens runs, a sweep trial or `vislab train` should not wait for (tests/test_startup.py checks it).

from vislab.api.configs import ConfigLike, make_config, user_model
from vislab.api.experiments import Log, report_hook
from vislab.api.folders import FOLDER_KINDS, RUN_MARKS, folder_kind, start_over
from vislab.api.inspection import lr_find, preview_data
from vislab.api.models import gradcheck, model_info
from vislab.api.papers import paper, write_report
from vislab.api.runs import compare, default_run_dir, load_run, train, train_config
from vislab.api.suites import SuiteResult, resolve_suite, run_suite
from vislab.api.sweeps import resolve_sweep, sweep

# The public names of vislab are listed in vislab/__init__.py (vislab.__all__); these are what it and
# the command import from here.
__all__ = [
    "FOLDER_KINDS",
    "RUN_MARKS",
    "ConfigLike",
    "SuiteResult",
    "Log",
    "compare",
    "default_run_dir",
    "folder_kind",
    "gradcheck",
    "load_run",
    "lr_find",
    "make_config",
    "model_info",
    "paper",
    "preview_data",
    "report_hook",
    "resolve_suite",
    "resolve_sweep",
    "run_suite",
    "start_over",
    "sweep",
    "train",
    "train_config",
    "user_model",
    "write_report",
]
