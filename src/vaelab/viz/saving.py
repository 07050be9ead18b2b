"""Writing a figure: the one place that saves and closes them.

Every plot function returns the Figure it drew, closed but whole, so that tests can read what is drawn
(the points, lines and notes) rather than the pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

DPI = 100


def save_figure(fig: Figure, path: Path | BinaryIO) -> Figure:
    """PNG at DPI dots per inch into `path` (a file or a binary stream), then closed; returns `fig`."""
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return fig
