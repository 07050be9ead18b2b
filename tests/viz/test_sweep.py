"""The sweep's figures from summary rows: the iso-ELBO offset (a known answer), groups along beta, and
rows with missing or non-finite numbers left out of the plots instead of breaking them."""

import math

import pytest
from matplotlib.colors import to_hex

from vaelab.viz.colours import distinct_colours
from vaelab.viz.sweep import elbo_offset, groups, plot_metrics_vs_beta, plot_rate_distortion

from drawn import box, drawn_figure, inside, overlap


def row(name, beta, latent, rate, distortion, elbo, **extra):
    return {"run": name, "objective.beta": beta, "model.latent_dim": latent, "beta": beta, "rate": rate,
            "distortion": distortion, "elbo": elbo, "elbo_optimal_sigma": -50.0 if elbo is None else elbo + 5,
            "mse": distortion / 256, "active_units": 3, "pixels": 256, **extra}


ROWS = [
    row("beta=0,latent_dim=4", 0.0, 4, 30.0, 5.0, None),  # sse with beta = 0: no finite ELBO
    row("beta=0.1,latent_dim=4", 0.1, 4, 20.0, 8.0, -170.0),
    row("beta=1,latent_dim=4", 1.0, 4, 6.0, 15.0, -167.5),
    row("beta=10,latent_dim=4", 10.0, 4, 0.5, 30.0, -177.0),
    row("beta=1,latent_dim=8", 1.0, 8, 7.0, 14.0, -167.5),
    row("beta=10,latent_dim=8", 10.0, 8, math.nan, 29.0, -176.0),  # e.g. a run that diverged
]


def test_the_iso_elbo_offset_of_the_summed_squared_error():
    # -log N(x; mu, 1/2) over P pixels = SSE + (P/2) log(2 pi / 2) = SSE + (P/2) log(pi)
    assert elbo_offset(ROWS, "sse") == pytest.approx(128 * math.log(math.pi))
    assert elbo_offset(ROWS, "mse-mean") == elbo_offset(ROWS, "sse")
    assert elbo_offset(ROWS, "bernoulli") == 0.0
    assert elbo_offset(ROWS, None) is None
    assert elbo_offset([*ROWS, {**ROWS[0], "pixels": 3 * 256}], "sse") is None  # no shared constant


def test_groups_follow_beta_for_each_setting_of_the_other_axes():
    found = groups(list(reversed(ROWS)), ["model.latent_dim"])
    assert [label for label, _ in found] == ["latent_dim=8", "latent_dim=4"]
    assert [r["beta"] for r in found[1][1]] == [0.0, 0.1, 1.0, 10.0]
    assert [label for label, _ in groups(ROWS, [])] == ["all runs"]


def texts(fig) -> str:
    """Every text of a figure: its captions, titles, annotations and legends."""
    return " ".join(t.get_text() for t in fig.findobj(lambda artist: hasattr(artist, "get_text")))


def scattered(ax) -> list[tuple[float, float]]:
    """The points an axis's scatter plots draw."""
    return [tuple(point) for collection in ax.collections for point in collection.get_offsets().tolist()]


def test_the_rate_distortion_figure_draws_every_finite_run_and_names_the_others(tmp_path):
    fig = plot_rate_distortion(ROWS, tmp_path / "rd.png", group_keys=["model.latent_dim"], recon="sse")
    ax = fig.axes[0]
    drawn = set(scattered(ax))
    shown = {(r["rate"], r["distortion"]) for r in ROWS if math.isfinite(r["rate"])}
    assert shown <= drawn and (math.nan, 29.0) not in drawn
    assert "Not shown (rate or distortion missing or not finite): beta=10,latent_dim=8." in texts(fig)
    beta_one = [(r["rate"], r["distortion"]) for r in ROWS if r["beta"] == 1]
    rings = [tuple(point) for c in ax.collections if c.get_sizes().max() > 300  # the red rings of beta = 1
             for point in c.get_offsets().tolist()]
    assert sorted(rings) == sorted(beta_one)


def test_metrics_against_beta_leave_out_what_is_not_finite_in_both_panels(tmp_path):
    fig = plot_metrics_vs_beta(ROWS, tmp_path / "mb.png", group_keys=["model.latent_dim"], recon="sse")
    zero_elbo, main_elbo = fig.axes[0], fig.axes[1]  # the beta = 0 side panel, then the log-beta panel
    elbo_points = [(x, y) for line in main_elbo.get_lines() for x, y in line.get_xydata().tolist()]
    assert (0.1, -170.0) in elbo_points and all(math.isfinite(y) for _, y in elbo_points)
    side = [y for line in zero_elbo.get_lines() for _, y in line.get_xydata().tolist()]
    assert -50.0 in side and all(math.isfinite(y) for y in side)  # beta = 0 has its optimal-sigma ELBO only
    # the note names the series it leaves the run out of, not the run: the side panel does show its fitted-sigma
    # ELBO, and nothing of the series the note names
    assert "Not shown (own likelihood, σ² = β/2 missing or not finite): beta=0,latent_dim=4." in texts(fig)
    side_series = {line.get_gid().partition("/")[0] for line in zero_elbo.get_lines() if len(line.get_xdata())}
    assert side_series == {"elbo_optimal_sigma"}


def test_figures_of_a_single_run_without_beta_zero(tmp_path):
    single = [row("beta=1", 1.0, 4, 6.0, 15.0, -167.5)]
    plot_rate_distortion(single, tmp_path / "rd.png", recon="bernoulli")
    plot_metrics_vs_beta(single, tmp_path / "mb.png")
    assert (tmp_path / "rd.png").stat().st_size > 10_000 and (tmp_path / "mb.png").stat().st_size > 10_000


def test_the_rate_distortion_legend_sits_above_the_plot_and_iso_labels_inside_it(tmp_path):
    fig = drawn_figure(plot_rate_distortion(ROWS, tmp_path / "rd.png", group_keys=["model.latent_dim"], recon="sse",
                                            title="a sweep over beta and latent_dim"))
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert not overlap(box(legend), box(ax)) and inside(box(legend), fig.bbox)
    assert not overlap(box(legend), box(ax.title))
    labels = [text for text in ax.texts if text.get_text().startswith("ELBO at the shared σ = ")]
    assert len(labels) >= 3
    for label in labels:
        assert inside(box(label), box(ax)), label.get_text()


def test_no_iso_line_label_overprints_another(tmp_path):
    # the paintings' sweep: a wide range of rates against a narrow one of distortions puts the steep lines'
    # middles side by side, where their labels once overprinted each other
    rows = [row(f"beta={beta}", beta, 128, rate, distortion, -7000.0)
            for beta, rate, distortion in ((0.03, 285.4, 112.1), (0.1, 206.1, 117.3), (0.3, 131.9, 131.4),
                                           (1.0, 61.6, 171.6))]
    fig = drawn_figure(plot_rate_distortion(rows, tmp_path / "rd.png", recon="sse"))
    labels = [text for text in fig.axes[0].texts if text.get_text().startswith("ELBO at the shared σ = ")]
    assert len(labels) >= 2
    for index, label in enumerate(labels):
        for other in labels[index + 1:]:
            assert not overlap(box(label), box(other)), (label.get_text(), other.get_text())


def test_more_than_ten_curves_get_colours_of_their_own(tmp_path):
    rows = [row(f"beta={beta},latent_dim={latent}", beta, latent, 10.0 / beta, 5.0 * beta, -100.0)
            for latent in range(1, 13) for beta in (0.1, 1.0)]
    fig = plot_metrics_vs_beta(rows, tmp_path / "mb.png", group_keys=["model.latent_dim"], recon="sse")
    colours = {line.get_gid(): to_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()}
    for series in ("elbo", "mse", "active_units"):  # the same curve has the same colour in every panel
        drawn = [colour for gid, colour in colours.items() if gid.startswith(f"{series}/")]
        assert drawn == distinct_colours(12) and len(set(drawn)) == 12


def test_the_iso_lines_are_labelled_with_the_elbo_they_are_level_in(tmp_path):
    # under sse the lines are D + R = c, level in the ELBO at the shared sigma: -(c + P/2 log pi)
    fig = plot_rate_distortion(ROWS, tmp_path / "rd.png", group_keys=["model.latent_dim"], recon="sse")
    labels = [t for t in fig.axes[0].texts if t.get_text().startswith("ELBO at the shared σ = ")]
    assert len(labels) >= 3
    offset = 128 * math.log(math.pi)
    for label in labels:
        rate, distortion = label.get_position()  # the label sits on its line
        assert float(label.get_text().rpartition("= ")[2]) == pytest.approx(-(rate + distortion + offset), rel=1e-4)
    bernoulli = plot_rate_distortion(ROWS, tmp_path / "rd.png", group_keys=["model.latent_dim"], recon="bernoulli")
    assert any(t.get_text().startswith("ELBO = ") for t in bernoulli.axes[0].texts)  # -log p(x|z): its own ELBO


def test_an_autoencoder_is_a_line_at_its_distortion_and_a_callers_groups_are_named_by_their_value(tmp_path):
    rows = [{**r, "model": "one loss-conditional model"} for r in ROWS[1:4]]
    rows += [{**row("VAE b=1", 1.0, 4, 5.0, 16.0, -170.0), "model": "VAE b=1"},
             {**row("plain AE", 0.0, 4, math.nan, 9.0, None), "model": "plain AE", "model.kind": "ae"}]
    fig = plot_rate_distortion(rows, tmp_path / "rd.png", group_keys=["model"], recon="sse")
    ax = fig.axes[0]
    flat = [line for line in ax.get_lines() if len(set(line.get_ydata())) == 1 and len(line.get_ydata()) == 2
            and line.get_xdata()[0] == 0 and line.get_xdata()[1] == 1]  # axhline: axes-fraction x from 0 to 1
    assert [line.get_ydata()[0] for line in flat] == [9.0]
    assert "plain AE: autoencoder, no rate (point codes)" in [line.get_label() for line in flat]
    assert (math.nan, 9.0) not in scattered(ax) and not any(y == 9.0 for _, y in scattered(ax))
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "one loss-conditional model" in legend and "VAE b=1" in legend
    assert not any("model=" in text for text in legend)
    # the separate VAE run is a point of its own: no line joins it to the curve
    joined = [line for line in ax.get_lines() if len(line.get_xdata()) > 1 and line not in flat
              and line.get_linestyle() == "-"]
    assert all((5.0, 16.0) not in list(zip(line.get_xdata(), line.get_ydata())) for line in joined)
