"""For tests that read some of a report's or a paper's figures, or only its texts
(``from figures_skipped import skip_report_figures``).

Drawing the figures is most of a report's time (a paper's: PDF and 300-dpi PNG). A figure function that
fails only ever becomes a note (``FigureSet.make`` and ``PageFigures.make`` catch it), so skipping the
figures a test does not read leaves the rest of the page as it is; every figure is drawn and checked in
test_report_browser, test_seed_figures, test_capabilities or test_paper."""

import pytest

from vislab.paper_folder.figures import PageFigures
from vislab.report.figure_set import FigureSet


def skip_report_figures(mp: pytest.MonkeyPatch, keep: tuple[str, ...] = ()) -> None:
    """Reports (`vislab report`, a suite's, quickstart's) and papers built while ``mp`` holds draw only
    the figures whose file name starts with one of ``keep`` (none by default); the others are left out
    as a figure that could not be drawn is, without its note. The rest of the build (its plan, tables,
    notes and page) runs as it is."""
    for cls in (FigureSet, PageFigures):
        real = cls.make

        def make(self, name, caption, fn, *args, _real=real, **kw):
            return _real(self, name, caption, fn, *args, **kw) if name.startswith(keep) else None

        mp.setattr(cls, "make", make)
