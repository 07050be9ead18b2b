"""beta schedules: the weight of the KL term as a pure function of the training step.

Spelled in the config (`objective.beta_schedule`) and on the command line (`--beta-schedule`) as

    constant                  beta at every step (the seed's `--beta 0.1`)
    linear:STEPS              linear warm-up from beta_start to beta over STEPS steps, then beta
    sigmoid:STEPS             logistic warm-up from beta_start to beta, centred on STEPS/2
    cyclical:CYCLES:RATIO     CYCLES warm-ups over the run, each rising over a fraction RATIO of its cycle

Every schedule moves between `beta_start` and `beta` (the target); `constant` ignores `beta_start`.
Steps count from 0: the first optimiser step is step 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelab.config import ObjectiveConfig
from vaelab.errors import UsageError

SPELLINGS = "constant, linear:STEPS, sigmoid:STEPS or cyclical:CYCLES:RATIO"


def linear_warmup(step: int, *, steps: int) -> float:
    """Fraction of the warm-up done: t / N, held at 1 after N steps (Bowman et al. 2016;
    Sønderby et al. 2016)."""
    return min(step / steps, 1.0)


def sigmoid_warmup(step: int, *, steps: int) -> float:
    """Logistic warm-up 1 / (1 + exp(-k (t - t0))) with t0 = N/2 and k = 10/N (Bowman et al. 2016).

    k = 10/N puts the warm-up between 0.7% (t = 0) and 99.3% (t = N) of the way.
    """
    t0, k = steps / 2, 10.0 / steps
    return 1.0 / (1.0 + math.exp(-k * (step - t0)))


def cyclical(step: int, *, total_steps: int, cycles: int, ratio: float) -> float:
    """Cyclical annealing (Fu et al. 2019, NAACL, section 3 and their `frange_cycle_linear`): M cycles over
    the T steps of the run.

    Cycle c (c = 0, ..., M - 1) starts at step floor(c T / M), so cycles are whole steps long (T / M rounded
    down or up) and the last one ends on the run's last step, T - 1. Within a cycle beta rises linearly by
    1 / (R T / M) a step from 0 and is held at 1 once there:

        f(t) = min((t - start_c) / (R T / M), 1),    c = the last cycle with start_c <= t

    With T = 100, M = 4, R = 0.5: 0, 0.08, ..., 0.96 over steps 0-12, 1 over steps 13-24, and 0 again at
    step 25. A step past the run (t >= T) stays in the last cycle: the weight a run ends with is never the
    0 of a cycle that does not exist. (The paper's closed form, tau = mod(t - 1, ceil(T / M)) / (T / M),
    starts a cycle every ceil(T / M) steps, which for T = 10, M = 4 puts a fourth cycle's beta = 0 on the
    last step; its code, followed here, does not.)
    """
    period = total_steps / cycles
    cycle = min(((step + 1) * cycles - 1) // total_steps, cycles - 1)  # the largest c with floor(c T / M) <= t
    start = (cycle * total_steps) // cycles
    return min((step - start) / (ratio * period), 1.0)


def check_config(config: ObjectiveConfig) -> BetaSchedule:
    """The schedule the config spells (a misspelling is a `UsageError`), with beta_start >= 0."""
    schedule = BetaSchedule.parse(config.beta_schedule, beta=config.beta, beta_start=config.beta_start)
    if not config.beta_start >= 0:
        raise UsageError(f"objective.beta_start={config.beta_start} must be >= 0: e.g. --beta-start 0")
    return schedule


def length_note(schedule: BetaSchedule, total_steps: int) -> str | None:
    """A warning when the schedule does not fit a run of `total_steps` steps (None when it does): a warm-up
    longer than the run never reaches beta; cycles so short that beta jumps to it in one step are no anneal.
    More cycles than steps is a `UsageError`: a cycle needs a step."""
    where = f"--beta-schedule {schedule.spelling()}"
    if schedule.kind in ("linear", "sigmoid") and schedule.steps > total_steps:
        reached = schedule(total_steps - 1)
        return (f"{where} warms up over {schedule.steps} steps but the run has {total_steps}: beta ends at "
                f"{reached:.3g}, not {schedule.beta:g}; use --beta-schedule {schedule.kind}:{max(1, total_steps // 2)} "
                "or a longer run")
    if schedule.kind == "cyclical":
        if schedule.cycles > total_steps:
            raise UsageError(f"{where} asks for {schedule.cycles} cycles in a run of {total_steps} steps: use at most "
                             f"{total_steps} cycles, e.g. --beta-schedule cyclical:{min(4, total_steps)}:"
                             f"{schedule.ratio:g}")
        if schedule.ratio * total_steps / schedule.cycles < 2:
            return (f"{where}: cycles of {total_steps / schedule.cycles:.3g} steps rise over "
                    f"{schedule.ratio * total_steps / schedule.cycles:.2g} steps, so beta jumps to {schedule.beta:g} "
                    "instead of annealing; use fewer cycles or a longer run")
    return None


@dataclass(frozen=True)
class BetaSchedule:
    """beta(t) = beta_start + (beta - beta_start) * f(t), with f one of the warm-ups above (f = 1 for constant)."""

    kind: str  # constant | linear | sigmoid | cyclical
    beta: float
    beta_start: float = 0.0
    steps: int = 0  # linear, sigmoid: length of the warm-up
    cycles: int = 0  # cyclical
    ratio: float = 0.0  # cyclical
    total_steps: int | None = None  # cyclical: the length of the run

    @classmethod
    def parse(cls, text: str, *, beta: float, beta_start: float = 0.0, total_steps: int | None = None) -> BetaSchedule:
        """Read a schedule spelled as in the module docstring; a misspelling raises a one-line `UsageError`."""
        kind, *fields = text.strip().split(":")
        where = f"objective.beta_schedule={text!r}"
        try:
            if kind == "constant" and not fields:
                return cls("constant", beta)
            if kind in ("linear", "sigmoid") and len(fields) == 1:
                steps = int(fields[0])
                if steps < 1:
                    raise UsageError(f"{where}: the warm-up needs at least 1 step, e.g. {kind}:5000")
                return cls(kind, beta, beta_start, steps=steps)
            if kind == "cyclical" and len(fields) == 2:
                cycles, ratio = int(fields[0]), float(fields[1])
                if cycles < 1 or not 0 < ratio <= 1:
                    raise UsageError(f"{where}: use at least 1 cycle and a ratio in (0, 1], e.g. cyclical:4:0.5")
                return cls("cyclical", beta, beta_start, cycles=cycles, ratio=ratio, total_steps=total_steps)
        except ValueError:
            pass
        raise UsageError(f"{where} is not a schedule: use {SPELLINGS}, e.g. --beta-schedule cyclical:4:0.5")

    def spelling(self) -> str:
        """The schedule as `--beta-schedule` spells it, e.g. "cyclical:4:0.5"."""
        fields = {"linear": [self.steps], "sigmoid": [self.steps], "cyclical": [self.cycles, f"{self.ratio:g}"]}
        return ":".join(str(part) for part in [self.kind, *fields.get(self.kind, [])])

    def fraction(self, step: int) -> float:
        """f(t): how far from beta_start (0) to beta (1) the schedule is at `step`."""
        if self.kind == "linear":
            return linear_warmup(step, steps=self.steps)
        if self.kind == "sigmoid":
            return sigmoid_warmup(step, steps=self.steps)
        if self.kind == "cyclical":
            if self.total_steps is None:
                raise ValueError("a cyclical beta schedule needs the run's total_steps")
            return cyclical(step, total_steps=self.total_steps, cycles=self.cycles, ratio=self.ratio)
        return 1.0

    def __call__(self, step: int) -> float:
        return self.beta_start + (self.beta - self.beta_start) * self.fraction(step)
