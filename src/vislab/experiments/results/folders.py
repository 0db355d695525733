"""What runs a folder holds: itself (a run), a suite's runs, a sweep's trials, or the runs at any depth
below it — what a report, a paper and ``vislab compare`` read (no optuna: a sweep is read from its files),
and the one rule naming the runs of several folders given (:func:`runs_of`, :func:`unique_names`); and
what they all say of a run that did not finish, and its fix (:func:`why_unfinished`)."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vislab.config.build import setting, stored_tree
from vislab.errors import ConfigError, UserError, show_note
from vislab.experiments.records import R, SuiteInfo, SweepInfo
from vislab.not_a_run import is_run, runs_below
from vislab.training.rundir import RunDir, folder_kind
from vislab.training.summary import RunSummary

# vislab.models is imported by the functions that use it ("on use" below): it loads torch (seconds), which
# reading runs' results (`vislab compare`, a report's tables) does not need.


def discover(folder: Path) -> tuple[str, dict[str, Path], SuiteInfo | SweepInfo | None]:
    """(kind, {run name: run dir}, info): kind is run | suite | sweep | folder, as
    :func:`~vislab.not_a_run.folder_kind` says (a folder holding a summary.json — a run assembled by
    hand, without its config.yaml — is a run too); info: a suite's suite.json, a sweep's sweep.json
    (empty when a sweep stopped before writing it, or it is damaged: a note names it and its fix), None
    for a run or a folder of runs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"'{folder}' is not a folder: give a run, suite or sweep directory.")
    kind = folder_kind(folder)
    if is_run(folder):
        return "run", {folder.name: folder}, None
    if kind == "sweep":
        info = _info(SweepInfo, folder, f"its trials are read from '{folder / 'trials'}'")
        return "sweep", _trial_folders(folder), info or SweepInfo()
    if kind == "suite":
        state = _info(SuiteInfo, folder, "its runs are read from its sub-folders")
        if state is None:  # damaged: the sub-folders that are runs
            return "suite", _run_folders(folder), SuiteInfo()
        return "suite", {n: folder / n for n in state.order or [] if (folder / n).is_dir()}, state
    runs = runs_below(folder, _runs_of_set, show_note)
    if not runs:
        raise UserError(
            f"'{folder}' holds no runs (no run, suite or sweep folder in it or in any folder below it: "
            f"a run holds config.yaml). Give a run, suite or sweep directory."
        )
    return "folder", runs, None


def _runs_of_set(folder: Path) -> dict[str, Path]:
    """The runs of a suite or sweep folder below a folder of runs, as :func:`discover` names them (a
    suite's in its suite.json's order, a sweep's ``trial-0``), a sweep's narrowed stage's too."""
    return discover(folder)[1] | _narrow_stage(folder)


def _run_folders(folder: Path) -> dict[str, Path]:
    """Every sub-folder of ``folder`` that is a run (:func:`~vislab.not_a_run.is_run`: one assembled by
    hand too), finished or not, so that none is left out silently: a suite's runs when its suite.json is
    damaged."""
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and is_run(p)}


def runs_of(target: Path, key: str | None = None) -> dict[str, Path]:
    """The runs of ``target`` by name, as compare, report and paper name them: a run by ``key``, else by
    its folder (a sweep's trial ``<sweep>/trials/<n>`` as its sweep's table names it, ``trial-<n>``);
    the runs of any other folder (:func:`discover`) by their path below it, prefixed ``key/``. UserError
    for a path that is no folder or holds no run (:func:`discover`)."""
    kind, runs, _ = discover(target)
    if kind == "run":
        return {key or run_name(target.resolve()): target}
    runs |= _narrow_stage(target)
    return {f"{key}/{name}": run for name, run in runs.items()} if key else runs


def _narrow_stage(folder: Path) -> dict[str, Path]:
    """The trials of the narrowed stage of a sweep folder (``DIR/narrow``, ``--narrow``) as
    ``narrow/trial-<n>``; none for another folder."""
    narrow = folder / "narrow"
    if folder_kind(folder) != "sweep" or not narrow.is_dir() or folder_kind(narrow) != "sweep":
        return {}
    return {f"narrow/{name}": run for name, run in discover(narrow)[1].items()}


def run_name(run: Path) -> str:
    """A run given alone is named by its folder; a sweep's trial (``<sweep>/trials/<n>``) as its sweep's
    table names it, ``trial-<n>``."""
    trial = run.parent.name == "trials" and folder_kind(run.parent.parent) == "sweep"
    return f"trial-{run.name}" if trial and run.name.isdigit() else run.name


def keyed(given: Sequence[tuple[str | None, Path]]) -> list[tuple[str | None, Path]]:
    """The key of each target given (None: its own names): with several, each folder of runs (a suite's,
    a sweep's, any other) not named by a mapping is keyed by its own folder's name, so that its runs are
    ``s07/cnn``, ``s07/mlp`` whatever else is given (a mapping's ``key/run``); a run keeps its name."""
    if len(given) < 2:
        return list(given)
    return [(key or (None if is_run(p) else p.resolve().name or str(p)), p) for key, p in given]


def unique_names(found: Sequence[Mapping[str, Path]]) -> dict[str, Path]:
    """Each run of ``found`` (the runs of each target, by name) once, by its resolved folder, in the order
    given; a name two runs share is lengthened by the folders above each (``alice/cnn``, ``bob/cnn``;
    ``a/s07/cnn``, ``b/s07/cnn``) until the names differ."""
    seen: dict[Path, tuple[str, Path]] = {}
    for runs in found:
        for name, folder in runs.items():
            seen.setdefault(folder.resolve(), (name, folder))
    names = {resolved: name for resolved, (name, _) in seen.items()}
    while len(set(names.values())) < len(names):
        counts = Counter(names.values())
        for resolved, name in names.items():
            if counts[name] > 1:
                depth = name.count("/") + 2  # the folder above the name's first part
                above = resolved.parts[-depth] if depth < len(resolved.parts) else ""
                names[resolved] = f"{above}/{name}" if above else str(resolved)  # unique
    return {names[resolved]: folder for resolved, (_, folder) in seen.items()}


def _info(record: type[R], folder: Path, instead: str) -> R | None:
    """``folder``'s suite.json or sweep.json (``record``'s file); an empty record when there is none yet
    (a sweep stopped before writing it); None when it is damaged: a note names it, its fix, and what is
    done ``instead`` ("its runs are read from ...")."""
    try:
        return record.strict(folder) or record()
    except UserError as e:
        show_note(f"{e} Meanwhile {instead} without it.")
        return None


def _trial_folders(folder: Path) -> dict[str, Path]:
    """A sweep folder's trials as its files hold them (no optuna): ``trials/<n>``, by number."""
    trials = folder / "trials"
    numbered = (
        [p for p in trials.iterdir() if p.is_dir() and p.name.isdigit()] if trials.is_dir() else []
    )
    return {f"trial-{p.name}": p for p in sorted(numbered, key=lambda p: int(p.name))}


def figures_fix(summary: dict | None, folder: Path | None) -> str:
    """For a run scored but stopped while its figures were drawn (summary.json's ``figures_missing``):
    which were not drawn and the resume that draws them; else "" (a record of another shape too: a
    suite.json record edited by hand names no figures)."""
    try:
        missing = RunSummary.from_json(summary or {}).figures_missing
    except ValueError:  # a value of another type (RunSummary.from_json): no figures named
        return ""
    if not missing or folder is None:
        return ""
    return (
        f"its scores are kept but these figures were not drawn: {', '.join(missing)}; resuming the run "
        f"draws them: {resume_command(folder)}"
    )


def why_unfinished(record: Mapping[str, Any] | None, folder: Path | None) -> str:
    """Why a run did not finish, and the fix — the one wording of every table, report, paper and suite
    error. ``record``: its summary.json (a row), or a suite's record of its outcome (a
    :class:`~vislab.experiments.records.RunOutcome`'s suite.json object, its ``to_json()``): its
    ``message``, else its status; then, for a run scored but whose figures were cut short, the resume
    that draws them (:func:`figures_fix`), or for a failed or interrupted run whose ``folder`` holds a
    checkpoint to go on from, its resume command (unless the message gives one) — for a failed run of a
    notebook's class, training the fixed class anew first (:func:`_notebook_failed_fix`). No record (no
    summary.json yet): :func:`no_summary_why`."""
    status, message = (record or {}).get("status"), (record or {}).get("message")
    if not record:
        return no_summary_why(folder) if folder is not None else "no summary.json"
    if not status and not message:  # a summary.json without its status (edited by hand)
        return "status unknown (its summary.json names none)"
    said = str(message) if message else f"status {status}"
    fix = figures_fix(dict(record), folder)
    resumable = folder is not None and (folder / "checkpoints" / "last.pt").is_file()
    gives_resume = "--resume" in said or "resume=True" in said  # the message's own way on
    if not fix and status in ("failed", "interrupted") and resumable and not gives_resume:
        fix = (_notebook_failed_fix(folder) if status == "failed" else "") or (
            f"continue it from its last checkpoint: {resume_command(folder)}"
        )
    if not fix and status == "diverged" and not message:
        fix = _diverged_fix(folder)
    return f"{said}; {fix}" if fix else said


def _diverged_fix(folder: Path | None) -> str:
    """What a run whose training loss became NaN/inf (status diverged) needs: a new run with a lower
    optim.lr or a gradient clip (a resume keeps the lr), from its config.yaml where ``folder`` has one
    — in Python's words alone for a model or data given from Python, which no command can rebuild."""
    said = "its training loss became NaN/inf: train it anew with a lower optim.lr (vislab lr-find "
    said += "suggests one) or with train.grad_clip set"
    try:
        tree = stored_tree(folder) if folder is not None else {}
        lr = float(setting(tree, "optim.lr"))
    except (ConfigError, TypeError, ValueError):
        return said
    from vislab.models.objects import python_only  # on use (see the imports)

    lower = f"{lr / 10:.3g}"
    if python_only(str(setting(tree, "model.name", "")), str(setting(tree, "data.name", ""))):
        return f"{said}, e.g. optim__lr={lower} in your vislab.train call, with another out="
    config, out = f"{folder}/config.yaml", f"{folder}-lower-lr"
    return (
        f"{said}, e.g. vislab train --config {shlex.quote(config)} --set optim.lr={lower} --out "
        f"{shlex.quote(out)} (Python: vislab.train({config!r}, optim__lr={lower}, out={out!r}))"
    )


def _notebook_failed_fix(folder: Path) -> str:
    """For a failed run of a model object (``vislab.train(model=Net)``, a notebook's class): train the
    fixed class anew (a run does not resume with a redefined class), resume only with it unchanged;
    else ""."""
    name = _model_name(folder)
    from vislab.models.objects import PREFIX, is_user_object  # on use (see the imports)

    if not (isinstance(name, str) and is_user_object(name)):
        return ""
    attr, out = name[len(PREFIX) :].rpartition(".")[2], str(folder)  # its __name__
    return (
        f"after fixing {attr} (its cell run again), train it anew with vislab.train(model={attr}, ..., "
        f"out={out!r}, overwrite=True) (or another out= to keep this run): a run does not resume with "
        f"a redefined {attr}; with {attr} unchanged (the fault was elsewhere), "
        f"vislab.train(out={out!r}, resume=True) continues it from its last checkpoint"
    )


def resume_command(folder: Path) -> str:
    """How to resume the run in ``folder``, in the command's words and Python's; a run of the user's own
    model code (``model.name=file.py:Net``) with --trust-code, which imports that file as it is now
    (edited since, say, to fix what stopped the run); a run of a model defined in Python (a notebook's
    class: ``vislab.train(model=Net)``, ``@vislab.register_model``), which no command can build, in
    Python's alone, as TrainingInterrupted says it (training/stopping.py: ``raises_its_own``)."""
    from vislab.training.model_checks import raises_its_own, resumed_in_python  # on use (imports)

    name, python = _model_name(folder), f"vislab.train(out={str(folder)!r}, resume=True"
    if isinstance(name, str) and raises_its_own(name):
        return resumed_in_python(f"{python})")
    own = _own_code(folder)
    flag, kw = (" --trust-code", ", trust_code=True") if own else ("", "")
    return f"vislab train --resume {folder}{flag} (Python: {python}{kw}))"


def _own_code(folder: Path) -> bool:
    """Whether the run in ``folder`` trains the user's own model code, as its config.yaml names it."""
    name = _model_name(folder)
    from vislab.models.user import is_user_reference  # on use (see the imports)

    return isinstance(name, str) and is_user_reference(name)


def _model_name(folder: Path) -> object:
    """The model name the config.yaml of the run in ``folder`` gives; None where it cannot be read."""
    try:
        return setting(stored_tree(folder), "model.name")
    except ConfigError:
        return None


def no_summary_why(folder: Path) -> str:
    """Why a run folder has no summary.json yet, and what to do: a live process of this host writing it
    (its lock), or stopped with a last.pt to resume, or its files missing (:func:`_files_missing`:
    metrics.jsonl records epochs, which a run writes after saving last.pt), or stopped before its first
    checkpoint."""
    run = RunDir(folder)
    if (pid := run.live_holder()) is not None:
        return f"no summary.json yet: process {pid} is still training it"
    if (run.ckpt_dir / "last.pt").is_file():
        return f"stopped before writing its summary.json; continue it: {resume_command(folder)}"
    return _files_missing(folder) or (
        "no summary.json and no checkpoint: stopped before its first, or another host is training it; "
        "nothing to resume"
    )


def _files_missing(folder: Path) -> str:
    """Where run ``folder`` has neither summary.json nor checkpoints/last.pt though its metrics.jsonl
    records finished epochs (each saved to last.pt before its row is written): that its files are
    missing (a folder copied in part) and the fix; else ""."""
    try:
        rows = RunDir(folder).read_metrics()
    except UserError:  # a damaged line: nothing said of its epochs
        return ""
    epochs = len(
        {row["epoch"] for row in rows if isinstance(row.get("epoch"), int) and row["epoch"] > 0}
    )
    if not epochs:
        return ""
    return (
        f"its summary.json and checkpoints/last.pt are missing although its metrics.jsonl records "
        f"{epochs} finished epoch{'s' * (epochs != 1)}: its files were lost (a folder copied in part?). "
        + _train_again(folder)
    )


def _train_again(folder: Path) -> str:
    """How to get back the run in ``folder`` whose files were lost: a suite's run by running its suite
    again (which trains such a run anew, its finished runs skipped), a sweep's trial (which its sweep run
    again does not train anew: its study holds its score) in a folder outside the sweep, a run of its own
    from its config.yaml in its place."""
    config, name, parent = folder / "config.yaml", str(folder), folder.parent
    if folder_kind(parent) == "suite":
        info = SuiteInfo.read(parent)
        sets = [*(f" --set {shlex.quote(s)}" for s in info.overrides or ()), *(
            [f" --seeds {info.seeds}"] if info.seeds and info.seeds > 1 else [])]  # fmt: skip
        return (
            f"Copy the whole suite folder again, or run its suite again, which trains this run anew and "
            f"skips its finished runs: vislab suite {shlex.quote(info.source or 'FILE')} --out {parent}"
            f"{''.join(sets)} (Python: the same vislab.run_suite call)"
        )
    if parent.name == "trials" and folder_kind(parent.parent) == "sweep":
        out = f"{parent.parent}-{folder.name}"
        return (
            f"Copy the whole sweep folder again (its sweep run again does not train a finished trial "
            f"anew), or train its config.yaml in a folder outside the sweep: vislab train --config "
            f"{config} --out {out} (Python: vislab.train({str(config)!r}, out={out!r}))"
        )
    return (
        f"Copy the whole run folder again, or train it again from its config.yaml, which replaces it: "
        f"vislab train --config {config} --out {folder} --overwrite (Python: vislab.train("
        f"{str(config)!r}, out={name!r}, overwrite=True))"
    )
