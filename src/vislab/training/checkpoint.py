"""Checkpoint files: written atomically (:func:`vislab.files.atomic_write`), and loading that never
executes code (``weights_only=True``).

What a checkpoint holds is a typed :class:`~vislab.training.record.Checkpoint` (the run's record, the
weights, the resume state); on disk it is a dict of plain types and tensors, whose keys only
``vislab.training.record`` knows.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislab.errors import CheckpointNote, DataError, UserError, show_note
from vislab.files import atomic_write
from vislab.not_a_run import folder_kind, not_a_run, run_of_file, runs_folder_note
from vislab.training.folder_lock import FolderLock
from vislab.training.rundir import RunDir

# torch and the checkpoint's record (which loads torch) are imported by the functions that read or write a
# checkpoint ("on use" below): importing this module stays light.
if TYPE_CHECKING:
    import torch

    from vislab.training.record import Checkpoint
    from vislab.training.summary import RunSummary


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` atomically (the previous file stays whole until the new one is)."""
    # Serialise in memory first: torch's zip writer turns a failed write (a full disk) into an opaque
    # RuntimeError ("unexpected pos"), while a plain write lets atomic_write name the cause.
    import torch  # on use (see the imports)

    buf = io.BytesIO()
    torch.save(ckpt.to_dict(), buf)
    atomic_write(path, lambda f: f.write(buf.getbuffer()))


#: what to do about a checkpoint file of no run that is damaged or no vislab checkpoint
CHECKPOINT_FIX = "Use best.pt/last.pt from a vislab run directory."


def load_checkpoint(path: str | Path, fix: str | None = None) -> Checkpoint:
    """Load a vislab checkpoint safely; anything that is not one is a clear DataError, ending with ``fix``
    where the file is damaged or no vislab checkpoint ("": the caller says what to do; None, where no
    caller knows better: :func:`damaged_fix`)."""
    from vislab.training.record import Checkpoint  # on use (see the imports)

    path = Path(path)
    fix = damaged_fix(path) if fix is None else fix
    return Checkpoint.from_dict(_load_dict(path, fix), str(path), fix)


def damaged_fix(path: Path, give: Callable[[Path], str] | None = None) -> str:
    """What to do about checkpoint ``path`` where it is damaged or no vislab checkpoint: a run's best.pt,
    use its last.pt where that is whole (a complete zip archive, torch's format), and a run's last.pt,
    its best.pt; train the run again where neither is; a file of no run's checkpoints/,
    :data:`CHECKPOINT_FIX`. ``give``: how the caller's command takes the other file (train's
    ``--init-from FILE``); None: as the commands that read a run take it (the file in place of the run,
    or their ``--checkpoint``)."""
    run = run_of_file(path)
    if run is None or path.parent.name != "checkpoints" or path.name not in ("best.pt", "last.pt"):
        return CHECKPOINT_FIX
    other = path.with_name("last.pt" if path.name == "best.pt" else "best.pt")
    if other.is_file() and _is_zip(other):
        last = other.name == "last.pt"
        what = "its latest weights" if last else "its best epoch's weights"
        option = (
            "with --checkpoint last (Python: checkpoint='last')"
            if last
            else "without --checkpoint last (Python: checkpoint='best', the default)"
        )
        use = (
            give(other)
            if give
            else (
                f"give the file '{other}' in place of the run, or, to eval, predict, export or explain, the run "
                f"{option}"
            )
        )
        return f"Run '{run}' has a whole checkpoints/{other.name} ({what}): to use that, {use}."
    lost = "cannot be read either" if other.is_file() else "is missing"
    return (
        f"Its checkpoints/{other.name} {lost}, so run '{run}' has no weights left to use: train it "
        f"again: {_train_again(run)}."
    )


def _load_dict(path: Path, fix: str) -> dict[str, Any]:
    """The checkpoint file as the dict it was saved as, loaded without running code."""
    if not path.is_file():
        raise DataError(
            f"checkpoint '{path}' does not exist. Give a run directory or a .pt file written by vislab."
        )
    corrupt = f"checkpoint '{path}' is corrupt or not a PyTorch file"
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        raise DataError(f"checkpoint '{path}' cannot be read: {e.strerror}.") from None
    # neither torch's zip format nor its legacy pickle format
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise DataError(
            f"{corrupt} ({f'it starts with {head!r}' if head else 'it is empty'}). {fix}".strip()
        )
    if head[:2] == b"PK" and not _is_zip(path):
        raise DataError(
            f"{corrupt} (a zip archive without its central directory: truncated?). {fix}".strip()
        )
    import torch  # on use (see the imports)

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's text suggests weights_only=False: never repeat that advice, keep only its diagnosis
        text = str(e)
        code = re.search(r"GLOBAL ([\w.<>]+)", text)
        if code:  # a reference to a Python callable or class: what a code-running pickle needs
            raise DataError(
                f"checkpoint '{path}' was refused: it holds objects other than tensors and plain types "
                f"(it references {code.group(1)}), possibly code that would run on load, so it was not "
                f"loaded. Only use checkpoints written by vislab, from a source you trust."
            ) from None
        why = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
        raise DataError(
            f"{corrupt} (unpickling failed: {why.group(1)[:200] if why else 'invalid data'}). {fix}".strip()
        ) from None
    except Exception as e:  # truncated zip, not a torch file, ...
        raise DataError(f"{corrupt} ({type(e).__name__}: {str(e)[:200]}). {fix}".strip()) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "model_name" not in ckpt:
        raise DataError(
            f"'{path}' is a PyTorch file but not a vislab checkpoint (no model_name/state_dict). {fix}".strip()
        )
    return ckpt


#: which checkpoint of a run directory to use: ``best`` (best.pt: the epoch whose evaluation on val
#: scored best; the run's scores in summary.json are its) or ``last`` (last.pt: its latest weights)
CHECKPOINTS = ("best", "last")


@dataclass
class PickedCheckpoint:
    """The checkpoint :func:`pick_checkpoint` chose, and which of its weights are used: a last.pt's
    ``train.ema`` average where it holds one (the weights the run's evaluations scored), else the file's
    own. The file is read once, on first use (:meth:`load`), and kept."""

    #: the checkpoint file
    path: Path
    #: the run directory it was picked in; None for a checkpoint file given as it is
    run: Path | None
    #: why this file (a :class:`CheckpointNote`): last.pt in place of a missing best.pt, or a run still
    #: training; None: nothing to say
    note: str | None = None
    #: last.pt standing in for the best.pt the run lacks
    standing_in: bool = False
    #: the file, loaded (None: not read yet)
    loaded: Checkpoint | None = field(default=None, repr=False, compare=False)

    def load(self) -> Checkpoint:
        """The checkpoint file, loaded: read on first use, then kept (DataError: :func:`load_checkpoint`)."""
        if self.loaded is None:
            self.loaded = load_checkpoint(self.path)
        return self.loaded

    @property
    def ema_average(self) -> bool:
        """Whether the weights used are the ``train.ema`` average a last.pt holds beside its live ones."""
        return _holds_average(self.load())

    @property
    def said(self) -> str:
        """Which weights these are, in words: "last.pt's train.ema average, epoch 3", "last.pt, epoch 4,
        step 40" (saved mid-epoch), "best.pt, epoch 2"."""
        epoch, step = weights_at(self.load())
        what = f"{self.path.name}'s train.ema average" if self.ema_average else self.path.name
        return what + (
            "" if epoch is None else f", epoch {epoch}" + (f", step {step}" if step else "")
        )

    @property
    def is_runs_best(self) -> bool:
        """Whether these are the run's best weights as :func:`pick_checkpoint` finds them in the run again:
        its best.pt, or last.pt's average standing in for it."""
        return self.run is not None and (
            self.path.name == "best.pt" or (self.standing_in and self.ema_average)
        )

    def scored_in(self, summary: RunSummary) -> bool:
        """Whether ``summary`` (summary.json of the run this file is in) scored the weights used: it
        names the file it scored (:meth:`RunSummary.scored_file`), and these are of the end of its
        ``best_epoch``. best.pt and a last.pt saved at the end of the same epoch hold the same weights
        (last.pt's ``train.ema`` average where it holds one), so either is; not a last.pt of a later epoch
        (standing in for a deleted best.pt), nor one saved mid-epoch. Read from the epochs the files
        record: whoever must know the tensors are those of the file scored compares them."""
        scored = summary.scored_file() is not None and summary.best_epoch is not None
        return scored and weights_at(self.load()) == (summary.best_epoch, None)

    def show_note(self) -> None:
        """Warn the note, if any, as a :class:`CheckpointNote`."""
        if self.note:
            show_note(self.note, CheckpointNote)

    def loader_target(self) -> Path:
        """What to give the model loaders (:func:`vislab.predict.load_model` and those built on it) for
        these weights: the file, its note warned here — but for the run's best weights (last.pt's average
        standing in for best.pt), the run itself, whose loader picks them again and warns the note."""
        if self.is_runs_best and self.run is not None:
            return self.run
        self.show_note()
        return self.path

    def weights(self, ckpt: Checkpoint) -> dict[str, torch.Tensor]:
        """The weights used of ``ckpt`` (this file, loaded): last.pt's ``train.ema`` average where it holds
        one, else its own."""
        resume = ckpt.resume
        return resume.ema if resume is not None and resume.ema is not None else ckpt.state_dict


def pick_checkpoint(target: str | Path, which: str = "best") -> PickedCheckpoint:
    """The checkpoint of ``target`` to use (nothing is warned: :meth:`PickedCheckpoint.show_note`).

    A checkpoint file: itself. A run directory: ``which="best"``, its ``checkpoints/best.pt`` — or its
    ``last.pt`` when it has none, with a note saying so; ``"last"``, its ``checkpoints/last.pt``. A
    last.pt's weights are its ``train.ema`` average where it holds one (what the run's evaluations
    scored). UserError for another ``which``; DataError when the run has no such file."""
    if which not in CHECKPOINTS:
        raise UserError(f"the checkpoint must be best or last, not '{which}'.")
    p = Path(target)
    if not p.is_dir():
        return PickedCheckpoint(p, None)
    best, last = p / "checkpoints" / "best.pt", p / "checkpoints" / "last.pt"
    live = _still_training_note(p)
    if which == "best" and best.is_file():
        return PickedCheckpoint(best, p, live)
    if which == "last" and last.is_file():
        return PickedCheckpoint(last, p, live)
    if last.is_file():
        ckpt = load_checkpoint(last)
        note = " ".join(n for n in (live, _standing_in_note(p, ckpt)) if n)
        return PickedCheckpoint(last, p, note or None, True, ckpt)
    if folder_kind(p) != "run":
        raise DataError(runs_folder_note(p) or not_a_run(p))
    wanted = "last.pt" if which == "last" else "best.pt or last.pt"
    raise DataError(f"run directory '{p}' has no checkpoints/{wanted}: {_no_checkpoint(p)}")


def _holds_average(ckpt: Checkpoint) -> bool:
    """Whether ``ckpt`` (a last.pt) holds the ``train.ema`` average beside its live weights."""
    return ckpt.resume is not None and ckpt.resume.ema is not None


def _no_checkpoint(run: Path) -> str:
    """Why run folder ``run`` holds no checkpoint to use, and the way on: its checkpoints were deleted or
    moved (a run that saved some: :func:`_saved_one`), or it stopped before it saved its first."""
    if not _saved_one(RunDir(run)):
        return (
            "it stopped before saving its first checkpoint, so it has no weights. Train it: "
            f"{_train_again(run)}."
        )
    return (
        "it trained, but the checkpoint is gone (deleted or moved?). Put it back into "
        f"{run / 'checkpoints'}, or train the run again: {_train_again(run)}."
    )


def _train_again(run: Path) -> str:
    """The command that trains run ``run`` again: from its config.yaml where that is a valid config (the
    Python call, for a model or data given from Python), else from one of the user's, with the reason its
    own cannot be used."""
    try:
        cfg = RunDir(run).load_config()
    except UserError as e:
        why = str(e).rstrip(".")
        return f"vislab train --config YOUR_CONFIG.yaml --out NEW_FOLDER (its own cannot be used: {why})"
    from vislab.models.objects import python_only  # on use (see the imports)

    if python_only(cfg.model.name, cfg.data.name):
        return (
            "run your vislab.train call again with out=NEW_FOLDER (its model or data was given from "
            "Python, which no command can reach)"
        )
    return f"vislab train --config {run / 'config.yaml'} --out NEW_FOLDER"


def _saved_one(run: RunDir) -> bool:
    """Whether the run saved a checkpoint once: its summary.json says it finished, or stopped after an
    epoch or a step of one (a run stopped before its first save says epoch 0, step 0); without a
    summary, metrics.jsonl holds an epoch's row (not only row 0 of ``train.eval_at_start``)."""
    summary = run.read_summary()
    if summary is not None:
        return summary.complete or bool(summary.epochs_run) or bool(summary.step)
    return any((row.get("epoch") or 0) > 0 for row in run.read_metrics())


def _still_training_note(run: Path) -> str | None:
    """The note for a run another process of this host is training now (its lock held): its checkpoints
    are of the epochs trained so far and change as it goes on; None where no live process holds it."""
    if (pid := FolderLock(run).live_holder()) is None:
        return None
    return (
        f"run '{run}' is still training (vislab process {pid}): its checkpoints are of the epochs "
        f"trained so far and will change, so what is scored now is not the run's final result. Wait "
        f"for it to finish for that."
    )


def weights_at(ckpt: Checkpoint) -> tuple[int | None, int | None]:
    """(epoch, step) of a checkpoint's weights: best.pt's epoch; last.pt's last finished epoch (step
    None), or mid-epoch the epoch under way and the steps it had trained; (None, None) if unrecorded."""
    if ckpt.epoch is not None:
        return ckpt.epoch, None
    if ckpt.resume is None:
        return None, None
    loop = ckpt.resume.loop
    return (loop.epoch + 1, loop.step) if loop.step else (loop.epoch, None)


def _is_zip(path: Path) -> bool:
    """Whether ``path`` is a whole zip archive (torch's format); False for a damaged one, which
    ``zipfile.is_zipfile`` may raise on ("zipfiles that span multiple disks")."""
    try:
        return zipfile.is_zipfile(path)
    except zipfile.BadZipFile:
        return False


def _standing_in_note(run: Path, ckpt: Checkpoint) -> str:
    """Why ``run`` is used through its ``last.pt`` (``ckpt``, loaded) and where in training its weights
    are, which are its ``train.ema`` average where it holds one."""
    ema = _holds_average(ckpt)
    epoch, step = weights_at(ckpt)
    at = f"epoch {epoch}, step {step}" if step else f"the end of epoch {epoch}"
    saved = ckpt.resume.loop.best_epoch if ckpt.resume is not None else None
    # best.pt would hold the average now only where the best epoch is the last one
    would = ", what best.pt would hold" if saved in (None, epoch) and not step else ""
    weights = (
        f"the train.ema average of its weights at {at}{would}" if ema else f"its weights at {at}"
    )
    using = f"Using checkpoints/last.pt, {weights}"
    ask = (
        ""
        if ema
        else "; to use them without this note, ask for last.pt (--checkpoint last / checkpoint='last')"
    )
    if saved is not None:  # an evaluation picked it, and best.pt held it: gone since
        return (
            f"run '{run}' has no checkpoints/best.pt, though it was written there at epoch {saved} "
            f"(deleted or moved since?). {using}{ask}; put best.pt back to use epoch {saved}'s, or "
            f"resume the run with more epochs (it writes best.pt again at its next evaluation)."
        )
    why = "no evaluation on val has picked a best epoch yet"
    if epoch == 1 and step:  # stopped mid-way through epoch 1: nothing evaluated yet
        why = "it stopped in epoch 1, before its first evaluation on val"
    return f"run '{run}' has no checkpoints/best.pt: {why}. {using}."
