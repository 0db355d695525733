"""What a sweep searched, as its report and its paper say it: the sweep file's description, the metric
and its direction, the sampler, the trials by state, each space entry, and the best trial with its
values. Read from the sweep folder's sweep.yaml (the sweep as it ran) and its study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml

from vislab.experiments.results.cells import param_cell
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.space import decode
from vislab.experiments.sweeps.trials import STATE_WORDS, best, state_counts


def sweep_file(folder: Path) -> dict:
    """The folder's sweep.yaml as a mapping ({} when it is missing, unreadable or no mapping)."""
    try:
        tree = yaml.safe_load((Path(folder) / "sweep.yaml").read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return tree if isinstance(tree, dict) else {}


def search_facts(folder: Path, study: optuna.Study) -> dict[str, Any]:
    """The search of the sweep in ``folder``: description (or None), metric, direction, sampler, trials
    (a sentence of counts), space (a line per entry) and best (a sentence, or None)."""
    spec = sweep_file(folder)
    space = spec.get("space") if isinstance(spec.get("space"), dict) else None
    space = space or study.user_attrs.get(attrs.SPACE) or {}
    counts = state_counts(study)
    top = best(study, 1)
    metric = attrs.study_metric(study)
    return dict(
        description=spec.get("description") or None,
        metric=metric,
        direction=study.direction.name.lower(),
        sampler=_sampler(spec),
        trials=", ".join(f"{counts[w]} {w}" for w in STATE_WORDS if counts[w]) or "none yet",
        space=[f"{key}: {_entry(entry)}" for key, entry in space.items()],
        best=_best(top[0], metric) if top else None,
    )


def search_text(folder: Path, study: optuna.Study | None) -> str:
    """The search as one paragraph of plain text (the paper's texts); "" without a study."""
    if study is None:
        return ""
    f = search_facts(folder, study)
    said = [f["description"] or ""]
    said.append(
        f"Search: study {study.study_name}, trials scored by {f['metric']} ({f['direction']}), drawn "
        f"by the sampler {f['sampler']}; trials: {f['trials']}."
    )
    said.append(f"Space: {'; '.join(f['space'])}." if f["space"] else "")
    said.append(f"Best: {f['best']}." if f["best"] else "")
    return " ".join(s for s in said if s)


def _sampler(spec: dict) -> str:
    """The sampler as the sweep file gives it (tpe by default), with its seed and options."""
    given = spec.get("sampler") or "tpe"
    name = given.get("name", "tpe") if isinstance(given, dict) else str(given)
    options = {k: v for k, v in given.items() if k != "name"} if isinstance(given, dict) else {}
    if spec.get("seed") is not None:
        options = {"seed": spec["seed"], **options}
    shown = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{name} ({shown})" if shown else name


def _entry(entry: Any) -> str:
    """One space entry in words: "float from 0.0001 to 0.1, log scale", "one of 32, 64, 128"."""
    if not isinstance(entry, dict):
        return str(entry)
    if entry.get("type") == "categorical":
        return "one of " + ", ".join(param_cell(c) for c in entry.get("choices") or [])
    said = f"{entry.get('type')} from {param_cell(entry.get('low'))} to {param_cell(entry.get('high'))}"
    if entry.get("step") is not None:
        said += f" in steps of {param_cell(entry['step'])}"
    return said + (", log scale" if entry.get("log") else "")


def _best(trial: optuna.trial.FrozenTrial, metric: str) -> str:
    """The best trial, its score and its values."""
    values = ", ".join(f"{k} = {param_cell(decode(v))}" for k, v in trial.params.items())
    return f"trial {trial.number}, {metric} = {trial.value:.4f}" + (
        f", with {values}" if values else ""
    )
