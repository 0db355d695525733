"""``vislab train --nproc N``: the same command under torchrun, one DDP process per device.

Equivalent to ``torchrun --standalone --nproc-per-node N -m vislab train ...`` (single machine; for
several machines call torchrun yourself with its rendezvous options — vislab reads the usual
RANK / WORLD_SIZE / LOCAL_RANK variables either way). Each worker ends without the interpreter's shutdown,
which gloo's threads could abort (``vislab.cli.worker`` says why).

The config is checked once here, before any worker starts (else each rank would print the same error),
and torchrun's own log lines (its OMP_NUM_THREADS banner, "Sending process ... SIGTERM", its failure
table) are kept out of the output: the workers print what went wrong themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

from vislab.config import Config
from vislab.data.sources import require_source
from vislab.errors import RunFailed
from vislab.models import check_model_options
from vislab.training.resume import open_resume
from vislab.training.rundir import RunDir

_TORCHRUN_LOGGERS = ("torch.distributed.run", "torch.distributed.elastic")
# A file rank 0 creates once it has printed its error (vislab.cli's _said_by_rank_0): the launcher then
# prints no other rank's copy of it (torchrun may stop rank 0 before its exit code is seen).
_SAID = "VISLAB_RANK0_SAID"


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
    ``log_dir``, ranks 1.. write their output there (rank 0 speaks for all: they run the same code)."""
    quiet = ",".join(f"{rank}:3" for rank in range(1, nproc))
    logs = ["--log-dir", log_dir, "--redirects", quiet] if log_dir and quiet else []
    return [
        "--standalone",
        "--nproc-per-node",
        str(nproc),
        *logs,
        "-m",
        "vislab",
        *strip_nproc(argv),
    ]


def check_launchable(cfg: Config | None, resume: Path | None = None) -> None:
    """What every rank would check first, checked once (UserError / ConfigError naming the culprit):
    a new run's model options and data source (``cfg`` itself was validated when it was built), or
    that ``resume`` holds a resumable checkpoint (whose model code each rank checks as it loads it)."""
    if resume is not None:
        open_resume(RunDir(resume))
    elif cfg is not None:
        check_model_options(cfg.model.name, cfg.model.kwargs())
        require_source(cfg.data.name)


def launch_torchrun(nproc: int, argv: list[str], run_dir: Path | None = None) -> int:
    """Run ``vislab <argv>`` (minus ``--nproc``) under torch.distributed.run; return the exit code.

    ``run_dir``: a new run's folder when ``argv`` names none, passed to every worker as ``--out`` (each
    would otherwise name its default ``runs/<model>-<data>-<time>`` by its own clock, and two workers
    starting either side of a second would train into two folders).

    When a worker fails, torchrun stops the others; the code returned is the first failing worker's
    (2 for a user error, 130 for an interruption, ...); 128 + N when the launcher itself got signal N
    (Ctrl-C: the workers saved a resumable checkpoint and said so). Rank 0 prints its own error; when another rank
    failed first and rank 0 had none to print, that rank's log is printed here. A worker killed by a
    signal could not say so itself: RunFailed names it.
    """
    with tempfile.TemporaryDirectory(prefix="vislab-torchrun-") as logs:
        try:
            said = Path(logs) / "rank0-said"
            with _quiet_torchrun(nproc, said):
                extra = ["--out", str(run_dir)] if run_dir is not None else []
                run(parse_args(torchrun_args(nproc, [*argv, *extra], logs)))
        except SignalException as e:  # Ctrl-C / SIGTERM: the workers saved last.pt and said so
            return 128 + int(e.sigval)
        except ChildFailedError as e:
            rank, failure = e.get_first_failure()
            if rank != 0 and not said.exists():
                _echo_rank_log(Path(logs), failure.local_rank)
            if failure.exitcode > 0:
                return failure.exitcode
            raise RunFailed(killed_message(rank, nproc, -failure.exitcode)) from None
    sys.stdout.flush()
    return 0


def killed_message(rank: int, nproc: int, signum: int) -> str:
    """What to say of a worker that a signal ended: SIGKILL is what the kernel's out-of-memory killer sends,
    so only it gets the memory hint; any other signal (SIGABRT, SIGSEGV, ...) is a crash of the process."""
    name, stopped = _signal_name(signum), "the other workers were stopped."
    if signum == signal.SIGKILL:
        return (
            f"worker rank {rank} of {nproc} was killed by SIGKILL: most often the system's out-of-memory "
            f"killer (`dmesg` or the system log says). Use a smaller train.batch_size or data.limit, or "
            f"fewer --nproc; {stopped}"
        )
    return f"worker rank {rank} of {nproc} crashed ({name}; its output above says more); {stopped}"


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
    the workers share the cores instead), and the file rank 0 creates once it has printed an error."""
    os.environ[_SAID] = str(said)
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
