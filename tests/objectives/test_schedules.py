"""Known values of the beta schedules, which are pure functions of the step."""

import math

import pytest

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.objectives.rules import length_warnings
from vaelab.objectives.schedules import BetaSchedule, cyclical, linear_warmup, sigmoid_warmup


def test_cyclical_100_steps_4_cycles_ratio_half():
    # Fu et al. 2019: 0, 0.08, ..., 0.96 over the first half of each 25-step cycle, then 1 until it restarts
    values = [cyclical(t, total_steps=100, cycles=4, ratio=0.5) for t in range(100)]
    rising = [0.08 * t for t in range(13)]
    one_cycle = rising + [1.0] * 12
    assert len(one_cycle) == 25
    assert values == pytest.approx(one_cycle * 4, abs=1e-12)
    assert values[12] == pytest.approx(0.96) and values[13] == 1.0 and values[24] == 1.0 and values[25] == 0.0


def test_cyclical_cycles_start_on_whole_steps_as_in_fu_et_al_code():
    # T = 10, M = 4, R = 0.5: cycles start at floor(c * 2.5) = 0, 2, 5, 7 and rise by 1 / 1.25 = 0.8 a step
    values = [cyclical(t, total_steps=10, cycles=4, ratio=0.5) for t in range(10)]
    assert values == pytest.approx([0, 0.8, 0, 0.8, 1, 0, 0.8, 0, 0.8, 1])
    # T = 7, M = 2, R = 1: cycles of 3 and 4 steps, rising by 1 / 3.5 a step and never held
    values = [cyclical(t, total_steps=7, cycles=2, ratio=1.0) for t in range(7)]
    assert values == pytest.approx([0, 1 / 3.5, 2 / 3.5, 0, 1 / 3.5, 2 / 3.5, 3 / 3.5])


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.8, 1.0])
def test_a_cyclical_run_never_ends_on_the_first_step_of_a_cycle(ratio):
    # the last step, T - 1, is in the last of the M cycles, at (L - 1) / (R T / M) of its rise (L its length);
    # where the rise leaves a step at the top, (1 - R) T / M >= 1, that is beta itself
    for cycles in range(1, 9):
        for total in range(cycles, 120):
            last = cyclical(total - 1, total_steps=total, cycles=cycles, ratio=ratio)
            length = total - (cycles - 1) * total // cycles
            assert last == pytest.approx(min((length - 1) / (ratio * total / cycles), 1.0))
            if (1 - ratio) * total / cycles >= 1:
                assert last == 1.0
            if total // cycles >= 2:
                assert last > 0
            # a step past the run (a validation's lookup) stays in the last cycle
            assert cyclical(total, total_steps=total, cycles=cycles, ratio=ratio) >= last


def test_cyclical_schedule_scales_between_beta_start_and_beta():
    schedule = BetaSchedule.parse("cyclical:4:0.5", beta=0.5, beta_start=0.1, total_steps=100)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.1 + 0.4 * 0.4)
    assert schedule(20) == pytest.approx(0.5)
    assert schedule(50) == pytest.approx(0.1)


def test_linear_warmup_values():
    schedule = BetaSchedule.parse("linear:10", beta=1.0)
    assert [schedule(t) for t in (0, 1, 5, 10, 11, 1000)] == pytest.approx([0, 0.1, 0.5, 1, 1, 1])
    assert linear_warmup(250, steps=1000) == 0.25
    shifted = BetaSchedule.parse("linear:4", beta=0.2, beta_start=0.1)
    assert [shifted(t) for t in range(6)] == pytest.approx([0.1, 0.125, 0.15, 0.175, 0.2, 0.2])


def test_sigmoid_warmup_values():
    # 1 / (1 + exp(-k (t - t0))) with t0 = N / 2, k = 10 / N
    assert sigmoid_warmup(500, steps=1000) == 0.5
    assert sigmoid_warmup(0, steps=1000) == pytest.approx(1 / (1 + math.exp(5)))
    assert sigmoid_warmup(1000, steps=1000) == pytest.approx(1 / (1 + math.exp(-5)))
    assert sigmoid_warmup(250, steps=1000) == pytest.approx(1 / (1 + math.exp(2.5)))
    schedule = BetaSchedule.parse("sigmoid:1000", beta=2.0, beta_start=0.0)
    assert schedule(500) == pytest.approx(1.0)
    values = [schedule(t) for t in range(0, 2000, 50)]
    assert values == sorted(values) and values[-1] == pytest.approx(2.0, abs=1e-4)


def test_constant_ignores_beta_start_and_the_step():
    schedule = BetaSchedule.parse("constant", beta=0.1, beta_start=0.7)
    assert {schedule(t) for t in (0, 1, 10**6)} == {0.1}


def test_cyclical_needs_the_run_length():
    schedule = BetaSchedule.parse("cyclical:4:0.5", beta=1.0)
    with pytest.raises(ValueError, match="total_steps"):
        schedule(0)


@pytest.mark.parametrize("text", ["", "linear", "linear:0", "linear:abc", "sigmoid:1:2", "cyclical:4",
                                  "cyclical:0:0.5", "cyclical:4:0", "cyclical:4:1.5", "constant:3", "cosine:100"])
def test_misspelt_schedules_are_one_line_usage_errors(text):
    with pytest.raises(UsageError) as error:
        BetaSchedule.parse(text, beta=1.0)
    message = str(error.value)
    assert "\n" not in message and "beta_schedule" in message and "e.g." in message


def test_warm_ups_and_ramps_longer_than_the_run_are_warned_about():
    def notes(steps, **objective):
        config = Config().with_updates({f"objective.{key}": value for key, value in objective.items()})
        return length_warnings(config, steps)

    assert notes(12, beta_schedule="linear:5000") == [(
        "--beta-schedule linear:5000 warms up over 5000 steps but the run has 12: beta ends at 0.0022, not 1; "
        "use --beta-schedule linear:6 or a longer run")]
    assert notes(12, capacity=25.0, capacity_steps=100000)[0].startswith(
        "--capacity-steps 100000 is longer than the run's 12 steps: the capacity ends at 0.00275 nats, not 25")
    assert "beta jumps to 1" in notes(12, beta_schedule="cyclical:4:0.5")[0]  # cycles of 3 steps rising over 1.5
    assert notes(5000, beta_schedule="linear:5000") == notes(100, beta_schedule="cyclical:4:0.5") == []
    assert notes(100000, capacity=25.0) == [] and notes(12, geco_target=0.01) == []
    with pytest.raises(UsageError, match="asks for 4 cycles in a run of 3 steps"):
        notes(3, beta_schedule="cyclical:4:0.5")
