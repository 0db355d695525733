"""``vislab train --nproc N``: the same command under torchrun, one DDP process per device.

Equivalent to ``torchrun --standalone --nproc-per-node N -m vislab train ...`` (single machine; for
several machines call torchrun yourself with its rendezvous options — vislab reads the usual
RANK / WORLD_SIZE / LOCAL_RANK variables either way). Each worker ends without the interpreter's shutdown,
which gloo's threads could abort (``vislab.cli.worker`` says why).

The config is checked once here, before any worker starts (else each rank would print the same error),
and torchrun's own log lines (its OMP_NUM_THREADS banner, "Sending process ... SIGTERM", its failure
table) are kept out of the output: the workers print what went wrong themselves. Rank 0 writes to the
terminal, ranks 1.. into log files, shown when one of them failed first (``run``), in a temporary folder
that the next launch sweeps if this one was killed (``_log_folder``). More processes than the GPUs a CUDA
run would use are refused before any starts (``check_gpu_count``). The workers end with the launcher:
killed (SIGKILL too), it leaves none training on (``end_with_launcher``). Workers that ended early leave
a summary.json saying "interrupted" (a signal) or "failed" (an error) even where rank 0 could not write it
(``summarise_stopped``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs, SignalException, Std
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
from torch.distributed.launcher.api import elastic_launch
from torch.distributed.run import config_from_args, parse_args

from vislab.config import Config
from vislab.config.build import setting
from vislab.data.sources import require_source
from vislab.errors import DataError, RunFailed, UserError
from vislab.interrupts import on_parent_death
from vislab.models import check_model_options
from vislab.training.checkpoint import load_checkpoint
from vislab.training.folder_lock import pid_alive
from vislab.training.resume import open_resume, resumable
from vislab.training.rundir import RunDir, resume_command
from vislab.training.state import LoopState, Saved
from vislab.training.stopped_record import write_stopped_summary
from vislab.training.summary import RunSummary

_TORCHRUN_LOGGERS = ("torch.distributed.run", "torch.distributed.elastic")
# A file rank 0 writes once it has printed its error (vislab.cli.worker.record_said): the launcher then prints
# no other rank's log (torchrun may stop rank 0 before its exit code is seen), nor do the other ranks the same.
_SAID = "VISLAB_RANK0_SAID"
# The launcher's pid, in its workers' environment: each ends (as on SIGTERM) when its parent is no longer it.
_LAUNCHER = "VISLAB_LAUNCHER_PID"
# The start of the name of a launcher's temporary folder: <prefix><pid>-<host>-<random> (``_log_folder``)
_LOGS = "vislab-torchrun-"


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N`` (the workers must not relaunch themselves)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def torchrun_args(nproc: int, argv: list[str], log_dir: str | None = None) -> list[str]:
    """torch.distributed.run's command line for ``vislab <argv>`` on ``nproc`` local processes; with
    ``log_dir``, ranks 1.. write their output there (``run``)."""
    logs = ["--log-dir", log_dir] if log_dir else []
    return [
        "--standalone",
        "--nproc-per-node",
        str(nproc),
        *logs,
        "-m",
        "vislab",
        *strip_nproc(argv),
    ]


def run(args: Namespace) -> None:
    """torch.distributed.run's ``run(args)`` with ranks 1.. writing their output into ``args.log_dir`` and
    rank 0 to the terminal (it speaks for all: they run the same code). torchrun's ``--redirects`` spells
    that per rank for ranks 0-9 only (``--nproc 11`` failed on it); ``--tee`` would take rank 0's terminal
    (its live bar) and ``--local-ranks-filter`` drops the others' output (an error of their own with it)."""
    if args.standalone:  # what --standalone means (torchrun's docs): c10d rendezvous on a free port
        args.rdzv_backend, args.rdzv_endpoint = "c10d", "localhost:0"
        args.rdzv_id = str(uuid.uuid4())
    config, entrypoint, script_args = config_from_args(args)
    if args.log_dir:
        ranks = range(1, config.nproc_per_node)
        config.logs_specs = DefaultLogsSpecs(args.log_dir, redirects=dict.fromkeys(ranks, Std.ALL))
    elastic_launch(config, entrypoint)(*script_args)


def check_launchable(
    cfg: Config | None, resume: Path | None = None, nproc: int | None = None
) -> str:
    """What every rank would check first, checked once (UserError / ConfigError naming the culprit):
    a new run's model options and data source (``cfg`` itself was validated when it was built), or
    that ``resume`` holds a resumable checkpoint (whose model code each rank checks as it loads it) for
    ``nproc`` processes (None: left to the ranks, which each know their number). Returns the run's
    ``train.device``."""
    if resume is not None:
        run = RunDir(resume)
        ckpt = resumable(run) if nproc is None else open_resume(run, nproc)
        # the stored tree, unvalidated: a key it lacks (an old or hand-edited file) is at its default
        return str(setting(ckpt.record.config, "train.device", "auto"))
    if cfg is None:
        return "auto"
    check_model_options(cfg.model.name, cfg.model.kwargs())
    require_source(cfg.data.name)
    return cfg.train.device


def crowded_note(nproc: int, device: str) -> str | None:
    """A ``note:`` for more processes than CPU cores (``device``: ``train.device``): they take turns, and
    the run is slower than with one per core. None when they fit the cores, or train on GPUs."""
    cores = os.cpu_count() or 1
    if nproc <= cores or device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return None
    return (
        f"--nproc {nproc} starts {nproc} processes on the CPU's {cores} cores: they take turns, so "
        f"the run is slower than with --nproc {cores} (one per core), and each holds its own copy of "
        f"the data and model."
    )


def check_gpu_count(nproc: int, device: str) -> None:
    """UserError when ``nproc`` processes would train on CUDA (``train.device`` cuda, or auto with a GPU)
    and fewer GPUs are visible: each takes GPU number LOCAL_RANK (NCCL cannot share one between two), so
    every process beyond the count would fail on its own CUDA error. ``cuda`` without any GPU is left to
    the processes (each says so, once)."""
    if device == "cpu" or not torch.cuda.is_available():
        return
    count = torch.cuda.device_count()
    if nproc <= count:
        return
    gpus = f"{count} GPU{'' if count == 1 else 's'}"
    raise UserError(
        f"--nproc {nproc} starts {nproc} processes on CUDA, one GPU each, but this machine has {gpus} "
        f"(torch.cuda.device_count() = {count}; CUDA_VISIBLE_DEVICES decides which are seen). Use "
        f"--nproc {count} or fewer, or run the {nproc} processes on the CPU, which gloo connects: "
        f"--set train.device=cpu (a new run, or with --resume)."
    )


def launch_torchrun(
    nproc: int, argv: list[str], run_dir: Path | None = None, folder: Path | None = None
) -> int:
    """Run ``vislab <argv>`` (minus ``--nproc``) under torch.distributed.run; return the exit code.

    ``run_dir``: a new run's folder when ``argv`` names none, passed to every worker as ``--out`` (each
    would otherwise name its default ``runs/<model>-<data>-<time>`` by its own clock, and two workers
    starting either side of a second would train into two folders). ``folder``: the run's folder when
    ``argv`` names it (``--out``, ``--resume``), for the resume command a killed worker's message gives.

    When a worker fails, torchrun stops the others (and the run's summary.json says where it stopped even
    if no rank could write it: ``summarise_stopped``); the code returned is the failing worker's (2 for a
    user error, 130 for an interruption, ...: ``_cause``); 130 when the launcher itself got a signal
    (Ctrl-C, SIGTERM: the workers saved a resumable checkpoint and said so). Rank 0 prints its own error;
    when another rank failed first and rank 0 had none to print (or only its own stop), that rank's log
    is printed here (``_said_why``). A
    worker killed by a signal could not say so itself: RunFailed names it, and the resume command.
    """
    with _log_folder() as logs:
        try:
            said = Path(logs) / "rank0-said"
            with _quiet_torchrun(nproc, said):
                extra = ["--out", str(run_dir)] if run_dir is not None else []
                run(parse_args(torchrun_args(nproc, [*argv, *extra], logs)))
        except SignalException:  # the workers got it too: they saved last.pt and said so
            summarise_stopped(folder or run_dir)
            return 130  # an interrupted run, whichever the signal (TrainingInterrupted's code)
        except ChildFailedError as e:
            rank, failure = _cause(e)
            status = stopped_as(failure.exitcode)
            summarise_stopped(folder or run_dir, status)
            if rank != 0 and not _said_why(said, status):
                _echo_rank_log(Path(logs), failure.local_rank)
            if failure.exitcode > 0:
                return failure.exitcode
            message = killed_message(rank, nproc, -failure.exitcode, folder or run_dir)
            raise RunFailed(message) from None
    sys.stdout.flush()
    return 0


def _said_why(said: Path, status: str) -> bool:
    """Whether rank 0 printed why the run ended (its mark ``said``, ``worker.record_said``): any error of its
    own, but for a ``status`` "failed" not an interruption — the SIGTERM torchrun stops it with when
    another rank failed, whose error is then the one to show."""
    try:
        gist = said.read_text()
    except OSError:
        return False
    return status != "failed" or gist != "interrupted"


@contextlib.contextmanager
def _log_folder() -> Iterator[str]:
    """A temporary folder for the ranks' logs and rank 0's mark, named by this launcher's pid and host and
    removed at the end; a launcher killed outright (SIGKILL: nothing of its own runs) leaves it behind, so
    each launch first removes those whose launcher is gone (``_sweep_logs``). Not in the run's folder: the
    launcher runs before any rank has checked that folder (a file, unwritable, another run's), and a run
    that fails to start leaves no folder it created (``RunDir.close``)."""
    _sweep_logs()
    prefix = f"{_LOGS}{os.getpid()}-{socket.gethostname()}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as logs:
        yield logs


def _sweep_logs() -> None:
    """Remove this user's log folders of launchers of this host that are no longer running."""
    host, uid = socket.gethostname(), getattr(os, "getuid", lambda: None)()
    for folder in Path(tempfile.gettempdir()).glob(f"{_LOGS}*"):
        pid, _, rest = folder.name[len(_LOGS) :].partition("-")
        if not (pid.isdigit() and rest.startswith(f"{host}-")) or pid_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            mine = uid is None or folder.stat().st_uid == uid
            if mine and folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)


def _cause(e: ChildFailedError) -> tuple[int, ProcessFailure]:
    """The rank whose end to report, and its failure: the first, by time. torchrun also lists the workers
    that ended because of it (those it stopped: SIGTERM; one whose peer died: 130, ``vislab.cli.main``),
    and its timestamps count whole seconds: within one, a signal that killed a worker (SIGKILL, SIGSEGV,
    ...) comes first, then an error's exit code, then an interruption, then torchrun's own SIGTERM."""

    def when(item: tuple[int, ProcessFailure]) -> tuple[int, int]:
        code = item[1].exitcode
        kind = 3 if code == -signal.SIGTERM else 2 if code == 130 else 1 if code > 0 else 0
        return item[1].timestamp, kind

    return min(e.failures.items(), key=when)


def killed_message(rank: int, nproc: int, signum: int, folder: Path | None = None) -> str:
    """What to say of a worker that a signal ended: SIGKILL is what the kernel's out-of-memory killer sends,
    so only it gets the memory hint; any other signal (SIGABRT, SIGSEGV, ...) is a crash of the process.
    With the run's ``folder``: what it kept, and the command that resumes it."""
    name, stopped = _signal_name(signum), "the other workers were stopped."
    kept = f" {_what_was_kept(folder, nproc)}" if folder is not None else ""
    if signum == signal.SIGKILL:
        return (
            f"worker rank {rank} of {nproc} was killed by SIGKILL: most often the system's out-of-memory "
            f"killer (`dmesg` or the system log says); {stopped}{kept} To need less memory, use a smaller "
            f"train.batch_size or data.limit, or fewer --nproc."
        )
    return f"worker rank {rank} of {nproc} crashed ({name}; its output above says more); {stopped}{kept}"


def _what_was_kept(folder: Path, nproc: int) -> str:
    """A data-parallel run stopped: it keeps its last epoch end's ``last.pt`` (``stop_resumably``)."""
    if (folder / "checkpoints" / "last.pt").is_file():
        return f"The run keeps its last epoch end: resume it with: {resume_command(folder, nproc)}."
    return f"No epoch had finished, so {folder} holds nothing to resume: start the run again."


def stopped_as(exitcode: int) -> str:
    """The summary.json status of a run whose first worker to end ended with ``exitcode`` (``_cause``):
    "interrupted" for 130 (a signal it honoured, saving what it could) or a kill by a signal (negative:
    ``killed_message``); "failed" for any other code, as one process records an error of the user's
    code (``stopping._stopped_by_code``)."""
    return "interrupted" if exitcode == 130 or exitcode < 0 else "failed"


def summarise_stopped(folder: Path | None, status: str = "interrupted") -> None:
    """After the workers ended early (torchrun has stopped them all): the run in ``folder`` (None: the
    launcher knows no folder) gets the summary.json with ``status`` (``stopped_as``) that rank 0 writes
    as it stops (``stopped_record.mark``), at where its ``last.pt`` stands, where rank 0 wrote none — killed, or
    stuck in a collective until torchrun's SIGKILL — or where the one there is not about this end
    (``_stale``); a failure also turns rank 0's "interrupted" (it saw only its peer end) into "failed".
    A folder where no run started (no config.yaml), whose last.pt cannot be read (where it stopped is
    unknown) or that cannot be written is left as it is."""
    if folder is None or not (folder / "config.yaml").is_file():
        return
    run = RunDir(folder)
    loop = _where_it_stopped(run)
    if loop is None:
        return
    summary = run.read_summary()
    with contextlib.suppress(OSError):
        if _stale(summary, loop):
            write_stopped_summary(run, loop, status, Saved.of(loop))
        elif summary is not None and status == "failed" and summary.status == "interrupted":
            # what rank 0 wrote is kept (a stop in the final scoring keeps its scores)
            run.write_summary(summary.replace(status=status))


def _where_it_stopped(run: RunDir) -> LoopState | None:
    """The loop state of ``run``'s ``last.pt`` (none yet: no epoch had finished); None when it cannot be
    read or is no resumable checkpoint."""
    last = run.ckpt_dir / "last.pt"
    if not last.is_file():
        return LoopState()
    try:
        resume = load_checkpoint(last, fix="").resume
    except DataError:
        return None
    return resume.loop if resume is not None else None


def _stale(summary: RunSummary | None, loop: LoopState) -> bool:
    """Whether a run's summary.json (None: absent or unreadable) is not its word on a stop at ``loop``:
    none, or written before a ``--resume`` that got further (a summary's last word —
    complete, interrupted, failed, ... — at last.pt's epoch and step is kept)."""
    if summary is None:
        return True
    if summary.epochs_run is None:
        return True
    return (summary.epochs_run, summary.step or 0) < (loop.epoch, loop.step)


def end_with_launcher() -> None:
    """In a ``--nproc`` worker: stop as on SIGTERM (saving what it can) when the launcher, its parent, dies,
    even of a SIGKILL, which it could not pass on, instead of training on unseen. Linux sends SIGHUP then
    (prctl's parent-death signal), once per thread of the launcher that ends: ``_launcher_died`` turns the
    first into one SIGTERM. A launcher already gone gets the same at once. A no-op elsewhere."""
    launcher = os.environ.pop(_LAUNCHER, None)  # for this process only, not for what it starts
    if launcher is None or not sys.platform.startswith("linux"):
        return
    signal.signal(signal.SIGHUP, _launcher_died)
    on_parent_death(signal.SIGHUP)
    if os.getppid() != int(launcher):  # it died before the request: no signal will come
        _launcher_died()


def _launcher_died(*_: object) -> None:
    """SIGTERM to this process, once (further parent-death signals switched off)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    on_parent_death(0)
    os.kill(os.getpid(), signal.SIGTERM)


def _echo_rank_log(logs: Path, local_rank: int) -> None:
    """The end of a worker's stderr, as torchrun saved it under ``logs``, on this process's stderr."""
    for path in sorted(logs.glob(f"*/attempt_*/{local_rank}/stderr.log")):
        with contextlib.suppress(OSError):
            sys.stderr.write("".join(path.read_text().splitlines(keepends=True)[-40:]))


def _signal_name(number: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(number).name
    return f"signal {number}"


@contextlib.contextmanager
def _quiet_torchrun(nproc: int, said: Path) -> Iterator[None]:
    """For the launch: torchrun's loggers at CRITICAL (the workers report their own errors),
    OMP_NUM_THREADS set when unset (torchrun would set 1 thread per worker and announce it in a banner;
    the workers share the cores instead), the file rank 0 creates once it has printed an error, and the
    launcher's pid (``end_with_launcher``)."""
    os.environ[_SAID], os.environ[_LAUNCHER] = str(said), str(os.getpid())
    names = [n for n in logging.root.manager.loggerDict if n.startswith(_TORCHRUN_LOGGERS)]
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    threads_set = "OMP_NUM_THREADS" not in os.environ
    if threads_set:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if threads_set:
            os.environ.pop("OMP_NUM_THREADS", None)
        os.environ.pop(_SAID, None)
        os.environ.pop(_LAUNCHER, None)
