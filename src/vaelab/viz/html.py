"""The HTML machinery of the report pages: Jinja2 templates (vaelab/viz/templates/, autoescaped), the
filters they use, the pieces a page is made of, and PNGs embedded as data URIs.

Everything a page shows is inline (figures as base64 PNG data URIs, CSS in a <style>, an optional
sortable-table script), so the page opens offline, from a USB stick; its Content-Security-Policy forbids
loading anything else.
"""

from __future__ import annotations

import base64
import datetime
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from PIL import Image

from vaelab.files import atomic_write_text
from vaelab.numbers import format_number
from vaelab.version import __version__

REPORT = "report.html"
DOC = "docs/kl-weighting.md"

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("vaelab.viz", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _breakable(text: str) -> markupsafe.Markup:
    """Long names (elbo_optimal_sigma, objective.beta) may break after "_" and "." in a narrow table header."""
    return markupsafe.Markup(str(markupsafe.escape(text)).replace("_", "_<wbr>").replace(".", ".<wbr>"))


def _code_spans(text: str) -> markupsafe.Markup:
    """`name` in plain text (as `vaelab explain` writes it) set as code."""
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text))))


_templates.filters.update(num=format_number, breakable=_breakable, code_spans=_code_spans)


@dataclass
class Figure:
    """A PNG embedded as a data URI, with its natural size (the page never scales it up)."""

    src: str
    width: int
    height: int
    caption: str = ""


@dataclass
class Section:
    """An entry of the table of contents; the template renders the section with this id."""

    id: str
    title: str


@dataclass
class Table:
    """A table of plain values; numbers are formatted by the template. `links` maps a row to an href
    for its first cell, `notes` a row to a line of text under its first cell; `numbers_right` sets every cell but
    the first of a row to the right, as numbers are (for values written with their error, "-160.5 ± 0.75")."""

    columns: list[str]
    rows: list[list[Any]]
    links: dict[int, str] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    numbers_right: bool = False

    def select(self, columns: list[str]) -> Table:
        """The same rows with only `columns` (the first column stays first, with its links and notes)."""
        keep = [self.columns.index(column) for column in columns]
        return Table(columns=columns, rows=[[row[i] for i in keep] for row in self.rows], links=self.links,
                     notes=self.notes, numbers_right=self.numbers_right)


def embed_png(source: Path | bytes, caption: str = "") -> Figure:
    """A PNG file (or its bytes) as a data URI."""
    data = source.read_bytes() if isinstance(source, Path) else source
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return Figure(src="data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                  width=width, height=height, caption=caption)


def render(template: str, out: Path, **context: Any) -> Path:
    html = _templates.get_template(template).render(
        version=__version__, generated=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), doc=DOC, **context
    )
    atomic_write_text(out, html)
    return out


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
