"""RUN/report.html for a table run: the same self-contained page as an image run's (viz/report.py's base
template, figures embedded as data URIs), with a BNN's sections: the run, what its KL weight means, the test
metrics, the loss terms, KL per layer, pruning and calibration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vaelab.bnn.config import BNNConfig
from vaelab.bnn.explain import explain_kl_weight
from vaelab.bnn.metrics import ECE_BINS, SNR_THRESHOLD
from vaelab.run_dir.layout import REPORT
from vaelab.run_dir.metrics import read_metrics
from vaelab.viz.html import Section, Table, embed_png, render

log = logging.getLogger("vaelab")

SECTIONS = {
    "run": "The run",
    "questions": "Your three questions, in short",
    "kl-weight": "What your KL weight means",
    "test": "Test metrics",
    "losses": "The two loss terms over training",
    "layers": "KL per layer and pruned units",
    "calibration": "Calibration",
}
CAPTIONS = {
    "losses.png": "Top: the expected NLL per example (blue, left axis) and the KL of the whole network in nats (red, "
                  "right axis), each on its own scale; lines are training averages, dots validation passes. Bottom: "
                  "the loss as minimised against the lambda = 1 negative ELBO per example.",
    "kl_per_layer.png": "KL(q || p) of each layer at the validation passes; layer1 takes the inputs.",
    "snr.png": f"Each hidden unit's incoming-weight SNR = sqrt(sum mu^2 / sum sigma^2); below {SNR_THRESHOLD:g} "
               "(dashed) the unit is counted as pruned.",
    "reliability.png": f"Classification: accuracy in each of {ECE_BINS} equal-width confidence bins against the "
                       "diagonal. Regression: the fraction of test targets below each predictive quantile against "
                       "its level.",
}
TEST_ROWS = (  # (metric, label, how to read it)
    ("predictive_nll", "predictive NLL", "nats / example, -log mean_s p(y | x, w_s); lower is better"),
    ("rmse", "RMSE", "of the predictive mean, in units of the training targets' std"),
    ("accuracy", "accuracy", "of the mean predicted probabilities"),
    ("ece", "ECE", f"expected calibration error, {ECE_BINS} bins; 0 is calibrated"),
    ("elbo", "ELBO at lambda = 1", "nats / example, -(nll + KL / N); higher is better"),
    ("nll", "expected NLL", "nats / example, E_q[-log p(y | x, w)]: the ELBO's data term"),
    ("kl", "KL(q || p)", "nats, the whole network"),
    ("pruned_units", "pruned hidden units", f"incoming-weight SNR below {SNR_THRESHOLD:g}"),
    ("noise_std", "noise std", "the likelihood's sigma_n, in units of the training targets' std"),
    ("neg_log_prior", "-log p(w)", "nats, the point estimate's prior term"),
)


def write_bnn_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    config = BNNConfig.load(run_dir / "config.yaml")
    records = read_metrics(run_dir / "metrics.jsonl")
    test = next((r for r in reversed(records) if r.get("split") == "test"), {})
    last_val = next((r for r in reversed(records) if r.get("split") == "val"), {})
    pngs = {path.name: path for path in sorted((run_dir / "figures").glob("*.png"))}

    def figures(*names: str) -> list:
        return [embed_png(pngs[name], CAPTIONS[name]) for name in names if name in pngs]

    rows = [(label, test[key], note) for key, label, note in TEST_ROWS if key in test]
    if "hidden_units" in test:
        rows = [(label, f"{value} of {test['hidden_units']}" if label == "pruned hidden units" else value, note)
                for label, value, note in rows]
    reading = None
    if config.model.kind == "bayes":
        reading = explain_kl_weight(config.objective.kl_weight, n=_train_rows(config),
                                    batch_size=config.training.batch_size, temperature=config.objective.temperature,
                                    tempering=config.objective.tempering).text()
    layers = Table(columns=["layer", "KL(q || p), nats"],
                   rows=[[key[3:], value] for key, value in test.items() if key.startswith("kl/")])
    context: dict[str, Any] = {
        "title": f"{run_dir.name}: {config.describe()}",
        "config": config, "run_dir": run_dir, "steps": int(test.get("step", last_val.get("step", 0))),
        "config_yaml": (run_dir / "config.yaml").read_text(), "reading": reading, "test_rows": rows,
        "layers": layers, "threshold": SNR_THRESHOLD,
        "figures": {"losses": figures("losses.png"), "layers": figures("kl_per_layer.png", "snr.png"),
                    "calibration": figures("reliability.png")},
    }
    present = {"run": True, "questions": True, "kl-weight": reading is not None, "test": bool(rows),
               "losses": bool(context["figures"]["losses"]),
               "layers": bool(context["figures"]["layers"] or layers.rows),
               "calibration": bool(context["figures"]["calibration"])}
    context["sections"] = [Section(id, title) for id, title in SECTIONS.items() if present[id]]
    return render("bnn.html.j2", run_dir / REPORT, titles=SECTIONS, **context)


def refresh_bnn_report(run_dir: Path) -> Path | None:
    """`write_bnn_report` at the end of a run: a failure costs the page, never the run's results."""
    try:
        written = write_bnn_report(run_dir)
    except Exception as error:  # noqa: BLE001 - the run and its numbers are saved
        log.warning("the run is saved, but its report failed (%s: %s)", type(error).__name__, error)
        return None
    log.info("report: %s", written)
    return written


def _train_rows(config: BNNConfig) -> int:
    """N, the training rows of the run's split (the table is small: reading it again is cheap)."""
    from vaelab.bnn.data import load_table

    return load_table(config.data).size("train")



SWEEP_COLUMNS = ("kind", "lambda", "test_predictive_nll", "test_rmse", "test_accuracy", "test_ece", "test_elbo",
                 "pruned_units", "status")


def write_bnn_sweep_report(out: Path, rows: list[dict[str, Any]], figures: list[Path], axis_keys: list[str]) -> Path:
    """SWEEP/report.html of a bnn sweep: the figure and the summary table, each run linked to its own page."""
    shown = [column for column in SWEEP_COLUMNS if any(row.get(column) is not None for row in rows)]
    columns = ["run", *axis_keys, *shown]
    table = Table(columns=columns, rows=[[row.get(column) for column in columns] for row in rows],
                  links={i: f"{row['run_dir']}/report.html" for i, row in enumerate(rows)})
    sections = [Section("figure", "Test metrics against lambda"), Section("summary", "Every run")]
    return render("bnn_sweep.html.j2", out / REPORT, title=f"{out.name}: a sweep of table networks",
                  sections=sections if figures else sections[1:], sweep_dir=out, table=table,
                  figures=[embed_png(path, SWEEP_CAPTION) for path in figures])


SWEEP_CAPTION = ("Left to right: test predictive NLL, RMSE or accuracy, and the fraction of hidden units pruned "
                 f"(incoming-weight SNR < {SNR_THRESHOLD:g}) against lambda, the KL weight relative to the ELBO "
                 "(lambda = 1, dotted). Dashed lines: the MAP network and the deep ensemble, with their sd bands.")
