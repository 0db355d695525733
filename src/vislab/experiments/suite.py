"""Suites: a YAML file = a base config + named runs with overrides.

    description: one paragraph (shown by `vislab suite` without arguments)
    base: {data: {...}, optim: {...}, ...}     # or the path / preset name of a config YAML
    runs:
      baseline: {}                             # run name → dotted overrides of the base
      standardise: {data.normalize: standard}
      majority: {model.name: majority}         # another model: the base's model kwargs are dropped
      no-crop: {augment.crop: null}            # null removes a key (back to the schema default)
    groups:                                    # optional: runs compared together in the report
      ladder: [baseline, standardise]

This module loads suites and plans their runs (which are done, which resume, which start);
``experiments/runner.py`` executes the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from vislab.config import Config, build_config, config_differences, read_yaml, set_dotted
from vislab.data.sources import require_source
from vislab.errors import ConfigError, UserError
from vislab.train.rundir import RunDir

SUITE_DIR = Path(__file__).parent / "suites"
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def builtin_suites() -> dict[str, str]:
    """Built-in suite name → first line of its description."""
    out = {}
    for f in sorted(SUITE_DIR.glob("*.yaml")):
        desc = (yaml.safe_load(f.read_text()) or {}).get("description", "")
        out[f.stem] = " ".join(str(desc).split())
    return out


def load_suite(name_or_file: str | Path) -> dict:
    """A built-in suite name or a YAML file → {'name', 'path', 'description', 'base', 'runs', 'groups'}."""
    p = Path(name_or_file)
    if not p.is_file():
        builtin = SUITE_DIR / f"{name_or_file}.yaml"
        if not builtin.is_file():
            names = ", ".join(builtin_suites())
            raise ConfigError(
                f"suite '{name_or_file}' is neither a file nor a built-in suite ({names})."
            )
        p = builtin
    try:
        suite = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"suite file '{p}' is not valid YAML: {e}") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("runs"), dict) or not suite["runs"]:
        raise ConfigError(
            f"suite '{p}' needs a 'runs:' mapping of run name → overrides (and optionally 'base:')."
        )
    unknown = set(suite) - {"base", "runs", "description", "groups", "name"}
    if unknown:
        raise ConfigError(
            f"suite '{p}' has unknown top-level keys {sorted(unknown)}; "
            f"valid: name, description, base, runs, groups."
        )
    for name, changes in suite["runs"].items():
        if not _RUN_NAME.match(str(name)) or str(name) in ("figures", "trials", "narrow"):
            raise ConfigError(
                f"suite '{p}': run name '{name}' must be letters, digits, '.', '_' or '-' "
                f"(it names a folder), and not figures, trials or narrow."
            )
        if changes is not None and not isinstance(changes, dict):
            raise ConfigError(
                f"suite '{p}': run '{name}' must map dotted keys to values, e.g. {{optim.lr: 0.01}}."
            )
    base = suite.get("base") or {}
    if isinstance(base, str):
        base = read_yaml(
            base if Path(base).is_absolute() or not (p.parent / base).is_file() else p.parent / base
        )
    if not isinstance(base, dict):
        raise ConfigError(
            f"suite '{p}': 'base:' must be a config mapping or the path of a config YAML."
        )
    groups = suite.get("groups") or {}
    for group, members in groups.items():
        missing = [m for m in (members or []) if m not in suite["runs"]]
        if missing:
            raise ConfigError(f"suite '{p}': group '{group}' names unknown runs {missing}.")
    return {
        "name": str(suite.get("name") or p.stem),
        "path": str(p),
        "description": " ".join(str(suite.get("description", "")).split()),
        "base": base,
        "runs": suite["runs"],
        "groups": groups,
    }


def suite_overrides(
    data: str | None = None, epochs: int | None = None, sets: list[str] | tuple = ()
) -> list[str]:
    """Command-line options as ``--set`` assignments, applied after every run's own overrides."""
    return [
        *([f"data.name={data}"] if data else []),
        *([f"train.epochs={epochs}"] if epochs else []),
        *sets,
    ]


def apply_run_overrides(base: dict, changes: dict) -> dict:
    """base ← a run's dotted overrides. A run that names another ``model.name`` starts from an empty model
    section (the base's model kwargs belong to the base's model); a ``null`` value removes a key."""
    tree = yaml.safe_load(yaml.safe_dump(base))  # deep copy
    changes = dict(changes or {})
    new_model = changes.pop("model.name", None)
    if new_model is not None:
        if new_model != (tree.get("model") or {}).get("name"):
            tree["model"] = {}
        tree.setdefault("model", {})["name"] = new_model
    for key, value in changes.items():
        if value is None:
            *parents, leaf = str(key).split(".")
            node = tree
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(leaf, None)
        else:
            set_dotted(tree, str(key), value)
    return tree


def run_config(suite: dict, name: str, overrides: list[str] | tuple = ()) -> Config:
    """Validated config of one run: base ← the run's overrides ← ``overrides`` (raises ConfigError)."""
    tree = apply_run_overrides(suite["base"], suite["runs"][name])
    cfg = build_config(tree, overrides, source=f"suite run '{name}'")
    require_source(cfg.data.name)  # now, not after the runs before it have trained
    return cfg


def run_configs(suite: dict, overrides: list[str] | tuple = ()) -> dict[str, Config]:
    """Validated config per run (the first invalid one raises ConfigError)."""
    return {name: run_config(suite, name, overrides) for name in suite["runs"]}


def is_complete(run_dir: Path) -> bool:
    s = RunDir(run_dir).read_summary()
    return bool(s) and s.get("status") == "complete"


@dataclass
class PlannedRun:
    name: str
    run_dir: Path
    action: str  # "done" | "resume" | "start" | "failed"
    config: Config | None = None
    message: str = ""


def plan_run(name: str, run_dir: Path, make_config) -> PlannedRun:
    """What to do with one run: ``done`` (complete, same config), ``resume`` (checkpoints/last.pt left by an
    interrupted run), ``start``, or ``failed`` (invalid config, or the folder holds a different run)."""
    try:
        cfg = make_config()
    except UserError as e:
        return PlannedRun(name, run_dir, "failed", message=str(e))
    rd = RunDir(run_dir)
    summary = rd.read_summary() or {}
    stored_cfg = run_dir / "config.yaml"
    started = (rd.ckpt_dir / "last.pt").is_file() or summary.get("status") == "complete"
    if started and stored_cfg.is_file():
        stored = yaml.safe_load(stored_cfg.read_text()) or {}
        diff = config_differences(stored, yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
        if diff:
            return PlannedRun(
                name,
                run_dir,
                "failed",
                cfg,
                (
                    f"'{run_dir}' holds a run with a different config ({'; '.join(diff[:4])}"
                    f"{' …' if len(diff) > 4 else ''}). Delete that folder to redo it, or choose another --out."
                ),
            )
    status = summary.get("status")
    if status == "complete":
        return PlannedRun(name, run_dir, "done", cfg)
    if status == "diverged":
        return PlannedRun(
            name,
            run_dir,
            "failed",
            cfg,
            (
                f"the run diverged earlier (loss NaN/inf; see {run_dir / 'summary.json'}). Lower optim.lr or set "
                f"train.grad_clip, and delete '{run_dir}' to redo it."
            ),
        )
    if (rd.ckpt_dir / "last.pt").is_file():
        return PlannedRun(name, run_dir, "resume", cfg)
    return PlannedRun(name, run_dir, "start", cfg)


def plan_suite(suite: dict, out: Path, overrides: list[str] | tuple = ()) -> list[PlannedRun]:
    """One PlannedRun per suite run, in the suite's order; run folders are ``out/<run name>``."""
    return [
        plan_run(name, Path(out) / name, lambda n=name: run_config(suite, n, overrides))
        for name in suite["runs"]
    ]
