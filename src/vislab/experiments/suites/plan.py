"""A suite's plan: for each run, what its folder says to do — nothing (done), resume, start, retrain (the
folder holds it for another epoch count), or report it failed (bad config, or a different run there)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from vislab.config import Config, config_differences
from vislab.errors import UserError
from vislab.experiments.suites.spec import Suite, run_config
from vislab.training.rundir import RunDir, is_complete


@dataclass
class PlannedRun:
    name: str
    run_dir: Path
    action: str  # "done" | "resume" | "start" | "failed" | "retrain" (run_dir: another epoch count)
    config: Config | None = None
    message: str = ""


def plan_run(name: str, run_dir: Path, make_config: Callable[[], Config]) -> PlannedRun:
    """What to do with one run: ``done`` (complete, same config), ``resume`` (checkpoints/last.pt left by an
    interrupted run), ``start``, ``retrain`` (the folder holds this run for another train.epochs: the
    runner keeps it aside), or ``failed`` (invalid config, or the folder holds a different run)."""
    try:
        cfg = make_config()
    except UserError as e:
        return PlannedRun(name, run_dir, "failed", message=str(e))
    rd = RunDir(run_dir)
    summary = rd.read_summary() or {}
    has_last = (rd.ckpt_dir / "last.pt").is_file()
    if (has_last or is_complete(summary)) and (run_dir / "config.yaml").is_file():
        stored = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        other = _other_run(name, run_dir, cfg, stored)
        if other is not None:
            return other
    if summary.get("status") == "diverged":
        problem = (
            f"the run diverged earlier (loss NaN/inf; see {run_dir / 'summary.json'}). Lower optim.lr or set "
            f"train.grad_clip, and delete '{run_dir}' to redo it."
        )
        return PlannedRun(name, run_dir, "failed", cfg, problem)
    action = "done" if is_complete(summary) else "resume" if has_last else "start"
    return PlannedRun(name, run_dir, action, cfg)


def _other_run(name: str, run_dir: Path, cfg: Config, stored: dict) -> PlannedRun | None:
    """The plan when ``run_dir`` holds a run with another config (``stored``): ``retrain`` when only
    train.epochs differs, else ``failed``; None when it holds this run."""
    diff = config_differences(stored, cfg.to_dict())
    if not diff:
        return None
    if all(d.startswith("train.epochs:") for d in diff):
        old = (stored.get("train") or {}).get("epochs")
        message = f"its folder holds it trained for train.epochs={old}, not {cfg.train.epochs}"
        return PlannedRun(name, run_dir, "retrain", cfg, message)
    problem = (
        f"'{run_dir}' holds a run with a different config ({'; '.join(diff[:4])}"
        f"{' …' if len(diff) > 4 else ''}). Delete that folder to redo it, or choose another --out."
    )
    return PlannedRun(name, run_dir, "failed", cfg, problem)


def plan_suite(suite: Suite, out: Path, overrides: list[str] | tuple = ()) -> list[PlannedRun]:
    """One PlannedRun per suite run (per seed of each row, with seeds), in the suite's order; run folders
    are ``out/<run name>``."""
    return [
        plan_run(name, Path(out) / name, lambda n=name: run_config(suite, n, overrides))
        for name in suite.run_names()
    ]


def check_plan(suite: Suite, out: Path, overrides: list[str] | tuple = ()) -> list[PlannedRun]:
    """The suite's plan (plan_suite); UserError when no run has a valid config (a mistake shared by
    every run, e.g. a misspelt --set key: nothing would train)."""
    plan = plan_suite(suite, out, overrides)
    if plan and all(p.action == "failed" and p.config is None for p in plan):
        raise UserError(
            f"no run of suite '{suite.name}' has a valid config, so nothing was trained. "
            f"{plan[0].name}: {plan[0].message}"
        )
    return plan
