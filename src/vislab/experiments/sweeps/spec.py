"""Sweep files: a base config, a search space over any dotted config key, the metric and the search method.

name: cnn-lr                      # Optuna study name (default: the file's stem)
base: {model: {name: cnn}, ...}   # or the path / preset name of a config YAML
space:
  optim.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
  model.depth: {type: int, low: 2, high: 8}
  optim.name: {type: categorical, choices: [sgd, adam]}
metric: val_pacc                  # val_pacc | val_acc | val_loss (never a test metric)
direction: maximize
sampler: tpe                      # random | grid | tpe  (or {name: tpe, n_startup_trials: 5})
pruner: none                      # none | median | halving | hyperband  (or {name: median, n_warmup_steps: 2})
trials: 20                        # trials the study should hold (failed ones count)
seed: 0                           # sampler seed (single worker reproducibility)
curves: 30                        # the report draws the training curves of the best 30 trials

A space key ending in a number sets one item of a list (``model.widths.1``). A Weights & Biases sweep file
(``method:``, ``parameters:``, ...) is read as it is: see :mod:`vislab.experiments.sweeps.wandb_sweep`.
A loaded sweep is a :class:`Sweep`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import AfterValidator, Field, field_validator, model_validator

from vislab.config import (
    ConfigBase,
    SpecFile,
    apply_override,
    build_config,
    find_yaml,
    read_base,
    read_yaml,
    validate,
)
from vislab.config.files import misplaced_keys
from vislab.config.schema import SELECT_METRICS
from vislab.errors import ConfigError
from vislab.experiments.sweeps.builtin_files import SWEEP_DIR
from vislab.experiments.sweeps.choices import numeric_choices
from vislab.experiments.sweeps.samplers import PRUNERS, SAMPLERS, check_options, pruner_notes
from vislab.experiments.sweeps.space import (
    check_values,
    encode,
    list_notes,
    space_yaml,
)
from vislab.experiments.sweeps.wandb_sweep import from_wandb, is_wandb_sweep

# a sweep report's training curves: the best 30 trials (as the DLVC assignment 1 report)
DEFAULT_CURVES = 30


class SpaceParam(SpecFile):
    """One ``space:`` entry: a float or int range, or categorical choices."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _is_a_distribution(self) -> SpaceParam:
        self.distribution()  # Optuna's own checks (low <= high, log needs low > 0, ...) as ValueErrors
        return self

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution (list/dict choices are encoded as JSON strings)."""
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical needs a non-empty 'choices:' list")
            return CategoricalDistribution([encode(c) for c in self.choices])
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} needs 'low:' and 'high:'")
        if self.type == "int":
            _whole_numbers(low=self.low, high=self.high, step=self.step)
        try:
            if self.type == "int":
                step = 1 if self.step is None else int(self.step)
                return IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        except (TypeError, OverflowError) as e:  # int(inf)
            raise ValueError(str(e)) from None


def _whole_numbers(**ends: float | None) -> None:
    """ValueError naming an int entry's ``low:``, ``high:`` or ``step:`` that is no whole number."""
    for key, value in ends.items():
        if value is not None and not float(value).is_integer():
            raise ValueError(
                f"a type: int entry takes whole numbers, but {key}: {value:g} is not one: give a whole "
                f"number (or use type: float for fractions)"
            )


def _name_or_options(choices: tuple[str, ...], default: str) -> Any:
    """The type of a ``sampler:``/``pruner:`` key: a name, or ``{name: ..., option: value}`` whose options
    go to the Optuna class (``null``: the default)."""

    def check(value: Any) -> Any:
        name = value.get("name", default) if isinstance(value, dict) else value
        if value is not None and (not isinstance(value, (str, dict)) or name not in choices):
            raise ValueError(
                f"must be one of {', '.join(choices)}, or a mapping {{name: ..., option: value}}"
            )
        return value

    return Annotated[Any, AfterValidator(check)]


SamplerChoice = _name_or_options(SAMPLERS, "tpe")
PrunerChoice = _name_or_options(PRUNERS, "none")


class SweepSpec(SpecFile):
    """A sweep file."""

    name: str | None = Field(None, description="the Optuna study name (default: the file's stem)")
    description: str | None = None
    base: ConfigBase = {}
    space: dict[str, SpaceParam] = Field(
        min_length=1,
        description="config key → {type: float|int|categorical, low:, high:, log:, step:, choices:}",
    )
    metric: str = "val_pacc"
    direction: Literal["maximize", "minimize"] | None = None
    sampler: SamplerChoice = None
    pruner: PrunerChoice = None
    trials: int | None = None
    timeout: float | None = None
    seed: int | None = None
    curves: int = Field(
        DEFAULT_CURVES, ge=1, description="training curves of the best K trials in the report"
    )

    @field_validator("metric")
    @classmethod
    def _validation_metric(cls, metric: str) -> str:
        if metric not in SELECT_METRICS:
            raise ValueError(
                f"must be one of {', '.join(SELECT_METRICS)} (hyper-parameters are chosen on validation "
                f"data, never on test)"
            )
        return metric


# What sweep.yaml records after the keys the file sets: the values vislab resolved (SweepSpec's field order).
_RESOLVED = ("name", "base", "metric", "direction", "curves")


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: the file's settings with vislab's defaults filled in, its base config resolved (a
    ``base:`` path read) and its space as Optuna distributions."""

    name: str  # the Optuna study name
    path: Path | None  # the sweep file (None: a study opened without it)
    base: dict  # the base config mapping
    distributions: dict[str, BaseDistribution]  # config key → its range or choices
    metric: str = "val_pacc"
    direction: str = "maximize"
    description: str | None = None
    sampler: Any = None  # a name, or {name: ..., option: value}; None: tpe
    pruner: Any = None  # likewise; None: none
    trials: int | None = None
    timeout: float | None = None
    seed: int | None = None
    curves: int = DEFAULT_CURVES
    # what a W&B sweep file holds that vislab ignores; lists its items make
    notes: tuple[str, ...] = ()
    recorded: tuple[str, ...] = ("name", "base", "space", "metric", "direction", "curves")
    """The keys sweep.yaml records, in order: those the file set, then those vislab resolved."""

    @property
    def is_grid(self) -> bool:
        """Whether its sampler is the grid: each point tried once."""
        s = self.sampler or "tpe"
        return (s if isinstance(s, str) else s.get("name")) == "grid"

    def as_file(self) -> dict:
        """The sweep as a sweep file (sweep.yaml): its ``recorded`` keys, the space as it is searched."""
        return {
            key: space_yaml(self.distributions) if key == "space" else getattr(self, key)
            for key in self.recorded
        }


def base_tree(base: dict, overrides: list[str] | tuple, source: str) -> dict:
    """A sweep's base config with the command line's overrides (``--data``/``--epochs``/``--set``) applied:
    what each trial's suggested values go on top of. ConfigError naming ``source`` if that is no config."""
    tree = with_overrides(base, overrides)
    build_config(tree, source=with_options(source, overrides))
    return tree


def with_options(source: str, overrides: list[str] | tuple) -> str:
    """``source`` (a sweep's base) named with the options given (``--data``/``--epochs``/``--set``; in
    Python ``data=``, ``epochs=``, ``section__key=``) where there are some: a mistake may be theirs."""
    given = " with the options given (--set/--data/--epochs; Python: section__key=, data=, epochs=)"
    return source + (given if overrides else "")


def with_overrides(base: dict, overrides: list[str] | tuple) -> dict:
    """A copy of ``base`` with the ``key=value`` overrides applied (ConfigError for one of another form)."""
    tree = copy.deepcopy(base)
    for assignment in overrides:
        apply_override(tree, assignment)
    return tree


def load_sweep(path: str | Path, overrides: list[str] | tuple = ()) -> Sweep:
    """Read and check a sweep file (or a built-in sweep name; a W&B sweep file is translated first) into a
    :class:`Sweep`; ConfigError naming the file and the key path of each mistake. Its space is checked
    against its base with ``overrides``, as its trials will be built."""
    p = find_yaml(path, SWEEP_DIR)
    if p.is_dir():
        raise ConfigError(_a_folder(p))
    expect = "a mapping with base:, space:, metric: ... (or a W&B sweep: method:, parameters:, ...)"
    tree = read_yaml(p, kind="sweep", builtin_dir=SWEEP_DIR, builtin_word="sweep", expect=expect)
    return sweep_of(tree, p, overrides)


def _a_folder(folder: Path) -> str:
    """Why ``folder`` is no sweep file: a sweep folder is shown, or run again from its sweep.yaml."""
    if not (folder / "sweep.json").is_file():
        return (
            f"'{folder}' is a folder, not a sweep file: give a sweep YAML (base:, space:, metric: ...) or "
            f"a built-in sweep name (`vislab sweep list`)."
        )
    again, out = folder / "sweep.yaml", str(folder)
    python = f"Python: vislab.sweep({str(again)!r}, out={out!r})"
    more = (
        f"; to add trials, vislab sweep {again} --out {out} ({python})" if again.is_file() else ""
    )
    return f"'{out}' is a sweep folder, not a sweep file: to see its trials, vislab sweep show {out}{more}."


def sweep_of(tree: Any, path: Path, overrides: list[str] | tuple = (), source: str = "") -> Sweep:
    """:func:`load_sweep` of ``tree``, the sweep file ``path`` holds (or will hold: a ``base:`` path is read
    beside it); ConfigError naming ``source`` (default: ``path``), e.g. the mapping given to
    :func:`vislab.sweep`, and the key path of each mistake."""
    p, source = Path(path), source or str(path)
    notes: list[str] = []
    wandb = is_wandb_sweep(tree)
    goal = not wandb or "goal" in ((tree.get("metric") or {}) if isinstance(tree, dict) else {})
    if wandb:
        tree, notes = from_wandb(tree, source)
    else:
        _refuse_indented_keys(tree, source)
    spec = validate(SweepSpec, tree, source, kind="sweep")
    _check_counts(spec, source)
    _check_direction(spec, source, wandb, goal, p)
    given = tuple(k for k in SweepSpec.model_fields if k in spec.model_fields_set)
    base = read_base(spec.base, p)
    distributions = {key: param.distribution() for key, param in spec.space.items()}
    check_options(spec.sampler, spec.pruner, distributions, source)
    _refuse_swept_overrides(overrides, distributions, source)
    tree = base_tree(base, overrides, f"{source}, its base")
    distributions = numeric_choices(tree, distributions, source)
    check_values(tree, distributions, source, with_options(f"{source}, its base", overrides))
    notes += list_notes(tree, distributions)
    notes += pruner_notes(spec.pruner, _epochs(tree, distributions), wandb)
    return Sweep(
        name=spec.name or p.stem,
        path=p,
        base=base,
        distributions=distributions,
        metric=spec.metric,
        direction=spec.direction or ("minimize" if spec.metric.endswith("loss") else "maximize"),
        description=spec.description,
        sampler=spec.sampler,
        pruner=spec.pruner,
        trials=spec.trials,
        timeout=spec.timeout,
        seed=spec.seed,
        curves=spec.curves,
        notes=tuple(notes),
        recorded=given + tuple(k for k in _RESOLVED if k not in given),
    )


def _refuse_indented_keys(tree: Any, source: str) -> None:
    """ConfigError naming a sweep key (``metric:``, ``sampler:``, ...) found in ``space:`` or ``base:``:
    indented under it by mistake, where it reads as a space entry or a config section; or a config
    section (``train:``) at the top level, not indented under ``base:``."""
    under, sections = misplaced_keys(tree, SweepSpec.model_fields, ("space", "base"))
    if sections:
        section = sections[0]
        raise ConfigError(
            f"Invalid sweep ({source}):\n  '{section}' is a config section: under base:? Fix: indent "
            f"{section}: under base: in the sweep file (Python: inside the mapping's 'base')."
        )
    if under:
        key, section = under[0]
        raise ConfigError(
            f"Invalid sweep ({source}):\n  '{section}.{key}': '{key}' is a sweep key: indented under "
            f"{section}:? Fix: put {key}: at the top level of the sweep file (no indentation; Python: a "
            f"key of the mapping given to vislab.sweep)."
        )


def _check_counts(spec: SweepSpec, source: str) -> None:
    """ConfigError for ``trials:`` or ``timeout:`` (seconds) below 1, as ``--trials``/``--timeout`` and
    Python's ``trials=``/``timeout=`` refuse them: 0 does not mean "no limit" (leaving the key out does)."""
    for key, value, give in (
        ("trials", spec.trials, "a whole number of at least 1, the trials the study should hold"),
        ("timeout", spec.timeout, "the seconds after which no new trial starts, at least 1"),
    ):
        if value is not None and not value >= 1:
            default = "20" if key == "trials" else "no time limit"
            raise ConfigError(
                f"Invalid sweep ({source}):\n  sweep value '{key}' = {value:g} is invalid: give {give} "
                f"(or leave {key}: out for {default}). Fix {key}: in the sweep file (Python: the "
                f"'{key}' of the mapping given to vislab.sweep)."
            )


def _check_direction(
    spec: SweepSpec, source: str, wandb: bool, goal: bool = True, path: Path | None = None
) -> None:
    """ConfigError when the sweep's direction contradicts its metric (a loss is minimized, an accuracy
    maximized): its study would call the worst trial the best, while each trial keeps its best.pt by the
    metric's own sense. ``goal``: whether a W&B file gives metric.goal (W&B's default is minimize);
    ``path``: the file, which a sweep folder's DIR/sweep.yaml is (its study keeps its direction)."""
    if spec.direction is None:
        return
    sense = "minimize" if spec.metric.endswith("loss") else "maximize"
    if spec.direction == sense:
        return
    key = "metric.goal" if wandb else "direction"
    why = "a loss" if sense == "minimize" else "an accuracy"
    said = f"value '{key}' = {spec.direction!r} is invalid"
    if not goal:
        said = f"has no '{key}' (W&B's default: {spec.direction}), which is wrong here"
    other = "" if wandb else ", or drop direction: (a metric's own sense is the default)"
    if path is not None and path.name == "sweep.yaml" and (path.parent / "sweep.json").is_file():
        other += (
            f"; its study in '{path.parent}' keeps its direction: run it with --overwrite (Python: "
            f"overwrite=True; deletes its trials), or as a new study: a new name: in the file and "
            f"another folder (--out NEW; Python: out=)"
        )
    raise ConfigError(
        f"Invalid sweep ({source}):\n  sweep {said}: {spec.metric} is {why}, so the best trial is the one "
        f"that {sense}s it, as each trial keeps its best.pt by it. Fix: set {key}: {sense} in the sweep "
        f"file{other}."
    )


def _epochs(tree: dict, distributions: dict[str, BaseDistribution]) -> int | None:
    """The epochs of each trial (None: the space draws them)."""
    if "train.epochs" in distributions:
        return None
    return build_config(tree, source="sweep base").train.epochs


def _refuse_swept_overrides(
    overrides: list[str] | tuple, distributions: dict[str, BaseDistribution], source: str
) -> None:
    """ConfigError naming a command-line change (--data/--epochs/--set) of a key the space samples: each
    trial would train its drawn value instead, the change ignored."""
    for assignment in overrides:
        key = assignment.partition("=")[0].strip()
        swept = [s for s in distributions if key == s or key.startswith(f"{s}.")]
        if swept:
            raise ConfigError(
                f"Invalid sweep ({source}): the command line sets '{assignment}' (--data/--epochs/--set), "
                f"but the sweep's space samples '{swept[0]}': each trial would train the value it draws "
                f"and ignore this one. Fix: drop that option, or remove '{swept[0]}' from the space: of "
                f"the sweep file to fix its value for every trial."
            )


def to_distribution(key: str, s: Any) -> BaseDistribution:
    """One ``space:`` entry (e.g. a study's stored narrowed space) → an Optuna distribution."""
    return validate(SpaceParam, s, f"space '{key}'", kind="sweep").distribution()
