"""matplotlib without a display (Agg), and the one helper that writes a figure to a PNG (or, inside
:func:`captured_figures`, hands it to the caller instead: the paper redraws the report's figures for a
page); :func:`draw_once` draws a picture only where no file holds it yet (a report takes a run's own,
or keeps its earlier build's)."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure
from PIL import Image

if "ipykernel" not in sys.modules:  # a notebook keeps its inline backend; elsewhere files only
    matplotlib.use("Agg")  # no display is needed (or wanted) on a server
import matplotlib.pyplot as plt  # noqa: E402

from vislab.errors import show_note  # noqa: E402
from vislab.version import __version__  # noqa: E402

__all__ = [
    "NotebookFigure", "captured_figures", "cut_middle", "draw_once", "drawn_figure", "figure_key",
    "fit_name", "holds", "key_in", "literal", "plt", "save_figure",
]  # fmt: skip
_CAPTURED: ContextVar[list[Figure] | None] = ContextVar("captured_figures", default=None)
# the PNG text chunk naming what a figure was drawn from (:func:`figure_key`), which :func:`draw_once` reads
FIGURE_KEY = "vislab-figure"
_KEY: ContextVar[str | None] = ContextVar("figure_key", default=None)

# matplotlib's warning for a character its font cannot draw (a class named 猫), once per text it lays out
_GLYPH = re.compile(r"Glyph (\d+) .*missing from font\(s\) (.+?)\.?$")
# its raw form (a source line of vislab under it) is never shown for vislab's own drawing: the figure
# writer says it once as a note (:func:`_glyph_notes`), the paper in its own notes
warnings.filterwarnings("ignore", _GLYPH.pattern, UserWarning, r"vislab(\.|$)")
_NOTED: set[str] = set()  # the characters a note has named in this process
# where a name may break between lines: after a space, an underscore, a hyphen or a slash (kept on the line)
_BREAKS = re.compile(r"(?<=[ _/-])")


class NotebookFigure(Figure):
    """A Figure outside pyplot (nothing shown or kept open behind the caller's back) that a notebook shows
    as a PNG (IPython's ``_repr_png_``), whether or not pyplot's inline backend was ever started: as a
    cell's last value or by ``display(fig)``, not by ``plt.show()``; ``fig.savefig`` saves it, not
    ``plt.savefig`` (pyplot's functions act on pyplot's own current figure); ``fig.show()`` displays it
    in a notebook too (matplotlib's own works only for pyplot's figures)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with _glyph_notes():
            self.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        return buf.getvalue()

    def show(self, warn: bool = True) -> None:
        """Display the figure in the notebook's cell output, as ``display(fig)`` does. Outside a notebook
        nothing can show it: a note says so (unless not ``warn``) and how to see it, a saved file."""
        shell = getattr(builtins, "get_ipython", lambda: None)()
        # a notebook's kernel (Jupyter, Colab, VS Code): a terminal's IPython has none
        if getattr(shell, "kernel", None) is not None:
            from IPython.display import display  # on use: a kernel has IPython loaded

            display(self)
        elif warn:
            show_note(
                "fig.show() displays a figure in a notebook only; here nothing shows it. Save it "
                "and open the file: fig.savefig('figure.png')"
            )


@contextlib.contextmanager
def _glyph_notes() -> Iterator[None]:
    """Within: matplotlib's warnings about characters its font lacks become one note (per character,
    per process) that says what the figure shows for them and how to draw them; other warnings pass."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing: dict[str, str] = {}  # character → the font that lacks it
    for w in caught:
        if (m := _GLYPH.match(str(w.message))) and issubclass(w.category, UserWarning):
            missing.setdefault(chr(int(m[1])), m[2])
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    new = [c for c in missing if c not in _NOTED]
    if new:
        _NOTED.update(new)
        chars = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in new)
        it = "it" if len(new) == 1 else "them"
        show_note(
            f"the figures draw {chars} as an empty box: matplotlib's font "
            f"({', '.join(sorted({missing[c] for c in new}))}) has no glyph for {it}. To draw {it}, "
            "install a font that has them (e.g. Noto Sans CJK) and name it first in matplotlib's "
            "font.sans-serif (matplotlibrc), or use Latin letters in class and run names"
        )


def literal(text: object) -> str:
    """``text`` (a class or run name) drawn as written: matplotlib reads a text between two $ as
    mathtext ("a$x^2$b" would show "ax²b"), an escaped one as a $."""
    return str(text).replace("$", r"\$")


def fit_name(name: str, chars: int, lines: int = 2) -> str:
    """``name`` (a class name, a title's line) on at most ``lines`` lines of at most ``chars`` characters:
    broken after spaces, underscores, hyphens and slashes; else its words (between spaces) one a line, each
    cut in the middle (:func:`cut_middle`); else cut in the middle on one line. A cut keeps a name's start
    and its end, the part that tells long_class_name_1 from long_class_name_7."""
    packed = _packed(_BREAKS.split(name), chars)
    if len(packed) <= lines and all(len(line) <= chars for line in packed):
        return "\n".join(packed)
    words = _packed([cut_middle(w, chars) + " " for w in name.split()], chars)
    return "\n".join(words) if len(words) <= lines else cut_middle(name, chars)


def _packed(parts: list[str], chars: int) -> list[str]:
    """``parts`` joined into lines of at most ``chars`` characters where they fit (a longer part alone on
    its line), the spaces at a line's ends dropped."""
    out: list[str] = []
    for part in filter(None, parts):
        if out and len((out[-1] + part).rstrip()) <= chars:
            out[-1] += part
        else:
            out.append(part)
    return [line.strip() for line in out]


def cut_middle(name: str, chars: int) -> str:
    """``name`` cut to ``chars`` characters in the middle, an ellipsis there: its start and its end (a
    class's number, a file's extension) stay."""
    if len(name) <= chars:
        return name
    tail = (chars + 1) // 2  # the end's half the larger: what tells numbered names apart
    return name[: chars - 1 - tail] + "…" + name[len(name) - tail :]


def save_figure(fig, path: str | Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (parent folders created), close it, and return the path.

    ``tight`` crops the saved image to what is drawn (``bbox_inches="tight"``). Inside
    :func:`captured_figures` nothing is written: the figure is kept, open, for the caller."""
    path = Path(path)
    if (captured := _CAPTURED.get()) is not None:
        captured.append(fig)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _KEY.get() if path.suffix.lower() == ".png" else None
    with _glyph_notes(), _naming(path):
        fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None,
                    metadata={FIGURE_KEY: key} if key else None)  # fmt: skip
    plt.close(fig)
    return path


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An OSError within that names no file names ``path``: Pillow's close of a PNG on a full disk
    raises one without (``[Errno 28] No space left on device``), and the command's message then could
    not say which file was not written."""
    try:
        yield
    except OSError as e:
        if e.filename is not None:
            raise
        raise OSError(e.errno, e.strerror, str(path)) from e


@contextlib.contextmanager
def captured_figures() -> Iterator[list[Figure]]:
    """While the block runs, :func:`save_figure` writes no file: it appends each figure to the list
    yielded (the caller saves them as it needs, then closes them with ``plt.close``)."""
    figures: list[Figure] = []
    token = _CAPTURED.set(figures)
    try:
        yield figures
    finally:
        _CAPTURED.reset(token)


def drawn_figure(draw: Callable[[Path], object]) -> Figure:
    """The one figure ``draw(path)`` saves through :func:`save_figure`, handed back unwritten and let go
    by pyplot: what the Python API returns for a figure a command saves (one drawing function for both).

    >>> drawn_figure(lambda path: plot_image_grid(rows, path))
    """
    with captured_figures() as drawn:
        draw(Path("unwritten.png"))
    for fig in drawn:
        plt.close(fig)
    [fig] = drawn  # each plot_* function saves one figure
    return fig


def figure_key(fn: Callable, *args, **kw) -> str | None:
    """What ``fn(*args, path=..., **kw)`` draws, as a hash: the function, its arguments (defaults filled
    in; not ``path``; each as :func:`_plain` gives it; a mapping's order kept, as it may decide the
    runs' colours), the vislab and matplotlib versions that draw it and matplotlib's style
    (:func:`_style`). None when an argument is no plain value (a function, a bare model): that picture
    is always drawn."""
    try:
        bound = inspect.signature(fn).bind(*args, path=None, **kw)
        bound.apply_defaults()
        what = {k: v for k, v in bound.arguments.items() if k != "path"}
        drawer = f"{fn.__module__}.{fn.__qualname__}"
        text = json.dumps(
            [drawer, __version__, matplotlib.__version__, _style(), what], default=_plain
        )
    except (TypeError, ValueError):
        return None
    return hashlib.sha1(text.encode()).hexdigest()


# rcParams that change no saved figure: the backend and the interactive mode (a notebook's differ), the
# GUI's keys, toolbar and save dialog's folder
_NOT_DRAWN = ("backend", "interactive", "keymap.", "toolbar", "webagg.", "savefig.directory")


def _style() -> str:
    """matplotlib's settings (``rcParams``: a matplotlibrc, ``plt.style.use``; the backend left out, a
    notebook's differs but draws the same file) and the font files it found, as a hash: a figure drawn
    in another style or with another font installed is drawn again."""
    params = sorted(
        (k, str(v)) for k, v in matplotlib.rcParams.items() if not k.startswith(_NOT_DRAWN)
    )
    fonts = sorted(f.fname for f in font_manager.fontManager.ttflist)
    return hashlib.sha1(repr([params, fonts]).encode()).hexdigest()


def _plain(value: object) -> object:
    """A value as JSON takes it, for :func:`figure_key`: an object that says what it stands for in a
    figure's key (a run's model: its files) by its ``figure_input()``; an array (numpy, torch) as its
    dtype, shape and the sha1 of its bytes (a large one costs no list of numbers; an array of objects:
    its list); a number of one as a number; a path as text; a dataclass (a data set) by its fields, a
    pydantic model (a config section) by its JSON dump. TypeError for anything else."""
    if callable(getattr(value, "figure_input", None)):
        return value.figure_input()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.dtype != object:
        digest = hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()
        return {"dtype": str(value.dtype), "shape": list(value.shape), "sha1": digest}
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return {"dtype": str(value.dtype), "values": value.tolist()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"type": type(value).__qualname__, **fields}
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return {"type": type(value).__qualname__, **value.model_dump(mode="json")}
    raise TypeError(f"{type(value).__name__} is no plain value")


def key_in(path: Path) -> str | None:
    """The :func:`figure_key` a PNG written by :func:`draw_once` carries (None: none, or no PNG there)."""
    try:
        with Image.open(path) as image:
            return image.info.get(FIGURE_KEY)
    except (OSError, ValueError):
        return None


def holds(path: Path, key: str | None) -> bool:
    """Whether the file ``path`` holds the picture of ``key`` (:func:`figure_key`; None: no picture is
    ever taken as it is) and may be taken as it is: not inside :func:`captured_figures`, which draws."""
    return key is not None and _CAPTURED.get() is None and key_in(path) == key


def draw_once(
    fn: Callable,
    *args,
    path: Path,
    drawn: Path | Sequence[Path] | None = None,
    **kw,
) -> Path:
    """``fn(*args, path=path, **kw)``'s picture at ``path``, drawn once: a copy of the first file of
    ``drawn`` (a report's earlier figure, a run's own) that holds this very picture — its key
    (:func:`figure_key`) the one of these arguments, so a file drawn from other data (stale), in another
    style or by another version is never taken — else drawn, the key written into the PNG. Inside
    :func:`captured_figures`: drawn."""
    key = figure_key(fn, *args, **kw)
    files = [drawn] if isinstance(drawn, (str, Path)) else list(drawn or ())
    for file in files:
        if holds(file, key):
            if Path(file).resolve() != Path(path).resolve():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, path)
            return Path(path)
    token = _KEY.set(key)
    try:
        fn(*args, path=path, **kw)
    finally:
        _KEY.reset(token)
    return Path(path)
