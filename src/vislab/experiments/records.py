"""A suite's suite.json and a sweep's sweep.json as typed records — :class:`SuiteInfo` (each run's
:class:`RunOutcome` in it) and :class:`SweepInfo`, the one place each file's layout is known and each is
read.

On disk they stay the JSON objects vislab has always written, so older folders read unchanged. As with
summary.json (:class:`~vislab.training.summary.RunSummary`), a key a record does not know (a newer
vislab's, one added by hand), or a known key whose value has another type (a hand-edited file), is kept
as it is in ``extra`` and written back unchanged.

:meth:`read` never raises: a missing, damaged or non-object file reads as an empty record (what the
tables and reports can go on without). :meth:`strict` is for what cannot: None for a missing file, a
UserError naming a damaged one and its fix.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from vislab.errors import UserError
from vislab.files import atomic_write_text
from vislab.training.strict_json import read_json_object
from vislab.training.typed_json import typed_fields

R = TypeVar("R", bound="_Record")

# suite.json's status of a run ``--only`` left out whose folder holds it trained with other settings than
# the suite's now (another train.epochs): out of the tables, listed under them with the command that
# trains it
OTHER_SETTINGS = "other settings"


class _Record:
    """What both records share: reading and writing their JSON object."""

    FILE: ClassVar[str]  # the file's name in its folder
    ALWAYS: ClassVar[tuple[str, ...]]  # keys written even when None (null), in this order
    FIX: ClassVar[str]  # what to do about a damaged file, after "Fix:"
    extra: dict[str, Any]

    @classmethod
    def from_json(cls: type[R], d: dict[str, Any]) -> R:
        """The record of the file's object ``d``: a missing key is None; an unknown key, or a known one
        whose value has another type, goes to ``extra`` unchanged."""
        known, extra = typed_fields(d, _hints(cls))
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The file's object, keys as vislab writes them: :attr:`ALWAYS`'s (null where unknown), then any
        other key set, then ``extra``'s — a value of another type read where its key belongs."""
        names = [f.name for f in fields(self) if f.name != "extra"]  # type: ignore[arg-type]
        values = {k: getattr(self, k) for k in names}
        values.update((k, v) for k, v in self.extra.items() if k in values and values[k] is None)
        out = {k: values[k] for k in self.ALWAYS}
        out.update((k, v) for k, v in values.items() if v is not None and k not in out)
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out

    def write(self, folder: Path) -> None:
        """Write ``folder/<FILE>`` (atomically: a reader never sees half of it)."""
        atomic_write_text(Path(folder) / self.FILE, json.dumps(self.to_json(), indent=2))

    @classmethod
    def read(cls: type[R], folder: Path) -> R:
        """``folder``'s file as a record; an empty one when it is missing, unreadable or no JSON object."""
        try:
            return cls.strict(folder) or cls()
        except UserError:
            return cls()

    @classmethod
    def strict(cls: type[R], folder: Path) -> R | None:
        """``folder``'s file as a record; None when there is none; UserError naming a damaged one (cut
        short, not JSON, not an object) and its fix."""
        path = Path(folder) / cls.FILE
        if not path.is_file():
            return None
        try:
            data = read_json_object(path)
        except ValueError as e:
            raise UserError(
                f"'{path}' cannot be read ({e}). Fix: {cls.FIX.format(folder=folder)}"
            ) from None
        return cls.from_json(data)


@dataclass
class RunOutcome:
    """How a suite's run last ended, as suite.json's ``runs`` records it: ``status`` (complete, failed,
    interrupted, :data:`OTHER_SETTINGS`), why (``message``; ``traceback`` for a bug), ``seconds`` it
    trained; ``data_error``: its data cannot be read (the suite stops); ``halted``: a signal stopped it
    (the suite stops); ``skipped``: complete already; a shared suite's ``host``, ``attempts`` and
    ``run_dir``. ``notes``: a ``--jobs`` process's notes, shown by the suite's process, never in the file.

    Read by attribute; :meth:`to_json` is its suite.json object (what ``why_unfinished`` takes)."""

    status: str | None = None
    message: str = ""
    traceback: str = ""
    host: str | None = None
    attempts: int | None = None
    run_dir: str | None = None
    seconds: float | None = None
    data_error: bool = False
    halted: bool = False
    skipped: bool = False
    notes: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunOutcome:
        """The outcome of suite.json's object ``d``: an unknown key, or a known one whose value has
        another type, goes to ``extra`` unchanged."""
        hints = {k: v for k, v in _hints(cls).items() if k != "notes"}
        known, extra = typed_fields(d, hints)
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """suite.json's object: the keys set (an empty text, False and None left out, as vislab has
        always written it), in the fields' order, then ``extra``'s."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("notes", "extra"):
                continue
            if value is None or value is False or value == "":
                value = self.extra.get(f.name)
            if value is not None and value is not False and value != "":
                out[f.name] = value
        out.update((k, v) for k, v in self.extra.items() if k not in out)
        return out


@dataclass
class SuiteInfo(_Record):
    """A suite folder's suite.json: what the suite is, and each run's last outcome (None: not in the file)."""

    FILE: ClassVar[str] = "suite.json"
    ALWAYS: ClassVar[tuple[str, ...]] = (
        "name", "source", "description", "overrides", "groups", "compare", "reported", "order", "runs",
    )  # fmt: skip
    FIX: ClassVar[str] = (
        "delete it and run the suite again (vislab suite FILE --out {folder}): its finished runs are "
        "kept, not trained again."
    )

    name: str | None = None
    source: str | None = None  # the suite file
    description: str | None = None
    overrides: list[str] | None = None  # the command line's changes to its config
    groups: dict[str, list[str]] | None = None
    compare: str | None = None  # how verdicts pair a group's runs: previous or baseline
    reported: dict[str, Any] | None = None  # figures reported elsewhere, set beside the table's
    order: list[str] | None = None  # every run of the suite, in its file's order
    runs: dict[str, RunOutcome] | None = None  # run → its last outcome
    seeds: int | None = None  # with seeds > 1, the table's rows: each the mean ± std of its runs
    rows: dict[str, list[str]] | None = None
    storage: str | None = (
        None  # a shared suite's: the database its runs are claimed in (no password)
    )
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SuiteInfo:
        """As :meth:`_Record.from_json`, each run's outcome a :class:`RunOutcome` (``runs`` not a JSON
        object of objects: kept in ``extra`` as read)."""
        runs = d.get("runs")
        if isinstance(runs, dict) and all(isinstance(r, dict) for r in runs.values()):
            d = {**d, "runs": {n: RunOutcome.from_json(r) for n, r in runs.items()}}
        return super().from_json(d)

    def to_json(self) -> dict[str, Any]:
        """As :meth:`_Record.to_json`, each run's outcome as its object."""
        out = super().to_json()
        if self.runs is not None:
            out["runs"] = {n: r.to_json() for n, r in self.runs.items()}
        return out

    def trained_otherwise(self) -> set[str]:
        """The runs recorded as trained with other settings than the suite's now (:data:`OTHER_SETTINGS`):
        in no table, listed under it with the command that trains them."""
        return {n for n, r in (self.runs or {}).items() if r.status == OTHER_SETTINGS}


@dataclass
class SweepInfo(_Record):
    """A sweep stage's sweep.json: its study, where it is stored, its metric and how it was made (None:
    not in the file; ``overrides`` None: not known)."""

    FILE: ClassVar[str] = "sweep.json"
    ALWAYS: ClassVar[tuple[str, ...]] = (
        "kind", "study", "storage", "default_storage", "metric", "direction", "spec", "curves",
    )  # fmt: skip
    FIX: ClassVar[str] = (
        "write it again from its study: vislab sweep show {folder} --storage URL --study NAME (a "
        "sweep's own storage is sqlite:///{folder}/study.db)."
    )

    kind: str | None = None  # "sweep"
    study: str | None = None  # the Optuna study's name
    storage: str | None = None  # its storage URL, password masked (***)
    default_storage: bool | None = None  # stored in the folder's own study.db
    metric: str | None = None
    direction: str | None = None  # maximize or minimize
    spec: str | None = None  # the sweep file
    curves: int | None = None  # how many trials' curves its report draws
    overrides: list[str] | None = None  # the command line's changes to its base config
    extra: dict[str, Any] = field(default_factory=dict)


def _hints(cls: type) -> dict[str, Any]:
    """A record's fields and their types (``extra`` and the class settings left out)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if f.name != "extra"}
