"""vislab's Python API: train, load, compare and sweep runs from Python or a notebook.

The ``vislab`` command is a thin layer over these functions (one implementation): ``vislab train`` calls
:func:`train`, ``vislab suite`` :func:`run_suite`, ``vislab sweep`` :func:`sweep`; ``compare`` shares
:mod:`vislab.api.comparison` with :func:`compare` (its ``--csv`` table is the DataFrame); ``eval`` and
``predict`` share :mod:`vislab.predict` with :meth:`Run.evaluate` and :meth:`Run.predict`; ``data preview``
and ``lr-find`` draw what :func:`preview_data` and :func:`lr_find` return, ``explain`` and ``figure
pos-embed --run`` what :meth:`Run.explain` and ``Run.plot("pos-embed")`` return, ``model info`` and
``model gradcheck`` what :func:`model_info` and :func:`gradcheck` return.

Each public function checks its arguments against its type hints as it is called
(:func:`vislab.arguments.checked`): a number given as a string is that number, a ``Run`` or a suite's
result stands for its folder, and any other value of the wrong type is a UserError naming the argument.

>>> import vislab
>>> run = vislab.train(model="cnn", data="digits", train__epochs=3, out="runs/cnn")
>>> run.summary.test_acc, run.plot("confusion")
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from vislab.errors import UserError
from vislab.interrupts import import_whole

# Its modules, each importing only those above it: configs, folders → runs → suites; side_by_side
# (comparing runs, without torch) → suites; experiments (what suites and sweeps share) → suites, sweeps;
# configs → inspection; configs, folders → models (looking inside a model); written (which files are
# vislab's) → folders, papers.
#
# The trainer, suites, sweeps, tables and reports are imported by the functions that use them ("on use"
# in each module): they load matplotlib, pandas, optuna and SQLAlchemy (~2 s on 2 cores), which a notebook
# that opens runs, a sweep trial or `vislab train` should not wait for (tests/test_startup.py checks it).
# The modules themselves load on first use of one of their names (__getattr__ below): `vislab compare`
# imports vislab.api.comparison alone, and the modules it needs.

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use (__getattr__)
    from vislab.api.configs import ConfigLike, make_config, user_model
    from vislab.api.experiments import Log, report_hook
    from vislab.api.folders import FOLDER_KINDS, RUN_MARKS, folder_kind, start_over
    from vislab.api.inspection import lr_find, preview_data
    from vislab.api.models import gradcheck, model_info
    from vislab.api.papers import paper, write_report
    from vislab.api.runs import default_run_dir, load_run, train, train_config
    from vislab.api.side_by_side import compare, plot_curves
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
    "plot_curves",
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
_this = sys.modules[__name__]
# each name's module
_HOME = dict.fromkeys(("ConfigLike", "make_config", "user_model"), "configs")
_HOME |= dict.fromkeys(("Log", "report_hook"), "experiments")
_HOME |= dict.fromkeys(("FOLDER_KINDS", "RUN_MARKS", "folder_kind", "start_over"), "folders")
_HOME |= dict.fromkeys(("lr_find", "preview_data"), "inspection")
_HOME |= dict.fromkeys(("gradcheck", "model_info"), "models")
_HOME |= dict.fromkeys(("paper", "write_report"), "papers")
_HOME |= dict.fromkeys(("default_run_dir", "load_run", "train", "train_config"), "runs")
_HOME |= dict.fromkeys(("compare", "plot_curves"), "side_by_side")
_HOME |= dict.fromkeys(("SuiteResult", "resolve_suite", "run_suite"), "suites")
_HOME |= dict.fromkeys(("resolve_sweep", "sweep"), "sweeps")


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562); ``vislab.api.runs`` and the other
    modules themselves load so too."""
    home = _HOME.get(name)
    if home is None:
        try:
            return import_whole(f"{__name__}.{name}", UserError)  # it becomes an attribute
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":  # a module of vislab.api missing one of its own
                raise
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'", name=name, obj=_this)
    value = getattr(import_whole(f"{__name__}.{home}", UserError), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
