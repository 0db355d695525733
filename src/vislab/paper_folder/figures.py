"""The report's figures drawn for a page: each figure function of a report section runs inside the page
style with its figure captured (``plotting.canvas.captured_figures``), then is sized for one column or
the text width, its texts kept at 8 pt or more, and saved as vector PDF and 300-dpi PNG into a scratch
folder: moved into figures/ only once all are drawn (a build cut short leaves the last one's as they were).
A file in figures/ that is not vislab's (the user's own diagram) is kept: never replaced nor deleted."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from vislab.errors import UserError
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.style import DPI, PAGE_IN, cut_texts, fit_to_page, page_style, page_width
from vislab.report.figure_set import FigureSet, failure_note, out_of_room
from vislab.report.run_files import RunFiles
from vislab.words import first_few


@dataclass(frozen=True)
class PageFigure:
    """One saved figure: its files (relative to the paper folder), caption, size in inches and the run or
    row it is of (``of``; None: a figure of several runs, such as the curves, or of their data)."""

    stem: str  # figures/<stem>.pdf and figures/<stem>.png
    caption: str
    width_in: float
    height_in: float
    of: str | None = None

    @property
    def pdf(self) -> str:
        return f"figures/{self.stem}.pdf"

    @property
    def png(self) -> str:
        return f"figures/{self.stem}.png"


def figure_of(stem: str, parts: dict[str, str]) -> str | None:
    """The run or row whose figure ``stem`` is: the one whose files' name part (``parts``: name → part,
    ``FigureSet.file_part``) ends it, as in ``confusion_<row>`` or ``gradcam_<run>-1`` (a second figure
    drawn by one call); the longest such part. None for a figure of several runs (curves, samples)."""
    owners = [
        (len(part), name)
        for name, part in parts.items()
        if re.fullmatch(rf".+_{re.escape(part)}(?:-\d+)?", stem)
    ]
    return max(owners)[1] if owners else None


class PageFigures(FigureSet):
    """A report's FigureSet whose figures go to ``<paper>/figures/`` as PDF and PNG for a page. ``ours``:
    whether a file of ``fig_dir`` (by name) is vislab's, as it wrote it (the paper's record; None: every
    file there is): only such a file is replaced or deleted."""

    def __init__(
        self,
        fig_dir: Path,
        notes: list[str],
        files: RunFiles | None = None,
        ours: Callable[[str], bool] | None = None,
    ):
        super().__init__(fig_dir, notes, files)
        self.saved: dict[str, PageFigure] = {}  # stem → figure, in the order drawn
        self.ours = ours if ours is not None else lambda name: True

    def make(self, name: str, caption: str, fn: Callable, *args, **kw) -> dict | None:
        """Draw ``fn(*args, path=..., **kw)`` in the page style and save what it drew for a page; the
        figure's {name, caption}, or None: a note when it could not be drawn, none when ``fn`` drew
        nothing (nothing to show, e.g. no mistakes)."""
        stem, drawn = Path(name).stem, []
        try:
            with page_style(), captured_figures() as drawn:
                fn(*args, path=self.tmp / name, **kw)
                saved = [
                    self._save(f"{stem}-{i}" if i else stem, fig, caption)
                    for i, fig in enumerate(drawn)
                ]
        except Exception as e:  # one broken figure must not cost the whole paper
            if out_of_room(e):  # but a full disk ends it: no figure would be saved
                raise
            self.notes.append(failure_note(caption, e))  # a missing package: its install hint
            return None
        finally:
            for fig in drawn:
                plt.close(fig)
        if not saved:
            return None
        self.saved.update((page.stem, page) for page in saved)
        self.made.append(name)
        return {"name": name, "caption": caption}

    def _save(self, stem: str, fig: Figure, caption: str) -> PageFigure:
        """``fig`` sized for the page (:func:`~vislab.plotting.style.fit_to_page`) as PDF and PNG: a
        column wide, or the text width when it was drawn wide or its texts do not fit a column."""
        width = page_width(fig)
        fit_to_page(fig, width)
        if width < PAGE_IN and cut_texts(fig):
            fit_to_page(fig, PAGE_IN)
        for suffix in ("pdf", "png"):
            fig.savefig(self.tmp / f"{stem}.{suffix}", dpi=DPI)
        width, height = fig.get_size_inches()
        size = round(float(width), 3), round(float(height), 3)
        return PageFigure(stem, caption, *size, figure_of(stem, self._parts))

    def publish(self) -> None:
        """Move every figure drawn from the scratch folder into ``fig_dir`` (each replacing an earlier
        build's of its name); UserError, none moved, when a file of the user's has the name of one."""
        files = [f"{page.stem}.{ext}" for page in self.saved.values() for ext in ("pdf", "png")]
        self._refuse([f for f in files if _exists(self.fig_dir / f) and not self.ours(f)])
        for file in files:
            os.replace(self.tmp / file, self.fig_dir / file)
        self.close()

    def _refuse(self, theirs: list[str]) -> None:
        """UserError naming the user's files ``theirs`` (in ``fig_dir``), which figures drawn now would
        replace, and the fix; nothing when there are none."""
        if not theirs:
            return
        paper, names = self.fig_dir.parent, [f"{self.fig_dir.name}/{f}" for f in theirs]
        raise UserError(
            f"'{paper}' holds files vislab did not write ({first_few(names, 4)}), and vislab paper "
            f"would replace them (it draws figures of those names): nothing was written. Rename "
            f"them, or move them out of '{paper}', or choose another folder (--out; Python: out=)."
        )

    def drop_earlier(self) -> None:
        """Delete the PDFs and PNGs of earlier builds (vislab's, unchanged: ``ours``) that this one did
        not draw; the user's are kept."""
        for old in [*self.fig_dir.glob("*.pdf"), *self.fig_dir.glob("*.png")]:
            if old.stem not in self.saved and self.ours(old.name):
                old.unlink(missing_ok=True)


def _exists(path: Path) -> bool:
    """Whether ``path`` is there (a link too, even a broken one)."""
    return path.is_symlink() or path.exists()
