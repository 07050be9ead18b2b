"""How much the KL term weighs: the schemes the libraries use, each read as a lambda against the ELBO,
and the two kinds of temperature. Plain arithmetic: no torch, so `vaelab explain --bnn` stays fast.

One convention (DESIGN.md): the per-example loss of a minibatch of B_i examples, from a training set of N, is

    loss = mean_b NLL_b + lambda * KL(q(w) || p(w)) / N                       (1)

where NLL_b = E_q[-log p(y_b | x_b, w)] and KL is the closed-form KL of the whole network. lambda = 1 is the
negative ELBO divided by N (Blundell et al. 2015, eq. 1-2). Every scheme is written as its lambda in (1):

    elbo               lambda = 1: KL / N per example, the ELBO.
    uniform-minibatch  Blundell et al. 2015, eq. 8-9 with pi_i = 1/M: each of the M = ceil(N / B) minibatches of an
                       epoch minimises sum_b NLL_b + KL / M (a minibatch *sum*); divided by its B_i examples that is
                       lambda_i = N / (M B_i): exactly 1 when B divides N.
    blundell           Blundell et al. 2015, eq. 9: sum_b NLL_b + pi_i KL for minibatch i = 1..M of the epoch, with
                       pi_i = 2^(M-i) / (2^M - 1). 2^M overflows a float for M > 1023, so it is computed as
                       pi_i = 2^-i / (1 - 2^-M) (the same number; 2^-i underflows to 0 gracefully). sum_i pi_i = 1,
                       so over an epoch the whole KL is counted once, but lambda_i = pi_i N / B_i runs from about
                       M / 2 on the first minibatch to nearly 0 on the last: it is not constant across minibatches.
    batch              KL / B_i per example (the common bug: `kl / x.size(0)` instead of `kl / len(dataset)`):
                       lambda_i = N / B_i, the KL weighed N/B times too much.
    constant:L         lambda = L.
    linear:S           warm-up: lambda = min(1, t / S) at step t (t counted from 0), the ELBO from step S on.

Temperature T (Wenzel et al. 2020, "How good is the Bayes posterior in deep neural networks really?", sec. 2-3):

    likelihood tempering   target p(D|w)^(1/T) p(w). Times T, the variational objective is
                           sum_i NLL_i + T KL: the same as lambda -> T * lambda. T < 1 ("cold") counts the data
                           1/T times; the prior is untouched.
    posterior tempering    target (p(D|w) p(w))^(1/T). Times T the objective is E_q[-log p(D|w)] + E_q[-log p(w)]
                           - T H[q] = sum_i NLL_i + KL + (1 - T) H[q]: the entropy of q is tempered as well, and
                           for a Gaussian target every variance shrinks by the factor T (the precision becomes A / T).

Both temperatures leave the learned means where the untempered posterior of their target puts them; they
differ in the variances: likelihood tempering sharpens the data's part of the precision only, posterior
tempering the whole of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelab.errors import UsageError

SCHEMES = ("elbo", "blundell", "uniform-minibatch", "batch", "constant:LAMBDA", "linear:STEPS")
TEMPERINGS = ("likelihood", "posterior")
SCHEME_HELP = {
    "elbo": "lambda = 1, KL / N per example: the ELBO (default)",
    "blundell": "pi_i = 2^(M-i) / (2^M - 1) on minibatch i of M (Blundell et al. 2015, eq. 9): lambda_i = pi_i N / B_i",
    "uniform-minibatch": "KL / M per minibatch sum (Blundell et al. 2015, eq. 8): lambda_i = N / (M B_i), 1 if B | N",
    "batch": "KL / B per example, the common bug: lambda = N / B",
    "constant:LAMBDA": "lambda = LAMBDA, e.g. constant:0.1",
    "linear:STEPS": "warm-up: lambda = min(1, step / STEPS)",
}


def minibatches(n: int, batch_size: int) -> int:
    """M = ceil(N / B): the minibatches of an epoch (the last one holds the remainder)."""
    return -(-n // batch_size)


def minibatch_size(i: int, n: int, batch_size: int) -> int:
    """B_i, the size of minibatch i = 1..M: B, except the last, which holds N - (M - 1) B."""
    return batch_size if i < minibatches(n, batch_size) else n - (minibatches(n, batch_size) - 1) * batch_size


def minibatch_index(step: int, n: int, batch_size: int) -> int:
    """i = 1..M, the place in its epoch of the minibatch trained at `step` (counted from 0)."""
    return step % minibatches(n, batch_size) + 1


def blundell_log2_weight(i: int, m: int) -> float:
    """log2 pi_i = (M - i) - log2(2^M - 1) = -i - log2(1 - 2^-M), finite for any M (Blundell et al. 2015, eq. 9)."""
    return -i - math.log1p(-math.ldexp(1.0, -m)) / math.log(2)


def blundell_weight(i: int, m: int) -> float:
    """pi_i = 2^-i / (1 - 2^-M); never overflows (2^-i underflows to 0 for i > 1074)."""
    return math.ldexp(1.0, -i) / -math.expm1(-m * math.log(2))


@dataclass(frozen=True)
class KLWeighting:
    """A KL weighting scheme (the module docstring); `value` is LAMBDA for constant, STEPS for linear."""

    kind: str
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> KLWeighting:
        """'elbo', 'blundell', 'uniform-minibatch', 'batch', 'constant:0.1', 'linear:2000'; else a UsageError."""
        kind, _, value = str(text).strip().partition(":")
        if kind in ("elbo", "blundell", "uniform-minibatch", "batch") and not value:
            return cls(kind)
        if kind == "constant" and value:
            number = _number(value)
            if number is None or not math.isfinite(number) or number < 0:
                raise UsageError(f"--kl-weight {text}: LAMBDA must be a finite number >= 0, e.g. constant:0.1")
            return cls(kind, number)
        if kind == "linear" and value:
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"--kl-weight {text}: STEPS must be a whole number >= 1, e.g. linear:2000")
            return cls(kind, int(value))
        raise UsageError(f"--kl-weight {text!r} is unknown: use one of {', '.join(SCHEMES)}")

    def text(self) -> str:
        """The scheme as `--kl-weight` spells it."""
        if self.kind == "constant":
            return f"constant:{self.value:g}"
        if self.kind == "linear":
            return f"linear:{int(self.value)}"
        return self.kind

    def weight(self, step: int, *, n: int, batch_size: int) -> float:
        """lambda in (1) for the minibatch trained at `step` (from 0), N training examples, batches of B."""
        i = minibatch_index(step, n, batch_size)
        size = minibatch_size(i, n, batch_size)
        if self.kind == "elbo":
            return 1.0
        if self.kind == "uniform-minibatch":
            return n / (minibatches(n, batch_size) * size)
        if self.kind == "blundell":
            return blundell_weight(i, minibatches(n, batch_size)) * n / size
        if self.kind == "batch":
            return n / size
        if self.kind == "constant":
            return float(self.value)
        return min(1.0, step / self.value)  # linear warm-up

    def epoch_mean(self, step: int, *, n: int, batch_size: int) -> float:
        """The mean lambda over the minibatches of the epoch that `step` falls in, weighted by their sizes:
        what the whole epoch weighs the KL by (1 for elbo, blundell and uniform-minibatch)."""
        m = minibatches(n, batch_size)
        first = step - step % m
        return math.fsum(self.weight(first + j, n=n, batch_size=batch_size)
                         * minibatch_size(j + 1, n, batch_size) for j in range(m)) / n


@dataclass(frozen=True)
class Tempering:
    """Temperature T and what it tempers: 'likelihood' (p(D|w)^(1/T), lambda -> T lambda) or 'posterior'
    ((p(D|w) p(w))^(1/T): the entropy term of q is weighed by T too). T = 1 is no tempering."""

    temperature: float = 1.0
    kind: str = "likelihood"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise UsageError(f"--temperature {self.temperature:g} must be a finite number > 0: e.g. --temperature 0.1 "
                             "(a cold posterior) or 1 (none)")
        if self.kind not in TEMPERINGS:
            raise UsageError(f"--tempering {self.kind!r} is unknown: use {' or '.join(TEMPERINGS)}")

    @property
    def lambda_factor(self) -> float:
        """What the temperature multiplies lambda by: T under likelihood tempering, 1 under posterior tempering."""
        return self.temperature if self.kind == "likelihood" else 1.0

    @property
    def entropy_factor(self) -> float:
        """The weight of H[q] in the KL term as it enters (1): KL + (1 - T) H[q] under posterior tempering
        (E_q[-log p(w)] - T H[q] = KL + (1 - T) H[q]), 0 under likelihood tempering."""
        return 1.0 - self.temperature if self.kind == "posterior" else 0.0


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
