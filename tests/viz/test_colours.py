"""One colour rule for every figure: as many distinct colours as names, and a run keeps its colour whatever order
a command lists it in."""

from pathlib import Path

from matplotlib.colors import to_hex, to_rgb

from vaelab.config import Config
from vaelab.run_dir import RunSummary
from vaelab.viz.colours import distinct_colours, distinct_styles, run_colours
from vaelab.viz.compare import plot_comparison


def test_no_colour_repeats_however_many_are_asked_for():
    for n in (1, 10, 11, 20, 21, 29, 60):
        colours = distinct_colours(n)
        assert len(colours) == n and len(set(colours)) == n, n
    assert distinct_colours(3) == [to_hex(c) for c in ("tab:blue", "tab:orange", "tab:green")]  # matplotlib's own
    # beyond 20 the hues are spread out: no two colours closer than a step a reader can tell apart
    rgb = [to_rgb(c) for c in distinct_colours(29)]
    closest = min(sum((a - b) ** 2 for a, b in zip(p, q)) ** 0.5 for i, p in enumerate(rgb) for q in rgb[i + 1:])
    assert closest > 0.05
    assert len(set(distinct_styles(29))) == 29


def summary(name: str) -> RunSummary:
    records = [{"step": 10, "split": split, "recon": 10.0, "kl": 1.0, "elbo": -5.0} for split in ("train", "val")]
    return RunSummary(run_dir=Path("/runs") / name, config=Config(), records=records)


def test_the_comparison_gives_twelve_runs_twelve_colours_whatever_their_order(tmp_path):
    names = [f"run-{i:02d}" for i in range(12)]
    forward = plot_comparison([summary(n) for n in names], tmp_path / "a.png")
    backward = plot_comparison([summary(n) for n in reversed(names)], tmp_path / "b.png")

    def colours(fig):
        return {line.get_label(): to_hex(line.get_color()) for line in fig.axes[0].get_lines()
                if not line.get_label().startswith("_")}

    rule = run_colours(str(Path("/runs", n).resolve()) for n in names)
    assert colours(forward) == colours(backward) == {n: rule[str(Path("/runs", n).resolve())] for n in names}
    assert len(set(colours(forward).values())) == 12
