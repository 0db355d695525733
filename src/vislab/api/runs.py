"""Training a run and opening one (comparing runs: :mod:`vislab.api.side_by_side`)."""

from __future__ import annotations

import contextlib
import difflib
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import PlainValidator

from vislab.api.configs import ConfigLike
from vislab.api.folders import check_new, start_over
from vislab.api.stale_files import stale_after, written_at
from vislab.api.train_configs import new_config, resumed_config
from vislab.arguments import Folder, checked
from vislab.config import Config
from vislab.config.build import setting, stored_tree
from vislab.errors import ConfigError, RunExists, UserError, show_note
from vislab.experiments.records import SuiteInfo
from vislab.run import Run
from vislab.training.progress import in_notebook
from vislab.training.runtime import Distributed
from vislab.training.state import HOOKS, Callback

# The trainer and a suite's tables are imported by the functions that use them ("on use" below): they load
# matplotlib and pandas, which `import vislab.api` should not wait for (see its __init__).


# ------------------------------------------------------------------------------------------ train
def _checked_callbacks(callbacks: Any) -> tuple[Callback, ...]:
    """``callbacks`` as a tuple (None: none); UserError naming any that is no :class:`Callback` object; a
    note for each of their classes' ``on_*`` methods that is no hook (``_misspelled_hooks``)."""
    if callbacks is None:
        return ()
    listed = tuple(callbacks) if isinstance(callbacks, (list, tuple)) else (callbacks,)
    for cb in listed:
        if not isinstance(cb, Callback):
            raise UserError(
                f"callbacks: {cb!r} is no vislab.Callback: subclass it and override on_epoch_end(self, row) "
                f"(and close(self) if you need it), then give an instance: callbacks=[MyCallback()]."
            )
    for kind in dict.fromkeys(type(cb) for cb in listed):
        for note in _misspelled_hooks(kind):
            show_note(note)
    return listed


def _misspelled_hooks(kind: type[Callback]) -> list[str]:
    """A note for each ``on_*`` method of Callback class ``kind`` that vislab never calls (no hook of
    ``HOOKS``: a misspelling, such as on_epoch_ends), naming the closest hook."""
    notes = []
    for name in sorted(n for n in dir(kind) if n.startswith("on_") and n not in HOOKS):
        if not callable(getattr(kind, name, None)):
            continue
        close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.6)
        meant = f"did you mean {close[0]}? " if close else ""
        notes.append(
            f"callbacks: {kind.__name__}.{name} is no hook vislab calls, so it never runs: {meant}"
            f"vislab.Callback's hooks are on_epoch_end(self, row) and close(self)."
        )
    return notes


Callbacks = Annotated[Callback | Sequence[Callback] | None, PlainValidator(_checked_callbacks)]


@checked
def train(
    config: ConfigLike = None,
    *,
    out: Folder | None = None,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    quiet: bool | None = None,
    resume: bool = False,
    overwrite: bool = False,
    trust_code: bool = False,
    epochs: int | None = None,
    callbacks: Callbacks = (),
    **overrides: Any,
) -> Run:
    """Train one run into ``out`` (default: :func:`default_run_dir`) and return it.

    ``config``: a dict, a YAML path or preset name, or a :class:`Config` (defaults when None).
    ``model``: a registered model name, ``file.py:Net``, or your own ``build(input_shape, num_classes,
    **options)`` function or ``nn.Module`` class taking ``num_classes`` (and ``input_shape`` if it names
    it); registered in this process as ``user-<name>``; its other parameters are ``model.*`` options.
    ``data``: a dataset name, numpy arrays ``(x, y)`` or ``(x, y, class_names)``, or a torch Dataset.
    ``overrides``: config keys with ``__`` for the dot (``optim__lr=1e-3``), or dotted via
    ``**{"optim.lr": 1e-3}``. ``resume=True`` continues the run in ``out`` with its saved config; overrides
    may change only where and how it runs (``data__root``, ``train__device``, ``track__*`` ...), which it
    then uses (``trust_code=True``: import its model file even if changed since); ``config``, ``model``
    and ``data`` may be given too where they are the run's own (a cell run again with ``resume=True``
    added: the same model and code, data and config); ``overwrite=True``
    deletes the run ``out`` holds and starts afresh (see :func:`start_over`).
    ``epochs``: the run's ``train.epochs`` (given with ``train__epochs`` too: UserError); with
    ``resume=True``, a finished or interrupted run is trained on to that many epochs where its schedule
    allows (not cosine or one-cycle); a cell's ``train__epochs`` the run has reached may stay beside it.
    ``quiet``: None (default): progress in a notebook, none elsewhere. ``callbacks``: Callback objects.

    >>> run = vislab.train(model="mlp", data="digits", train__epochs=2, model__hidden=[64])
    >>> run = vislab.train({"data": {"name": "digits"}}, model=Net, model__width=64)  # your nn.Module
    >>> run = vislab.train(out=run.path, resume=True, epochs=20)  # 10 more epochs of a finished run
    >>> run = vislab.train(model="mlp", data="digits", out="runs/mlp", overwrite=True)  # a cell run again
    """
    if resume:
        cfg = resumed_config(config, model, data, out, overwrite, epochs, overrides)
    else:
        cfg = new_config(config, model, data, epochs, overrides)
    quiet = not in_notebook() if quiet is None else quiet
    try:
        return train_config(
            cfg, out, resume=resume, overwrite=overwrite, quiet=quiet, trust_code=trust_code,
            epochs=epochs if resume else None, callbacks=callbacks,
        )  # fmt: skip
    except RunExists as e:  # the trainer names the command's options; a Python caller gets its own
        raise _in_api_words(e) from None


def _in_api_words(e: RunExists) -> RunExists:
    return RunExists(
        e.path,
        f"'{e.path}' already holds a run. Continue it with vislab.train(out={str(e.path)!r}, "
        f"resume=True), start over with overwrite=True (deletes its files), or choose another out=.",
    )


def train_config(
    cfg: Config | None,
    out: str | Path | None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    trust_code: bool = False,
    epochs: int | None = None,
    callbacks: tuple[Callback, ...] = (),
) -> Run:
    """Train a validated config into ``out`` (None: :func:`default_run_dir`), or continue the run
    there (``resume``: its saved config is used, with ``cfg``'s settings of where and how it runs — None:
    the saved ones; ``epochs``: trained on to that many), or start it over (``overwrite``:
    :func:`start_over`); what :func:`train` and ``vislab train`` both call."""
    if out is None and cfg is None:
        raise UserError("give the run directory to resume.")
    # on use (see the imports): the trainer draws its figures with matplotlib
    from vislab.training.trainer import train as _train

    device = cfg.train.device if cfg is not None else _saved_device(Path(out))
    dist = Distributed(device)
    # the default folder made here: removed again if the run fails before writing in it
    made: Path | None = None
    try:
        if out is None:  # under torchrun, rank 0's folder: each rank's clock would name its own
            out = made = dist.from_main(default_run_dir(cfg) if dist.is_main else None)
        if overwrite:  # rank 0 deletes; the others wait for it
            if dist.is_main:
                start_over(out, "run")
            dist.barrier()
        if not resume:
            check_new(out, "run")
        given = cfg if resume else cfg or Config()  # a resume's: what it was given (None: nothing)
        before = written_at(Path(out)) if resume else None
        _train(
            given, out, resume=resume, quiet=quiet, dist=dist, trust_code=trust_code, epochs=epochs,
            callbacks=callbacks,
        )  # fmt: skip
        if resume and dist.is_main:
            _resumed(Path(out), before)
    except BaseException:
        if made is not None and dist.is_main:
            with contextlib.suppress(OSError):  # an empty folder only: rmdir refuses any other
                made.rmdir()
        raise
    finally:
        dist.close()
    return Run(out)


def _resumed(run: Path, before: float | None) -> None:
    """After a resume of ``run`` (its summary.json written at ``before``): a note on its files older than
    the weights it trained on (:func:`stale_after`), and its suite brought up to date with it."""
    if stale := stale_after(run, before):
        show_note(stale)
    _suite_caught_up(run)


def _suite_caught_up(run: Path) -> None:
    """A resumed run of a suite (its folder beside suite.json): the suite's suite.json and results.csv/.md
    brought up to date with it now, as its next report would (:func:`caught_up`), and said in a note."""
    from vislab.experiments.suites.catch_up import caught_up  # on use: pandas writes results.csv

    suite = run.resolve().parent
    if (suite / SuiteInfo.FILE).is_file():
        caught_up(suite, SuiteInfo.read(suite), show_note)


def _saved_device(out: Path) -> str:
    try:
        return str(setting(stored_tree(out), "train.device", "auto"))
    except ConfigError:
        return "auto"


def default_run_dir(cfg: Config) -> Path:
    """A new, empty folder ``runs/<model>-<data>-<time>`` (names made safe for a folder: ``timm:x`` →
    ``timm_x``), or that name with ``-2``, ``-3``, ... when it is taken: created here, so that no other
    call — the next cell in the same second, another process — gets it too. UserError when it cannot be
    created."""
    safe = lambda name: re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"  # noqa: E731
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{safe(cfg.model.name)}-{safe(cfg.data.name)}-{stamp}"
    folder, n = Path("runs") / base, 1
    while True:
        try:
            folder.mkdir(parents=True)  # atomic: FileExistsError when another call took it first
            return folder
        except FileExistsError:
            n += 1
            folder = folder.with_name(f"{base}-{n}")
        except OSError as e:
            raise UserError(
                f"cannot create the run folder '{folder}' (the default when none is given): "
                f"{e.strerror}. Give a folder you can write to (--out; Python: out=)."
            ) from None


# ------------------------------------------------------------------------------------------ runs
@checked
def load_run(path: Folder) -> Run:
    """Open a run directory written by ``vislab train`` or :func:`train` (a :class:`Run`: its folder).

    >>> run = vislab.load_run("runs/cnn"); run.history.tail(3); run.evaluate("test")["acc"]
    """
    return Run(path)
