"""vislab's Python API: train, load, compare and sweep runs from Python or a notebook.

The ``vislab`` command is a thin layer over these functions (one implementation): ``vislab train`` calls
:func:`train`, ``vislab suite`` :func:`run_suite`, ``vislab sweep`` :func:`sweep`; ``eval`` and
``predict`` share :mod:`vislab.predict` with :meth:`Run.evaluate` and :meth:`Run.predict`.

>>> import vislab
>>> run = vislab.train(model="cnn", data="digits", train__epochs=3, out="runs/cnn")
>>> run.summary["test_acc"], run.plot("confusion")
"""

from __future__ import annotations

import contextlib
import copy
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from vislab.config import Config, build_config, read_yaml, set_dotted
from vislab.data.sources import memory
from vislab.errors import RunExists, UserError
from vislab.models import register_model
from vislab.models import user as user_code
from vislab.run import Run, SuiteResult
from vislab.training.progress import in_notebook
from vislab.training.rundir import RunDir, is_complete
from vislab.training.runtime import Distributed

# The trainer, suites, sweeps, tables and reports are imported by the functions that use them ("on use"
# below): they load matplotlib, pandas, optuna and SQLAlchemy (~2 s on 2 cores), which a notebook that
# opens runs, a sweep trial or `vislab train` should not wait for (tests/test_startup.py checks it).
if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from vislab.experiments.shared.postgres import SharedStorage
    from vislab.experiments.suites.spec import Suite
    from vislab.experiments.sweeps.spec import Sweep


@contextlib.contextmanager
def _optuna_quietly() -> Iterator[None]:
    """Around an import that loads optuna: it imports tqdm.auto, which warns in a notebook without
    ipywidgets; vislab shows no tqdm bar."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        yield


# The public names are listed in vislab/__init__.py (vislab.__all__).
ConfigLike = Config | Mapping[str, Any] | str | Path | None
Log = Callable[[str], None]


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
    config (``trust_code=True`` lets it import its model file even if the file changed since);
    ``overwrite=True`` deletes the run ``out`` holds and starts afresh (see :func:`start_over`).
    ``epochs``: the run's ``train.epochs``; with ``resume=True``, a finished or interrupted run is trained
    on to that many epochs where its schedule allows (not cosine or one-cycle: they spread over the total).
    ``quiet``: None (default) shows progress in a notebook and nothing elsewhere (a script, a test).

    >>> run = vislab.train(model="mlp", data="digits", train__epochs=2, model__hidden=[64])
    >>> run = vislab.train({"data": {"name": "digits"}}, model=Net, model__width=64)  # your nn.Module
    >>> run = vislab.train(out=run.path, resume=True)  # after an interruption
    >>> run = vislab.train(out=run.path, resume=True, epochs=20)  # 10 more epochs of a finished run
    >>> run = vislab.train(model="mlp", data="digits", out="runs/mlp", overwrite=True)  # a cell run again
    """
    if resume:
        given = dict(config=config, model=model, data=data)
        given_names = [k for k, v in given.items() if v is not None] + list(overrides)
        _check_resume_arguments(out, given_names, overwrite)
        cfg = None
    else:
        with_epochs = {**overrides, **({"train.epochs": epochs} if epochs is not None else {})}
        cfg = make_config(config, model=model, data=data, overrides=with_epochs)
    quiet = not in_notebook() if quiet is None else quiet
    try:
        return train_config(
            cfg, out, resume=resume, overwrite=overwrite, quiet=quiet, trust_code=trust_code,
            epochs=epochs if resume else None,
        )  # fmt: skip
    except RunExists as e:  # the trainer names the command's options; a Python caller gets its own
        raise _in_api_words(e) from None


def _in_api_words(e: RunExists) -> RunExists:
    return RunExists(
        e.path,
        f"'{e.path}' already holds a run. Continue it with vislab.train(out={str(e.path)!r}, "
        f"resume=True), start over with overwrite=True (deletes its files), or choose another out=.",
    )


def _check_resume_arguments(out: str | Path | None, given: list[str], overwrite: bool) -> None:
    """resume=True takes ``out`` and nothing that would change (or delete) the run: UserError otherwise."""
    if overwrite:
        raise UserError(
            "resume=True continues the run in `out`; overwrite=True deletes it to start afresh: "
            "give one of them."
        )
    if out is None or given:
        raise UserError(
            "resume=True continues the run in `out` with its saved config: give out=<its folder> "
            f"and no {', '.join(given) or 'config, model, data or overrides'}."
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
) -> Run:
    """Train a validated config into ``out`` (``runs/<model>-<data>-<time>`` when None), or continue the run
    there (``resume``: its saved config is used; ``epochs``: trained on to that many), or start it over
    (``overwrite``: :func:`start_over`); what :func:`train` and ``vislab train`` both call."""
    if out is None:
        if cfg is None:
            raise UserError("give the run directory to resume.")
        out = default_run_dir(cfg)
    # on use (see the imports): the trainer draws its figures with matplotlib
    from vislab.training.trainer import train as _train

    device = cfg.train.device if cfg is not None else _saved_device(Path(out))
    dist = Distributed(device)
    try:
        if overwrite:  # rank 0 deletes; the others wait for it
            if dist.is_main:
                start_over(out, "run")
            dist.barrier()
        _train(
            cfg or Config(), out, resume=resume, quiet=quiet, dist=dist, trust_code=trust_code,
            epochs=epochs,
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


# ------------------------------------------------------------------------------------ start over
FOLDER_KINDS = {
    "run": "config.yaml, alone or beside summary.json, metrics.jsonl, checkpoints/ or figures/",
    "suite": "suite.json",
    "sweep": "sweep.json or study.db",
}
RUN_MARKS = {"summary.json", "metrics.jsonl", "checkpoints", "figures", ".lock"}


def folder_kind(folder: Path) -> str | None:
    """What vislab wrote ``folder`` as: "run", "suite" or "sweep" (by the files in :data:`FOLDER_KINDS`;
    a lone config.yaml is a run that stopped before its first epoch); None for any other folder."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if "suite.json" in names:
        return "suite"
    if names & {"sweep.json", "study.db"}:
        return "sweep"
    if "config.yaml" in names and (names & RUN_MARKS or names == {"config.yaml"}):
        return "run"
    return None


def start_over(
    folder: str | Path, kind: str, keep: Path | None = None, storage: str | None = None
) -> None:
    """Empty ``folder``, which vislab wrote as a ``kind`` ("run", "suite" or "sweep"), so that one starts
    afresh there: everything in it goes but ``keep`` (a sweep's spec file). A missing or empty folder is
    left alone; any other folder, one a live process is writing a run of, or a suite or sweep shared
    through a ``storage`` URL (its record there would outlive the folder) is refused (UserError) and
    left untouched."""
    if storage is not None:
        raise UserError(
            f"starting a {kind} over empties its folder, but a {kind} shared through a storage URL keeps "
            f"its record in that database, where other machines may be working on it: run it under a new "
            f"name (name: in its file) instead, or without the storage URL."
        )
    folder = Path(folder)
    kept = [keep.resolve(), *keep.resolve().parents] if keep is not None else []
    entries = [p for p in folder.iterdir() if p.resolve() not in kept] if folder.is_dir() else []
    if not entries:
        return
    found = folder_kind(folder)
    if found != kind:
        what = f"a vislab {found} folder" if found else "not a folder vislab wrote"
        raise UserError(
            f"'{folder}' is {what}, so starting a {kind} over will not delete it (vislab deletes only "
            f"a {kind} folder: {FOLDER_KINDS[kind]}). Choose another folder, or empty it yourself."
        )
    for lock in sorted(folder.rglob(".lock")):  # every run in it (a suite's, a sweep's trials)
        RunDir(lock.parent).check_free()
    for entry in entries:
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        except OSError as e:
            raise UserError(
                f"could not delete '{e.filename or entry}' to start '{folder}' over: {e.strerror}. "
                f"Check its permissions, or choose another folder."
            ) from None


def make_config(
    config: ConfigLike = None,
    *,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """The validated Config of :func:`train`'s arguments: ``config`` ← ``model`` ← ``data`` ← overrides."""
    tree = _config_tree(config)
    if model is not None:
        _set_model_name(tree, model if isinstance(model, str) else user_model(model))
    if data is not None:
        set_dotted(tree, "data.name", data if isinstance(data, str) else _data_name(data))
    for key, value in (overrides or {}).items():
        dotted = key.replace("__", ".")
        if "." not in dotted:
            raise UserError(
                f"train() got '{key}={value!r}': a config key is section__key (e.g. optim__lr=1e-3, "
                f"train__epochs=5, model__hidden=[64]) or dotted via **{{'optim.lr': 1e-3}}."
            )
        if dotted == "model.name":
            _set_model_name(tree, value if isinstance(value, str) else user_model(value))
        else:
            set_dotted(tree, dotted, value)
    return build_config(tree, source="vislab.train arguments")


def _config_tree(config: ConfigLike) -> dict:
    if config is None:
        return {}
    if isinstance(config, Config):
        return config.to_dict()
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config))
    if isinstance(config, (str, Path)):
        return read_yaml(config)
    raise UserError(
        f"config must be a dict, a YAML path, a preset name or a vislab.Config, not {type(config).__name__}."
    )


def _set_model_name(tree: dict, name: str) -> None:
    """model.name = ``name``; the config's other model.* options go when the model changes (they belong to
    the old one), as in a suite's runs."""
    section = tree.get("model") if isinstance(tree.get("model"), dict) else {}
    tree["model"] = dict(section) if section.get("name") == name else {"name": name}


# ------------------------------------------------------------------------------ user models
def user_model(obj: Callable[..., torch.nn.Module]) -> str:
    """Register your ``build(input_shape, num_classes, **options)`` function or ``nn.Module`` class in this
    process as model ``user-<qualified name>`` and return that name (the same object or a redefinition in
    a notebook cell replaces itself). A class is called as ``Net(num_classes=K, **options)``, plus
    ``input_shape=(C, H, W)`` when its ``__init__`` names it, as for ``model.name=file.py:Net``. The other
    parameters are ``model.*`` options, validated against their type hints like the built-in models'.

    >>> name = user_model(MyNet); vislab.train(model=name, model__width=64)
    """
    if not callable(obj):
        raise UserError(
            f"model must be a registered name, a build(input_shape, num_classes, **options) callable or an "
            f"nn.Module class, not {type(obj).__name__}."
        )
    qual = getattr(obj, "__qualname__", type(obj).__qualname__).replace("<locals>.", "")
    name = "user-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", qual) or "model")
    try:  # the same module.qualname (a notebook cell run again) replaces itself
        register_model(name)(_builder_of(obj, name))
    except ValueError as e:
        raise UserError(
            f"{e} Rename your model, or register it yourself under a name of your choice with "
            f"@vislab.register_model('my-name') and pass model='my-name'."
        ) from None
    return name


def _builder_of(obj: Callable[..., torch.nn.Module], name: str) -> Callable[..., torch.nn.Module]:
    """``obj`` as a registry builder, called as a ``file.py:Net`` reference would be (one convention)."""
    where = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    return user_code.adapt(obj, name, where, user_code.source_files(obj))


# ------------------------------------------------------------------------------------ user data
def _data_name(data: Any) -> str:
    """Register numpy arrays ``(x, y[, class_names])`` or a torch Dataset as in-memory data; its data.name."""
    if isinstance(data, torch.utils.data.Dataset):
        x, y, names = memory.arrays_from_dataset(data)
        return memory.register_arrays(x, y, class_names=names)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y, *rest = data
        return memory.register_arrays(x, y, class_names=rest[0] if rest else None)
    raise UserError(
        f"data must be a dataset name, numpy arrays (x, y) or (x, y, class_names), or a torch Dataset, "
        f"not {type(data).__name__}."
    )


# ------------------------------------------------------------------------------------------ runs
def load_run(path: str | Path) -> Run:
    """Open a run directory written by ``vislab train`` or :func:`train`.

    >>> run = vislab.load_run("runs/cnn"); run.history.tail(3); run.evaluate("test")["acc"]
    """
    return Run(path)


def compare(
    runs: Sequence[Run | str | Path] | Mapping[str, Run | str | Path], reported: dict | None = None
) -> pd.DataFrame:
    """The comparison table of finished runs (columns as results.csv: run, train_acc, val_acc, ...,
    params, best_epoch); a list is named by folder, a mapping by its keys. ``reported``: a suite's
    ``reported:`` block, whose figures join as ``<key>_reported_<source>`` columns (as in results.csv).

    >>> vislab.compare([run_a, "runs/cnn"]).sort_values("val_acc")
    """
    import pandas as pd  # on use (see the imports)

    from vislab.experiments.results.table import columns, table_rows

    named = runs.items() if isinstance(runs, Mapping) else ((None, r) for r in runs)
    summaries: dict[str, dict] = {}
    for name, r in named:
        run = r if isinstance(r, Run) else Run(r)
        s = run.summary
        if not is_complete(s):
            raise UserError(
                f"run '{run.path}' has not finished (no complete summary.json): finish it "
                f"(vislab.train(out=..., resume=True)) or leave it out."
            )
        summaries[name or run.path.name] = s
    return pd.DataFrame(table_rows(summaries, reported), columns=[k for k, _ in columns(reported)])


# ----------------------------------------------------------------------------- suites, sweeps
def _assignments(overrides: Sequence[str] | Mapping[str, Any]) -> list[str]:
    """Overrides as ``key=value`` strings: a mapping's values written as YAML (parsed back as given)."""
    if isinstance(overrides, Mapping):
        return [
            f"{k.replace('__', '.')}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for k, v in overrides.items()
        ]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def report_hook(log: Log) -> Callable[..., None]:
    """What each suite or sweep stage does with its results when asked for a report: report.html."""

    def write(out: Path, study: optuna.Study | None = None) -> None:
        with _optuna_quietly():  # on use (see the imports)
            from vislab.report.build import build_report

        log(f"report: {build_report(out, study=study)}")

    return write


def resolve_suite(name_or_file: str | Path, out: str | Path | None = None) -> tuple[Suite, Path]:
    """The loaded suite and its folder (``out``, default ``runs/suite-<name>``)."""
    from vislab.experiments.suites.spec import load_suite  # on use (see the imports)

    suite = load_suite(name_or_file)
    return suite, Path(out) if out is not None else Path("runs") / f"suite-{suite.name}"


def _seeded_suite(
    name_or_file: str | Path,
    out: str | Path | None,
    overwrite: bool,
    storage: str | None,
    seeds: int | None,
) -> tuple[Suite, Path]:
    """The suite and its folder (started over with ``overwrite``), each run ``seeds`` times (None: as
    the suite in the folder was run, else once)."""
    from vislab.experiments.suites.runner import SuiteState  # on use (see the imports)
    from vislab.experiments.suites.spec import with_seeds

    suite, folder = resolve_suite(name_or_file, out)
    if overwrite:
        start_over(folder, "suite", storage=storage)
    return with_seeds(
        suite, seeds if seeds is not None else SuiteState.read(folder).get("seeds", 1)
    ), folder


def run_suite(
    name_or_file: str | Path,
    *,
    out: str | Path | None = None,
    data: str | None = None,
    epochs: int | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    jobs: int = 1,
    quiet: bool | None = None,
    report: bool = False,
    log: Log = print,
    storage: str | None = None,
    heartbeat: float | None = None,
    heartbeat_lapse: float | None = None,
    overwrite: bool = False,
    seeds: int | None = None,
) -> SuiteResult:
    """Run a built-in suite (``vislab suite`` lists them) or a suite YAML into ``out/<run>`` (default
    ``runs/suite-<name>``): finished runs are skipped, interrupted ones resumed; results.csv/.md, and
    report.html when ``report``. Raises SuiteFailed (after writing the tables) if a run failed. ``overwrite=True``
    deletes an earlier suite in ``out`` first (:func:`start_over`); ``quiet=None``: progress in a notebook only.

    ``seeds``: train each run that many times, ``<run>-s0`` … with train.seed + 0 …, for the tables' mean ± std
    (None: as the suite in ``out`` was run, else once).

    ``storage``: a PostgreSQL URL shared by several machines (or processes) running the same suite: each
    run is claimed by one of them; a claim whose worker sent no heartbeat (every ``heartbeat`` s,
    default 20) for ``heartbeat_lapse`` s (default 90, at least 4 beats) is taken over; the first
    worker to find every run settled writes the tables.

    >>> res = vislab.run_suite("quickstart", epochs=1, overrides={"data.limit": 300})
    >>> res.table[["run", "test_acc"]]; res.runs["cnn"].plot("curves")
    """
    from vislab.experiments.shared.runner import run_shared_suite  # on use (see the imports)
    from vislab.experiments.suites.runner import run_suite as _run_suite
    from vislab.experiments.suites.spec import suite_overrides

    suite, folder = _seeded_suite(name_or_file, out, overwrite, storage, seeds)
    shared = _shared_storage(storage, heartbeat, heartbeat_lapse)
    each = f" × {suite.seeds} seeds" if suite.seeds > 1 else ""
    log(f"suite {suite.name}: {len(suite.runs)} runs{each} → {folder}")
    sets = suite_overrides(data, epochs, _assignments(overrides))
    quiet = not in_notebook() if quiet is None else quiet
    kw = dict(jobs=jobs, quiet=quiet, log=log, on_results=report_hook(log) if report else None)
    if shared is None:
        _run_suite(suite, folder, sets, **kw)
    else:
        run_shared_suite(suite, folder, shared, sets, **kw)
    return _suite_result(suite, folder)


def _suite_result(suite: Suite, folder: Path) -> SuiteResult:
    """The finished runs of ``suite`` in ``folder`` and their table (a seeded suite's: :func:`_seed_table`)."""
    names = suite.run_names()
    done = [name for name in names if is_complete(RunDir(folder / name).read_summary())]
    finished = {name: Run(folder / name) for name in done}
    table = compare(finished, suite.reported) if suite.seeds == 1 else _seed_table(suite, finished)
    return SuiteResult(path=folder, table=table, runs=finished)


def _seed_table(suite: Suite, finished: dict[str, Run]) -> pd.DataFrame:
    """A seeded suite's table as results.csv holds it: a row per suite run, mean, std and N."""
    import pandas as pd  # on use (see the imports)

    from vislab.experiments.results.table import columns, seed_rows, with_std_columns

    summaries = {name: run.summary for name, run in finished.items()}
    rows, cols = with_std_columns(
        seed_rows(summaries, suite.rows(), suite.reported), columns(suite.reported, seeded=True)
    )
    return pd.DataFrame(rows, columns=[k for k, _ in cols]).astype({"seeds": int})


def paper(
    targets: str | Path | Sequence[str | Path],
    *,
    out: str | Path | None = None,
    title: str | None = None,
    pdf: bool = False,
) -> Path:
    """Write a paper folder for a suite folder, a run folder or several run folders (``targets``) into
    ``out`` (default ``<folder>/paper`` for one folder; required for several): every figure of the report
    as vector PDF and 300-dpi PNG sized for a page (3.3 or 6.9 in wide, text ≥ 8 pt), tables.tex (booktabs)
    and tables.md, figures.tex and main.tex; with ``pdf``, main.pdf compiled by latexmk or pdflatex.
    Returns the folder.

    >>> vislab.paper("runs/suite-quickstart", out="paper", pdf=True)
    """
    from vislab.paper_folder.build import write_paper  # on use (see the imports)
    from vislab.paper_folder.latex import compile_pdf

    many = [targets] if isinstance(targets, (str, Path)) else list(targets)
    folder = write_paper(many, out, title).parent
    if pdf:
        compile_pdf(folder)
    return folder


def _shared_storage(
    url: str | None, heartbeat: float | None, lapse: float | None
) -> SharedStorage | None:
    """run_suite's storage options as a SharedStorage (None: this machine alone)."""
    if url is None:
        if heartbeat is not None or lapse is not None:
            raise UserError(
                "--heartbeat and --heartbeat-lapse time the claims of a shared suite: give --storage "
                "postgresql://... too, or leave them out."
            )
        return None
    from vislab.experiments.shared.postgres import SharedStorage  # on use (see the imports)

    return SharedStorage.timed(url, heartbeat, lapse)


def resolve_sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    out: str | Path | None = None,
    overwrite: bool = False,
    storage: str | None = None,
) -> tuple[Sweep, Path]:
    """The loaded sweep and its folder (``out``, default ``runs/sweep-<name>``). A mapping is a sweep spec
    as in a sweep YAML; it is written to ``<folder>/spec.yaml`` and read from there. ``overwrite``: an
    earlier sweep in the folder is deleted (:func:`start_over`, refused with a shared ``storage``); the
    sweep file stays, should it lie there."""
    spec, folder = _load_sweep(spec_or_file, out)
    if overwrite:
        start_over(folder, "sweep", keep=spec.path, storage=storage)
    return spec, folder


def _load_sweep(
    spec_or_file: str | Path | Mapping[str, Any], out: str | Path | None
) -> tuple[Sweep, Path]:
    with _optuna_quietly():  # on use (see the imports)
        from vislab.experiments.sweeps.spec import load_sweep

    if not isinstance(spec_or_file, Mapping):
        spec = load_sweep(spec_or_file)
        return spec, Path(out) if out is not None else Path("runs") / f"sweep-{spec.name}"
    tree = dict(spec_or_file)
    name = str(tree.setdefault("name", "sweep"))
    folder = Path(out) if out is not None else Path("runs") / f"sweep-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    try:
        path.write_text(yaml.safe_dump(tree, sort_keys=False))
    except yaml.YAMLError as e:
        raise UserError(f"the sweep spec holds a value YAML cannot write: {e}") from None
    return load_sweep(path), folder


def sweep(
    spec_or_file: str | Path | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    data: str | None = None,
    epochs: int | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    narrow: int | None = None,
    narrow_trials: int | None = None,
    quiet: bool = True,
    report: bool = False,
    log: Log = print,
    curves: int | None = None,
    overwrite: bool = False,
) -> optuna.Study:
    """Run (or join) an Optuna sweep: a built-in name (``vislab sweep list``), a sweep YAML (vislab's, or a
    Weights & Biases sweep file as it is), or the same mapping (base:, space:, metric:, ...); each trial trains
    ``out/trials/<n>``; the report draws the training curves of the best ``curves`` trials (default: the
    file's ``curves:``, 30). Returns the study. ``overwrite=True``: an earlier sweep in ``out`` is deleted.

    >>> study = vislab.sweep({"base": {"data": {"name": "digits"}, "model": {"name": "mlp"}},
    ...                       "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}},
    ...                      trials=4, epochs=2)
    >>> study.best_params
    """
    from vislab.experiments.suites.spec import suite_overrides  # on use (see the imports)

    with _optuna_quietly():
        from vislab.experiments.sweeps.runner import run_sweep
        from vislab.report.build import build_report

    spec, folder = resolve_sweep(spec_or_file, out, overwrite, storage)
    study = run_sweep(
        spec, folder, trials=trials, timeout=timeout, storage=storage,
        overrides=suite_overrides(data, epochs, _assignments(overrides)), narrow=narrow,
        narrow_trials=narrow_trials, quiet=quiet, log=log,
        on_results=report_hook(log) if report else None, curves=curves,
    )  # fmt: skip
    if narrow and report:  # the first stage's report links to the second's
        build_report(folder, study=study)
    return study
