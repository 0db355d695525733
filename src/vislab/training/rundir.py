"""The one place that writes a run directory.

RUN_DIR/config.yaml      resolved config
RUN_DIR/metrics.jsonl    one JSON line per evaluated epoch
RUN_DIR/steps.jsonl      the training loss every train.log_every steps (step, epoch, loss, lr)
RUN_DIR/grad_norms.jsonl per-layer mean gradient L2 norm of each epoch (train.track_grad_norm)
RUN_DIR/summary.json     final results, or where a stopped run stopped (status interrupted/diverged/failed ...):
                         a :class:`~vislab.training.summary.RunSummary`
RUN_DIR/checkpoints/     best.pt, last.pt
RUN_DIR/figures/         PNGs
RUN_DIR/predictions_test.npz  test probabilities and labels (for report figures)
RUN_DIR/.lock            pid of the process writing it

The JSON files are strict JSON: a float that is not finite (NaN, ±inf) is written as null
(:mod:`vislab.training.strict_json`).
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vislab.config import Config, as_stored, build_config, read_yaml
from vislab.errors import UserError, show_note
from vislab.files import atomic_write, atomic_write_text
from vislab.not_a_run import RUN_MARKS as RUN_MARKS
from vislab.not_a_run import folder_kind as folder_kind
from vislab.training.folder_lock import FolderLock
from vislab.training.strict_json import json_object, read_json_object, strict_json, why_unreadable
from vislab.training.summary import RunSummary, merged_notes
from vislab.training.writable import check_writable


@dataclass(frozen=True)
class SavedPredictions:
    """A run's saved test predictions (predictions_test.npz): ``probs`` N×K, ``labels`` N, and ``origin``
    N×2 (each sample's official set and index in it; None in runs saved before vislab kept it)."""

    probs: np.ndarray
    labels: np.ndarray
    origin: np.ndarray | None = None


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        self.fig_dir = self.path / "figures"
        self.lock = FolderLock(self.path, "run directory", unwritable=self._unwritable)
        self._created: list[
            Path
        ] = []  # folders open() made: close() removes those left empty (a failed start)
        self.notes: list[str] = []  # the notes the run gave as it trained: write_summary adds them

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> RunDir:
        """Create the folders and take the lock (refusing if another live process holds it)."""
        self._created = [
            d
            for d in (*reversed(self.ckpt_dir.parents), self.ckpt_dir, self.fig_dir)
            if not d.exists()
        ]
        try:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            self.fig_dir.mkdir(exist_ok=True)
        except OSError as e:
            raise self._unwritable(e, "create") from None
        self.lock.take()
        for d in (
            self.path,
            self.ckpt_dir,
        ):  # temp files of a killed writer (we hold the lock: none is in use)
            for tmp in d.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
        return self

    def _unwritable(self, e: OSError, verb: str = "write to") -> UserError:
        """The UserError for ``e``, met as the run directory was made or written: a file where a folder
        goes is named as ``vislab suite`` names it (:func:`check_writable`), with another --out / out=."""
        if e.errno in (errno.ENOTDIR, errno.EEXIST):
            try:
                check_writable(self.path, "the run")
            except UserError as refused:
                return refused
        if (
            self.ckpt_dir / "last.pt"
        ).is_file():  # a run being continued (--resume): it stays where it is
            fix = (
                f"A resumed run goes on in its own folder, so it must be writable: copy it somewhere "
                f"writable (cp -r {self.path} NEW) and resume that copy (--resume NEW)."
            )
        else:
            fix = "Choose a writable location with --out."
        return UserError(f"cannot {verb} run directory '{self.path}': {e.strerror}. {fix}")

    def check_free(self) -> None:
        """Raise the 'in use by pid N' UserError if another live process holds this directory's lock."""
        self.lock.check_free()

    def live_holder(self) -> int | None:
        """The pid of another live process of this host holding this directory's lock (FolderLock's)."""
        return self.lock.live_holder()

    def break_lock(self, host: str) -> bool:
        """Remove the lock of a process on another ``host`` known to be gone (FolderLock's)."""
        return self.lock.break_lock(host)

    @property
    def _locked(self) -> bool:  # whether this RunDir holds its lock (tests read it)
        return self.lock.held

    def close(self) -> None:
        self.lock.release()
        # a run that failed before writing anything leaves no empty folders
        for d in reversed(self._created):
            with contextlib.suppress(OSError):
                d.rmdir()
        self._created = []

    def __enter__(self) -> RunDir:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The run's name (summary.json's ``run``, its figures' titles): its folder's, links resolved, as a
        folder of runs lists it — whether the run is given through a link (``--resume link``) or as ``.``."""
        return self.path.resolve().name

    # ------------------------------------------------------------------ writers
    def write_config(self, yaml_text: str, unused: dict[str, str] | None = None) -> None:
        """config.yaml; ``unused``: top-level section → what of it the run did not use, and why, as a
        comment on the section's line. Its values stay: the file still rebuilds the very same run, and
        compares equal to the config a suite or ``--resume`` asks for."""
        if unused:
            lines = [
                f"{line}  # {unused[line[:-1]]}"
                if line[:-1] in unused and line.endswith(":")
                else line
                for line in yaml_text.splitlines()
            ]
            yaml_text = "\n".join(lines) + "\n"
        atomic_write_text(self.path / "config.yaml", yaml_text)

    def write_metrics(self, rows: list[dict]) -> None:
        """Rewrite metrics.jsonl from the full history (so a resumed run has exactly one row per epoch)."""
        atomic_write_text(self.path / "metrics.jsonl", "".join(strict_json(r) + "\n" for r in rows))

    def write_summary(self, summary: RunSummary) -> None:
        """summary.json (:meth:`RunSummary.to_json`), with the notes the run gave (:attr:`notes`)."""
        summary = summary.replace(notes_given=merged_notes(summary.notes_given, self.notes))
        atomic_write_text(self.path / "summary.json", strict_json(summary.to_json(), indent=2))

    def write_predictions(
        self, split: str, probs: np.ndarray, labels: np.ndarray, origin: np.ndarray | None = None
    ) -> None:
        """predictions_<split>.npz: the probabilities (N×K), labels (N) and, where known, each sample's
        origin (N×2: its official set and index in it, ``ArraySet.origin``)."""
        arrays = {"probs": probs.astype(np.float32), "labels": labels.astype(np.int64)}
        if origin is not None:
            arrays["origin"] = origin.astype(np.int64)

        def write(f):
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            f.write(buf.getvalue())

        atomic_write(self.path / f"predictions_{split}.npz", write)

    # ------------------------------------------------------------------ readers
    def read_predictions(self) -> SavedPredictions | None:
        """The saved test predictions, predictions_test.npz; None when the run has none; UserError naming
        the file and what writes it again when it cannot be read (cut short, not an npz, arrays of the
        wrong shape)."""
        npz = self.path / "predictions_test.npz"
        if not npz.is_file():
            return None
        try:
            with np.load(npz, allow_pickle=False) as f:
                probs, labels = f["probs"], f["labels"]
                origin = f["origin"] if "origin" in f.files else None  # not before vislab saved it
            wrong = (
                probs.ndim != 2 or labels.shape != probs.shape[:1] or labels.dtype.kind not in "iu"
            )
            wrong |= origin is not None and origin.shape != (len(labels), 2)
        except Exception as e:  # noqa: BLE001 - zipfile, zlib, numpy and the OS each raise their own
            why = f"{type(e).__name__}: {' '.join(str(e).split())}".rstrip(": ")
        else:
            if not wrong:
                return SavedPredictions(probs, labels, origin)
            why = f"probs {probs.shape}, labels {labels.shape} {labels.dtype} are not N×K and N"
        raise UserError(
            f"'{npz}' cannot be read ({why}): the run's saved test predictions (its test confusion "
            f"matrix, per-class accuracy, ROC curves and mistakes) are damaged. Write it again from "
            f"checkpoints/best.pt: vislab eval {self.path}"
        )

    def read_summary(self) -> RunSummary | None:
        """summary.json; None when it is absent or cannot be read (:meth:`load_summary` says why)."""
        try:
            return self.load_summary()
        except UserError:
            return None

    def load_summary(self) -> RunSummary | None:
        """summary.json; None when absent; UserError naming the file and the fix when it is there but
        cannot be read (cut short, not a JSON object, unreadable)."""
        p = self.path / "summary.json"
        if not p.is_file():
            return None
        try:
            return RunSummary.from_json(read_json_object(p))
        except ValueError as e:
            raise self._unreadable(p, str(e)) from None

    def load_config(self) -> Config | None:
        """config.yaml as a validated Config; None when absent; ConfigError naming the file when it
        cannot be read or is no valid config."""
        p = self.path / "config.yaml"
        return (
            build_config(as_stored(read_yaml(p, kind="run config")), source=str(p))
            if p.is_file()
            else None
        )

    def config_missing(self) -> str:
        """Why a run without its config.yaml has no settings, and what writes the file again."""
        missing = f"'{self.path / 'config.yaml'}' is missing: the run's settings are unknown."
        return f"{missing} {self.rewrite_fix()}"

    def read_metrics(self) -> list[dict]:
        """metrics.jsonl's rows, as :meth:`read_rows` reads them (none where the file is missing or empty:
        :meth:`rows_lost` says whether rows were lost, which each reader says in its own way)."""
        return self.read_rows("metrics.jsonl")

    def rows_lost(self, summary: RunSummary | None = None) -> str | None:
        """Why the run has no metrics.jsonl rows though its summary.json (``summary``, read when None) says
        it trained epochs (``epochs_run``) — the file is missing or empty —, what that leaves out and the
        fix; None where the file holds a line, or where nothing says an epoch was written (a run in
        progress has no rows yet; a summary.json made by hand, without ``epochs_run``)."""
        p = self.path / "metrics.jsonl"
        try:
            with p.open() as f:
                if any(line.strip() for line in f):
                    return None  # rows, or a line that read_rows names
            state = "empty"
        except FileNotFoundError:
            state = "missing"
        except (OSError, UnicodeDecodeError):  # read_rows says why
            return None
        summary = (self.read_summary() or RunSummary()) if summary is None else summary
        ran = summary.epochs_run
        if not (ran is not None and ran > 0):
            return None
        epochs = f"{ran} epoch{'s' * (ran != 1)}"
        said = f"is complete ({epochs})" if summary.complete else f"ran {epochs}"
        return (
            f"'{p}' is {state}, though summary.json says the run {said}: its per-epoch rows are lost — "
            f"no training curves, no per-epoch table (its scores in summary.json stay). {self._fix(p)}"
        )

    def read_rows(self, name: str) -> list[dict]:
        """The rows of a JSON-lines file of the run (``metrics.jsonl``, ``steps.jsonl``, ``grad_norms.jsonl``);
        [] if absent. A last line that is no JSON object is left out: a writer killed mid-line leaves it
        (resuming the run rewrites metrics.jsonl from its checkpoint, and the next epoch's rows of the
        others after their whole ones); where summary.json says the run went further, a :class:`Note`
        names the row lost (:meth:`_cut_short`). UserError naming the file, the line and the fix for any
        other line that is no JSON object."""
        p = self.path / name
        if not p.is_file():
            return []
        try:
            lines = [
                (i, line) for i, line in enumerate(p.read_text().splitlines(), 1) if line.strip()
            ]
        except (OSError, UnicodeDecodeError) as e:
            raise self._unreadable(p, why_unreadable(e)) from None
        rows = []
        for k, (i, line) in enumerate(lines):
            row = json_object(line, i)
            if isinstance(row, dict):
                rows.append(row)
            elif k < len(lines) - 1:
                raise self._unreadable(p, row)
            else:
                self._cut_short(p, row, line, rows[-1].get("epoch") if rows else 0)
        return rows

    def _cut_short(self, path: Path, why: str, line: str, last: object) -> None:
        """Warn a :class:`Note` when ``path``'s last ``line`` (``why`` it is no JSON object) is a row the
        run wrote: summary.json says the run ran past ``last``, the epoch of the last whole row (or, with
        no epochs_run, that it is complete). A run stopped mid-write (no summary past it) is left alone:
        resuming it writes the row."""
        last = last if isinstance(last, int) else 0
        summary = self.read_summary() or RunSummary()
        ran = summary.epochs_run
        if not (ran > last if ran is not None else summary.complete):
            return
        said = "is complete" if summary.complete else f"ran {ran} epochs"
        epoch = re.match(r'\s*\{\s*"epoch"\s*:\s*(\d+)', line)
        lost = f"epoch {epoch[1]}'s row" if epoch else f"the row after epoch {last}'s"
        show_note(
            f"'{path}' ends in a line cut short ({why}), though summary.json says the run {said}: "
            f"{lost} is lost, left out of what reads the file. {self._fix(path)}"
        )

    def _unreadable(self, path: Path, why: str) -> UserError:
        """The error for a file of the run that cannot be read: which, why, and what writes it again."""
        return UserError(f"'{path}' cannot be read ({why}). {self._fix(path)}")

    def _fix(self, path: Path) -> str:
        """What writes a damaged file of the run again, or what to do with it."""
        # resuming rewrites these from the checkpoint; it keeps the rows of steps.jsonl and grad_norms.jsonl
        rewritten = path.name in ("summary.json", "metrics.jsonl")
        return self.rewrite_fix() if rewritten else "Repair or delete it."

    def rewrite_fix(self) -> str:
        """What writes the run's summary.json, metrics.jsonl and config.yaml again: resuming it from its
        last checkpoint (which re-evaluates a finished run) or, without one, training it again."""
        if not (self.ckpt_dir / "last.pt").is_file():
            return f"The run has no '{self.ckpt_dir / 'last.pt'}' to resume from: train it again."
        return (
            f"Resuming the run writes it again from its last checkpoint: vislab train --resume "
            f"{self.path} (Python: vislab.train(out={str(self.path)!r}, resume=True))."
        )

    def append_rows(self, name: str, rows: list[dict], after_epoch: int) -> None:
        """Rewrite ``name`` as its rows of epochs ≤ ``after_epoch`` (a resumed run drops what its
        checkpoint does not know), then ``rows``."""
        kept = [r for r in self.read_rows(name) if r["epoch"] <= after_epoch]
        text = "".join(strict_json(r) + "\n" for r in kept + rows)
        atomic_write_text(self.path / name, text)


#: the files a run folder holds as its record (what vislab reads back; ``api.folders`` adds what it draws)
RUN_RECORDS = ("config.yaml", "summary.json", "metrics.jsonl", "steps.jsonl", "grad_norms.jsonl",
               "predictions_*.npz")  # fmt: skip
#: what no command writes over or into, not even with --force: the records, the lock and the checkpoints
RUN_OWN = (*RUN_RECORDS, ".lock*", "checkpoints")
#: the run's figures (train and eval draw them, a report shows them as the run's): no command replaces one,
#: not even with --force; a new file beside them is another figure's
RUN_FIGURES = "figures"


def resume_command(path: Path, world: int) -> str:
    """The command that resumes the run in ``path`` with ``world`` processes (``--nproc`` beyond one)."""
    nproc = f" --nproc {world}" if world > 1 else ""
    return f"vislab train --resume {path}{nproc}"


def refuse_run_file(path: str | Path, option: str, also: Path | None = None) -> None:
    """UserError, even with --force, when ``path`` (or a folder above it) is one of a run folder's own
    files (:data:`RUN_OWN`, in a folder holding a config.yaml) or an existing figure in its figures/
    (:data:`RUN_FIGURES`), or is ``also`` (the checkpoint read)."""
    resolved = Path(path).resolve()
    for part in (resolved, *resolved.parents):
        run = part.parent
        drawn = part.name == RUN_FIGURES and resolved != part and resolved.is_file()
        if (run / "config.yaml").is_file() and (
            drawn or any(fnmatch.fnmatchcase(part.name, pat) for pat in RUN_OWN)
        ):
            if part != resolved and not resolved.exists():  # a new file in checkpoints/, say
                raise UserError(
                    f"{option} '{path}' is inside the run's own {part.relative_to(run)}/ (run '{run}'): "
                    f"vislab writes nothing into a run's {part.name}/ folder, not even with --force: "
                    f"give another {option}, outside it."
                )
            raise UserError(
                f"{option} '{path}' is the run's own {resolved.relative_to(run)} (run '{run}'), which vislab "
                f"never replaces, not even with --force: give another {option}."
            )
    if also is not None and resolved == also.resolve():
        raise UserError(f"{option} '{path}' is the checkpoint being read: give another {option}.")
