"""YAML files by path or built-in name (PRESET_DIR); spec files (suites, sweeps) and their ``base:``."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict

from vislab.config.schema import Config
from vislab.config.validation import Schema, validate
from vislab.errors import ConfigError

PRESET_DIR = Path(__file__).parents[1] / "presets"
_MERGE = "tag:yaml.org,2002:merge"  # a `<<: *base` key: its keys may be overridden


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key written twice in one mapping is an error: PyYAML keeps the last one,
    so a suite with two runs named `a` would lose one without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found the key {key!r} a second time (each key may appear once)",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def find_yaml(path: str | Path, builtin_dir: Path = PRESET_DIR) -> Path:
    """``path``, or the built-in ``builtin_dir/<path>.yaml`` when ``path`` is no file and that one is."""
    p = Path(path)
    if not p.is_file() and (builtin_dir / f"{path}.yaml").is_file():
        return builtin_dir / f"{path}.yaml"
    return p


def read_yaml(
    path: str | Path,
    kind: str = "config",
    builtin_dir: Path = PRESET_DIR,
    builtin_word: str = "preset",
    expect: str = "a mapping of sections (data:, model:, ...)",
) -> dict:
    """Read a YAML mapping from a file, or a built-in one by name (a ``builtin_dir/<name>.yaml``: the preset
    ``fast``, a suite, a sweep). Every way it can fail is a ConfigError naming the file."""
    p, what = find_yaml(path, builtin_dir), f"{kind.capitalize()} file"
    if not p.exists():
        names = sorted(f.stem for f in builtin_dir.glob("*.yaml"))
        near = difflib.get_close_matches(str(path), names, n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise ConfigError(
            f"{what} '{path}' does not exist.{hint} Give a YAML path or a built-in {builtin_word}: "
            f"{', '.join(names) or 'none'}."
        )
    if kind == "config":
        _refuse_run_files(p)
    try:
        with open(p, encoding="utf-8") as f:  # a file object: YAML's marks then name the file
            tree = yaml.load(f, Loader=_UniqueKeyLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what} '{p}' is not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{what} '{p}' is nested too deeply to be a {kind}.") from None
    # a typed scalar YAML cannot build (2001-13-01, !!int x)
    except (ValueError, TypeError, OverflowError) as e:
        raise ConfigError(f"{what} '{p}' holds a value YAML cannot read: {e}.") from None
    except OSError as e:
        raise ConfigError(f"{what} '{p}' cannot be read: {e.strerror}.") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{what} '{p}' must hold {expect}.")
    return tree


#: the files a run writes beside (or, a checkpoint, under) its config.yaml that a --config may be given
_RUN_FILES = ("summary.json", "metrics.jsonl", "steps.jsonl", "grad_norms.jsonl")


def _refuse_run_files(p: Path) -> None:
    """ConfigError for a folder, or a file a run wrote other than its config.yaml (its summary.json, a
    checkpoint), given as a config file: for a run's, its config.yaml or --resume instead."""
    if p.is_dir():
        if not (p / "config.yaml").is_file():
            raise ConfigError(
                f"Config file '{p}' cannot be read: it is a folder. Give a YAML file (--config FILE)."
            )
        run, what = p, "a run folder"
    else:
        run = p.parent.parent if p.parent.name == "checkpoints" else p.parent
        written = p.name in _RUN_FILES or p.suffix.lower() in (".pt", ".npz")
        if not written or not (run / "config.yaml").is_file():
            return
        what = f"a file the run {run} wrote, not its config"
    resume = f", or --resume {run} to train that run on" if (run / "checkpoints").is_dir() else ""
    raise ConfigError(
        f"Config file '{p}' is {what}: give --config {run / 'config.yaml'} for a new run with its "
        f"settings{resume}."
    )


def misplaced_keys(
    tree: Any, own: Collection[str], nested: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The keys of a suite or sweep file (``tree``, its keys ``own``) indented wrong yet still read as
    YAML: (key, section) for each of its own keys found under one of the ``nested`` sections (``groups:``
    under ``runs:``, ``metric:`` under ``space:``), and the config sections at its top level (``train:``
    beside ``base:``, not under it)."""
    if not isinstance(tree, dict):
        return [], []
    under = [
        (str(key), section)
        for section in nested
        if isinstance(tree.get(section), dict)
        for key in tree[section]
        if str(key) in own
    ]
    top = [str(k) for k in tree if k in Config.model_fields and k not in own]
    return under, top


class SpecFile(BaseModel):
    """Schema of a YAML file that is not a run config (a suite, a sweep): unknown keys are errors; a number
    where text is expected (a run named 1, a description 2024) is taken as text."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def load_spec(
    path: str | Path, schema: type[Schema], kind: str, builtin_dir: Path, expect: str
) -> tuple[Path, dict, Schema]:
    """A spec file (a suite, a sweep; or a built-in one by name) read and validated against ``schema``:
    its path, its mapping as read, the validated model. ConfigError naming the file and each bad key path."""
    p = find_yaml(path, builtin_dir)
    tree = read_yaml(p, kind=kind, builtin_dir=builtin_dir, builtin_word=kind, expect=expect)
    return p, tree, validate(schema, tree, str(p), kind=kind)


def _dict_or_path(base: Any) -> Any:
    if base is not None and not isinstance(base, (dict, str)):
        raise ValueError(
            "must be a config mapping (data:, model:, ...) or the path / preset name of a config YAML"
        )
    return base


# A suite's or sweep's ``base:``: a config mapping, or the path (beside the file first) / preset of a config YAML.
ConfigBase = Annotated[Any, AfterValidator(_dict_or_path)]


def read_base(base: dict | str | None, spec_file: Path) -> dict:
    """A :data:`ConfigBase` as a config mapping: a path is read relative to ``spec_file``'s folder when a file
    is there, else as given (or as a preset name)."""
    if not base or not isinstance(base, str):
        return base or {}
    beside = Path(spec_file).parent / base
    return read_yaml(base if Path(base).is_absolute() or not beside.is_file() else beside)
