"""The built-in sweeps' files and their one-line descriptions, read without checking the sweeps: listing
them loads neither optuna nor the models (spec.py's :func:`~vislab.experiments.sweeps.spec.load_sweep`
checks a sweep before it runs)."""

from __future__ import annotations

from pathlib import Path

import yaml

SWEEP_DIR = Path(__file__).parent / "builtin"


def builtin_sweeps() -> list[str]:
    """The built-in sweeps' names, sorted."""
    return sorted(f.stem for f in SWEEP_DIR.glob("*.yaml"))


def sweep_descriptions() -> dict[str, str]:
    """Built-in sweep name → its ``description:`` on one line ('' where it has none)."""
    read = {
        name: yaml.safe_load((SWEEP_DIR / f"{name}.yaml").read_text()) for name in builtin_sweeps()
    }
    return {
        name: " ".join(str(tree.get("description") or "").split()) for name, tree in read.items()
    }
