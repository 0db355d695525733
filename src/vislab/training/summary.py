"""A run's summary.json as one typed record: :class:`RunSummary`, the one module that knows its layout.
Code reads its fixed keys as attributes (``summary.test_acc``); what picks a column by name (the results
tables' metric) reads ``summary[key]`` or ``summary.get(key)``.

On disk it stays the flat JSON object vislab has always written, so older run folders read unchanged:
a finished run's scores (``status`` "complete"; "interrupted" with ``figures_missing`` when a signal cut
its figures short), or where a stopped run stopped (``status`` interrupted, diverged or failed,
``epochs_run``, ``step``, ``best_epoch``, ``train_time_s``), or a sweep's pruned trial (``status``,
``run``, ``message``). A key it does not know (a newer vislab's, one added by hand) is kept as it is in
``extra`` and written back unchanged; a known key whose value has another type (a hand-edited file: a
metric that is no number) makes the file unreadable, as one cut short is: named, left out of what reads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import typing
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vislab.errors import Note
from vislab.training.typed_json import mistyped, typed_fields

if TYPE_CHECKING:  # the loop's state loads torch, which reading a summary.json does not need
    from vislab.training.state import LoopState, Saved

PerClass = dict[str, float | None]  # class name → its accuracy (null: no sample of it in the split)
#: the checkpoint file whose weights a run's scores are of (:meth:`RunSummary.scored_file`)
ScoredFile = Literal["best.pt", "last.pt"]


TOP5_MIN_CLASSES = (
    10  # top-5 of fewer classes says little (of 5 or fewer, it is always 1): no top-5 figure
)


@dataclass(frozen=True)
class ScoredText:
    """One kind of text summary.json's ``scored`` holds: how it begins, which file holds the weights it
    says were scored, and whether their epoch follows (``scoring.load_scored`` writes :meth:`said`,
    :meth:`RunSummary.scored_file` reads it back by its beginning)."""

    begins: str
    file: ScoredFile
    with_epoch: bool = True

    def said(self, epoch: int | None) -> str:
        """The text summary.json's ``scored`` holds for weights of ``epoch`` ("best.pt, epoch 6")."""
        return f"{self.begins}, epoch {epoch}" if self.with_epoch else self.begins


#: best.pt's weights (a fitted model's too: its fit is saved there), or the last weights' (last.pt's;
#: their ``train.ema`` average where the run kept one), scored where best.pt was gone
SCORED_BEST = ScoredText("best.pt", "best.pt")
SCORED_FITTED = ScoredText("fitted on the train split", "best.pt", with_epoch=False)
SCORED_LAST = ScoredText("the last weights", "last.pt")
SCORED_EMA_LAST = ScoredText("the train.ema average of the last weights", "last.pt")
SCORED_TEXTS = (SCORED_BEST, SCORED_FITTED, SCORED_LAST, SCORED_EMA_LAST)


@dataclass(repr=False)
class RunSummary:
    """A run's summary.json (None: not in the file). Fields in the order a finished run writes them.

    >>> s = vislab.load_run("runs/cnn").summary
    >>> s.status, s.test_acc, s.test_per_class["cat"], s["val_pacc"], s.to_json()
    """

    status: str | None = None  # complete, interrupted, diverged, failed, pruned
    run: str | None = None  # the run folder's name
    model: str | None = None
    model_code: dict[str, Any] | None = (
        None  # a user's own model (file.py:Net): reference, path, sha256
    )
    data: str | None = None
    train_acc: float | None = None  # of the best epoch
    train_loss: float | None = None
    val_acc: float | None = None
    val_pacc: float | None = None
    val_loss: float | None = None
    test_acc: float | None = None
    test_pacc: float | None = None
    test_loss: float | None = None
    test_auc: float | None = None
    val_top5_acc: float | None = None  # TOP5_MIN_CLASSES classes or more
    test_top5_acc: float | None = None
    train_time_s: float | None = None
    test_time_s: float | None = None
    best_epoch: int | None = None  # the epoch whose weights were scored
    scored: str | None = None  # which weights the scores are of ("best.pt, epoch 6", ...)
    epochs_run: int | None = None
    stopped_early: bool | None = None  # train.early_stop ended it before its last epoch
    params: int | None = None
    trainable_params: int | None = (
        None  # the parameters the steps trained: not train.freeze's (not fitted)
    )
    # where the weights started and what was frozen: init_from (source, tensors loaded, lists of module
    # patterns with counts: head, adapted, reinitialised, new, unused), freeze (patterns, tensors, params)
    init: dict[str, Any] | None = None
    # train.class_weights: each class's weight in the training loss (set only where it was given)
    class_weights: list[float] | None = None
    val_per_class: PerClass | None = None
    test_per_class: PerClass | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    sample_shape: list[int] | None = None  # C×H×W images, or D features
    seed: int | None = None
    device: str | None = None
    trained_by: str | None = (
        None  # "optimizer", or "fit_arrays" (a model fitted once: majority, svm)
    )
    world_size: int | None = None
    precision: str | None = None
    # train.compile: "compiled", "graphs", "eager (compile failed: <cause>)" or "eager (nothing compiled:
    # <why>)" (training/compiling.py); compiled_resumed: what its resumes changed to, in order
    compiled: str | None = None
    compiled_resumed: list[str] | None = None
    threads: int | None = None  # the CPU threads it started with: train.threads, else torch's
    threads_resumed: list[int] | None = None  # the counts its resumes changed to, in order
    versions: dict[str, str] | None = None  # vislab, torch, torchvision, kornia, python
    peak_rss_mb: float | None = None
    peak_cuda_mb: float | None = None
    setup_s: float | None = None
    eval_s: float | None = None  # final scoring: test, and val unless the best epoch's is reused
    epochs_eval_s: float | None = None  # the epochs' evaluations (LoopState.epochs_eval_s)
    figures_s: float | None = None
    figures_missing: list[str] | None = None  # the figures a signal left undrawn
    step: int | None = None  # a stopped run: steps of the epoch after epochs_run its last.pt holds
    message: str | None = None  # a pruned trial: why
    # the notes the run gave (set-up, training, scoring; a resume's added to the earlier ones), each once
    notes_given: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys not known: as read
    # known keys the file read did not hold: left out again where written (a reader's .get(key, default)
    # keeps its default), not written as null
    absent: frozenset[str] = field(default_factory=frozenset, repr=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunSummary:
        """The record of summary.json's object ``d``: a missing key is None; an unknown key goes to
        ``extra`` unchanged. ValueError saying which known keys hold a value of another type (a hand-edited
        ``"val_acc": "x"``): such a file is unreadable, not a run whose score is "x"."""
        wrong = mistyped(d, _HINTS)
        if wrong:
            raise ValueError("; ".join(wrong))
        known, extra = typed_fields(d, _HINTS)
        return cls(**known, extra=extra, absent=frozenset(_HINTS) - set(d))

    def to_json(self) -> dict[str, Any]:
        """summary.json's object, keys as vislab has always written them: a scored run's every score
        (null where unknown; ``model_code``, the top-5 accuracies, ``peak_cuda_mb`` and the figures' keys
        only where set), a stopped run's where it stopped (``best_epoch`` null before one), then any
        other key set, then ``extra``'s."""
        values = {f: getattr(self, f) for f in _HINTS}
        layout = SCORED if self.scored is not None else STOPPED if self.step is not None else ()
        unset = ONLY_WHERE_SET | self.absent
        out = {k: values[k] for k in layout if values[k] is not None or k not in unset}
        out.update((k, v) for k, v in values.items() if v is not None and k not in out)
        out.update((k, v) for k, v in self.extra.items() if k not in out and k not in _HINTS)
        return out

    @property
    def complete(self) -> bool:
        """Whether the run finished (``status`` "complete")."""
        return self.status == "complete"

    @property
    def figures_cut_short(self) -> bool:
        """Whether a signal stopped the run while its figures were drawn, its scores written (status
        interrupted, ``figures_missing``)."""
        return self.status == "interrupted" and bool(self.figures_missing)

    @property
    def holds_scores(self) -> bool:
        """Whether the run's scores are written: it finished, or its figures were cut short."""
        return self.complete or self.figures_cut_short

    def in_tables(self, sweep: bool = False) -> bool:
        """Whether the run is a row of its folder's tables (results.md, compare, the report, the paper):
        its scores written (:attr:`holds_scores`) — in a ``sweep``, complete: a trial whose figures were
        cut short failed for the study, which trains its values again."""
        return self.complete if sweep else self.holds_scores

    def scored_file(self) -> ScoredFile | None:
        """The checkpoint file whose weights the scores are of, at the end of epoch ``best_epoch``:
        "best.pt", or "last.pt" where best.pt was gone when the run was scored (``scored`` says so; with
        ``train.ema``, the average last.pt holds). A finished run's summary.json without ``scored`` (older
        vislab 0.1.0 wrote none) is of best.pt, which that vislab scored wherever it was, as its first
        evaluation wrote it: "best.pt". None where it holds no scores (a stopped run, a pruned trial) or
        ``scored`` is a text vislab never wrote (edited by hand)."""
        if self.scored is None:
            return "best.pt" if self.complete else None
        return next((t.file for t in SCORED_TEXTS if self.scored.startswith(t.begins)), None)

    def __repr__(self) -> str:
        """The fields the file holds, as summary.json orders them (a notebook shows a run's record)."""
        return f"RunSummary({', '.join(f'{k}={v!r}' for k, v in self.to_json().items())})"

    def __getitem__(self, key: str) -> Any:
        """The value of summary.json's key ``key``, for code that picks a column by name (the results
        tables' metric): a known key's value (None where the file holds none), or an unknown key's from
        ``extra``. KeyError naming the keys closest to a key neither known nor in the file."""
        if not isinstance(key, str):
            raise KeyError(f"summary.json's keys are names, not {key!r}: e.g. summary['test_acc']")
        if key in _HINTS:
            return getattr(self, key)
        if key in self.extra:
            return self.extra[key]
        close = difflib.get_close_matches(key, [*_HINTS, *self.extra], n=3)
        raise KeyError(
            f"summary.json has no key {key!r}" + (f"; did you mean {close}?" if close else "")
        )

    def get(self, key: str, default: Any = None) -> Any:
        """``self[key]``, or ``default`` where the file holds no value for it."""
        value = self.extra.get(key) if key not in _HINTS else getattr(self, key)
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        """Not a mapping to loop over: its fields are attributes; the file's object is :meth:`to_json`."""
        raise TypeError(
            "a RunSummary is a record, not a dict: read its fields (summary.test_acc), a key by name "
            "(summary['test_acc']), or the file's object as a dict: summary.to_json()"
        )

    def __bool__(self) -> bool:
        """Whether the file holds anything (a run before its summary.json: False, as its ``{}`` was)."""
        return bool(self.to_json())

    def __contains__(self, key: object) -> bool:
        """Whether summary.json holds a value for ``key`` (as :meth:`to_json` writes it)."""
        return key in self.to_json()

    def replace(self, **changes: Any) -> RunSummary:
        """A copy with ``changes`` (e.g. another ``status``); ``extra`` is kept, and the keys the file
        read did not hold stay out unless ``changes`` sets them."""
        absent = self.absent - set(changes)
        return dataclasses.replace(self, **changes, extra=dict(self.extra), absent=absent)


def stopped_summary(status: str, loop: LoopState, saved: Saved | None) -> RunSummary:
    """The summary of a run stopped with ``status`` where ``loop`` stood: ``epochs_run`` and ``step`` say
    how far the training its ``last.pt`` holds goes (``saved``; None: it has none yet)."""
    return RunSummary(
        status=status, epochs_run=saved.epoch if saved else 0, step=saved.step if saved else 0,
        best_epoch=loop.best_epoch, train_time_s=loop.train_time_s,
    )  # fmt: skip


@contextlib.contextmanager
def notes_into(notes: list[str]) -> Iterator[None]:
    """Within: each :class:`~vislab.errors.Note` shown is also added to ``notes`` (a text already there is
    not added again), for the run's summary.json; it is shown as before (the filters and any
    ``showwarning`` of the caller apply)."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def noted(message, category, *args, **kw) -> None:
            if issubclass(category, Note) and str(message) not in notes:
                notes.append(str(message))
            show(message, category, *args, **kw)

        warnings.showwarning = noted
        yield


def merged_notes(*lists: list[str] | None) -> list[str] | None:
    """The notes of ``lists`` in order, each text once; None where there are none."""
    return list(dict.fromkeys(n for notes in lists for n in notes or ())) or None


def threads_record(loop: LoopState) -> dict[str, Any]:
    """summary.json's ``threads`` and ``threads_resumed`` of a run at ``loop`` (its ``threads``: the CPU
    thread counts it trained with); None where its last.pt is older than that record. A CPU op's float
    sums round by the count: a resume under another one matches an uninterrupted run only to rounding."""
    first, *later = loop.threads or [None]
    return {"threads": first, "threads_resumed": later or None}


#: field → its type, in the order a finished run writes them (``extra`` aside)
_HINTS = {
    k: v
    for k, v in typing.get_type_hints(RunSummary, globals()).items()
    if k not in ("extra", "absent")
}
#: what a scored run's summary.json holds (``finish_run``), in its order
SCORED = tuple(k for k in _HINTS if k not in ("step", "message"))
#: what a stopped run's holds (``stopped_summary``), in its order
STOPPED = ("status", "epochs_run", "step", "best_epoch", "train_time_s")
#: the keys written only where set, never as null
ONLY_WHERE_SET = frozenset(
    {
        "model_code",
        "val_top5_acc",
        "test_top5_acc",
        "peak_cuda_mb",
        "figures_s",
        "figures_missing",
        "trainable_params",
        "init",
        "class_weights",
        "threads_resumed",
        "notes_given",
        "compiled",
        "compiled_resumed",
    }  # fmt: skip
)
