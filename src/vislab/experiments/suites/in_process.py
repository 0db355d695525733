"""Models defined in this Python process (a notebook's classes, ``@vislab.register_model`` in a script)
and the ``--jobs`` worker processes a suite trains in, which start with vislab's models only."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from vislab.errors import UserError
from vislab.experiments.suites.spec import Suite, run_config


def run_models(suite: Suite, chosen: list[str] | None, sets: Sequence[str]) -> dict[str, str]:
    """The model.name of each of ``suite``'s runs (``chosen``: those) with ``sets``; a run whose config
    is invalid is left out (the suite's check of its plan names it)."""
    models = {}
    for name in chosen if chosen is not None else suite.run_names():
        try:
            models[name] = run_config(suite, name, list(sets)).model.name
        except UserError:
            continue
    return models


def refuse_models_of_this_process(models: dict[str, str], jobs: int) -> None:
    """UserError, before anything is trained or written, when ``jobs`` processes would train the runs
    ``models`` (run → model.name) and one's model is a class or builder defined in this Python process
    (a notebook's ``@vislab.register_model("mynet")``, ``vislab.train(model=Net)``'s ``user-Net``): a
    spawned process starts with vislab's models only (it reruns the main script, registering again what
    its top level registers, but no notebook's cells), so each run of it would fail."""
    from vislab.models.objects import PREFIX, is_user_object  # on use: loads torch
    from vislab.models.registry import registered_code

    if jobs <= 1 or len(models) <= 1:  # one run trains in this process (run_all)
        return
    rerun = _main_rerun()
    own = [
        name
        for name in models.values()
        if is_user_object(name) or (registered_code(name) is not None and not rerun)
    ]
    if not own:
        return
    name, runs = own[0], [run for run, model in models.items() if model == own[0]]
    where = (registered_code(name) or {}).get("object")  # module.Name
    attr = (where or name.removeprefix(PREFIX)).rpartition(".")[2]
    how = (
        f"given to vislab.train(model={attr})"
        if is_user_object(name)
        else f"registered as '{name}'"
    )
    what = f"{where}, {how}" if where else how
    raise UserError(
        f"model '{name}' of run{'s' * (len(runs) > 1)} {', '.join(runs)} is {what} in this Python "
        f"process: it cannot train in the jobs={jobs} worker processes, which start with "
        f"vislab's models only, so nothing was trained. Give jobs=1 (the runs one after another in "
        f"this process), or put {attr} in a file and name it model.name=path/to/file.py:{attr} in "
        f"the suite's runs."
    )


def _main_rerun() -> bool:
    """Whether a spawned process runs this process's main script again (``__mp_main__``), as
    multiprocessing does for a script or ``python -m module``, not for a notebook, ``python -c``, a
    script read from stdin or a package's ``__main__``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name != "__main__" and not spec.name.endswith(".__main__")
    path = getattr(main, "__file__", None)
    return bool(path) and Path(path).is_file() and Path(path).stem != "ipython"
