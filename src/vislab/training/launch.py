"""``vislab train --nproc N``: the same command under torchrun, one DDP process per device.

Equivalent to ``torchrun --standalone --nproc-per-node N -m vislab train ...`` (single machine; for
several machines call torchrun yourself with its rendezvous options — vislab reads the usual
RANK / WORLD_SIZE / LOCAL_RANK variables either way).
"""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run


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


def torchrun_args(nproc: int, argv: list[str]) -> list[str]:
    """torch.distributed.run's command line for ``vislab <argv>`` on ``nproc`` local processes."""
    return ["--standalone", "--nproc-per-node", str(nproc), "-m", "vislab", *strip_nproc(argv)]


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """Run ``vislab <argv>`` (minus ``--nproc``) under torch.distributed.run; return the exit code.

    When a worker fails, torchrun stops the others; the code returned is the first failing worker's
    (2 for a user error, 130 for an interruption, ...), 1 when it was killed by a signal.
    """
    try:
        run(parse_args(torchrun_args(nproc, argv)))
    except ChildFailedError as e:
        _, failure = e.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 1
    sys.stdout.flush()
    return 0
