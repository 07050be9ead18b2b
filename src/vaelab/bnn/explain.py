"""The translation between a BNN's KL weight and a temperature: what `--kl-weight SCHEME` with N rows and
minibatches of B means, as `vaelab explain --beta` reads a VAE's beta as a decoder sigma (objectives/explain.py).

With the per-example loss  mean_b NLL_b + lambda * KL / N  (weighting.py), multiplying by N / lambda gives

    (1 / lambda) * sum_n NLL_n + KL  =  -E_q[log p(D | w)^(1 / lambda)] + KL(q || p)

the negative ELBO of the likelihood raised to the power 1 / lambda: likelihood tempering at T = lambda
(Wenzel et al. 2020, sec. 3). lambda = 1 is the ELBO, lambda > 1 a warm posterior (the data count as N / lambda
rows), lambda < 1 a cold one. It is the same knob as beta for a VAE, where sse + beta * KL is a Gaussian decoder
with sigma^2 = beta / 2, or, with the likelihood fixed, the likelihood at temperature beta.

Plain arithmetic (no torch): `vaelab explain` answers at once.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from vaelab.bnn.weighting import KLWeighting, Tempering, blundell_log2_weight, minibatch_size, minibatches
from vaelab.errors import UsageError


@dataclass(frozen=True)
class KLWeightReading:
    """A scheme read as lambda and T. `first`/`last`/`mean`: lambda on the epoch's first and last minibatch and
    its size-weighted mean over the epoch (weighting.KLWeighting.epoch_mean); for linear:S, at step 0, at S and
    over the warm-up."""

    scheme: KLWeighting
    n: int
    batch_size: int
    tempering: Tempering
    first: float
    last: float
    mean: float
    log10_last: float  # log10 of `last` (Blundell's last weight is far below the smallest float)

    @property
    def m(self) -> int:
        return minibatches(self.n, self.batch_size)

    @property
    def temperature(self) -> float:
        """The likelihood temperature the scheme implies: T = lambda (its epoch mean; a warm-up's value once it is
        over), times --temperature under likelihood tempering."""
        return (self.last if self.scheme.kind == "linear" else self.mean) * self.tempering.lambda_factor

    def text(self) -> str:
        """The reading as `vaelab explain --bnn` prints it (paragraphs wrapped at 100 columns)."""
        s, n, b, m = self.scheme, self.n, self.batch_size, self.m
        last_b = minibatch_size(m, n, b)
        lines = [(f"--kl-weight {s.text()} with N = {n} training rows and minibatches of B = {b} "
                  f"(M = {m} per epoch{'' if last_b == b else f', the last of {last_b}'})"), "",
                 "  loss per example = mean_b NLL_b + lambda * KL / N", f"  {_formula(s)}"]
        if s.kind == "linear":
            lines.append(f"  lambda = {_num(self.first)} at step 0, {_num(self.last)} from step {int(s.value)} on; "
                         f"mean over the warm-up {_num(self.mean)}")
        elif s.kind not in ("elbo", "constant"):
            lines.append(f"  lambda = {_num(self.first)} on minibatch 1, {_power(self.last, self.log10_last)} on "
                         f"minibatch {m}; mean over an epoch {_num(self.mean)}")
        t = self.tempering
        if t.temperature != 1 and t.kind == "likelihood":
            lines.append(f"  --temperature {t.temperature:g} (likelihood tempering) multiplies it: "
                         f"lambda = {_num(self.temperature)}")
        lines += ["", f"implied likelihood temperature: T = lambda = {_num(self.temperature)}"
                      + (f"; the data count as N / T = {_num(n / self.temperature)} rows" if self.temperature else "")
                      + (" (after the warm-up)" if s.kind == "linear" else "")]
        if t.kind == "posterior" and t.temperature != 1:
            lines.append(f"posterior temperature: T = {t.temperature:g} on the prior and the entropy of q as well "
                         "(--tempering posterior)")
        lines.append("")
        paragraphs = [_what_t_means(self.temperature, n)]
        if s.kind == "blundell":
            paragraphs.append(
                f"Blundell et al.'s pi_i = 2^(M-i) / (2^M - 1) is not constant across minibatches: the first one"
                f" carries half the epoch's KL (lambda = {_num(self.first)}, about M / 2), the last almost none. The"
                " weights sum to 1, so over an epoch the KL is counted exactly once and the mean is the ELBO, but"
                " each step's objective swings with its place in the epoch: the fit depends on which rows come"
                " first, and early minibatches train a warm posterior, late ones plain maximum likelihood."
                " (2^M overflows a float for M > 1023; vaelab computes pi_i = 2^-i / (1 - 2^-M).)")
        if s.kind == "batch":
            paragraphs.append(
                f"KL / B is the common bug (`kl / x.size(0)` where `kl / len(dataset)` was meant): it weighs the"
                f" KL N / B = {_num(n / b)} times more than the ELBO. Expect an underfit mean, inflated predictive"
                " variance and hidden units pruned to the prior; the fix is --kl-weight elbo.")
        if t.kind == "posterior" and t.temperature != 1:
            paragraphs.append(
                f"--tempering posterior at T = {t.temperature:g} tempers the prior as well: the target is"
                f" (p(D|w) p(w))^(1/T), and the objective adds (1 - T) H[q] / N, so every variance of q shrinks by"
                f" the factor T (the precision of a Gaussian target becomes A / T) while the means stay where the"
                " untempered posterior puts them.")
        paragraphs.append(
            "The same knob as a VAE's beta: `sse + beta * KL` is a Gaussian decoder with sigma^2 = beta / 2, and"
            " with the likelihood held fixed, the likelihood at temperature beta (`vaelab explain --beta B`).")
        for paragraph in paragraphs:
            lines += [*textwrap.wrap(paragraph, width=100, subsequent_indent="  "), ""]
        return "\n".join(lines).rstrip() + "\n"


def explain_kl_weight(scheme: str, *, n: int, batch_size: int, temperature: float = 1.0,
                      tempering: str = "likelihood") -> KLWeightReading:
    """lambda and the implied temperature of `scheme` for N training rows and minibatches of B."""
    if n < 1:
        raise UsageError(f"--n {n} must be the number of training rows, at least 1: e.g. --n 309")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size} must be at least 1: e.g. --batch-size 32")
    parsed, temper = KLWeighting.parse(scheme), Tempering(temperature, tempering)
    b = min(batch_size, n)
    m = minibatches(n, b)
    if parsed.kind == "linear":
        steps = int(parsed.value)
        first, last = parsed.weight(0, n=n, batch_size=b), parsed.weight(steps, n=n, batch_size=b)
        mean = math.fsum(parsed.weight(t, n=n, batch_size=b) for t in range(steps)) / steps
    else:
        first, last = parsed.weight(0, n=n, batch_size=b), parsed.weight(m - 1, n=n, batch_size=b)
        mean = parsed.epoch_mean(0, n=n, batch_size=b)
    log10_last = math.log10(last) if last > 0 else -math.inf
    if parsed.kind == "blundell":  # pi_M N / B_M, exact in log space even where it underflows
        log10_last = blundell_log2_weight(m, m) * math.log10(2) + math.log10(n / minibatch_size(m, n, b))
    return KLWeightReading(scheme=parsed, n=n, batch_size=b, tempering=temper, first=first, last=last, mean=mean,
                           log10_last=log10_last)


def _formula(scheme: KLWeighting) -> str:
    if scheme.kind == "constant":
        return f"lambda = {scheme.value:g}"
    return {
        "elbo": "lambda = 1: the ELBO, KL / N per example",
        "uniform-minibatch": "minibatch sum: sum_b NLL_b + KL / M  ->  lambda_i = N / (M B_i)",
        "blundell": "minibatch sum: sum_b NLL_b + pi_i KL, pi_i = 2^(M-i) / (2^M - 1)  ->  lambda_i = pi_i N / B_i",
        "batch": "mean_b NLL_b + KL / B_i  ->  lambda_i = N / B_i",
        "linear": "lambda = min(1, step / STEPS)",
    }[scheme.kind]


def _what_t_means(t: float, n: int) -> str:
    if t == 0:
        return ("T = 0: the KL is switched off. This is maximum likelihood with noisy weights: nothing keeps q near"
                " the prior, its variances are free to shrink to zero, and the objective bounds nothing.")
    if math.isclose(t, 1, rel_tol=1e-9):
        return ("T = 1: this is the ELBO, a lower bound on log p(D), and q approximates the Bayes posterior of"
                " this prior and likelihood. Compare runs by the lambda = 1 ELBO (`elbo`) and by the test"
                " predictive NLL, never by the loss they minimised.")
    if t > 1:
        return (f"T = {_num(t)} > 1 is a warm posterior: the likelihood is raised to the power 1/T = {_num(1 / t)},"
                f" as if the table held {_num(n / t)} rows instead of {n}. The prior wins more of the trade: expect"
                " wider predictive distributions, an underfit mean and hidden units whose incoming weights fall"
                " back to the prior (pruned: SNR < 1), the weight-space twin of a VAE's posterior collapse. The"
                " objective is no longer a bound on log p(D); `elbo` in metrics.jsonl still is.")
    return (f"T = {_num(t)} < 1 is a cold posterior (Wenzel et al. 2020): the data count 1/T = {_num(1 / t)}"
            " times, the prior and the entropy of q less. Variances shrink and the fit approaches maximum"
            " likelihood; Wenzel et al. found T < 1 predicts better in deep networks, which is a statement about"
            " the prior or the model, not a license: measure the test NLL and calibration on your data.")


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _power(value: float, log10_value: float) -> str:
    """A number that may be below the smallest float: 1.2e-05, or 10^-30103.2 when it underflows."""
    if value > 0 and log10_value > -300:
        return _num(value)
    return f"10^{log10_value:.1f}"
