"""How a run ends before its last epoch: a signal (a resumable ``last.pt``, exit 130; where the run cannot
stop mid-way — a fit on arrays, the last evaluation, the final scoring — right after it, what it wrote kept),
a NaN loss (the last good checkpoint kept: training/divergence.py), the user's own model code raising (a
UserCodeError, its frames only, what was kept named; a Python caller's model: its own exception, with that
note), a callback raising (its own exception, with that note: ``tell_callbacks``) — each leaves
metrics.jsonl and a summary.json saying so (``stopped_record.mark``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from vislab.errors import RunFailed, TrainingInterrupted, UserCodeError
from vislab.models.calling import target_of
from vislab.models.objects import is_user_object
from vislab.models.registry import MODELS
from vislab.training.divergence import check_finite
from vislab.training.history import EpochRow, to_rows
from vislab.training.model_checks import (
    NOTE,
    GradlessOutput,
    gradless_output,
    raises_its_own,
    resumed_in_python,
    user_code,
)
from vislab.training.rundir import resume_command
from vislab.training.saving import checkpoint
from vislab.training.setup import Training
from vislab.training.state import Callback, StopTraining
from vislab.training.stopped_record import mark
from vislab.training.summary import RunSummary
from vislab.training.tracking import Tracker


def stop_resumably(
    t: Training, signal_name: str, sums: torch.Tensor, lr: float, took: float
) -> None:
    """A signal arrived: save a mid-epoch ``last.pt`` and raise TrainingInterrupted (exit 130).

    Data-parallel ranks keep the last epoch end's ``last.pt`` instead: a mid-epoch one would need every
    rank's RNG state and running sums, gathered by a collective that ranks stopping one step apart (a
    Ctrl-C lands between their checks) would not all reach — a hang; the epoch is trained again."""
    if t.dist.world > 1:
        mark(t, "interrupted")
        t.log.stop()
        last = t.run.ckpt_dir / "last.pt"
        command = resume_command(t.run.path, t.dist.world)
        resume = (
            f"resume from the end of epoch {t.last_saved.epoch} ({last}) with: {command}"
            if t.last_saved is not None
            else "no epoch had finished, so nothing was saved: start the run again"
        )
        raise TrainingInterrupted(
            f"training stopped by {signal_name} in epoch {t.loop.epoch + 1}; a data-parallel run "
            f"saves at epoch ends: {resume}."
        )
    check_finite(t, (sums[0] / sums[2]).item(), lr)  # never save NaN weights over good ones
    loop = t.loop
    loop.train_time_s += took
    loop.partial = sums.cpu()
    checkpoint(t, "last.pt", resume=True)
    mark(t, "interrupted")
    t.log.stop()
    raise TrainingInterrupted(
        f"training stopped by {signal_name} at epoch {loop.epoch + 1}, step {loop.step}; state saved "
        f"in {t.run.ckpt_dir / 'last.pt'}.",
        then=f" Resume with: {_how_to_resume(t)}",
        rerun="resumes it",
    )


def stop_unfitted(t: Training, signal_name: str) -> None:
    """A signal arrived before a model fitted on arrays (``trained_by="fit_arrays"``) was saved — its fit
    ran to the end (a fit cannot be cut short), or never started: nothing is kept, TrainingInterrupted."""
    mark(t, "interrupted")
    raise TrainingInterrupted(
        f"training stopped by {signal_name} before {t.record.model.name}'s fit on the train split was "
        f"saved (it is saved once scored): nothing was kept.",
        then=f" Start the run again: its command without --resume"
        f"{_python_start(t.run.path, t.dist.world)}.",
        rerun="starts it again",
    )


def stop_before_scoring(t: Training, signal_name: str) -> None:
    """A signal arrived in the last epoch's evaluation: its ``last.pt`` is saved; the best weights are not
    scored (no complete summary.json, no figures) — TrainingInterrupted; a resume scores them."""
    mark(t, "interrupted")
    raise TrainingInterrupted(
        f"training stopped by {signal_name} after its last epoch ({t.loop.epoch}), before the run was "
        f"scored; every epoch is saved in {t.run.ckpt_dir / 'last.pt'}",
        then=f": resume to score it and draw its figures, with {_how_to_resume(t)}.",
        rerun="resumes it to score it and draw its figures",
    )


def stop_after_scoring(t: Training, signal_name: str, summary: RunSummary | None) -> None:
    """A signal arrived while the run was scored (``scoring.finish_run``), which kept what it wrote: a
    complete summary.json, or the scores with ``interrupted`` and the figures not drawn
    (``figures_missing``; ``summary`` None: another rank's). TrainingInterrupted saying which, and how
    to go on."""
    missing = summary.figures_missing if summary is not None else None
    where = t.run.path / "summary.json"
    if not missing:
        raise TrainingInterrupted(
            f"{signal_name} came while the run was scored; the scoring finished first: the run is "
            f"complete ({where}), nothing is left to do for it.",
            complete=True,
        )
    fitted = t.network.hooks.trained_by == "fit_arrays"
    again = "fits and scores the model again" if fitted else "scores the run again"
    raise TrainingInterrupted(
        f"training stopped by {signal_name} while the run's figures were drawn; its scores are kept in "
        f"{where} (status interrupted), its checkpoints too; not drawn: {', '.join(missing)}.",
        then=f" A resume {again} and draws them: {_how_to_resume(t)}.",
        rerun="resumes it to draw them",
    )


def _how_to_resume(t: Training, off: str | None = None) -> str:
    """The command that resumes the run, with the Python call beside it (one process); for a model defined
    in this Python process (``vislab.train(model=Net)``, ``@vislab.register_model``) the Python call
    alone: a command, or another process, cannot build that model until it is defined again. ``off``: a
    setting (``track.wandb``) the resume turns off."""
    path, world = t.run.path, t.dist.world
    python = f"vislab.train(out={str(path)!r}, resume=True"
    python += f", {off.replace('.', '__')}=False)" if off else ")"
    if world == 1 and raises_its_own(t.record.model.name):
        return resumed_in_python(python)
    command = resume_command(path, world) + (f" --set {off}=false" if off else "")
    return command if world > 1 else f"{command} (Python: {python})"


def _python_start(path: Path, world: int) -> str:
    """For one process, how a Python caller starts the run again (in brackets); else ""."""
    return "" if world > 1 else f" (Python: vislab.train(..., out={str(path)!r}) without resume)"


@contextlib.contextmanager
def users_model(t: Training, when: str, trained: bool = False) -> Iterator[None]:
    """Within: an exception the user's own model raises ends the run, saying what was kept
    (``_stopped_by_code``): a ``model.name=file.py:Net``'s as a UserCodeError (its frames only, exit 2);
    a model registered in this process (``train(model=Net)``, ``@vislab.register_model``) re-raises the
    user's exception, those words its note, as its caller is Python. A model whose output has no
    gradient (:class:`GradlessOutput`) ends it the same way, as a UserCodeError. ``trained``: the epoch's
    steps are done (its evaluation is what failed). Vislab's own errors, and built-in models', pass
    unchanged."""
    name, model, code = t.record.model.name, t.network.model, t.network.code
    try:
        with user_code(name, model, when, lambda: _stopped_by_code(t, trained), code=code):
            yield
    except GradlessOutput:
        said = _stopped_by_code(
            t, False, "the model's output has no gradient (a .detach() in its forward?)"
        )
        raise UserCodeError(f"{gradless_output(name)} {said}") from None


def _stopped_by_code(t: Training, trained: bool, message: str | None = None) -> str:
    """The run ended by the user's code: ``trained`` (and one process), a ``last.pt`` of the epoch's
    steps — as a signal after its last step saves it: resuming re-runs only the evaluation — else the
    last one kept; summary.json says "failed". Returns what was kept and how to go on."""
    last = t.run.ckpt_dir / "last.pt"
    saved = trained and t.dist.world == 1  # data-parallel: epoch ends only (stop_resumably)
    if saved:
        checkpoint(t, "last.pt", resume=True)
    mark(t, "failed", message)
    t.log.stop()
    if raises_its_own(t.record.model.name):
        return _stopped_python(t, saved)
    command = resume_command(t.run.path, t.dist.world)
    resume = (
        f"after fixing your code, resume with: {command} --trust-code (once edited, your file no "
        f"longer has the sha256 the run recorded)."
    )
    if saved:
        kept = f"epoch {t.loop.epoch + 1}'s training is saved in {last} (resuming evaluates it)"
        return f"Training stopped; {kept}: {resume}"
    if t.last_saved is not None:
        return f"Training stopped; its last checkpoint, {last} ({t.last_saved}), is kept: {resume}"
    return "Training stopped before its first checkpoint: after fixing your code, run it again."


def _stopped_python(t: Training, saved: bool) -> str:
    """``_stopped_by_code``'s words for a model registered in this process (``vislab.train(model=Net)``,
    ``@vislab.register_model``), in Python's terms: what was kept, then how to go on — the fixed class,
    run again, trains with ``overwrite=True`` (a run does not resume with a redefined class:
    ``objects.check_unchanged``); ``resume=True`` continues it with the class unchanged."""
    name, out, last = t.record.model.name, str(t.run.path), t.run.ckpt_dir / "last.pt"
    attr = getattr(target_of(MODELS.get(name)), "__name__", name)
    given = attr if is_user_object(name) else repr(name)
    again = f"vislab.train(model={given}, ..., out={out!r}"
    if t.last_saved is None:
        return f"Training stopped before its first checkpoint. After fixing {attr}, run {again})."
    fitted = t.network.hooks.trained_by == "fit_arrays"  # no epochs: its fit
    kept = (
        f"epoch {t.loop.epoch + 1}'s training steps are saved in {last} (resuming evaluates them)"
        if saved
        else f"its last checkpoint, {last}{'' if fitted else f' ({t.last_saved})'}, is kept"
    )
    return (
        f'Training stopped; summary.json says "failed"; {kept}. After fixing {attr} (its cell run '
        f"again), train the new code with {again}, overwrite=True) (deletes this run; another out= "
        f"keeps it): a run does not resume with a redefined {attr}. With {attr} unchanged (the fault "
        f"was elsewhere), vislab.train(out={out!r}, resume=True) continues this run."
    )


def tell_callbacks(t: Training, row: EpochRow, callbacks: Sequence[Callback]) -> str | None:
    """Give each callback ``row`` (saved: its ``last.pt`` written, its metrics row too), as a plain dict
    (:meth:`EpochRow.to_json`). One raising :class:`StopTraining` asks the run to end after this row, as
    ``train.early_stop`` would: the others are still told, and the first such reason is returned
    (``stop_by_callback`` ends the run with it); None where none asked. Any other exception of a callback
    ends the run: summary.json says "failed" ("interrupted" for a KeyboardInterrupt), its message naming
    the callback, the checkpoints are kept, and what was kept and how to go on is added — to a user's
    callback's exception as a note, as to their model's (``_stopped_by_code``), the exception otherwise
    unchanged; to a tracker's RunFailed (vislab's words) as more of its message."""
    told, stop = row.to_json(), None
    for cb in callbacks:
        try:
            cb.on_epoch_end(told)
        except StopTraining as e:
            name, why = type(cb).__name__, str(e)
            stop = stop or f"callback {name} stopped it{f' ({why})' if why else ''}"
        except (Exception, KeyboardInterrupt) as e:
            status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            if isinstance(cb, Tracker) and isinstance(e, RunFailed):  # vislab's words: one message
                mark(t, status)
                t.log.stop()
                raise RunFailed(f"{e} {_stopped_by_tracker(t, cb, status)}") from e.__cause__
            mark(t, status, message=_callback_failed(t, type(cb).__name__, e, row.epoch))
            t.log.stop()
            e.add_note(f"{NOTE} {_stopped_by_callback(t, type(cb).__name__, row.epoch, status)}")
            raise
    return stop


def stop_by_callback(t: Training, row: EpochRow, reason: str) -> None:
    """A callback raised StopTraining after ``row`` (``reason``: ``tell_callbacks``'): the run ends there as
    ``train.early_stop`` ends it — the loop state says so (``stopped_early``, its ``stop_reason``; last.pt
    saved again, row 0's too: a resume then trains nothing), and so does ``row`` where epochs were left
    (metrics.jsonl written again); the loop then scores the run. Where early stopping ended it at this
    row already, its own reason is kept."""
    loop = t.loop
    if not loop.stopped_early:
        loop.stopped_early, loop.stop_reason = True, reason
    if row.epoch < t.cfg.epochs and not row.fitted:
        row.stopped_early = True
    checkpoint(t, "last.pt", resume=True)
    if t.dist.is_main:
        t.run.write_metrics(to_rows(t.history))


def _row_words(epoch: int) -> str:
    return f"epoch {epoch}'s metrics row" if epoch else "row 0 (train.eval_at_start)"


def _stopped_by_callback(t: Training, name: str, epoch: int, status: str) -> str:
    """What ``tell_callbacks`` adds to the exception of callback ``name`` (a class) at ``epoch``'s row:
    the run's ``status`` in summary.json, what was kept, and the Python call that goes on."""
    row = _row_words(epoch)
    said = f"callback {name} raised this in on_epoch_end after {row}; training stopped"
    said, kept = _kept(t, status, said, "start the run again, without resume")
    clean = " (To end training cleanly from a callback, raise vislab.StopTraining(reason) instead.)"
    if not kept:
        return said + clean
    return (
        f"{said} vislab.train(out={str(t.run.path)!r}, resume=True, callbacks=[...]) continues this run "
        f"(the callbacks given again: a resume does not keep them).{clean}"
    )


def _callback_failed(t: Training, name: str, e: BaseException, epoch: int) -> str:
    """summary.json's message for a run that callback ``name``'s exception ``e`` stopped after ``epoch``'s
    row: the callback, not the model, and how to go on."""
    raised = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    said = f"callback {name} raised {raised} in on_epoch_end after {_row_words(epoch)}"
    if t.last_saved is None:
        return f"{said}; no checkpoint was saved yet: start the run again, without resume"
    return (
        f"{said}; with it fixed (or left out), vislab.train(out={str(t.run.path)!r}, resume=True, "
        f"callbacks=[...]) continues this run from its last checkpoint ({t.last_saved})"
    )


def _stopped_by_tracker(t: Training, tracker: Tracker, status: str) -> str:
    """What follows a tracker's failure (its config's callback, not the caller's): the run's ``status``,
    what was kept, and the run's own resume with the tracker's setting off, which goes on without it."""
    off, py_off = f"{tracker.setting}=false", f"{tracker.setting.replace('.', '__')}=False"
    said, kept = _kept(t, status, "Training stopped", f"start the run again with {off} ({py_off})")
    if not kept:
        return said
    return f"{said} Going on without the tracker: {_how_to_resume(t, off=tracker.setting)}."


def _kept(t: Training, status: str, said: str, start_again: str) -> tuple[str, bool]:
    """``said``, then the run's ``status`` in summary.json and its last checkpoint, kept; where none was
    saved yet, that none was and ``start_again``. And whether one was kept."""
    said += f'; summary.json says "{status}"'
    if t.last_saved is None:
        return f"{said}; no checkpoint was saved yet: {start_again}.", False
    last = t.run.ckpt_dir / "last.pt"
    return f"{said}; its last checkpoint, {last} ({t.last_saved}), is kept.", True
