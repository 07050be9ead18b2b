"""One colour rule for every figure and page: a run (or a class, or a curve of a sweep) gets its colour from its
place in the sorted list of the names shown, from a palette with as many distinct colours as there are names.

    distinct_colours(n)       n colours, no two alike: tab10 up to 10, tab20 up to 20, then evenly spaced hues
                              at three lightnesses (never a repeat, however many)
    run_colours(names)        {name: colour}: the same run has the same colour on every page that shows the
                              same runs, whatever order a command was given them in
    distinct_styles(n)        (colour, marker) pairs for scatter plots of many classes: 10 colours x markers
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")
from matplotlib import colormaps
from matplotlib.colors import to_hex

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LIGHTNESS = (0.45, 0.62, 0.32)  # the bands of hues beyond 20 colours


def distinct_colours(n: int) -> list[str]:
    """n hex colours, pairwise different: the first 10 are matplotlib's default cycle (tab10), so that one to ten
    runs look as they always have."""
    if n <= 10:
        return [to_hex(colormaps["tab10"](i)) for i in range(n)]
    if n <= 20:
        return [to_hex(colormaps["tab20"](i)) for i in range(n)]
    bands = len(LIGHTNESS)
    per_band = -(-n // bands)  # ceil
    colours = []
    for i in range(n):
        band, slot = i % bands, i // bands
        hue = (slot + band / bands) / per_band  # the bands' hues interleave
        colours.append(to_hex(colorsys.hls_to_rgb(hue, LIGHTNESS[band], 0.75)))
    return colours


def run_colours(names: Iterable[str]) -> dict[str, str]:
    """{name: colour} by the names' sorted order (duplicates share one)."""
    ordered = sorted(set(names))
    return dict(zip(ordered, distinct_colours(len(ordered))))


def distinct_styles(n: int) -> list[tuple[str, str]]:
    """n (colour, marker) pairs, pairwise different, for points too small for fine colour differences to show:
    tab10's colours with a new marker every 10 (up to 80; beyond, distinct colours on circles)."""
    if n > 10 * len(MARKERS):
        return [(colour, "o") for colour in distinct_colours(n)]
    tab10 = distinct_colours(10)
    return [(tab10[i % 10], MARKERS[i // 10]) for i in range(n)]
