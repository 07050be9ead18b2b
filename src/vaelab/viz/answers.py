"""The three questions answered with the numbers of the runs on a page (a folder of runs, `vaelab runs compare`):
one sentence each, computed from their eval.json (or, before `vaelab evaluate`, their final validation records)
and their gradient views, beside the general answer every page gives.

    scale      is it sound to scale the KL?  each beta's implied pixel noise against the errors its decoder makes,
               and the like-for-like ELBO (at the shared sigma) of the runs
    gradients  what it does in gradient descent: the KL gradient against the reconstruction's on the encoder
    trade      a smaller beta: more rate, better reconstructions, an aggregate posterior further from the prior
"""

from __future__ import annotations

import math
from typing import Any

from vaelab.diagnostics.gradients import regime
from vaelab.numbers import format_number
from vaelab.objectives.likelihood import SHARED_SIGMA
from vaelab.run_dir import RunSummary
from vaelab.viz.side_by_side import bound_gap, difference, latest_gradient_view, run_beta

SQUARED_ERROR = ("sse", "mse-mean")


def answers(runs: list[RunSummary], names: list[str]) -> dict[str, str]:
    """{"scale": ..., "gradients": ..., "trade": ...}, each one sentence on these runs; a question these runs say
    nothing about is left out."""
    vaes = sorted((i for i, run in enumerate(runs) if run_beta(run) is not None),
                  key=lambda i: run_beta(runs[i]))
    found = {"scale": _scale(runs, names, vaes), "gradients": _gradients(runs, names, vaes),
             "trade": _trade(runs, names, vaes)}
    return {key: text for key, text in found.items() if text}


def _number(run: RunSummary, key: str) -> float | None:
    """A run's number from eval.json, else from its final validation record; None where it has none."""
    value = run.evaluation.get(key) if key in run.evaluation else run.final("val").get(key)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _beta_name(runs: list[RunSummary], names: list[str], i: int) -> str:
    return f"{names[i]} (beta = {format_number(run_beta(runs[i]))})"


def _scale(runs: list[RunSummary], names: list[str], vaes: list[int]) -> str | None:
    """Each squared-error VAE's implied sigma against the RMS error of its decoder, and the shared-sigma ELBOs."""
    read = [i for i in vaes if runs[i].config.objective.recon in SQUARED_ERROR and _number(runs[i], "sigma")]
    parts = []
    if read:
        errors = {i: _number(runs[i], "sigma_optimal") or math.sqrt(_number(runs[i], "mse") or math.nan)
                  for i in read}
        stated = ", ".join(f"{_beta_name(runs, names, i)} states pixel noise sigma = "
                           f"{format_number(_number(runs[i], 'sigma'), 2)} where its decoder's RMS error is "
                           f"{format_number(errors[i], 2)}" for i in read)
        closest = min(read, key=lambda i: abs(math.log(_number(runs[i], "sigma") / errors[i]))
                      if math.isfinite(errors[i]) and errors[i] > 0 else math.inf)
        parts.append(f"Read as decoders, {stated}: the closest to calibrated (its stated noise matching the errors it "
                     f"makes, Rybkin et al. 2021) is {names[closest]}")
    ranked = [i for i in vaes if _number(runs[i], "elbo_shared_sigma") is not None]
    if len(ranked) >= 2:
        best = max(ranked, key=lambda i: _number(runs[i], "elbo_shared_sigma"))
        worst = min(ranked, key=lambda i: _number(runs[i], "elbo_shared_sigma"))
        gap = _gap(runs[best], runs[worst], "elbo_shared_sigma")
        parts.append(f"compared like for like, at the one shared sigma {format_number(SHARED_SIGMA, 2)}, "
                     f"{names[best]} has the higher ELBO, {gap} above {names[worst]}")
    if not parts:
        return None
    return "; ".join(parts) + "."


def _gap(better: RunSummary, worse: RunSummary, key: str) -> str:
    """"640 ± 21 nats (paired over 70 images, beyond noise)", or from the final validation records without an SE."""
    found = difference(better, worse, key)
    if found is not None:
        value, se, n, beyond = found
        return (f"{format_number(value)} ± {format_number(se, 2)} nats (paired over {n} images, "
                f"{'beyond' if beyond else 'within'} noise)")
    value = _number(better, key) - _number(worse, key)
    return f"{format_number(value)} nats (final validation passes; vaelab evaluate gives its standard error)"


def _gradients(runs: list[RunSummary], names: list[str], vaes: list[int]) -> str | None:
    """The latest gradient view of each VAE on its encoder, in numbers and in a word (diagnostics.gradients.regime),
    or, without one, where the two terms settled."""
    views = {i: latest_gradient_view(runs[i]) for i in vaes}
    seen = [i for i in vaes if views[i] is not None and _finite(views[i].get("grad_ratio/encoder"))]
    if seen:
        words = {i: regime(views[i]["grad_ratio/encoder"], _float(views[i].get("grad_cancellation/encoder")))
                 for i in seen}
        listed = "; ".join(f"{_beta_name(runs, names, i)}: {format_number(views[i]['grad_ratio/encoder'], 2)}, "
                           f"cosine {format_number(views[i].get('grad_cosine/encoder'), 2)} ({words[i]}, step "
                           f"{views[i]['step']})" for i in seen)
        text = f"On the encoder, |grad beta KL| / |grad recon| at the last gradient view was {listed}"
        if len(seen) > 1 and len(set(words.values())) == 1 and words[seen[0]] == "balanced":
            text += (": the two terms cancel in every run whatever its beta, so beta shows in where they balance "
                     "(the KL and the error each settled at), not in the size of the step")
        return text + "."
    settled = [i for i in vaes if runs[i].final("val") and _finite(runs[i].final("val").get("kl"))]
    if not settled:
        return None
    listed = "; ".join(f"{_beta_name(runs, names, i)} at KL {format_number(runs[i].final('val')['kl'])} nats and "
                       f"MSE {format_number(runs[i].final('val').get('mse'))} (z ~ q)" for i in settled)
    return f"No gradient view was logged (training.grad_every = 0); the two terms balanced at: {listed}."


def _trade(runs: list[RunSummary], names: list[str], vaes: list[int]) -> str | None:
    """The smallest-beta VAE against the largest: rate, reconstruction quality and the aggregate posterior, each
    clause worded by what the numbers say (a difference within noise is called so)."""
    if len({run_beta(runs[i]) for i in vaes}) < 2:
        return None
    low, high = vaes[0], vaes[-1]
    evaluated = bool(runs[low].evaluation and runs[high].evaluation)
    clauses, usual = [], []
    rate = _pair(runs, low, high, "kl")
    if rate is not None:
        clauses.append(f"spends {'more' if rate[0] > rate[1] else 'fewer'} nats per image on its codes (rate "
                       f"{_text(rate)} nats)")
        usual.append(rate[0] > rate[1])
    if evaluated and (psnr := _pair(runs, low, high, "psnr")) is not None:
        found = difference(runs[low], runs[high], "psnr")
        within = found is not None and not found[3]
        word = "as well as" if within else "better than" if psnr[0] > psnr[1] else "worse than"
        paired = "" if found is None else (f", {'+' if found[0] >= 0 else ''}{format_number(found[0], 3)} ± "
                                           f"{format_number(found[1], 2)} paired")
        clauses.append(f"reconstructs {word} it (PSNR {_text(psnr)} dB{paired})")
        usual.append(within or psnr[0] > psnr[1])
    elif (mse := _pair(runs, low, high, "mse")) is not None:
        clauses.append(f"reconstructs {'better than' if mse[0] < mse[1] else 'worse than'} it (MSE of one z ~ q "
                       f"{_text(mse)})")
        usual.append(mse[0] < mse[1])
    if evaluated and (holes := _pair(runs, low, high, "aggregate_kl_p_q")) is not None:
        clauses.append(f"leaves {'larger' if holes[0] > holes[1] else 'smaller'} holes in the prior "
                       f"(KL(N(0, I) || q(z)) {_text(holes)} nats)")
        usual.append(holes[0] > holes[1])
    if evaluated and (active := _pair(runs, low, high, "active_units")) is not None:
        clauses.append(f"uses {_text(active)} active latent dimensions")
    if not clauses:
        return None
    text = f"{_beta_name(runs, names, low)}, against {_beta_name(runs, names, high)}, " + ", ".join(clauses)
    text += (": the trade-off as the rate-distortion view has it." if all(usual) else
             ": not the usual trade-off in every respect (short training or few images can do this; more steps or "
             "seeds would tell).")
    if not evaluated:
        text += " From the final validation passes; vaelab evaluate adds PSNR, the aggregate posterior and errors."
    return text


def _pair(runs: list[RunSummary], low: int, high: int, key: str) -> tuple[float, float] | None:
    """(the low-beta run's number, the high-beta run's), None unless both have it."""
    values = _number(runs[low], key), _number(runs[high], key)
    return None if None in values else values


def _text(pair: tuple[float, float]) -> str:
    return f"{format_number(pair[0])} against {format_number(pair[1])}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _float(value: Any) -> float:
    return float(value) if _finite(value) else math.nan


def shared_sigma_cost(evaluation: dict[str, Any]) -> str | None:
    """What reading a run at the shared sigma costs its encoder, fitted to its own: the gap IWAE_K - ELBO (a lower
    bound on KL(q(z|x) || p(z|x)), the encoder's misfit) at the shared sigma against the same at its own, and
    which is larger (by more than twice their combined standard error, taken as independent: conservative for
    these paired numbers). None for a run whose own sigma is the shared one (sse at beta = 1), and before an
    evaluation with per-image bounds."""
    sigma = evaluation.get("sigma")
    shared = bound_gap(evaluation, "iwae_shared_sigma", "elbo_shared_sigma")
    own = bound_gap(evaluation, "iwae", "elbo")
    if not _finite(sigma) or shared is None or own is None or math.isclose(sigma, SHARED_SIGMA, rel_tol=1e-6):
        return None
    k = evaluation.get("iw_samples", "K")
    shape = "wider" if sigma < SHARED_SIGMA else "narrower"
    text = (f"This run's encoder was fitted to its own sigma, {format_number(sigma, 3)}; at the shared sigma "
            f"{format_number(SHARED_SIGMA, 3)} its decoder's posterior is {shape} than its q(z|x). IWAE_{k} - ELBO, a "
            "lower bound on how much of the ELBO's distance to log p(x) that misfit costs, is "
            f"{format_number(shared[0])} ± {format_number(shared[1], 2)} nats at the shared sigma and "
            f"{format_number(own[0])} ± {format_number(own[1], 2)} at its own (over {shared[2]} images): ")
    if shared[0] - own[0] > 2 * math.hypot(shared[1], own[1]):
        return text + ("read at the shared sigma its encoder costs it more, so part of its deficit there is the "
                       "encoder's misfit, not its decoder's; the IWAE at the shared sigma charges it less.")
    return text + "read at the shared sigma its encoder costs it no more than at its own, so the comparison there " \
                  "is not tilted against it by its encoder."
