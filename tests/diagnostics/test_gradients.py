"""The gradient decomposition against autograd, the statistics against hand computation, and the
training callback that logs them."""

import math

import pytest
import torch

from vaelab.config import Config, ObjectiveConfig
from vaelab.diagnostics.gradients import GradientStatistics, gradient_metrics, model_parts, term_gradients
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.run_dir import read_metrics
from vaelab.training.run import train

from factories import tiny_config

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
    for part, params in model_parts(model, objective).items():
        output = model(x, generator=torch.Generator().manual_seed(7))  # the same noise draw
        terms = objective(x, output, step=0)
        total = flat_grad(terms.loss, params)
        output = model(x, generator=torch.Generator().manual_seed(7))
        recon = flat_grad(objective(x, output, 0).recon.mean(), params)
        output = model(x, generator=torch.Generator().manual_seed(7))
        beta_kl = flat_grad(beta * output.posterior.kl().mean(), params)
        g_recon, g_kl = gradients[part]
        torch.testing.assert_close(g_recon, recon)
        torch.testing.assert_close(g_kl, beta_kl, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(g_recon + g_kl, total, rtol=1e-5, atol=1e-7)
    assert gradients["decoder"][1].abs().max() == 0  # the KL does not depend on the decoder
    assert gradients["encoder"][1].abs().max() > 0


def test_with_free_bits_the_kl_part_is_the_term_as_trained():
    model, objective, x = tiny(1.0, free_bits=0.5)
    gradients = term_gradients(model, objective, x, step=0, generator=torch.Generator().manual_seed(1))
    params = model_parts(model, objective)["all"]
    total = flat_grad(objective(x, model(x, generator=torch.Generator().manual_seed(1)), 0).loss, params)
    torch.testing.assert_close(gradients["all"][0] + gradients["all"][1], total, rtol=1e-5, atol=1e-7)


def test_the_parameters_grad_and_the_objective_state_are_left_alone():
    model, objective, x = tiny(1.0, geco_target=0.05)
    objective.train()
    before = {name: value.clone() for name, value in objective.state_dict().items()}
    term_gradients(model, objective, x, step=0)
    assert all(p.grad is None for p in model.parameters())
    for name, value in objective.state_dict().items():  # GECO's multiplier and moving average
        torch.testing.assert_close(value, before[name], equal_nan=True)
    assert objective.training


def test_statistics_known_answers():
    # orthogonal: |g|^2 = 9 + 16, the KL's projection on g is 16
    stats = GradientStatistics.of(torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0]))
    assert (stats.recon_norm, stats.kl_norm, stats.cosine) == (3.0, 4.0, 0.0)
    assert stats.kl_share == pytest.approx(16 / 25)
    # opposed: g = (0.5, 0), the KL term pushes back with share -1 (and recon's share is 2)
    stats = GradientStatistics.of(torch.tensor([1.0, 0.0]), torch.tensor([-0.5, 0.0]))
    assert stats.cosine == pytest.approx(-1.0)
    assert stats.kl_share == pytest.approx(-1.0)
    # aligned and equal: half each
    stats = GradientStatistics.of(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))
    assert stats.cosine == pytest.approx(1.0) and stats.kl_share == pytest.approx(0.5)
    # no KL gradient (the decoder): cosine undefined, share 0
    stats = GradientStatistics.of(torch.tensor([1.0, 2.0]), torch.zeros(2))
    assert math.isnan(stats.cosine) and stats.kl_share == 0.0
    # terms that cancel exactly: no update to share
    assert math.isnan(GradientStatistics.of(torch.tensor([1.0]), torch.tensor([-1.0])).kl_share)


def test_metric_names_per_part():
    model, objective, x = tiny()
    metrics = gradient_metrics(term_gradients(model, objective, x, step=0))
    expected = {f"{name}/{part}" for name in ("grad_recon_norm", "grad_kl_norm", "grad_cosine", "grad_kl_share")
                for part in ("encoder", "decoder", "all")}
    assert set(metrics) == expected
    assert metrics["grad_kl_norm/decoder"] == 0
    assert metrics["grad_kl_norm/all"] == pytest.approx(metrics["grad_kl_norm/encoder"])
    assert metrics["grad_recon_norm/all"] ** 2 == pytest.approx(
        metrics["grad_recon_norm/encoder"] ** 2 + metrics["grad_recon_norm/decoder"] ** 2)


def small_config(grad_every: int, figures: bool = False) -> Config:
    return tiny_config(6, data__limit=300, model__width=4, training__log_every=3, training__grad_every=grad_every,
                       training__figures=figures)


def test_training_logs_the_decomposition_without_changing_the_run(tmp_path):
    monitored = train(small_config(grad_every=2, figures=True), tmp_path / "monitored")
    plain = train(small_config(grad_every=0), tmp_path / "plain")
    assert monitored.metrics == plain.metrics  # the monitor draws from its own random stream
    rows = read_metrics(tmp_path / "monitored" / "metrics.jsonl")
    gradient_rows = [r for r in rows if "grad_kl_share/all" in r]
    assert [r["step"] for r in gradient_rows] == [2, 4, 6]
    assert all(r["split"] == "train" for r in gradient_rows)
    assert all(r["grad_recon_norm/encoder"] > 0 and r["grad_kl_norm/encoder"] > 0 for r in gradient_rows)
    assert (tmp_path / "monitored" / "figures" / "gradients.png").stat().st_size > 0
    assert not any("grad_kl_share/all" in r for r in read_metrics(tmp_path / "plain" / "metrics.jsonl"))
