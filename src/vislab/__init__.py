"""vislab: a lab bench for image classification.

The public Python API (the names in ``__all__``; the functions live in :mod:`vislab.api`, ``Run`` in
:mod:`vislab.run`):

>>> import vislab
>>> run = vislab.train(model="cnn", data="digits", train__epochs=3)
>>> run.summary.test_acc, run.history.tail(1), run.plot("confusion")
>>> vislab.compare([run, vislab.load_run("runs/mlp")])
>>> run.explain(["cat.png"]), vislab.preview_data("digits"), vislab.lr_find(model="cnn", data="digits")
>>> vislab.register_arrays(x, y)  # a new process: the arrays a run trained on (data=(x, y)), to evaluate it
>>> vislab.model_info("cnn", (1, 28, 28)), vislab.gradcheck("mlp-scratch")  # layers and costs; backprop

They are imported on first use, so that ``import vislab`` (and the ``vislab`` command's ``--help``) does not
wait for torch, scikit-learn, matplotlib and optuna.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from vislab.version import __version__

# optuna and captum import tqdm.auto, which warns "IProgress not found" in a notebook without ipywidgets
# wherever vislab first imports them (a sweep, a report, a paper, explain); vislab shows no tqdm bar
warnings.filterwarnings("ignore", message="IProgress not found")

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use (__getattr__)
    from vislab.api import (
        SuiteResult,
        compare,
        gradcheck,
        load_run,
        lr_find,
        model_info,
        paper,
        plot_curves,
        preview_data,
        run_suite,
        sweep,
        train,
        write_report,
    )
    from vislab.config import Config, load_config
    from vislab.data.sources.memory import register_arrays
    from vislab.errors import Note, UserError, VislabError
    from vislab.experiments.sweeps.preview import SweepPlan
    from vislab.models import register_model
    from vislab.models.gradcheck import GradCheck
    from vislab.models.info import ModelInfo
    from vislab.run import Run
    from vislab.training.lr_finding import LRFinding
    from vislab.training.state import Callback, StopTraining
    from vislab.training.summary import RunSummary

__all__ = [
    "__version__",
    "Callback",
    "Config",
    "GradCheck",
    "LRFinding",
    "ModelInfo",
    "Note",
    "Run",
    "RunSummary",
    "StopTraining",
    "SuiteResult",
    "SweepPlan",
    "UserError",
    "VislabError",
    "compare",
    "gradcheck",
    "load_config",
    "load_run",
    "lr_find",
    "model_info",
    "paper",
    "plot_curves",
    "preview_data",
    "register_arrays",
    "register_model",
    "run_suite",
    "sweep",
    "train",
    "write_report",
]
_HOME = {"Config": "config", "load_config": "config", "register_model": "models", "Run": "run"}
_HOME |= {"UserError": "errors", "VislabError": "errors"}
_HOME |= {"LRFinding": "training.lr_finding", "register_arrays": "data.sources.memory"}
_HOME |= {"ModelInfo": "models.info", "GradCheck": "models.gradcheck", "Note": "errors"}
_HOME |= {"Callback": "training.state", "StopTraining": "training.state"}
_HOME |= {"RunSummary": "training.summary", "SweepPlan": "experiments.sweeps.preview"}
_LAZY = {name: f"vislab.{_HOME.get(name, 'api')}" for name in __all__[1:]}  # name → its module


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vislab' has no attribute '{name}'")
    # on use: ctypes and signal, which `import vislab` alone does not need
    from vislab.errors import UserError
    from vislab.interrupts import import_whole  # a Ctrl-C in the import leaves no broken module

    value = getattr(import_whole(module, UserError), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
