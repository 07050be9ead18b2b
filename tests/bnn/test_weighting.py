"""The KL weighting schemes as lambdas against the ELBO, and the two temperatures (bnn/weighting.py)."""

import math
from fractions import Fraction

import pytest

from vaelab.bnn.weighting import (
    KLWeighting,
    Tempering,
    blundell_log2_weight,
    blundell_weight,
    minibatch_size,
    minibatches,
)
from vaelab.errors import UsageError


def test_blundell_weights_sum_to_one_for_every_epoch_length_up_to_2048():
    """Every M through the float limits: 2^M overflows past 1023, 2^-i underflows past 1074."""
    for m in range(1, 2049):
        assert math.fsum(blundell_weight(i, m) for i in range(1, m + 1)) == pytest.approx(1, abs=1e-12), m


@pytest.mark.parametrize("m", [4096, 10_000, 65_536, 99_999, 100_000])
def test_blundell_weights_sum_to_one_for_long_epochs(m):
    assert math.fsum(blundell_weight(i, m) for i in range(1, m + 1)) == pytest.approx(1, abs=1e-12)


def test_blundell_weights_are_the_papers_fraction_where_it_can_be_computed():
    for m in (1, 2, 3, 10, 60):
        for i in range(1, m + 1):
            assert blundell_weight(i, m) == pytest.approx(float(Fraction(2 ** (m - i), 2 ** m - 1)), rel=1e-15)


def test_blundell_weights_do_not_overflow_where_the_formula_as_written_does():
    m = 100_000
    with pytest.raises(OverflowError):
        _ = 2.0 ** m  # the 2^M of pi_i = 2^(M-i) / (2^M - 1), as the paper writes it
    assert blundell_weight(1, m) == 0.5
    assert blundell_weight(m, m) == 0.0  # 2^-100000 underflows to 0, it does not overflow
    assert blundell_log2_weight(m, m) == -m  # log2 pi_M = -M - log2(1 - 2^-M), exact


@pytest.mark.parametrize("n,b", [(300, 30), (309, 32), (10, 10), (7, 3), (5, 1)])
def test_every_scheme_counts_the_kl_the_stated_number_of_times_per_epoch(n, b):
    m = minibatches(n, b)
    assert sum(minibatch_size(i, n, b) for i in range(1, m + 1)) == n
    assert KLWeighting.parse("elbo").epoch_mean(0, n=n, batch_size=b) == 1
    assert KLWeighting.parse("blundell").epoch_mean(0, n=n, batch_size=b) == pytest.approx(1, rel=1e-12)
    assert KLWeighting.parse("uniform-minibatch").epoch_mean(0, n=n, batch_size=b) == pytest.approx(1, rel=1e-12)
    assert KLWeighting.parse("batch").epoch_mean(0, n=n, batch_size=b) == pytest.approx(m)  # ~ N / B times the ELBO


def test_scheme_weights_at_each_step():
    n, b = 300, 30  # M = 10 minibatches of 30
    assert KLWeighting.parse("uniform-minibatch").weight(3, n=n, batch_size=b) == pytest.approx(1)
    assert KLWeighting.parse("batch").weight(3, n=n, batch_size=b) == 10  # N / B
    blundell = KLWeighting.parse("blundell")
    assert blundell.weight(0, n=n, batch_size=b) == pytest.approx(0.5 / (1 - 2 ** -10) * 10)  # pi_1 N / B
    assert blundell.weight(9, n=n, batch_size=b) == pytest.approx(2 ** -10 / (1 - 2 ** -10) * 10)
    assert blundell.weight(10, n=n, batch_size=b) == blundell.weight(0, n=n, batch_size=b)  # the next epoch restarts
    # the uneven last minibatch: 309 rows in 9 of 32 and one of 21
    assert KLWeighting.parse("uniform-minibatch").weight(9, n=309, batch_size=32) == pytest.approx(309 / (10 * 21))
    assert KLWeighting.parse("constant:0.25").weight(123, n=n, batch_size=b) == 0.25


def test_warm_up_is_a_pure_function_of_the_step():
    warm_up = KLWeighting.parse("linear:100")
    assert [warm_up.weight(t, n=300, batch_size=30) for t in (0, 50, 100, 5000)] == [0, 0.5, 1, 1]


@pytest.mark.parametrize("text", ["elbo", "blundell", "uniform-minibatch", "batch", "constant:0.1", "linear:2000"])
def test_schemes_spell_themselves_as_parsed(text):
    assert KLWeighting.parse(text).text() == text


@pytest.mark.parametrize("text,message", [
    ("kl", "--kl-weight 'kl' is unknown"), ("constant:-1", "LAMBDA must be a finite number >= 0"),
    ("constant:x", "LAMBDA must be"), ("linear:0", "STEPS must be a whole number >= 1"), ("batch:2", "unknown"),
])
def test_bad_schemes_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        KLWeighting.parse(text)


def test_likelihood_tempering_is_lambda_times_t_and_posterior_tempering_weighs_the_entropy():
    assert (Tempering(0.1, "likelihood").lambda_factor, Tempering(0.1, "likelihood").entropy_factor) == (0.1, 0.0)
    assert (Tempering(0.1, "posterior").lambda_factor, Tempering(0.1, "posterior").entropy_factor) == (1.0, 0.9)
    assert Tempering(1.0, "posterior").entropy_factor == 0.0  # T = 1: the ELBO either way


@pytest.mark.parametrize("t", [0.0, -1.0, math.inf, math.nan])
def test_a_temperature_must_be_positive_and_finite(t):
    with pytest.raises(UsageError, match="must be a finite number > 0"):
        Tempering(t)
