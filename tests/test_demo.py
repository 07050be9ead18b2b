"""`vaelab demo --quick`: the seed's three scenarios, one table, one figure, and the rate-distortion curve of one
loss-conditional model with the three on it."""

from pathlib import Path

from vaelab.cli import main

FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_demo_quick(tmp_path, capsys):
    data = "fashion-mnist" if FASHION.is_dir() else "digits"  # the table and figure are the same either way
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--data", data]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].index("ELBO shared") < lines[0].index("ELBO own")  # the like-for-like ELBO first
    rows = {line[:30].strip(): line[30:].replace(",", "").split() for line in lines[1:4]}
    assert set(rows) == {"VAE, beta = 1 (no scaling)", "VAE, beta = 0.1 (KL x 0.1)", "plain autoencoder"}
    recon = {name: float(values[0]) for name, values in rows.items()}
    kl = {name: float(values[1]) for name, values in rows.items() if name != "plain autoencoder"}
    # the story in numbers: less weight on the KL buys better reconstructions for more KL
    assert recon["VAE, beta = 0.1 (KL x 0.1)"] < recon["VAE, beta = 1 (no scaling)"]
    assert kl["VAE, beta = 0.1 (KL x 0.1)"] > kl["VAE, beta = 1 (no scaling)"]
    assert rows["plain autoencoder"][1:4] == ["n/a", "n/a", "n/a"]  # no KL, no ELBO at either sigma
    # beta = 1 under sse: its own sigma is the shared one, so its two ELBOs are one number
    assert rows["VAE, beta = 1 (no scaling)"][2] == rows["VAE, beta = 1 (no scaling)"][3]
    assert (tmp_path / "demo" / "reconstructions.png").stat().st_size > 10_000
    for run in ("vae-beta1", "vae-beta0.1", "ae", "all-betas"):
        assert (tmp_path / "demo" / run / "checkpoints" / "last.pt").exists()
    # the curve: the conditional model read off at 5 betas, its rate falling as beta rises
    start = lines.index(next(line for line in lines if line.startswith("one model for every beta in [0.03, 3]")))
    curve = {float(line.split()[0]): [float(v) for v in line.replace(",", "").split()[1:]]
             for line in lines[start + 2 : start + 7]}
    assert sorted(curve) == [0.03, 0.1, 0.3, 1.0, 3.0]
    assert curve[0.03][1] > curve[3.0][1]  # KL
    assert (tmp_path / "demo" / "rate_distortion.png").stat().st_size > 10_000
    assert "Rate against distortion" in (tmp_path / "demo" / "report.html").read_text()


def test_the_demo_curve_draws_the_three_runs_apart_from_the_curve(tmp_path):
    from types import SimpleNamespace

    from vaelab.demo import plot_curve

    nan = float("nan")
    runs = {"vae-beta1": SimpleNamespace(metrics={"kl": 10.0, "recon": 40.0}),
            "vae-beta0.1": SimpleNamespace(metrics={"kl": 30.0, "recon": 20.0}),
            "ae": SimpleNamespace(metrics={"kl": nan, "recon": 12.0})}
    curve = [{"beta": beta, "kl": kl, "recon": recon} for beta, kl, recon in
             ((0.03, 45.0, 15.0), (0.1, 31.0, 19.0), (0.3, 20.0, 27.0), (1.0, 11.0, 39.0), (3.0, 5.0, 60.0))]
    ax = plot_curve(runs, curve, 256, tmp_path / "rd.png").axes[0]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "one loss-conditional model" in legend and "VAE, beta = 0.1 (KL x 0.1)" in legend
    assert not any("model=" in text or "the three runs" in text for text in legend)
    # no line joins the separate runs: the only solid polyline is the curve's, through its five points
    polylines = [list(zip(line.get_xdata(), line.get_ydata())) for line in ax.get_lines()
                 if line.get_linestyle() == "-" and len(line.get_xdata()) > 1]
    assert polylines == [[(row["kl"], row["recon"]) for row in curve]]
    # the autoencoder: a horizontal line at its distortion, not a point at rate 0
    assert any(list(line.get_ydata()) == [12.0, 12.0] and "autoencoder" in line.get_label() for line in ax.get_lines())
