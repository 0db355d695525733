"""A Ctrl-C that Python swallowed is still a Ctrl-C.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to be. If that is
a finaliser (``__del__``, a weakref callback, a garbage collection), Python prints "Exception ignored"
and carries on, so an early Ctrl-C, pressed while a command imports and builds its run, could let the
whole run train. The command line installs :func:`watch_ctrl_c` first (a suite's worker processes
:func:`remember_ctrl_c`); the training loop asks :func:`take_ctrl_c` when it starts watching for
signals itself (``training.state.StopFlag``), and stops at once, resumably, if a Ctrl-C came before.

A hang-up (SIGHUP: the terminal closed, an ssh session dropped without nohup) stops a command as SIGTERM does
(:func:`hangup_as_term`).

A process vislab starts to work for another (a ``--jobs`` process, a ``--nproc`` rank) asks for a signal
when that parent dies (:func:`on_parent_death`), so that it stops, resumably, instead of training on alone.

A Ctrl-C that stops the import of a module vislab loads on first use (:func:`import_whole`) leaves no
half-imported package behind for the next call to trip on — or, where a package's C extensions had
loaded (torch), says to restart the Python process, the only way on.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.machinery import ExtensionFileLoader
from types import ModuleType
from typing import Any

_seen = False


def _interrupt(signum: int, frame: object) -> None:
    global _seen
    _seen = True
    raise KeyboardInterrupt


@contextmanager
def watch_ctrl_c(last: bool = False) -> Iterator[None]:
    """While inside: Ctrl-C raises KeyboardInterrupt as usual and is also remembered. Main thread only.

    ``last``: the process ends when this block does (the command line's entry point): from its end on a
    Ctrl-C is ignored, not raised — nothing is left to stop. The interpreter's shutdown that follows (a
    second or two freeing torch and matplotlib) would otherwise end a finished command with 130 and no
    word, and a script's ``vislab train ... && vislab eval ...`` would stop there."""
    global _seen
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _seen = False
    old, old_hook = signal.signal(signal.SIGINT, _interrupt), sys.unraisablehook
    sys.unraisablehook = _quiet_ctrl_c(old_hook)
    try:
        yield
    finally:
        # SIG_IGN outlasts the shutdown: Python resets only the handlers that are its own functions
        signal.signal(signal.SIGINT, signal.SIG_IGN if last else old)
        sys.unraisablehook = old_hook
        _seen = False


def _quiet_ctrl_c(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """``hook`` (sys.unraisablehook) but silent for a Ctrl-C raised in a finaliser: no "Exception ignored"
    traceback; it is remembered (:func:`take_ctrl_c`), and the command line ends with it."""

    def quiet(unraisable: Any) -> None:
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):
            hook(unraisable)

    return quiet


def remember_ctrl_c() -> None:
    """In a worker process (a suite's ``--jobs N``): a Ctrl-C raises nothing — the parent stops handing
    out runs — and is remembered, so that a run whose trainer was not yet watching for signals (still
    setting up) stops at its first step instead of training to its end. Main thread only."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _remember)


def _remember(signum: int, frame: object) -> None:
    global _seen
    _seen = True


def take_ctrl_c() -> bool:
    """True once if a Ctrl-C came since :func:`watch_ctrl_c` began (raised, and maybe swallowed)."""
    global _seen
    seen, _seen = _seen, False
    return seen


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def on_parent_death(signum: int) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies, even by SIGKILL (Linux's
    ``prctl(PR_SET_PDEATHSIG)``; 0 switches it off). A no-op where it is not offered: the caller still checks
    ``os.getppid()`` itself, since a parent that died before this call sends nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


@contextmanager
def term_as_ctrl_c() -> Iterator[None]:
    """While inside: SIGTERM (``kill PID``, a job scheduler's stop) is a Ctrl-C: KeyboardInterrupt, and
    remembered (:func:`take_ctrl_c`); a trainer's own handler (``StopFlag``) still takes both. Main
    thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def hangup_as_term() -> Iterator[None]:
    """While inside: SIGHUP is passed on as a SIGTERM to this process, so that whatever stops on SIGTERM
    stops on a hang-up the same way (a training saves a resumable checkpoint and says how to resume).
    Nothing changes where SIGHUP is ignored (``nohup``) or missing (Windows), nor outside the main thread."""
    hangup = getattr(signal, "SIGHUP", None)
    if (
        hangup is None
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(hangup) == signal.SIG_IGN
    ):
        yield
        return
    old = signal.signal(hangup, _as_term)
    try:
        yield
    finally:
        signal.signal(hangup, old)


def _as_term(signum: int, frame: object) -> None:
    os.kill(os.getpid(), signal.SIGTERM)


#: the packages whose import a Ctrl-C stopped after their C extensions had loaded (see import_whole)
_cut_short: list[str] = []
#: packages whose C extensions cannot be initialised twice in a process (torch: "bad call flags"; numpy:
#: "cannot load module more than once"); others' (yaml's _yaml, PIL's) import again once dropped
ONCE_PER_PROCESS = ("torch", "torchvision", "numpy")


def import_whole(module: str, error: Callable[[str], Exception] = RuntimeError) -> ModuleType:
    """``importlib.import_module(module)``, leaving no broken module behind when it fails: a Ctrl-C in
    the first ``vislab.train`` of a notebook stops the imports it loads on use (yaml, pydantic ...)
    half-way, and Python then drops the package whose import stopped but keeps its submodules loaded so
    far — the next import of the package finds them without binding them to it ("partially initialized
    module 'yaml' has no attribute 'error'" in every later call). Those orphans, and any module the
    failure left half-initialised, are dropped too, so the next call imports them afresh.

    A package of :data:`ONCE_PER_PROCESS` whose C extensions had loaded when a Ctrl-C stopped its import
    (torch's ``torch._C``) is kept as it is: such an extension is initialised once per process, and the
    next import of the package would fail in it ("SystemError: ... bad call flags"). ``error`` (vislab's
    callers: UserError) then says to restart the Python process — raised in place of the
    KeyboardInterrupt and by every later import."""
    if _cut_short and module not in sys.modules:
        raise error(_restart(_cut_short[0]))
    before = set(sys.modules)
    try:
        return importlib.import_module(module)
    except BaseException as e:
        broken = [name for name in set(sys.modules) - before if _left_broken(name)]
        kept = _with_extensions(broken) if isinstance(e, KeyboardInterrupt) else set()
        for name in broken:
            if name.partition(".")[0] not in kept:
                sys.modules.pop(name, None)
        if kept:
            _cut_short.extend(sorted(kept - set(_cut_short)))
            raise error(_restart(sorted(kept)[0])) from None
        raise


def _restart(package: str) -> str:
    return f"the import of {package} was interrupted; restart the kernel (or the Python process)."


def _with_extensions(names: list[str]) -> set[str]:
    """The top-level packages of :data:`ONCE_PER_PROCESS` of which ``names`` (modules a failed import
    left) hold a C extension."""
    return {
        name.partition(".")[0]
        for name in names
        if isinstance(getattr(sys.modules[name], "__loader__", None), ExtensionFileLoader)
        and name.partition(".")[0] in ONCE_PER_PROCESS
    }


def _left_broken(name: str) -> bool:
    """Whether module ``name`` is left over from a failed import: a package above it is gone from
    ``sys.modules``, or it is still flagged as being initialised."""
    parts = name.split(".")
    if any(".".join(parts[:i]) not in sys.modules for i in range(1, len(parts))):
        return True
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))
