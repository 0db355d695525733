"""Training a run, opening one and comparing finished ones."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from vislab.api.configs import ConfigLike, make_config
from vislab.api.folders import check_new, start_over
from vislab.config import Config, config_differences
from vislab.errors import RunExists, UserError
from vislab.run import Run
from vislab.training.progress import in_notebook
from vislab.training.rundir import RunDir, is_complete
from vislab.training.runtime import Distributed

# The trainer and the results table are imported by the functions that use them ("on use" below):
# they load matplotlib and pandas, which `import vislab.api` should not wait for (see its __init__).
if TYPE_CHECKING:
    import pandas as pd


# ------------------------------------------------------------------------------------------ train
def train(
    config: ConfigLike = None,
    *,
    out: str | Path | None = None,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    quiet: bool | None = None,
    resume: bool = False,
    overwrite: bool = False,
    trust_code: bool = False,
    epochs: int | None = None,
    **overrides: Any,
) -> Run:
    """Train one run into ``out`` (default ``runs/<model>-<data>-<time>``) and return it.

    ``config``: a dict, a YAML path or preset name, or a :class:`Config` (defaults when None).
    ``model``: a registered model name, ``file.py:Net``, or your own ``build(input_shape, num_classes,
    **options)`` function or ``nn.Module`` class taking ``num_classes`` (and ``input_shape`` if it names
    it); registered in this process as ``user-<name>``; its other parameters are ``model.*`` options.
    ``data``: a dataset name, numpy arrays ``(x, y)`` or ``(x, y, class_names)``, or a torch Dataset.
    ``overrides``: config keys with ``__`` for the dot (``optim__lr=1e-3``), or dotted via
    ``**{"optim.lr": 1e-3}``. ``resume=True`` continues the interrupted run in ``out`` with its saved
    config; overrides may change only where and how it runs (``data__root``, ``train__device``,
    ``train__eval_batch_size``, ``track__*`` ...), which it then uses (``trust_code=True`` lets it import
    its model file even if the file changed since);
    ``overwrite=True`` deletes the run ``out`` holds and starts afresh (see :func:`start_over`).
    ``epochs``: the run's ``train.epochs`` (given with ``train__epochs`` too: UserError); with
    ``resume=True``, a finished or interrupted run is trained on to that many epochs where its schedule
    allows (not cosine or one-cycle: they spread over the total).
    ``quiet``: None (default) shows progress in a notebook and nothing elsewhere (a script, a test).

    >>> run = vislab.train(model="mlp", data="digits", train__epochs=2, model__hidden=[64])
    >>> run = vislab.train({"data": {"name": "digits"}}, model=Net, model__width=64)  # your nn.Module
    >>> run = vislab.train(out=run.path, resume=True)  # after an interruption
    >>> run = vislab.train(out=run.path, resume=True, data__root="/mnt/data")  # its data moved
    >>> run = vislab.train(out=run.path, resume=True, epochs=20)  # 10 more epochs of a finished run
    >>> run = vislab.train(model="mlp", data="digits", out="runs/mlp", overwrite=True)  # a cell run again
    """
    if resume:
        given = dict(config=config, model=model, data=data)
        _check_resume_arguments(out, [k for k, v in given.items() if v is not None], overwrite)
        cfg = _resumed_with(Path(out), overrides)  # out: checked above
    else:
        cfg = _new_config(config, model, data, epochs, overrides)
    quiet = not in_notebook() if quiet is None else quiet
    try:
        return train_config(
            cfg, out, resume=resume, overwrite=overwrite, quiet=quiet, trust_code=trust_code,
            epochs=epochs if resume else None,
        )  # fmt: skip
    except RunExists as e:  # the trainer names the command's options; a Python caller gets its own
        raise _in_api_words(e) from None


def check_given_once(given: Sequence[tuple[str, str]]) -> None:
    """UserError naming both when two arguments set the same config key (one would silently win);
    ``given``: (the argument as written, e.g. ``"epochs=1"``, the dotted key it sets)."""
    first: dict[str, str] = {}
    for shown, key in given:
        if key in first:
            raise UserError(f"{first[key]} and {shown} both set {key}: give one of them.")
        first[key] = shown


def _new_config(
    config: ConfigLike, model: Any, data: Any, epochs: int | None, overrides: dict[str, Any]
) -> Config:
    """train()'s config of a new run: ``epochs`` is ``train.epochs`` (a key given twice: UserError)."""
    check_given_once(
        [(f"{k}={v!r}", k.replace("__", ".")) for k, v in overrides.items()]
        + ([(f"epochs={epochs!r}", "train.epochs")] if epochs is not None else [])
    )
    with_epochs = {**overrides, **({"train.epochs": epochs} if epochs is not None else {})}
    return make_config(config, model=model, data=data, overrides=with_epochs)


def _in_api_words(e: RunExists) -> RunExists:
    return RunExists(
        e.path,
        f"'{e.path}' already holds a run. Continue it with vislab.train(out={str(e.path)!r}, "
        f"resume=True), start over with overwrite=True (deletes its files), or choose another out=.",
    )


def _check_resume_arguments(out: str | Path | None, given: list[str], overwrite: bool) -> None:
    """resume=True takes ``out`` and no config, model or data, nor ``overwrite``: UserError otherwise."""
    if overwrite:
        raise UserError(
            "resume=True continues the run in `out`; overwrite=True deletes it to start afresh: "
            "give one of them."
        )
    if out is None or given:
        raise UserError(
            "resume=True continues the run in `out` with its saved config: give out=<its folder> "
            f"and no {', '.join(given) or 'config, model or data'} (overrides of where and how it "
            f"runs may be given: data__root, train__device, ...)."
        )


def _resumed_with(out: Path, overrides: dict[str, Any]) -> Config | None:
    """resume=True's config: the run's saved config (its last.pt's) with ``overrides`` on top; None
    without any. Those of where and how it runs (``RESULT_NEUTRAL_KEYS``) are used by the resumed run;
    UserError naming any that would change what it computes (rather than ignore them)."""
    if not overrides:
        return None
    from vislab.training.resume import resumable  # on use: torch and the model zoo

    stored = resumable(RunDir(out)).record.config
    wanted = make_config(stored, overrides=overrides)
    diff = config_differences(stored, wanted.to_dict())
    if diff:
        changes = f"{'; '.join(diff[:4])}{' …' if len(diff) > 4 else ''}"
        epochs = wanted.train.epochs
        fix = (  # train.epochs alone: epochs= trains a resumed run on (where its schedule allows)
            f"To train it on to {epochs} epochs, give epochs={epochs} instead."
            if all(d.startswith("train.epochs:") for d in diff)
            else f"Leave them out, or start a new run (another out=; train__init_from={str(out)!r} "
            f"starts from its weights)."
        )
        raise UserError(
            f"resume=True continues the run in '{out}' with its saved config, but these arguments "
            f"change it: {changes}. {fix}"
        )
    return wanted


def train_config(
    cfg: Config | None,
    out: str | Path | None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    trust_code: bool = False,
    epochs: int | None = None,
) -> Run:
    """Train a validated config into ``out`` (``runs/<model>-<data>-<time>`` when None), or continue the run
    there (``resume``: its saved config is used, with ``cfg``'s settings of where and how it runs — None:
    the saved ones; ``epochs``: trained on to that many), or start it over (``overwrite``:
    :func:`start_over`); what :func:`train` and ``vislab train`` both call."""
    if out is None and cfg is None:
        raise UserError("give the run directory to resume.")
    # on use (see the imports): the trainer draws its figures with matplotlib
    from vislab.training.trainer import train as _train

    device = cfg.train.device if cfg is not None else _saved_device(Path(out))
    dist = Distributed(device)
    try:
        if out is None:  # under torchrun, rank 0's name: each rank's clock would give its own
            out = dist.from_main(default_run_dir(cfg))
        if overwrite:  # rank 0 deletes; the others wait for it
            if dist.is_main:
                start_over(out, "run")
            dist.barrier()
        if not resume:
            check_new(out, "run")
        given = cfg if resume else cfg or Config()  # a resume's: what it was given (None: nothing)
        _train(
            given, out, resume=resume, quiet=quiet, dist=dist, trust_code=trust_code, epochs=epochs,
        )  # fmt: skip
    finally:
        dist.close()
    return Run(out)


def _saved_device(out: Path) -> str:
    try:
        saved = yaml.safe_load((out / "config.yaml").read_text()) or {}
        return str(saved["train"]["device"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "auto"


def default_run_dir(cfg: Config) -> Path:
    """``runs/<model>-<data>-<time>``, names made safe for a folder (``timm:x`` → ``timm_x``)."""
    safe = lambda name: re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"  # noqa: E731
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{safe(cfg.model.name)}-{safe(cfg.data.name)}-{stamp}"


# ------------------------------------------------------------------------------------------ runs
def load_run(path: str | Path) -> Run:
    """Open a run directory written by ``vislab train`` or :func:`train`.

    >>> run = vislab.load_run("runs/cnn"); run.history.tail(3); run.evaluate("test")["acc"]
    """
    return Run(path)


def compare(
    runs: Run | str | Path | Sequence[Run | str | Path] | Mapping[str, Run | str | Path],
    reported: dict | None = None,
) -> pd.DataFrame:
    """The comparison table of finished runs: ``run``, what each run was — its ``model``, ``seed`` and a
    column per config setting whose value differs between the runs (dotted keys, ``optim.lr``; a setting
    a run does not have is None; where and how a run ran, e.g. data.root or train.device, is not compared)
    — then the figures as results.csv has them (train_acc, val_acc, ..., params, best_epoch). A list is
    named by folder, a mapping by its keys, a single run is a list of one. ``reported``: a suite's
    ``reported:`` block, whose figures join as ``<key>_reported_<source>`` columns (as in results.csv).

    >>> vislab.compare([run_a, "runs/cnn"]).sort_values("val_acc")   # run, model, seed, optim.lr, ...
    """
    import pandas as pd  # on use (see the imports)

    from vislab.experiments.results.settings import table_settings
    from vislab.experiments.results.table import csv_table

    if isinstance(runs, (Run, str, Path)):  # one run (a string is no list of runs)
        runs = [runs]
    named = runs.items() if isinstance(runs, Mapping) else ((None, r) for r in runs)
    summaries: dict[str, dict] = {}
    folders: dict[str, Path] = {}
    for name, r in named:
        run = r if isinstance(r, Run) else Run(r)
        s = run.summary
        if not is_complete(s):
            raise UserError(
                f"run '{run.path}' has not finished (no complete summary.json): finish it "
                f"(vislab.train(out=..., resume=True)) or leave it out."
            )
        summaries[name or run.path.name] = s
        folders[name or run.path.name] = run.path
    settings = table_settings(summaries, folders)
    if settings.unread:  # each run's config.yaml, read as Run.config reads it
        raise next(iter(settings.unread.values()))
    rows, cols = csv_table(summaries, settings, reported)
    return pd.DataFrame(rows, columns=[k for k, _ in cols])
