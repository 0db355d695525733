"""Every error vislab shows a user, in one place; the exit code follows the type.

=========================  ====  ===========================================================
type                       exit  meaning
=========================  ====  ===========================================================
``UserError``              2     the user can fix it: the message names the culprit and the fix
``ConfigError``            2     an invalid configuration key or value (a ``UserError``)
``DataError``              2     missing, corrupt or unreadable data (a ``UserError``)
``TrainingDiverged``       2     the loss became NaN/inf: a setting to change (a ``UserError``)
``RunExists``              2     a new run was asked into a folder that holds one (a ``UserError``)
``UserCodeError``          2     the user's own model code (``model.name=file.py:Net``) is missing or
                                 broken; its own traceback, if any, follows the message (a ``UserError``)
``UntrustedCode``          2     a run's user code was not imported: no ``--trust-code`` and the file
                                 differs from the one the run recorded (a ``UserError``)
``RunFailed``              1     a runtime failure with a message (disk full, some runs failed)
``WriteFailed``            1     a file of the run could not be written (a ``RunFailed``)
``SuiteFailed``            1     some runs of a suite failed, the others finished (a ``RunFailed``)
``TrainingInterrupted``    130   stopped by a signal after saving a resumable checkpoint (a
                                 ``KeyboardInterrupt``, no ``Exception``: ``except Exception`` lets it by)
=========================  ====  ===========================================================

The CLI prints ``str(error)`` (no traceback) and exits with ``error.exit_code``. An ``OSError`` from
writing a file is named with its path and the fix: exit 2 for a path that cannot be written (read-only,
forbidden, a file where a folder should be), 1 for a full disk or an I/O error. Any other exception
is a bug. ``MetricsInputError`` is for callers of the Python API (wrong tensors), not a CLI outcome.
``Note`` is no error but a warning (:func:`show_note`): the CLI shows it as a ``note:`` line.
"""

import contextlib
import os
import sys
import sysconfig
import types
import warnings
from collections.abc import Iterator
from typing import TypeVar


class VislabError(Exception):
    """Base of vislab's errors: a message for a person, and the exit code the CLI returns."""

    exit_code = 1


class UserError(VislabError):
    """A problem with the user's input: the message names the culprit and the fix."""

    exit_code = 2


class ModelNameTaken(UserError, ValueError):
    """``vislab.register_model`` of a name another class or builder holds: a UserError saying how to go
    on, and the ValueError it was before (code catching that still does)."""


class ConfigError(UserError):
    """An invalid configuration key or value."""


class DataError(UserError):
    """Missing, corrupt or unreadable data files."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class RunExists(UserError):
    """A new run was asked into ``path``, which holds one (``checkpoints/last.pt``). The message names the
    ``vislab train`` options; :func:`vislab.train` raises it with its own arguments' names (``message``)."""

    def __init__(self, path: object, message: str | None = None):
        self.path = path
        super().__init__(
            message
            or f"'{path}' already holds a run. Continue it with --resume {path}, start over with "
            f"--overwrite (deletes its files), or choose a new --out."
        )


class UserCodeError(UserError):
    """The user's own model (a ``file.py:attr`` or ``package.module:attr`` reference) cannot be used.

    When the user's code raised, the message ends with a line ``your code raised:`` (a library's model,
    ``timm:…``: ``timm raised:``) followed by the traceback of the user's frames only (vislab's own frames
    are left out).
    """


class UntrustedCode(UserError):
    """A run's model is user code that was not imported: not trusted, and not the file the run recorded."""


class RunFailed(VislabError):
    """A runtime failure the user did not cause by their input (exit 1)."""

    exit_code = 1


class WriteFailed(RunFailed):
    """A file of the run could not be written (disk full, read-only, ...)."""


class SuiteFailed(RunFailed):
    """Some runs of a suite failed (the others finished)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal after writing a resumable checkpoint. Not a VislabError but a
    KeyboardInterrupt, as the Ctrl-C that caused it: ``except Exception`` (a notebook's loop of runs going
    on past a failed one) lets it through, and the loop stops. ``complete``: the signal came as the run
    was scored, which finished first — the run is complete, nothing was stopped (the command line ends 0).
    ``then``: how to go on (a resume command), said after ``message``; ``rerun``: what re-running a suite
    does with the run instead ("resumes it"), which a suite says in place of ``then``."""

    exit_code = 130

    def __init__(
        self, message: str = "", *, complete: bool = False, then: str = "", rerun: str = ""
    ):
        super().__init__(message + then)
        self.complete = complete
        self.what_happened = message
        self.rerun = rerun


class MetricsInputError(ValueError):
    """``compute_metrics`` was given tensors of the wrong shape, type or range."""


class Note(UserWarning):
    """A warning, not an error: something a user should know about what vislab did (the CLI shows it as
    a ``note:`` line; Python's ``warnings`` filters apply)."""


class CheckpointNote(Note):
    """A run used through its last.pt in place of a best.pt it does not have (none yet, or deleted since),
    or a run still training. The message names the file and its epoch."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# the libraries' code: a frame there, between vislab's, is none of the user's (contextlib, torch, ...)
_LIBRARIES = tuple(
    {sysconfig.get_path(k) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)
E = TypeVar("E", bound=BaseException)


def in_users_frames(error: E) -> E:
    """``error`` with its traceback rebuilt of the user's frames alone: those of vislab and of the
    libraries it calls are left out, so a notebook shows the user's line that made the mistake (and any
    frames of the user's code vislab called: a callback, a model — of a notebook, a script or a project
    folder; code installed as a package counts as a library), then the message. Its ``__cause__``
    and ``__context__`` stay as they are. For the public API's boundary
    (:func:`vislab.arguments.users_frames`), which gives it a UserError or a TrainingInterrupted; any
    other exception is a bug and keeps its traceback."""
    kept, tb = [], error.__traceback__
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if not file.startswith((_PACKAGE_DIR, *_LIBRARIES, "<frozen ")):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for tb in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    return error.with_traceback(rebuilt)


def show_note(message: str, category: type[Note] = Note) -> None:
    """Warn ``message`` as a :class:`Note`, placed at the line that called into vislab.

    That is the caller of the outermost vislab frame: a notebook shows the cell's ``vislab.train(...)``
    rather than a line inside vislab (or inside a wrapper such as pydantic's), and ``warnings`` filters
    by module see the user's module. The same note from the same line is shown once, as Python's default
    filter does.
    """
    frame, level, caller = sys._getframe(1), 2, 2  # stacklevel 2: show_note's caller
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            caller = level + 1
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=caller)


@contextlib.contextmanager
def each_note_once() -> Iterator[None]:
    """Within: each :class:`~vislab.errors.Note` shown once, when it first comes: a suite's data gives
    the same note (a data.split drawing from the official test set) for its plan's check, each run on
    it and its report, and Python's own once-per-line filter is reset by every ``catch_warnings`` on the
    way. The filters apply as they were (a note ignored stays unshown)."""
    said: set[tuple[type, str]] = set()
    with warnings.catch_warnings():
        show = warnings.showwarning

        def once(message, category, *args, **kw) -> None:
            key = (category, str(message))
            if not issubclass(category, Note) or key not in said:
                said.add(key)
                show(message, category, *args, **kw)

        warnings.showwarning = once
        yield
