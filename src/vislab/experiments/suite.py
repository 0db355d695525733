"""Suites: a YAML file = a base config + named runs with overrides; run them, skip finished ones."""

from __future__ import annotations

from pathlib import Path

import yaml

from vislab.config import Config, build_config, read_yaml, set_dotted
from vislab.errors import ConfigError
from vislab.train.rundir import RunDir

SUITE_DIR = Path(__file__).parent / "suites"


def load_suite(name_or_file: str | Path) -> dict:
    """A built-in suite name or a YAML file → {'base': dict, 'runs': {name: {dotted.key: value}}}."""
    p = Path(name_or_file)
    if not p.is_file():
        builtin = SUITE_DIR / f"{name_or_file}.yaml"
        if not builtin.is_file():
            names = ", ".join(sorted(f.stem for f in SUITE_DIR.glob("*.yaml")))
            raise ConfigError(f"suite '{name_or_file}' is neither a file nor a built-in suite ({names}).")
        p = builtin
    try:
        suite = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"suite file '{p}' is not valid YAML: {e}") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("runs"), dict) or not suite["runs"]:
        raise ConfigError(f"suite '{p}' needs a 'runs:' mapping of run name → overrides (and optionally 'base:').")
    unknown = set(suite) - {"base", "runs", "description"}
    if unknown:
        raise ConfigError(f"suite '{p}' has unknown top-level keys {sorted(unknown)}; valid: base, runs, description.")
    base = suite.get("base") or {}
    if isinstance(base, str):
        base = read_yaml(base)
    return {"base": base, "runs": suite["runs"], "path": str(p)}


def run_configs(suite: dict, overrides: list[str] = ()) -> dict[str, Config]:
    """Validated config per run: base ← run's overrides ← command-line ``--set``."""
    configs = {}
    for name, changes in suite["runs"].items():
        tree = yaml.safe_load(yaml.safe_dump(suite["base"]))  # deep copy
        for key, value in (changes or {}).items():
            set_dotted(tree, key, value)
        configs[name] = build_config(tree, overrides, source=f"suite run '{name}'")
    return configs


def is_complete(run_dir: Path) -> bool:
    s = RunDir(run_dir).read_summary()
    return bool(s) and s.get("status") == "complete"
