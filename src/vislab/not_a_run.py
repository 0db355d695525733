"""What a path given as a run directory (``vislab.load_run``, ``Run``) is when it is none: a file (a
checkpoint's run named, with how its methods choose that checkpoint), a suite's or sweep's folder (a run
in it named), or some other folder. And what kind of folder vislab wrote (:func:`folder_kind`,
:func:`is_run`) and the runs below a folder (:func:`runs_below`): asked here, below every layer that asks
it (training, experiments, the API), so that all say the same."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from vislab.words import first_few

#: what a run folder holds beside its config.yaml (:func:`folder_kind`)
RUN_MARKS = {"summary.json", "metrics.jsonl", "checkpoints", "figures", ".lock"}


def folder_kind(folder: Path) -> str | None:
    """What vislab wrote ``folder`` as: "run" (config.yaml, alone — a run that stopped before its first
    epoch — or beside one of :data:`RUN_MARKS`), "suite" (suite.json) or "sweep" (sweep.json, or — a
    sweep stopped before it wrote that — its default study.db beside its trials/ folder, which a sweep
    makes first); None for any other folder. A study.db alone is no sweep: ``--storage sqlite:///study.db``
    puts one in whatever folder the command runs from."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if "suite.json" in names:
        return "suite"
    if "sweep.json" in names or ("study.db" in names and (folder / "trials").is_dir()):
        return "sweep"
    if "config.yaml" in names and (names & RUN_MARKS or names == {"config.yaml"}):
        return "run"
    return None


def runs_folder_note(folder: Path) -> str | None:
    """Why ``folder`` is no run but a suite's or sweep's (or another folder of runs), naming a few of its
    runs that the commands taking one run can use (not one assembled by hand); None when it is none of
    them."""
    kind = folder_kind(folder)
    kind = kind if kind in ("suite", "sweep") else None
    runs = sorted(runs_below(folder, hand_made=False).values())
    if kind is None and not runs:
        return None
    what = f"a {kind} folder" if kind else "a folder of runs"
    if not runs:
        return f"'{folder}' is {what}, not a run, and holds no runs yet: give one of its runs once it has some."
    named = first_few([repr(str(r)) for r in runs], 3)
    return f"'{folder}' is {what}, not a run: give one of its runs, e.g. {named}."


def is_run(folder: Path) -> bool:
    """Whether ``folder`` is a run: one :func:`folder_kind` knows, or one assembled by hand (a
    summary.json without its config.yaml), which the tables list too."""
    kind = folder_kind(folder)
    return kind == "run" or (kind is None and (folder / "summary.json").is_file())


def runs_below(
    folder: Path,
    runs_of_set: Callable[[Path], Mapping[str, Path]] | None = None,
    note: Callable[[str], None] | None = None,
    hand_made: bool = True,
) -> dict[str, Path]:
    """The runs at any depth below ``folder`` by their path below it (``alice``, ``bob/cnn``), so that
    none is left out silently: each folder that is a run (:func:`is_run`), the runs of each suite or
    sweep folder — as ``runs_of_set`` names them where given (``vislab compare``'s: ``sw/trial-0``), else
    the runs below it as below any other folder —, and those below any other folder; not a hidden
    folder's (``.git``), and a folder reached again through a link once. ``note`` is told of each folder
    that cannot be read (the runs in it are left out). ``hand_made=False``: only the runs that the
    commands taking one run can use (:func:`folder_kind` "run"), not those assembled by hand."""
    kept = is_run if hand_made else (lambda p: folder_kind(p) == "run")
    return _runs_below(folder, runs_of_set, kept, note or (lambda _: None), set())


def _runs_below(
    folder: Path,
    runs_of_set: Callable[[Path], Mapping[str, Path]] | None,
    kept: Callable[[Path], bool],
    note: Callable[[str], None],
    seen: set[Path],
) -> dict[str, Path]:
    """:func:`runs_below`, ``kept`` telling which runs it lists, ``seen`` holding the folders already
    walked (resolved)."""
    seen.add(folder.resolve())
    found: dict[str, Path] = {}
    for p in _sub_folders(folder, note):
        if (resolved := p.resolve()) in seen:
            continue
        seen.add(resolved)
        if is_run(p):
            if kept(p):
                found[p.name] = p
            continue
        is_set = runs_of_set is not None and folder_kind(p) in ("suite", "sweep")
        inner = runs_of_set(p) if is_set else _runs_below(p, runs_of_set, kept, note, seen)
        found |= {f"{p.name}/{name}": run for name, run in inner.items()}
    return found


def _sub_folders(folder: Path, note: Callable[[str], None]) -> list[Path]:
    """The folders in ``folder`` but hidden ones, by name; none where it cannot be read (``note`` is told:
    the runs in it are left out)."""
    try:  # scandir: a folder of many images is listed without a stat of each
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        return [folder / name for name in sorted(names)]
    except OSError as e:
        note(f"'{folder}' cannot be read ({e.strerror}): any runs in it are left out.")
        return []


#: what to give for a run: the folder it was trained into
_GIVE_A_RUN = (
    "give the folder a run was trained into (`vislab train --out DIR`, `vislab.train(out=DIR)`)."
)


def not_a_run(path: Path) -> str:
    """Why ``path`` (no config.yaml in it) is not a run directory, and what to give instead: a file's
    run (a checkpoint's: the folder above checkpoints/), a suite's or sweep's runs, which lie in it, or
    the runs of another folder of them; or that it does not exist."""
    if not path.exists():
        return f"'{path}' does not exist: {_GIVE_A_RUN}"
    return f"'{path}' is not a vislab run directory {_what_it_is(path)}"


def _what_it_is(path: Path) -> str:
    """:func:`not_a_run`'s words after "is not a vislab run directory"."""
    if path.is_file():
        return _file_is(path)
    kind = folder_kind(path)
    if kind in ("suite", "sweep"):
        runs, table = (path, "results.csv") if kind == "suite" else (path / "trials", "trials.csv")
        holds = f"{kind}.json" if (path / f"{kind}.json").is_file() else "study.db and trials/"
        found = sorted(runs_below(path, hand_made=False).values())
        example = found[0].as_posix() if found else f"{runs.as_posix()}/RUN"
        return (
            f"but a {kind} folder (it holds {holds}): its runs are '{runs.as_posix()}/<run>' and its "
            f"table '{(path / table).as_posix()}'. Give a run, e.g. vislab.load_run('{example}'), or read "
            f"the table with pandas.read_csv."
        )
    runs = sorted(r.as_posix() for r in runs_below(path, hand_made=False).values())
    if runs:
        named = first_few([f"'{r}'" for r in runs], 3)
        return (
            f"but a folder of runs: {named}. Open one, vislab.load_run('{runs[0]}'), or compare them "
            f"all, vislab.compare('{path.as_posix()}')."
        )
    return f"(it holds no config.yaml): {_GIVE_A_RUN}"


def run_of_file(path: Path) -> Path | None:
    """The run that file ``path`` belongs to: a checkpoint's, the folder above its checkpoints/; any other
    file's, the folder it is in; None where that folder is no run (no config.yaml)."""
    run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return run if (run / "config.yaml").is_file() else None


def _file_is(path: Path) -> str:
    """Why file ``path`` is not a run: a run is a folder; a checkpoint's run is the folder above its
    checkpoints/, whose methods choose best.pt or last.pt (``checkpoint=``)."""
    checkpoint = path.parent.name == "checkpoints"
    run = run_of_file(path)
    if run is None:
        return f"but a file: {_GIVE_A_RUN}"
    if not checkpoint:
        return f"but a file of run '{run.as_posix()}': open its folder, vislab.load_run('{run.as_posix()}')."
    which = "'last'" if path.name == "last.pt" else "'best' (the default) or 'last'"
    return (
        f"but a checkpoint file of run '{run.as_posix()}': a Run is a run folder. Open it with "
        f"vislab.load_run('{run.as_posix()}'); its methods choose the checkpoint with checkpoint={which} "
        f"(run.evaluate, predict, predict_files, mistakes, explain, plot, model, export)."
    )
