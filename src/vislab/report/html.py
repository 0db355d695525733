"""Rendering the report: one self-contained HTML file (jinja2 template, PNGs inlined as data URIs)."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from vislab.experiments.results.cells import fmt, param_cell
from vislab.experiments.results.reported import figure_value

TEMPLATES = Path(__file__).parent / "templates"


def data_uri(png: str | Path) -> str:
    """``data:image/png;base64,...`` of a PNG file: the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def _sort_key(value) -> str:
    """What the page's table sorter compares: numbers as numbers (a reported '≈0.80' as 0.8, a range as
    its middle), missing values last."""
    if value is None:
        return ""
    if figure_value(value) is not None:
        return repr(figure_value(value))
    return (
        repr(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else str(value)
    )


def bold_mean(text: str) -> Markup:
    """A cell's text with its mean in bold, never the ± std after it (the rule of results.md and the
    paper)."""
    mean, sep, std = str(text).partition(" ± ")
    return Markup("<strong>{}</strong>{}{}").format(mean, sep, std) if mean else escape(text)


def render(context: dict, template: str = "report.html") -> str:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = lambda v, key="": fmt(key, v)
    env.filters["param"] = param_cell
    env.filters["bold_mean"] = bold_mean
    env.filters["sortkey"] = _sort_key
    env.filters["data_uri"] = data_uri
    return env.get_template(template).render(**context)
