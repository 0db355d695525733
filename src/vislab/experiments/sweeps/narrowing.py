"""The second stage of a sweep run with ``--narrow K``: a study ``<name>-narrow`` over the ranges of the
first stage's K best trials, stored with that study so that every worker uses the same ranges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import optuna
from optuna.trial import FrozenTrial

from vislab.errors import UserError
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.space import narrowed, space_yaml
from vislab.experiments.sweeps.spec import Sweep, to_distribution
from vislab.experiments.sweeps.study import open_storage, open_study
from vislab.experiments.sweeps.trials import best


def narrowed_sweep(
    sweep: Sweep, study: optuna.Study, storage_url: str, k: int, log: Callable[[str], None]
) -> Sweep:
    """The second stage's sweep, study ``<name>-narrow``: the ranges of the ``k`` best trials of ``study``
    (UserError if it has fewer complete trials)."""
    top = best(study, k)
    if len(top) < k:
        raise UserError(
            f"--narrow {k} (Python: narrow={k}) needs {k} complete trials; the study has {len(top)}."
        )
    name = f"{study.study_name}-narrow"
    space, used = _shared_space(sweep, storage_url, name, top)
    log(
        f"narrowing to the ranges of the best {k} trials ({', '.join(str(n) for n in used)}) "
        f"→ study '{name}'"
    )
    return replace(sweep, name=name, distributions=space)


def _shared_space(
    sweep: Sweep, storage_url: str, name: str, top: list[FrozenTrial]
) -> tuple[dict, list[int]]:
    """The narrowed space, stored with the second study so that every worker uses the same ranges (the
    first to get there stores it), and the numbers of the trials it was narrowed to."""
    study = open_study(sweep, open_storage(storage_url), name)
    stored = study.user_attrs.get(attrs.NARROWED_SPACE)
    used = study.user_attrs.get(attrs.NARROWED_FROM)
    if stored is None:
        stored, used = space_yaml(narrowed(sweep.distributions, top)), [t.number for t in top]
        study.set_user_attr(attrs.NARROWED_SPACE, stored)
        study.set_user_attr(attrs.NARROWED_FROM, used)
        study.set_user_attr(attrs.SPACE, stored)
    used = used if used is not None else [t.number for t in top]
    return {k: to_distribution(k, v) for k, v in stored.items()}, used
