"""What a figure draws, read from its artists (never its pixels): where things are, in display pixels.

    box(artist)                    its window extent, after the figure is drawn
    overlap(a, b)                  whether two boxes share any area
    inside(inner, outer)           whether a box lies within another (to half a pixel)
    points_in(box, ax, x, y)       which data points of `ax` fall inside a box
    lines(fig, gid)                the lines drawn with a gid (the plot functions tag each series)
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from vaelab.viz.saving import DPI


def box(artist) -> Bbox:
    figure = artist.get_figure() if hasattr(artist, "get_figure") else artist.figure
    renderer = figure.canvas.get_renderer()
    return artist.get_window_extent(renderer)


def overlap(a: Bbox, b: Bbox) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def inside(inner: Bbox, outer: Bbox, slack: float = 0.5) -> bool:
    return (inner.x0 >= outer.x0 - slack and inner.x1 <= outer.x1 + slack and inner.y0 >= outer.y0 - slack
            and inner.y1 <= outer.y1 + slack)


def points_in(region: Bbox, ax, x, y) -> list[int]:
    """Indices of the data points (x[i], y[i]) of `ax` that fall inside `region` (display pixels)."""
    shown = ax.transData.transform(np.column_stack([x, y]))
    return [i for i, (px, py) in enumerate(shown) if region.x0 <= px <= region.x1 and region.y0 <= py <= region.y1]


def lines(fig, gid: str) -> list:
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == gid]


def drawn_figure(fig):
    """`fig` drawn again on an Agg canvas (a closed figure has lost its own), so that every artist knows where it
    is, at the size and dots per inch it was saved at."""
    FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    fig.canvas.draw()
    return fig
