"""Models and arrays defined in this Python process (a notebook's classes, ``@vislab.register_model`` in a
script, ``vislab.register_arrays``) and the ``--jobs`` worker processes a suite trains in, which start
with vislab's models only and no arrays."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from vislab.config import Config
from vislab.errors import UserError
from vislab.experiments.suites.plan import plan_run
from vislab.experiments.suites.spec import Suite, run_config

TRAINS = ("start", "resume", "retrain")  # the plan's actions that train a run


def runs_to_train(
    suite: Suite, chosen: list[str] | None, sets: Sequence[str], folder: Path | None
) -> dict[str, Config]:
    """The config of each of ``suite``'s runs (``chosen``: those) with ``sets`` that the suite would
    train or resume into ``folder`` (its plan: a run complete there, or failed, trains nothing; None:
    a folder started over, where every run trains); a run whose config is invalid is left out (the
    suite's check of its plan names it)."""
    configs = {}
    for name in chosen if chosen is not None else suite.run_names():
        make = partial(run_config, suite, name, list(sets))
        if folder is None:
            try:
                configs[name] = make()
            except UserError:
                continue
        elif (p := plan_run(name, folder / name, make)).action in TRAINS:
            configs[name] = p.config  # type: ignore[assignment]  # planned to train: has a config
    return configs


def refuse_what_workers_lack(configs: dict[str, Config], jobs: int) -> None:
    """UserError, before anything is trained or written, when ``jobs`` processes would train the runs
    ``configs`` (run → its config; more than one: a single run trains in this process) and one's model
    or data lives in this Python process only: a spawned process starts with vislab's models only and
    no arrays (it reruns the main script, registering again what its top level registers, but no
    notebook's cells), so each run of it would fail."""
    if jobs <= 1 or len(configs) <= 1:  # one run trains in this process (run_all)
        return
    _refuse_models({run: cfg.model.name for run, cfg in configs.items()}, jobs)
    _refuse_arrays({run: cfg.data.name for run, cfg in configs.items()}, jobs)


def _refuse_models(models: dict[str, str], jobs: int) -> None:
    """UserError where a run's model (``models``: run → model.name) is a class or builder defined in
    this process (a notebook's ``@vislab.register_model("mynet")``, ``vislab.train(model=Net)``'s
    ``user-Net``)."""
    from vislab.models.objects import PREFIX, is_user_object  # on use: loads torch
    from vislab.models.registry import registered_code

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


def _refuse_arrays(data: dict[str, str], jobs: int) -> None:
    """UserError where a run's data (``data``: run → data.name) is arrays given to vislab in this
    process (``memory:<name>``: vislab.register_arrays, vislab.train(data=(x, y)))."""
    from vislab.data.sources.memory import PREFIX

    memory = [name for name in data.values() if name.startswith(f"{PREFIX}:")]
    if not memory:
        return
    runs = [run for run, name in data.items() if name == memory[0]]
    raise UserError(
        f"data.name '{memory[0]}' of run{'s' * (len(runs) > 1)} {', '.join(runs)} names arrays given "
        f"to vislab in this Python process (vislab.register_arrays): they cannot be read in the "
        f"jobs={jobs} worker processes, which start without them, so nothing was trained. Give "
        f"jobs=1 (the runs one after another in this process)."
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
