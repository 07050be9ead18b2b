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
    assert "ELBO (b=1)" in lines[0]
    rows = {line[:30].strip(): line[30:].split() for line in lines[1:4]}
    assert set(rows) == {"VAE, beta = 1 (no scaling)", "VAE, beta = 0.1 (KL x 0.1)", "plain autoencoder"}
    recon = {name: float(values[0]) for name, values in rows.items()}
    kl = {name: float(values[1]) for name, values in rows.items()}
    # the story in numbers: less weight on the KL buys better reconstructions for more KL
    assert recon["VAE, beta = 0.1 (KL x 0.1)"] < recon["VAE, beta = 1 (no scaling)"]
    assert kl["VAE, beta = 0.1 (KL x 0.1)"] > kl["VAE, beta = 1 (no scaling)"]
    assert rows["plain autoencoder"][1:3] == ["0.00", "n/a"]
    assert (tmp_path / "demo" / "reconstructions.png").stat().st_size > 10_000
    for run in ("vae-beta1", "vae-beta0.1", "ae", "all-betas"):
        assert (tmp_path / "demo" / run / "checkpoints" / "last.pt").exists()
    # the curve: the conditional model read off at 5 betas, its rate falling as beta rises
    start = lines.index(next(line for line in lines if line.startswith("one model for every beta in [0.03, 3]")))
    curve = {float(line.split()[0]): [float(v) for v in line.split()[1:]] for line in lines[start + 2 : start + 7]}
    assert sorted(curve) == [0.03, 0.1, 0.3, 1.0, 3.0]
    assert curve[0.03][1] > curve[3.0][1]  # KL
    assert (tmp_path / "demo" / "rate_distortion.png").stat().st_size > 10_000
    assert "Rate against distortion" in (tmp_path / "demo" / "report.html").read_text()
