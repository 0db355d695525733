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
    compare: previous                          # verdicts: each run vs the one before it in its
                                               #   group (previous, default) or vs the first (baseline)
    reported:                                  # optional: the figures the courses' reports published
      sources: {rdfia-A: {title: ..., data: ...}}   #   (schema and examples: results/reported.py)
      runs: {baseline: {rdfia-A: {where: "Q18, Figure 6", test_acc: "0.70–0.75"}}}
    seeds: 3                                   # optional: each run trained 3 times, as --seeds 3

This module loads a suite into a :class:`Suite` and builds its runs' configs; ``suites/plan.py`` plans
them (which are done, which resume, which start) and ``suites/runner.py`` executes the plan.

A run of the file is a *row* of the results. With seeds (``seeds: N`` in the file or ``vislab suite NAME
--seeds N``, which overrides it; :func:`with_seeds`) each row trains N times, as the runs ``<row>-s0`` …
``<row>-s<N-1>`` with ``train.seed`` + 0 … N-1 (the seed after every override); the tables give each row's mean ± std.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from vislab.config import (
    Config,
    ConfigBase,
    SpecFile,
    build_config,
    load_spec,
    read_base,
    read_yaml,
    set_dotted,
)
from vislab.config.build import set_model
from vislab.config.files import find_yaml, misplaced_keys
from vislab.data.sources import require_source
from vislab.errors import ConfigError, UserError
from vislab.experiments.results.chosen import chosen_runs
from vislab.experiments.results.reported import Reported

SUITE_DIR = Path(__file__).parent / "builtin"
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# the names vislab writes into a suite's folder (api/folders.py SUITE_RULES) or a sweep's, which no run takes
_RESERVED = ("figures", "paper", "report.html", "results.csv", "results.md", "suite.json", "trials",
             "narrow")  # fmt: skip


def _run_name(name: str) -> str:
    if not _RUN_NAME.match(name) or name in _RESERVED:
        raise ValueError(
            f"a run name must be letters, digits, '.', '_' or '-' (it names a folder), and not one of "
            f"the names vislab writes into a suite's folder: {', '.join(_RESERVED)}. Rename the run"
        )
    return name


def _seeds_count(seeds: Any) -> Any:
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(
            "give how many times to train each run, 1 or more (seeds: 3 trains each with "
            "train.seed, train.seed+1 and train.seed+2). To train each run once, leave seeds: out of "
            "the file (or write seeds: null); on the command line --seeds N overrides the file's "
            "(Python: vislab.run_suite(..., seeds=N); seeds=None keeps the file's)"
        )
    return seeds


def _run_changes(changes: Any) -> Any:
    if changes is not None and not isinstance(changes, dict):
        raise ValueError("a run maps dotted config keys to values, e.g. {optim.lr: 0.01}")
    return changes


class SuiteSpec(SpecFile):
    """A suite file."""

    name: str | None = Field(None, description="the suite's name (default: the file's stem)")
    description: str | None = Field(None, description="one paragraph, shown by `vislab suite`")
    base: ConfigBase = Field(
        {}, description="a config mapping, or the path / preset name of a config YAML"
    )
    runs: dict[
        Annotated[str, AfterValidator(_run_name)], Annotated[Any, AfterValidator(_run_changes)]
    ] = Field(
        min_length=1,
        description="run name → dotted overrides of the base, e.g. {baseline: {}, lr-0.01: {optim.lr: 0.01}}",
    )
    groups: dict[str, list[str] | None] | None = Field(
        None, description="group name → runs compared together in the report"
    )
    compare: Literal["previous", "baseline"] = Field(
        "previous",
        description="the verdicts over seeds: each run of a group against the one before it "
        "(previous: a ladder) or against the group's first run (baseline: a baseline and its variants)",
    )
    reported: Reported | None = Field(
        None, description="the figures the courses' reports published: sources: and runs:"
    )
    seeds: Annotated[Any, AfterValidator(_seeds_count)] = Field(
        None,
        description="train each run this many times, with train.seed + 0 … seeds-1, as --seeds N "
        "(which overrides it); default: as the suite in its folder was run, else once",
    )

    @field_validator("groups", mode="after")
    @classmethod
    def _groups_name_runs(cls, groups: dict | None, info: ValidationInfo) -> dict | None:
        runs = info.data.get("runs") or {}
        for group, members in (groups or {}).items():
            missing = [m for m in members or [] if m not in runs]
            if runs and missing:
                raise ValueError(f"group '{group}' names unknown runs {missing}")
            twice = sorted({m for m in members or [] if members.count(m) > 1})
            if twice:
                raise ValueError(
                    f"group '{group}' names {' and '.join(map(repr, twice))} more than once: a group "
                    f"compares different runs, so name each run once"
                )
        return groups

    @field_validator("reported", mode="after")
    @classmethod
    def _reported_names_runs(
        cls, reported: Reported | None, info: ValidationInfo
    ) -> Reported | None:
        runs = info.data.get("runs") or {}
        missing = [r for r in (reported.runs if reported else {}) if runs and r not in runs]
        if missing:
            raise ValueError(
                f"figures reported for unknown runs {missing} (runs: {', '.join(runs)})"
            )
        return reported


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its file's runs over the base config, resolved (a ``base:`` path read)."""

    name: str
    path: Path  # the suite file
    description: str  # on one line
    base: dict  # the base config mapping
    runs: dict[str, dict | None]  # run name → dotted overrides of the base
    groups: dict[str, list[str] | None] = field(default_factory=dict)
    compare: str = "previous"  # the verdicts' pairing in a group: "previous" or "baseline"
    reported: Reported | None = None  # the figures the courses' reports published
    seeds: int = 1  # runs per row, train.seed + 0 … seeds-1 (with_seeds)
    file_seeds: int | None = None  # the file's seeds: (None: not written there)

    def run_names(self) -> dict[str, str]:
        """Run (folder) name → the row it trains, in the suite's order: the row itself, or with seeds
        ``<row>-s0`` … ``<row>-s<seeds-1>``."""
        if self.seeds == 1:
            return {row: row for row in self.runs}
        return {f"{row}-s{i}": row for row in self.runs for i in range(self.seeds)}

    def rows(self) -> dict[str, list[str]]:
        """Row → its runs' names (one each without seeds)."""
        out: dict[str, list[str]] = {}
        for name, row in self.run_names().items():
            out.setdefault(row, []).append(name)
        return out


def with_seeds(suite: Suite, seeds: int) -> Suite:
    """``suite`` with each row trained ``seeds`` times (UserError for fewer than 1)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UserError(
            f"seeds {seeds!r}: give how many times to train each run of the suite, 1 or more (--seeds 3 "
            f"or seeds=3 trains each with train.seed, train.seed+1 and train.seed+2)."
        )
    return dataclasses.replace(suite, seeds=seeds)


def only_runs(suite: Suite, names: Sequence[str]) -> list[str]:
    """The suite's runs ``names`` stand for (a row's name: all its seeds), in the suite's order; UserError
    for a name that is no run or row of the suite, naming the closest and the runs there are."""
    rows = suite.rows() if suite.seeds > 1 else None
    chosen = chosen_runs(names, list(suite.run_names()), rows, f"of suite '{suite.name}'")
    return [name for name in suite.run_names() if name in chosen]


def builtin_suites() -> dict[str, str]:
    """Built-in suite name → its description on one line."""
    return {f.stem: load_suite(f).description for f in sorted(SUITE_DIR.glob("*.yaml"))}


def load_suite(name_or_file: str | Path) -> Suite:
    """A built-in suite name or a YAML file → its :class:`Suite` (raises ConfigError naming the file and
    the key path of each mistake)."""
    expect = (
        "a mapping with runs: (run name → overrides) and optionally base:, groups:, compare:, "
        "seeds:, description:, reported:"
    )
    try:
        p, _, spec = load_spec(name_or_file, SuiteSpec, "suite", SUITE_DIR, expect)
    except ConfigError as e:
        raise ConfigError(f"{e}{_misplaced(name_or_file)}") from None
    return Suite(
        name=spec.name or p.stem,
        path=p,
        description=" ".join((spec.description or "").split()),
        base=read_base(spec.base, p),
        runs=spec.runs,
        groups=spec.groups or {},
        compare=spec.compare,
        reported=spec.reported,
        seeds=spec.seeds or 1,
        file_seeds=spec.seeds,
    )


def _misplaced(name_or_file: str | Path) -> str:
    """Hints, each on its own line, for a suite file whose keys are indented wrong yet still read as YAML:
    a run named like a suite key (``groups:`` under ``runs:``) and a top-level config section (``train:``
    beside ``base:``, not under it); "" for none (or a file that cannot be read)."""
    try:
        tree = read_yaml(find_yaml(name_or_file, SUITE_DIR), "suite", SUITE_DIR, "suite")
    except ConfigError:
        return ""
    under, sections = misplaced_keys(tree, SuiteSpec.model_fields, ("runs",))
    hints = [_suite_key_hint(name) for name, _ in under]
    hints += [
        f"'{key}' is a config section, not a suite key: is it meant under base:? Indent it under "
        f"base: (base: {{{key}: ...}})."
        for key in sections
    ]
    return "".join(f"\n  {hint}" for hint in hints)


def _suite_key_hint(name: str) -> str:
    """For a run named like a suite key: that it is likely the key indented under runs: by mistake."""
    return (
        f"'{name}' is a suite key, not a run: is it indented under runs: by mistake? Put it at the top "
        f"level of the file, beside runs:."
    )


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
    tree = copy.deepcopy(base)
    changes = dict(changes or {})
    new_model = changes.pop("model.name", None)
    if new_model is not None:
        set_model(tree, new_model)
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


def run_config(suite: Suite, name: str, overrides: list[str] | tuple = ()) -> Config:
    """Validated config of one run: base ← its row's overrides ← ``overrides`` (raises ConfigError);
    a seeded run ``<row>-s<i>`` then adds i to train.seed."""
    row = suite.run_names()[name]
    tree = apply_run_overrides(suite.base, suite.runs[row])
    try:
        cfg = build_config(tree, overrides, source=f"suite run '{row}'")
    except ConfigError as e:
        hint = f"\n  {_suite_key_hint(row)}" if row in SuiteSpec.model_fields else ""
        raise _with_seeds_hint(ConfigError(f"{e}{hint}"), tree, overrides) from None
    if suite.seeds > 1:
        index = int(name.rsplit("-s", 1)[1])
        seed = f"train.seed={cfg.train.seed + index}"
        cfg = build_config(cfg.to_dict(), [seed], source=f"suite run '{name}'")
    require_source(cfg.data.name)  # now, not after the runs before it have trained
    return cfg


def _with_seeds_hint(err: ConfigError, tree: dict, overrides: list[str] | tuple) -> ConfigError:
    """``err``, with how a suite trains several seeds where the run gave train.seed a list."""
    seed = tree["train"].get("seed") if isinstance(tree.get("train"), dict) else None
    listed = isinstance(seed, list | tuple) or any(
        str(o).replace(" ", "").startswith("train.seed=[") for o in overrides
    )
    if not listed:
        return err
    n = len(seed) if isinstance(seed, list | tuple) and len(seed) > 1 else 3
    seeds = ["train.seed", *(f"train.seed+{i}" for i in range(1, n))]
    trains = (
        f"{', '.join(seeds[:-1])} and {seeds[-1]}"
        if n <= 3
        else f"train.seed, train.seed+1, … train.seed+{n - 1}"
    )
    return ConfigError(
        f"{err}\n  train.seed is one seed, the first: to train each run {n} times, write `seeds: {n}` "
        f"at the top of the suite file (or give vislab suite --seeds {n}; Python: "
        f"vislab.run_suite(..., seeds={n})), which trains {trains}."
    )
