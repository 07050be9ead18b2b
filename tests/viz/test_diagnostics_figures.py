"""The diagnostics' figures read back from what they draw: the latent map's classes each with a style and a
legend line of their own, beside the map; kl_per_dim.png at the report column's width with text that stays
readable at any latent size."""

import itertools

import numpy as np
from matplotlib.colors import to_hex

from vaelab.viz.diagnostics import plot_kl_per_dim, plot_latent_map
from vaelab.viz.figures import WIDTH
from vaelab.viz.saving import DPI

from drawn import box, drawn_figure, inside, overlap


def test_a_latent_map_of_29_classes_gives_each_a_style_and_a_legend_line_off_the_map(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.arange(600) % 29)
    classes = [f"painter {i}" for i in range(29)]
    fig = drawn_figure(plot_latent_map(rng.normal(size=(600, 2)), labels, classes, np.array([0.3, 0.1]),
                                       tmp_path / "latent_map.png"))
    (ax,) = [ax for ax in fig.axes if ax.collections]
    styles = {}
    for collection in ax.collections:
        name = collection.get_gid().removeprefix("class/")
        colour = to_hex(collection.get_facecolor()[0])
        marker = collection.get_paths()[0].vertices.round(3).tobytes()  # the marker's outline
        styles[name] = (colour, marker)
        assert len(collection.get_offsets()) == np.sum(labels == classes.index(name))
    assert sorted(styles) == sorted(classes) and len(set(styles.values())) == 29  # no two classes alike
    (legend,) = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == classes
    assert not overlap(box(legend), box(ax)) and inside(box(legend), fig.bbox)


def test_kl_per_dim_keeps_the_report_width_and_readable_labels_for_128_dimensions(tmp_path):
    rng = np.random.default_rng(1)
    kl = rng.exponential(1.0, 128)
    fig = drawn_figure(plot_kl_per_dim(kl, kl * 0.02, 0.01, tmp_path / "kl_per_dim.png"))
    assert fig.get_figwidth() * DPI <= WIDTH * DPI + 1  # shown at its own size in the report's column
    bars = fig.axes[0].patches
    assert [bar.get_height() for bar in bars] == sorted(kl, reverse=True)
    labels = [label for label in fig.axes[-1].get_xticklabels() if label.get_text()]
    assert len(labels) <= 24 and min(label.get_fontsize() for label in labels) >= 8
    for a, b in itertools.pairwise(labels):
        assert not overlap(box(a), box(b))  # the tick labels do not run into each other
    (legend,) = fig.legends
    assert all(not overlap(box(legend), box(ax)) for ax in fig.axes)
