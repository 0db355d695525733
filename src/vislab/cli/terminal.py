"""The terminal's look of what the layers below return or report: rich tables of text cells, and the live
bars of training and downloads (:class:`RichDisplay`, installed by ``vislab.cli.main`` through
:func:`vislab.reporting.use_display`); stdout and stderr that never stop a command (:func:`outlets`), and
help that shows no value after a flag (:func:`flags_without_values`)."""

from __future__ import annotations

import contextlib
import errno
import inspect
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vislab.errors import Note
from vislab.reporting import Advance

if TYPE_CHECKING:
    from vislab.experiments.results.table import TextTable


def print_markdown(text: str) -> None:
    """A results table in Markdown (results.md) on stdout, no markup, no colours: in a file or a pipe as it
    is, lines not cut; on a terminal its tables' columns aligned, in blocks as wide as the terminal (each
    repeating the first column, the run), and the text wrapped at words."""
    console = Console(emoji=False)
    if not console.is_terminal:
        console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        return
    lines, table = [], []
    for line in [*text.splitlines(), ""]:  # "": ends a table on the last line
        if line.startswith("|"):
            table.append(line)
            continue
        lines += fit_table(table, console.width) if table else []
        lines.append(line)
        table = []
    console.print("\n".join(lines[:-1]), markup=False, highlight=False, emoji=False)


def print_results(folder: Path) -> None:
    """A suite's (or quickstart's) results.md on stdout (:func:`print_markdown`), if it has one."""
    md = Path(folder) / "results.md"
    if md.is_file():
        print_markdown(md.read_text())


def fit_table(lines: list[str], width: int) -> list[str]:
    """A Markdown pipe table's ``lines`` with aligned columns, in blocks of columns at most ``width``
    characters wide (a blank line between them), each starting with the first column; the lines as they
    are if their rows do not all have as many cells."""
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines]
    if len(rows) < 2 or len({len(r) for r in rows}) > 1:
        return lines
    right = [c.endswith(":") for c in rows[1]]
    sizes = [max(3, *(len(r[j]) for k, r in enumerate(rows) if k != 1)) for j in range(len(right))]
    out: list[str] = []
    for block in column_blocks(sizes, width):
        out += [""] if out else []
        for k, row in enumerate(rows):
            cells = [
                ("-" * (sizes[j] - 1) + (":" if right[j] else "-"))
                if k == 1
                else (row[j].rjust(sizes[j]) if right[j] else row[j].ljust(sizes[j]))
                for j in block
            ]
            out.append("| " + " | ".join(cells) + " |")
    return out


def column_blocks(sizes: list[int], width: int) -> list[list[int]]:
    """The columns of a table whose cells are at most ``sizes`` characters wide, in blocks that each fit
    in ``width`` characters (a column takes its size and 3: its border and a space either side), each
    starting with the first column; a block holds one more column at least, however wide."""
    blocks: list[list[int]] = [[0]]
    for j in range(1, len(sizes)):
        if len(blocks[-1]) > 1 and sum(sizes[i] + 3 for i in [*blocks[-1], j]) + 1 > width:
            blocks.append([0])
        blocks[-1].append(j)
    return blocks


#: the width a table is printed at into a file or a pipe: wide enough for any row, so no cell is cut
WHOLE = 10_000


def print_table(table: TextTable, width: int = WHOLE) -> None:
    """``table`` on stdout; at most ``width`` columns wide when stdout is no terminal (a file, a pipe, a
    test: by default its natural width, names not cut). Its title is a line of its own above it: a
    table's title wraps at the table's width, mid-phrase. A table wider than that (or than the terminal)
    is shown in blocks of columns that fit, each starting with the first column (:func:`column_blocks`);
    a column wider than the whole folds its headers and cells onto more lines, never cuts them short."""
    # emoji off: a name of the user's ('study my:cat: best 5') as typed
    console = Console(emoji=False)
    if not console.is_terminal:
        console = Console(width=width, emoji=False)
    if table.title:
        console.print(table.title, markup=False, highlight=False, soft_wrap=True)
    sizes = [max(len(c) for c in column) for column in zip(table.headers, *table.rows)]
    blocks = column_blocks(sizes, console.width)
    for k, block in enumerate(blocks):
        last = k == len(blocks) - 1
        shown = Table(caption=(table.caption or None) if last else None)
        for j in block:
            shown.add_column(table.headers[j], justify=table.justify[j], overflow="fold")
        for row in table.rows:
            shown.add_row(*(row[j] for j in block))
        console.print(shown)


class RichBar:
    """The trainer's live bar on stderr: description, bar, steps done, time left, loss and accuracy."""

    def __init__(self, console: Console):
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
        )
        self._bar.start()
        self._task = self._bar.add_task(description, total=total, info="")

    def update(self, completed: int, info: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=completed, info=info)

    def restart(self, description: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, description=description, info="")

    def print(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class RichDisplay:
    """rich's bars on an interactive stderr; plain text (the layers' own) anywhere else, or everywhere
    without ``bars`` (``--quiet``)."""

    def __init__(self, bars: bool = True):
        self.bars = bars

    def live_bar(self) -> RichBar | None:
        console = Console(stderr=True, emoji=False)
        return RichBar(console) if self.bars and redraws(console) else None

    @contextlib.contextmanager
    def download_bar(self, name: str, total: int | None, done: int) -> Iterator[Advance]:
        console = Console(stderr=True, emoji=False)
        if not redraws(
            console
        ):  # a log, CI, a test: nothing; a terminal that cannot redraw: a line
            if console.is_terminal:
                size = f" ({total / 1e6:.0f} MB)" if total and total >= 1e6 else ""
                console.print(f"downloading {name}{size}", markup=False, highlight=False)
            yield lambda n: None
            return
        cols = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
        )
        with Progress(*cols, console=console, transient=True) as bar:
            task = bar.add_task(f"downloading {name}", total=total, completed=done)
            yield lambda n: bar.advance(task, n)


def redraws(console: Console) -> bool:
    """Whether ``console`` can redraw a line, as a live bar does: a terminal, not a dumb one (TERM=dumb:
    Emacs's shell, some CI consoles), not a notebook (rich's ``is_interactive``; TTY_INTERACTIVE=0 turns
    it off)."""
    return console.is_interactive


#: a write's errors when its reader is gone: a closed pipe (``vislab eval RUN | head -1``), a terminal hung up
#: (an ssh session dropped)
_READER_GONE = (errno.EPIPE, errno.EIO)


class Outlet:
    """A text stream (stdout, stderr) whose writes never stop a command: once its reader is gone, what is
    written to it is dropped, and a character its encoding lacks (PYTHONIOENCODING=ascii, a cp1252 log) is
    written as "?". Anything else it is asked is the stream's own answer."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:  # nothing of ``text`` was written: encoding comes first
                encoding = self.stream.encoding or "utf-8"
                return self.stream.write(text.encode(encoding, "replace").decode(encoding))
        except OSError as e:
            self._gone(e)
            return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self._gone(e)

    def _gone(self, e: OSError) -> None:
        """After a failed write: the stream's file descriptor on /dev/null when its reader is gone (what
        the stream holds, what it is given next, what a process started later writes go nowhere); any
        other error raised."""
        if e.errno not in _READER_GONE:
            raise e
        with contextlib.suppress(OSError, ValueError):  # io.UnsupportedOperation: no descriptor
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@contextlib.contextmanager
def outlets() -> Iterator[None]:
    """Within: sys.stdout and sys.stderr are :class:`Outlet` s, flushed at the end. A closed pipe (``| head
    -1``, ``| grep -q``) or a character the output's encoding lacks then never stops a command's work, its
    files or its exit code, and Python says nothing of a broken pipe as it exits."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if s is None else Outlet(s) for s in streams)  # None: pythonw
    try:
        yield
    finally:
        for outlet in (sys.stdout, sys.stderr):
            if isinstance(outlet, Outlet):
                outlet.flush()
        sys.stdout, sys.stderr = streams


def flags_without_values() -> None:
    """typer's help shows an option's type after it (``--csv <path>``), a flag's too (``--force <bool>``),
    which reads as if it took a value (``--force true``, refused): a flag shows none."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None:  # another typer: its help as it is
        return

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


@contextlib.contextmanager
def notes_as_lines(err: Console) -> Iterator[None]:
    """Within: a :class:`~vislab.errors.Note` warned by the layers below (e.g. a run used through its
    last.pt) is shown on ``err`` as the command's own ``note:`` line, not in Python's warning format."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def as_note(message, category, filename, lineno, file=None, line=None) -> None:
            if issubclass(category, Note):
                err.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = as_note
        yield


def flow_summaries(group: typer.Typer) -> None:
    """Each command's line in its group's command list: its docstring's first paragraph as one flowing
    text (typer keeps the docstring's line breaks there, which cut a summary mid-sentence)."""
    for info in group.registered_commands:
        text = info.help if info.help is not None else inspect.getdoc(info.callback) or ""
        if info.short_help is None and text:
            info.short_help = " ".join(text.split("\n\n")[0].split())
    for sub in group.registered_groups:
        flow_summaries(sub.typer_instance)
