"""Monte Carlo KL between the aggregate posterior q(z) and the prior p(z), in both directions, with their finite-N
bias stated, bootstrap intervals, and the rule that withholds them where N images cannot say. p(z) is N(0, I) or
the run's own prior (model/prior.py: the VampPrior, the fitted mixture), which needs only a log density and draws.

The aggregate posterior of the data is q(z) = E_x q(z|x); from N images it is estimated by the mixture of
their N posteriors, q_N(z) = (1/N) sum_n q(z|x_n). With S codes z ~ q(z|x_n) per image and as many codes
z ~ p(z):

    KL(q || p) = E_q[log q(z) - log p(z)]:
        self-inclusive   log q(z) ~ log q_N(z),               the code's own posterior x_n in the mixture
        leave-one-out    log q(z) ~ log q_{-n}(z) = log (1/(N-1)) sum_{m != n} q(z|x_m)
    KL(p || q) = E_p[log p(z) - log q(z)],  log q(z) ~ log q_N(z)      (where the prior puts mass q lacks: holes)

Finite-N bias. KL(q || p) = E_x KL(q(z|x) || p) - I(x; z), and the two estimates differ only in the
estimate of the mutual information I(x; z) they imply: the self-inclusive one is the InfoNCE bound
(van den Oord et al. 2018), below I and at most log N; the leave-one-out one is the L1Out bound, above I in
expectation (Poole et al. 2019, "On variational bounds of mutual information", sec. 2.2 and eq. 15). So, in
expectation,

    leave-one-out  <=  KL(q || p)  <=  self-inclusive

and the two close in on each other as N grows. When each code is explained by its own posterior alone (the
posteriors do not overlap, I(x; z) above log N), the self-inclusive estimate is about E KL(q(z|x) || p) - log N
and the leave-one-out one is far below: neither says anything about q(z). For KL(p || q), q_N(z) is an
unbiased estimate of q(z) at any fixed z, so log q_N(z) is biased low (Jensen) and the estimate is biased
*high*, by about E_p[1 / (2 ESS(z))] when the mixture's weights at z are well spread.

Validity rule (docs/metrics.md). A direction is reported when the mixture resolves q(z) where it is
evaluated: the median effective number of components (Kish's ESS, (sum_m w_m)^2 / sum_m w_m^2 with
w_m = q(z|x_m), the code's own posterior left out for KL(q || p)) is at least ESS_MIN. Otherwise it is
withheld, with the reason: a few components then decide each log q(z), and the bias is unbounded.

Intervals: a bootstrap over images (BOOTSTRAP resamples, seeded): each resample draws N images with
replacement, with their codes and their posteriors in the mixture (a posterior drawn c times counts c times);
the prior's codes are resampled alongside. The interval is the 2.5% to 97.5% percentile of the resampled
estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from vaelab.diagnostics.intervals import percentile_interval
from vaelab.diagnostics.latent import Encodings
from vaelab.model.prior import GaussianMixture, StandardNormal

BOOTSTRAP = 200  # resamples of the bootstrap over images
ESS_MIN = 10.0  # the median effective number of mixture components below which a direction is withheld
SAMPLES_PER_IMAGE = 2  # codes drawn from each posterior (and as many from the prior)


@dataclass
class AggregateKL:
    """The Monte Carlo estimates of one set of N posteriors, in nats, with 95% bootstrap intervals ([lo, hi],
    None when not computed); a withheld estimate is None with its reason in `withheld`."""

    images: int
    samples: int  # codes per image, and prior codes per image
    q_p: float | None  # self-inclusive: biased high
    q_p_loo: float | None  # leave-one-out: biased low
    p_q: float | None  # biased high
    q_p_ci: list[float] | None = None
    q_p_loo_ci: list[float] | None = None
    p_q_ci: list[float] | None = None
    ess_q: float = math.nan  # median effective number of other images' posteriors at the codes of q
    ess_p: float = math.nan  # the same at the codes of p
    withheld: dict[str, str] = field(default_factory=dict)


def log_densities(codes: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z_i | x_m) for every code z_i (M, Z) and posterior m of (N, Z), summed over dimensions: the components'
    log densities of the mixture of the N posteriors. (M, N)"""
    return GaussianMixture(mean.new_zeros(len(mean)), mean, logvar=logvar).component_log_prob(codes)


def effective_components(log_weights: torch.Tensor) -> torch.Tensor:
    """Kish's effective number (sum w)^2 / sum w^2 of each row's weights exp(log_weights), -inf weights out. (M,)"""
    shifted = log_weights - log_weights.max(dim=1, keepdim=True).values
    w = shifted.exp()
    return w.sum(dim=1).pow(2) / w.pow(2).sum(dim=1)


def aggregate_kl(encodings: Encodings, *, samples_per_image: int = SAMPLES_PER_IMAGE, bootstrap: int = BOOTSTRAP,
                 generator: torch.Generator | None = None, seed: int = 0,
                 prior: StandardNormal | GaussianMixture | None = None) -> AggregateKL:
    """The three estimates of the module docstring for the N posteriors of `encodings` (a VAE's), float64, against
    `prior` (None: N(0, I))."""
    mean, logvar = encodings.mean.double(), encodings.logvar.double()  # (N, Z)
    n, s = len(mean), samples_per_image
    prior = StandardNormal(mean.shape[1], mean.device) if prior is None else prior
    eps = torch.randn((s, *mean.shape), generator=generator, device=mean.device, dtype=encodings.mean.dtype).double()
    codes_q = (mean + torch.exp(0.5 * logvar) * eps).reshape(-1, mean.shape[1])  # (S N, Z); row i from i % N
    codes_p = prior.sample(len(codes_q), generator).double()  # (S N, Z)
    owner = torch.arange(n, device=mean.device).repeat(s)  # (S N,)
    own = torch.zeros(s * n, n, dtype=torch.bool, device=mean.device)
    own[torch.arange(s * n), owner] = True
    l_q, l_p = log_densities(codes_q, mean, logvar), log_densities(codes_p, mean, logvar)  # (S N, N) each
    prior_q, prior_p = prior.log_prob(codes_q), prior.log_prob(codes_p)
    others = l_q.masked_fill(own, -math.inf)

    ess_q = float(effective_components(others).median()) if n > 1 else math.nan
    ess_p = float(effective_components(l_p).median())
    log_n = math.log(n)
    result = AggregateKL(
        images=n, samples=s,
        q_p=float((torch.logsumexp(l_q, dim=1) - log_n - prior_q).mean()),
        q_p_loo=float((torch.logsumexp(others, dim=1) - math.log(n - 1) - prior_q).mean()) if n > 1 else None,
        p_q=float((prior_p - (torch.logsumexp(l_p, dim=1) - log_n)).mean()),
        ess_q=ess_q, ess_p=ess_p,
    )
    if bootstrap:
        result.q_p_ci, result.q_p_loo_ci, result.p_q_ci = _bootstrap(l_q, others, l_p, prior_q, prior_p, owner,
                                                                     bootstrap, seed)
    if not ess_q >= ESS_MIN:
        reason = (f"the other images' posteriors barely reach each image's codes (median effective number "
                  f"{ess_q:.3g} of {n - 1}, below {ESS_MIN:g}): the mixture of {n} posteriors does not resolve q(z) "
                  "there, and the estimates' bias (up to the rate minus log N) is unbounded")
        for name in ("q_p", "q_p_loo"):
            setattr(result, name, None)
            setattr(result, f"{name}_ci", None)
            result.withheld[name] = reason
    if not ess_p >= ESS_MIN:
        result.p_q = result.p_q_ci = None
        result.withheld["p_q"] = (f"codes drawn from the prior fall where few posteriors have mass (median effective "
                                  f"number {ess_p:.3g} of {n}, below {ESS_MIN:g}): on {n} images the estimate is "
                                  "only an upper bound, biased high by an unknown amount")
    return result


def _bootstrap(l_q: torch.Tensor, others: torch.Tensor, l_p: torch.Tensor, prior_q: torch.Tensor,
               prior_p: torch.Tensor, owner: torch.Tensor, resamples: int, seed: int
               ) -> tuple[list[float], list[float] | None, list[float]]:
    """95% percentile intervals of the three estimates over `resamples` bootstrap resamples of the images.

    A resample's mixture weighs posterior m by its count c_m, so sum_m c_m q(z|x_m) is one matrix product of
    exp(log q - row max) with the counts for all resamples at once."""
    n = l_q.shape[1]
    rng = np.random.default_rng(seed)
    counts = torch.from_numpy(rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)).to(l_q)  # (B, N)
    prior_draws = torch.from_numpy(rng.integers(0, len(l_p), size=(resamples, len(l_p)))).to(l_q.device)

    def log_mixture(log_q: torch.Tensor) -> torch.Tensor:
        """log sum_m c_m q(z_i|x_m) for every code and resample. (M, B)"""
        top = log_q.max(dim=1, keepdim=True).values
        return ((log_q - top).exp() @ counts.T).log() + top

    weight = counts[:, owner].T  # (S N, B): how often each code's image was drawn
    self_q = log_mixture(l_q) - math.log(n) - prior_q[:, None]
    q_p = (weight * self_q).sum(dim=0) / weight.sum(dim=0)
    loo = None
    if n > 1:
        remaining = n - weight  # components left once the code's own image is taken out
        loo_q = log_mixture(others) - remaining.clamp(min=1).log() - prior_q[:, None]
        loo = torch.where(weight > 0, weight * loo_q, 0.0).sum(dim=0) / weight.sum(dim=0)
    holes = prior_p[:, None] - (log_mixture(l_p) - math.log(n))  # (M, B)
    p_q = holes.gather(0, prior_draws.T).mean(dim=0)
    return _percentiles(q_p), None if loo is None else _percentiles(loo), _percentiles(p_q)


def _percentiles(values: torch.Tensor) -> list[float]:
    return percentile_interval(values.cpu().numpy())
