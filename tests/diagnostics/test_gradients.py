"""The gradient view against autograd, its statistics against hand computation (the ill-conditioned case
included), Adam's preconditioner, and the training callback that logs them."""

import math

import pytest
import torch

from vaelab.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainingConfig
from vaelab.diagnostics.gradients import (
    GradientStatistics,
    batch_statistics,
    mean_and_interval,
    parameter_groups,
    regime,
    summarise,
    term_gradients,
)
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.run_dir import read_metrics
from vaelab.training.gradient_view import adam_denominators
from vaelab.training.run import train

SHAPE = (1, 8, 8)


def tiny(beta=0.3, **objective):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    config = ObjectiveConfig(recon="sse", beta=beta, **objective)
    return model, Objective(config, image_shape=SHAPE), torch.rand(6, *SHAPE)


def flat_grad(output, params):
    grads = torch.autograd.grad(output, params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads)])


@pytest.mark.parametrize("beta", [0.1, 1.0, 4.0])
def test_recon_gradient_plus_beta_kl_gradient_is_the_total_gradient(beta):
    model, objective, x = tiny(beta)
    gradients = term_gradients(model, objective, x, step=0, generator=torch.Generator().manual_seed(7))
    params = list(model.parameters())
    output = model(x, generator=torch.Generator().manual_seed(7))  # the same noise draw
    total = flat_grad(objective(x, output, step=0).loss, params)
    output = model(x, generator=torch.Generator().manual_seed(7))
    beta_kl = flat_grad(beta * output.posterior.kl().mean(), params)
    g_recon = torch.cat([g.flatten() for g in gradients.recon])
    g_kl = torch.cat([g.flatten() for g in gradients.kl])
    torch.testing.assert_close(g_kl, beta_kl, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(g_recon + g_kl, total, rtol=1e-5, atol=1e-7)
    groups = parameter_groups(model)
    assert gradients.of_group(groups["decoder"])[1].abs().max() == 0  # the KL does not depend on the decoder
    mean_kl, logvar_kl = gradients.of_group(groups["mean_head"])[1], gradients.of_group(groups["logvar_head"])[1]
    # the head's rows: dKL/dmu = mu and dKL/dlogvar = (exp(logvar) - 1) / 2 reach the bias directly
    posterior = model.encode(x)
    z = model.latent_dim
    torch.testing.assert_close(mean_kl[-z:], beta * posterior.mean.mean(0).detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(logvar_kl[-z:], beta * 0.5 * (posterior.var - 1).mean(0).detach(), rtol=1e-5,
                               atol=1e-7)


def test_the_groups_split_the_encoder_into_its_body_and_the_rows_of_its_head():
    model, _, _ = tiny()
    groups = parameter_groups(model)
    assert set(groups) == {"encoder", "encoder_body", "mean_head", "logvar_head", "decoder"}

    def size(pieces):
        return sum((p if rows is None else p[rows]).numel() for p, rows in pieces)

    assert size(groups["encoder"]) == size(groups["encoder_body"]) + size(groups["mean_head"]) + size(
        groups["logvar_head"])


def test_the_parameters_grad_and_the_objective_state_are_left_alone():
    model, objective, x = tiny(1.0, geco_target=0.05)
    objective.train()
    before = {name: value.clone() for name, value in objective.state_dict().items()}
    term_gradients(model, objective, x, step=0)
    assert all(p.grad is None for p in model.parameters())
    for name, value in objective.state_dict().items():  # GECO's multiplier and moving average
        torch.testing.assert_close(value, before[name], equal_nan=True)
    assert objective.training


def pair(cosine, ratio, size=1000, seed=0):
    """g_recon of norm 1 and g_kl of norm `ratio` at the given cosine, in `size` dimensions."""
    generator = torch.Generator().manual_seed(seed)
    a, b = torch.randn(size, generator=generator, dtype=torch.float64), torch.randn(size, generator=generator,
                                                                                     dtype=torch.float64)
    a = a / a.norm()
    b = b - (b @ a) * a
    b = b / b.norm()
    return a, ratio * (cosine * a + math.sqrt(1 - cosine**2) * b)


def share(g_recon, g_kl):
    """The statistic vaelab logged before: <g_kl, g> / |g|^2."""
    g = g_recon + g_kl
    return float(g_kl @ g / (g @ g))


def test_the_ill_conditioned_case_reads_stable_numbers_and_is_labelled_balanced():
    # The auditor's case: at cosine -0.98 the old share jumps from 0.00 to 0.99 between ratios 0.98 and 1.02
    low, high = GradientStatistics.of(*pair(-0.98, 0.98)), GradientStatistics.of(*pair(-0.98, 1.02))
    assert share(*pair(-0.98, 0.98)) == pytest.approx(0.0, abs=0.01)
    assert share(*pair(-0.98, 1.02)) == pytest.approx(0.99, abs=0.01)
    assert (low.ratio, high.ratio) == (pytest.approx(0.98), pytest.approx(1.02))
    assert low.cosine == pytest.approx(-0.98) and high.cosine == pytest.approx(-0.98)
    assert low.cancellation == pytest.approx(0.1, abs=0.002) and high.cancellation == pytest.approx(0.1, abs=0.002)
    assert regime(low.ratio, low.cancellation) == regime(high.ratio, high.cancellation) == "balanced"


def test_statistics_known_answers():
    stats = GradientStatistics.of(torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))  # orthogonal
    assert (stats.recon_norm, stats.kl_norm, stats.cosine) == (3.0, 4.0, 0.0)
    assert stats.ratio == pytest.approx(4 / 3) and stats.cancellation == pytest.approx(5 / 7)
    assert regime(stats.ratio, stats.cancellation) == "KL leads"
    stats = GradientStatistics.of(torch.tensor([2.0, 0.0]), torch.tensor([0.5, 0.0]))  # aligned
    assert stats.cancellation == pytest.approx(1.0) and regime(stats.ratio, stats.cancellation) == (
        "reconstruction leads")
    stats = GradientStatistics.of(torch.tensor([1.0, 2.0]), torch.zeros(2))  # the decoder: no KL gradient
    assert stats.ratio == 0 and math.isnan(stats.cosine) and regime(stats.ratio, stats.cancellation) == "no KL"
    exact = GradientStatistics.of(torch.tensor([1.0]), torch.tensor([-1.0]))  # exact cancellation
    assert exact.cancellation == 0 and regime(exact.ratio, exact.cancellation) == "balanced"


def test_the_interval_is_the_t_interval_over_the_batches():
    mean, interval = mean_and_interval([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0
    half = 3.182446305284263 * math.sqrt(14 / 3) / 2  # t_{0.975, 3} * sd / sqrt(4)
    assert interval == pytest.approx([3.0 - half, 3.0 + half])
    assert mean_and_interval([2.0]) == (2.0, None) and mean_and_interval([math.nan, 1.0, 1.0])[1] == [1.0, 1.0]


def test_adams_preconditioned_view_divides_each_coordinate_by_its_running_rms():
    model, objective, x = tiny(1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    assert adam_denominators(optimizer) is None  # no step taken yet
    for _ in range(3):
        optimizer.zero_grad()
        objective(x, model(x), 0).loss.backward()
        optimizer.step()
    denominators = adam_denominators(optimizer)
    p = model.head.bias
    state = optimizer.state[p]
    expected = (state["exp_avg_sq"] / (1 - 0.999**3)).sqrt() + 1e-8
    torch.testing.assert_close(denominators[id(p)], expected)
    gradients = term_gradients(model, objective, x, step=0, generator=torch.Generator().manual_seed(1))
    groups = parameter_groups(model)
    both = batch_statistics(gradients, groups, denominators)
    g_recon, g_kl = gradients.of_group(groups["mean_head"])
    weight, bias = denominators[id(model.head.weight)][:3].flatten(), denominators[id(p)][:3]
    scale = torch.cat([weight, bias])
    assert both["mean_head"][1].ratio == pytest.approx(float((g_kl / scale).norm() / (g_recon / scale).norm()))
    assert both["mean_head"][0].ratio == pytest.approx(float(g_kl.norm() / g_recon.norm()))


def test_summary_names_per_group():
    model, objective, x = tiny()
    groups = parameter_groups(model)
    per_batch = [batch_statistics(term_gradients(model, objective, x, step=0,
                                                 generator=torch.Generator().manual_seed(seed)), groups)
                 for seed in range(3)]
    metrics = summarise(per_batch)
    assert metrics["grad_batches"] == 3
    for group in groups:
        assert {f"grad_ratio/{group}", f"grad_cosine_ci/{group}", f"grad_cancellation/{group}"} <= set(metrics)
    assert metrics["grad_ratio/decoder"] == 0 and math.isnan(metrics["grad_cosine/decoder"])
    low, high = metrics["grad_ratio_ci/encoder"]
    assert low <= metrics["grad_ratio/encoder"] <= high
    encoder = [batch["encoder"][0] for batch in per_batch]  # each value is the mean over the batches
    for name in ("ratio", "cancellation", "recon_norm"):
        key = f"grad_{name}/encoder"
        assert metrics[key] == pytest.approx(sum(getattr(s, name) for s in encoder) / 3)
    assert not any(key.startswith("grad_kl_share") for key in metrics)


def small_config(grad_every: int, figures: bool = False, steps: int = 6) -> Config:
    return Config(
        data=DataConfig(spec="digits", image_size=16, limit=300),
        model=ModelConfig(latent_dim=4, width=4),
        training=TrainingConfig(steps=steps, batch_size=32, log_every=3, grad_every=grad_every, progress=False,
                                figures=figures),
    ).validate()


def test_training_logs_the_view_at_the_first_and_last_step_without_changing_the_run(tmp_path):
    monitored = train(small_config(grad_every=4, figures=True), tmp_path / "monitored")
    plain = train(small_config(grad_every=0), tmp_path / "plain")
    assert monitored.metrics == plain.metrics  # the monitor draws from its own random stream
    rows = read_metrics(tmp_path / "monitored" / "metrics.jsonl")
    gradient_rows = [r for r in rows if "grad_ratio/encoder" in r]
    assert [r["step"] for r in gradient_rows] == [1, 4, 6]  # step 1, every 4, and the last
    assert all(r["split"] == "train" and r["grad_batches"] == 4 for r in gradient_rows)
    assert all(r["grad_recon_norm/encoder"] > 0 and r["grad_kl_norm/encoder"] > 0 for r in gradient_rows)
    assert all(r["adam_ratio/mean_head"] > 0 for r in gradient_rows)  # Adam has stepped once by step 1
    assert (tmp_path / "monitored" / "figures" / "gradients.png").stat().st_size > 0
    assert not any("grad_ratio/encoder" in r for r in read_metrics(tmp_path / "plain" / "metrics.jsonl"))
    short = [r for r in read_metrics(train(small_config(grad_every=50, steps=3), tmp_path / "short").run_dir
                                     / "metrics.jsonl") if "grad_ratio/encoder" in r]
    assert [r["step"] for r in short] == [1, 3]  # a run shorter than grad_every still gets its view
