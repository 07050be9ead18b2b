"""The minibatch objective as named terms: loss == nll + kl_weight * (kl + entropy_factor * entropy) / N."""

import math

import pytest
import torch

from vaelab.bnn.model import TableNet
from vaelab.bnn.objective import minibatch_terms
from vaelab.bnn.weighting import Tempering


def _net(kind: str, task: str = "regression", out: int = 1) -> TableNet:
    torch.manual_seed(0)
    return TableNet(kind=kind, task=task, in_features=3, out_features=out, widths=[4], prior_std=0.5,
                    posterior_std_init=0.05, members=3, noise="learned", noise_std=0.8)


X = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
Y = torch.randn(6, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("tempering", [Tempering(1.0), Tempering(0.2, "likelihood"), Tempering(0.2, "posterior"),
                                       Tempering(3.0, "posterior")])
def test_the_loss_is_the_sum_of_its_terms(tempering):
    net = _net("bayes")
    terms = minibatch_terms(net, X, Y, n=50, kl_weight=2.0, tempering=tempering, samples=3,
                            generator=torch.Generator().manual_seed(2))
    lam = 2.0 * (tempering.temperature if tempering.kind == "likelihood" else 1)
    entropy_factor = 1 - tempering.temperature if tempering.kind == "posterior" else 0
    assert terms.kl_weight == pytest.approx(lam)
    expected = terms.nll + lam * (terms.kl + entropy_factor * terms.entropy) / 50
    assert terms.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms.elbo.item() == pytest.approx(-(terms.nll + terms.kl / 50).item(), rel=1e-6)
    assert terms.kl.item() == pytest.approx(sum(v.item() for v in terms.kl_per_layer.values()), rel=1e-6)
    assert set(terms.kl_per_layer) == {"layer1", "layer2"}


def test_posterior_tempering_is_the_cross_entropy_minus_t_times_the_entropy():
    """E_q[-log p(w)] - T H[q] = KL + (1 - T) H[q], the tempered target (p(D|w) p(w))^(1/T) times T."""
    net = _net("bayes")
    terms = minibatch_terms(net, X, Y, n=50, kl_weight=1.0, tempering=Tempering(0.3, "posterior"), samples=2,
                            generator=torch.Generator().manual_seed(0))
    cross_entropy = terms.kl + terms.entropy
    assert (terms.loss - terms.nll).item() * 50 == pytest.approx((cross_entropy - 0.3 * terms.entropy).item(), rel=1e-5)


def test_the_nll_is_the_gaussian_negative_log_likelihood_of_the_draws():
    net = _net("map")
    terms = minibatch_terms(net, X, Y, n=50, kl_weight=1.0, tempering=Tempering(), samples=1)
    mean = net.members[0](X)[:, 0]
    sigma = 0.8
    expected = (0.5 * math.log(2 * math.pi) + math.log(sigma) + (Y - mean).square() / (2 * sigma ** 2)).mean()
    assert terms.nll.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms.loss.item() == pytest.approx((terms.nll + terms.neg_log_prior / 50).item(), rel=1e-6)
    assert terms.kl is None and terms.elbo is None


def test_the_classification_nll_is_the_cross_entropy():
    net = _net("map", task="classification", out=3)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    terms = minibatch_terms(net, X, labels, n=50, kl_weight=1.0, tempering=Tempering(), samples=1)
    expected = torch.nn.functional.cross_entropy(net.members[0](X), labels)
    assert terms.nll.item() == pytest.approx(expected.item(), rel=1e-6)


def test_an_ensemble_trains_the_mean_of_its_members_losses():
    net = _net("ensemble")
    terms = minibatch_terms(net, X, Y, n=50, kl_weight=1.0, tempering=Tempering(), samples=1)
    singles = []
    for member in net.members:
        mean = member(X)[:, 0]
        nll = (0.5 * math.log(2 * math.pi) + math.log(0.8) + (Y - mean).square() / (2 * 0.8 ** 2)).mean()
        singles.append(nll + sum(layer.neg_log_prior() for layer in member.layers) / 50)
    assert terms.loss.item() == pytest.approx(torch.stack(singles).mean().item(), rel=1e-6)
