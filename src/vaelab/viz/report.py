"""The report a person reads: one self-contained HTML page per run, per sweep and per folder of runs.

    write_report(path)        RUN/report.html, SWEEP/report.html or DIR/report.html, whichever `path` is
    refresh_report(path)      the same at the end of train, evaluate and sweep, logging instead of raising

Everything is inline (figures as base64 PNG data URIs, CSS in a <style>, an optional sortable-table
script), so the page opens offline, from a USB stick; its Content-Security-Policy forbids loading
anything else. Pages are rendered by Jinja2 templates (vaelab/viz/templates/, autoescaped). Each
section appears when its data exists: figures in RUN/figures/, diagnostics in RUN/eval.json and
metrics.jsonl, a sweep's summary.csv and figures. A figure this module does not know still appears,
under "Other figures".
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from PIL import Image

from vaelab import __version__
from vaelab.errors import UsageError
from vaelab.objectives.explain import BetaReading, explain_beta
from vaelab.training.checkpoint import load_checkpoint
from vaelab.viz.compare import KEY_METRICS, RunSummary, find_runs, format_number, plot_comparison, read_run

log = logging.getLogger("vaelab")

REPORT = "report.html"
DOC = "docs/kl-weighting.md"

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("vaelab.viz", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _breakable(text: str) -> markupsafe.Markup:
    """Long names (elbo_optimal_sigma, objective.beta) may break after "_" and "." in a narrow table header."""
    return markupsafe.Markup(str(markupsafe.escape(text)).replace("_", "_<wbr>").replace(".", ".<wbr>"))


def _code_spans(text: str) -> markupsafe.Markup:
    """`name` in plain text (as `vaelab explain` writes it) set as code."""
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text))))


_templates.filters.update(num=format_number, breakable=_breakable, code_spans=_code_spans)


@dataclass
class Figure:
    """A PNG embedded as a data URI, with its natural size (the page never scales it up)."""

    src: str
    width: int
    height: int
    caption: str = ""


@dataclass
class Section:
    """An entry of the table of contents; the template renders the section with this id."""

    id: str
    title: str


@dataclass
class Table:
    """A table of plain values; numbers are formatted by the template. `links` maps a row to an href
    for its first cell, `notes` a row to a line of text under its first cell."""

    columns: list[str]
    rows: list[list[Any]]
    links: dict[int, str] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)

    def select(self, columns: list[str]) -> Table:
        """The same rows with only `columns` (the first column stays first, with its links and notes)."""
        keep = [self.columns.index(column) for column in columns]
        return Table(columns=columns, rows=[[row[i] for i in keep] for row in self.rows], links=self.links,
                     notes=self.notes)


def embed_png(source: Path | bytes, caption: str = "") -> Figure:
    """A PNG file (or its bytes) as a data URI."""
    data = source.read_bytes() if isinstance(source, Path) else source
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return Figure(src="data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                  width=width, height=height, caption=caption)


def write_report(path: str | Path) -> Path:
    """Write the report of a run (config.yaml), a sweep (summary.csv) or a folder holding runs."""
    path = Path(path)
    if (path / "config.yaml").is_file():
        return write_run_report(path)
    if (path / "summary.csv").is_file():
        return write_sweep_report(path)
    if path.is_dir() and find_runs(path):
        return write_runs_report(path)
    raise UsageError(f"{path} is neither a run (config.yaml), a sweep (summary.csv) nor a folder of runs: "
                     "give the --out of `vaelab train`, `vaelab sweep` or `vaelab demo`")


def refresh_report(path: Path) -> Path | None:
    """`write_report(path)` at the end of a command that has saved its results (train, evaluate, sweep).

    The page only reads saved files, so a failure here costs the page, never the results: it is
    logged with the command that retries it, and None is returned.
    """
    try:
        written = write_report(path)
    except Exception as error:  # noqa: BLE001 - whatever broke, the results are saved and the page can be redone
        log.warning("the results are saved, but the report failed (%s: %s); retry with: vaelab report %s",
                    type(error).__name__, error, path)
        return None
    log.info("report: %s", written)
    return written


def _render(template: str, out: Path, **context: Any) -> Path:
    html = _templates.get_template(template).render(
        version=__version__, generated=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), doc=DOC, **context
    )
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------------------------------------- one run

SECTIONS = {
    "run": "The run",
    "warnings": "Warnings",
    "questions": "Your three questions, in short",
    "beta": "What your beta means",
    "losses": "The two loss terms over training",
    "reconstructions": "Reconstructions",
    "samples": "Samples from the prior",
    "walks": "Interpolations and traversals",
    "gradients": "Gradient shares",
    "latent-usage": "KL per dimension and active units",
    "aggregate": "Aggregate posterior against the prior",
    "likelihood": "Likelihood and reconstruction quality",
    "other-figures": "Other figures",
}

CAPTIONS = {
    "losses.png": "Top: the reconstruction term (blue, left axis) and the KL (red, right axis), each on its own "
                  "scale; lines are training averages, dots validation passes. Bottom: the loss that was minimised "
                  "against the beta = 1 negative ELBO.",
    "reconstructions.png": "Validation images (top row) and their reconstructions through the posterior mean.",
    "samples.png": "Decodes of z drawn from the prior N(0, I), with fixed noise.",
    "interpolations.png": "Decoded straight lines in latent space between pairs of validation images.",
    "traversals.png": "One latent dimension at a time swept across its range, the others held fixed: the most "
                      "active dimensions first.",
    "gradients.png": "Norms of the two gradients, their cosine, and the KL term's share of the update, per part "
                     "of the network, over training.",
    "kl_per_dim.png": "The mean KL of each latent dimension, sorted: a dimension near zero carries no information.",
    "latent_map.png": "The posterior means of validation images, projected on their two principal components.",
}

# eval.json (names in docs/metrics.md): (key, label, how to read it), in the order the tables show them.
LIKELIHOOD = (
    ("elbo", "ELBO, beta = 1", "nats / image; a lower bound on log p(x), higher is better"),
    ("iwae", "IWAE bound", "nats / image; tighter than the ELBO, closer to log p(x)"),
    ("bits_per_dim", "bits / dim", "from the IWAE bound, for 8-bit pixels; lower is better"),
    ("sigma", "decoder sigma", "the run's own (implied, fixed or learned) pixel noise"),
    ("elbo_optimal_sigma", "ELBO at the optimal sigma",
     "nats / image, with the one sigma that fits these errors best: the same footing for runs of any beta"),
    ("iwae_optimal_sigma", "IWAE at the optimal sigma", "nats / image"),
    ("bits_per_dim_optimal_sigma", "bits / dim at the optimal sigma", "lower is better"),
    ("sigma_optimal", "optimal sigma", "sqrt of the mean squared error per pixel"),
    ("mse", "MSE", "per pixel, pixels in [0, 1]"),
    ("psnr", "PSNR", "dB; higher is better"),
    ("ssim", "SSIM", "1 is a perfect reconstruction"),
)
AGGREGATE = (
    ("aggregate_posterior_kl", "KL of the moment-matched q(z) to N(0, I)",
     "nats; 0 when q(z) has the prior's mean and covariance"),
    ("aggregate_posterior_mmd", "MMD between q(z) and N(0, I)", "0 when the two agree"),
    ("index_code_mi", "index-code mutual information", "nats; what z tells about which image it came from"),
    ("total_correlation", "total correlation", "nats; dependence between the latent dimensions"),
    ("dimensionwise_kl", "dimension-wise KL", "nats; each marginal of q(z) against N(0, 1)"),
)
LATENT = (
    ("active_units", "active units", "dimensions with Var_x E[z|x] > 0.01 (Burda et al. 2016)"),
    ("latent_dim", "latent dimensions", "all there are"),
    ("kl", "KL", "nats / image, the sum over dimensions of the bars above"),
)
WALKS = (
    ("smoothness", "interpolation smoothness",
     "summed step-to-step distances / end-to-end distance along decoded lines; 1 is perfectly even"),
)
# eval.json entries that describe the evaluation rather than measure the model: shown in a sentence.
EVALUATION_FACTS = ("run", "checkpoint", "step", "description", "model", "recon", "beta", "data", "split", "images",
                    "pixels", "iw_samples", "seed", "seconds", "active_threshold", "mmd_kernel", "mmd_bandwidth",
                    "smoothness_pairs", "warnings", "not_applicable", "figures")
# metrics.jsonl fields that count training events worth a warning (steps skipped for a non-finite loss, ...)
EVENT_FIELD = re.compile(r"skipped|nonfinite|non_finite|^nan")


def write_run_report(run_dir: str | Path) -> Path:
    """RUN/report.html from config.yaml, metrics.jsonl, figures/*.png, eval.json and skipped.txt."""
    run = read_run(run_dir)
    return _render("run.html.j2", run.run_dir / REPORT, titles=SECTIONS, **run_context(run))


def run_context(run: RunSummary) -> dict[str, Any]:
    """Everything run.html.j2 shows; a section's key is absent or empty when its data does not exist."""
    pngs = {path.name: path for path in sorted((run.run_dir / "figures").glob("*.png"))}
    shown: set[str] = set()

    def figures(*names: str) -> list[Figure]:
        found = [name for name in names if name in pngs]
        shown.update(found)
        return [embed_png(pngs[name], CAPTIONS.get(name, "")) for name in found]

    evaluation = run.evaluation
    used: set[str] = set()

    def rows(spec: tuple[tuple[str, str, str], ...]) -> list[tuple[str, Any, str]]:
        """(label, value, note) of the keys eval.json has; a null value shows its reason (`not_applicable`)."""
        found = []
        for key, label, note in spec:
            if key in evaluation and (_is_number(evaluation[key]) or evaluation[key] is None):
                reason = evaluation.get("not_applicable", {}).get(key)
                found.append((label, evaluation[key], reason or note))
                used.add(key)
        return found

    context: dict[str, Any] = {
        "title": f"{run.name}: {run.config.describe()}",
        "run": run,
        "config": run.config,
        "config_yaml": (run.run_dir / "config.yaml").read_text(),
        "settings": _settings(run),
        "final": _final_table(run),
        "reading": _beta_reading(run),
        "figures": {
            "losses": figures("losses.png"),
            "reconstructions": figures("reconstructions.png"),
            "samples": figures("samples.png"),
            "walks": figures("interpolations.png", "traversals.png"),
            "gradients": figures("gradients.png"),
            "latent-usage": figures("kl_per_dim.png"),
            "aggregate": figures("latent_map.png"),
        },
        "gradients": _gradient_table(run),
        "walks": rows(WALKS),
        "latent": rows(LATENT),
        "aggregate": rows(AGGREGATE),
        "likelihood": rows(LIKELIHOOD),
        "warnings": _warnings(run),
    }
    context["other_numbers"] = [(key, value) for key, value in evaluation.items()
                                if key not in used and key not in EVALUATION_FACTS and _is_number(value)]
    context["evaluation"] = {key: evaluation[key] for key in EVALUATION_FACTS if key in evaluation}
    context["figures"]["other-figures"] = figures(*(name for name in pngs if name not in shown))
    present = {
        "run": True,
        "warnings": bool(context["warnings"]),
        "questions": True,
        "beta": context["reading"] is not None,
        "losses": bool(context["figures"]["losses"] or context["final"].rows),
        "reconstructions": bool(context["figures"]["reconstructions"]),
        "samples": bool(context["figures"]["samples"]),
        "walks": bool(context["figures"]["walks"] or context["walks"]),
        "gradients": bool(context["figures"]["gradients"] or context["gradients"].rows),
        "latent-usage": bool(context["figures"]["latent-usage"] or context["latent"]),
        "aggregate": bool(context["figures"]["aggregate"] or context["aggregate"]),
        "likelihood": bool(context["likelihood"] or context["other_numbers"]),
        "other-figures": bool(context["figures"]["other-figures"]),
    }
    context["sections"] = [Section(id, title) for id, title in SECTIONS.items() if present[id]]
    return context


def _settings(run: RunSummary) -> list[tuple[str, str]]:
    """The config in short phrases, for the reader who does not want to parse YAML."""
    data, model, objective, training = run.config.data, run.config.model, run.config.objective, run.config.training
    size = f"{data.image_size}x{data.image_size}" if data.image_size else "the source's default size"
    channels = {None: "channels as in the source", 1: "grey", 3: "RGB"}[data.channels]
    limit = f", first {data.limit} images" if data.limit else ""
    weighting = f"beta = {objective.beta:g}"
    if objective.beta_schedule != "constant":
        weighting += f", schedule {objective.beta_schedule} from {objective.beta_start:g}"
    if objective.free_bits > 0:
        weighting += f", free bits {objective.free_bits:g} nats ({objective.free_bits_mode})"
    if objective.capacity is not None:
        weighting += f", capacity to {objective.capacity:g} nats over {objective.capacity_steps} steps"
    if objective.geco_target is not None:
        weighting += f", GECO with target {objective.geco_target:g} ({objective.geco_units})"
    epochs = training.epochs or 10
    planned = f"{training.steps} steps" if training.steps else f"{epochs} epoch{'s' if epochs != 1 else ''}"
    return [
        ("data", f"{data.spec}, {size}, {channels}{limit}, {data.val_fraction:.0%} held out for validation"),
        ("model",
         f"{'VAE' if model.kind == 'vae' else 'plain autoencoder'}, latent {model.latent_dim}, width {model.width}"),
        ("objective", f"{objective.recon} reconstruction term" + ("" if model.kind == "ae" else f", {weighting}")),
        ("training", (f"{run.steps} steps done ({planned} asked), batch {training.batch_size}, "
                      f"Adam lr {training.lr:g}, seed {training.seed}")),
    ]


def _final_table(run: RunSummary) -> Table:
    """The last train and validation values of recon, KL, beta, ELBO, MSE and sigma."""
    rows = []
    for split in ("train", "val"):
        final = run.final(split)
        if final:
            rows.append([split, *(final.get(key, math.nan) for key, _ in KEY_METRICS)])
    return Table(columns=["split", *(label for _, label in KEY_METRICS)], rows=rows)


def _gradient_table(run: RunSummary) -> Table:
    """The latest gradient decomposition (`grad_<name>/<part>` in metrics.jsonl): one row per part."""
    latest = next((r for r in reversed(run.records) if any(_is_decomposition(key) for key in r)), None)
    if latest is None:
        return Table(columns=[], rows=[])
    values: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for key, value in latest.items():
        if _is_decomposition(key):
            name, _, part = key.partition("/")
            values.setdefault(part, {})[name] = value
            names += [] if name in names else [name]
    rows = [[part, *(parts.get(name, math.nan) for name in names)] for part, parts in values.items()]
    return Table(columns=[f"step {latest['step']}", *names], rows=rows)


def _is_decomposition(key: str) -> bool:
    """`grad_<name>/<part>`, not the train records' `grad_norm` (the total norm, logged when clipping)."""
    return key.startswith("grad_") and "/" in key


def _beta_reading(run: RunSummary) -> dict[str, Any] | None:
    """What the run's beta means (from `vaelab.objectives.explain`), or what its decoder states instead;
    None while the image size that the reading names is unknown (no checkpoint yet)."""
    objective = run.config.objective
    kind = run.config.model.kind
    facts = {"reading": None, "recon": objective.recon, "kind": kind, "beta": objective.beta,
             "sigma": run.final("val").get("sigma", math.nan)}
    if kind == "ae" or objective.recon not in ("sse", "mse-mean"):
        return facts
    shape = _image_shape(run)
    if shape is None:
        return None
    reading = explain_beta(objective.beta, recon=objective.recon, image_shape=shape)
    return {**facts, "reading": reading, "blocks": _explain_blocks(reading)}


def _explain_blocks(reading: BetaReading) -> list[tuple[str, str]]:
    """`BetaReading.text()` (what `vaelab explain` prints) cut into blocks for HTML: ("formula", lines),
    ("sigma", the implied-sigma line, shown large) and ("text", paragraph)."""
    blocks = []
    for block in reading.text().strip().split("\n\n"):
        if block.lstrip().startswith("loss ="):
            blocks.append(("formula", "\n".join(line.removeprefix("  ") for line in block.splitlines())))
        else:
            text = " ".join(line.strip() for line in block.splitlines())
            blocks.append(("sigma" if text.lower().startswith("implied decoder std") else "text", text))
    return blocks


def _image_shape(run: RunSummary) -> tuple[int, int, int] | None:
    """(C, H, W) the run trained on: config.yaml, or where it leaves them to the data, the checkpoint's model."""
    data = run.config.data
    if data.image_size is not None and data.channels is not None:
        return data.channels, data.image_size, data.image_size
    last = run.run_dir / "checkpoints" / "last.pt"
    if not last.is_file():
        return None
    hparams = load_checkpoint(last)["model_hparams"]
    return hparams["channels"], hparams["image_size"], hparams["image_size"]


def _warnings(run: RunSummary) -> list[dict[str, Any]]:
    """Posterior collapse (eval.json), non-finite or skipped training steps (metrics.jsonl), skipped inputs."""
    found = []
    for text in run.evaluation.get("warnings", []):
        found.append({"title": "From the evaluation", "text": str(text), "items": []})
    final = run.final("val")
    broken = [key for key in ("loss", "recon", "kl") if key in final and not math.isfinite(final[key])]
    if broken:
        found.append({"title": "Training diverged", "items": [],
                      "text": f"the last validation pass has non-finite {', '.join(broken)}: start a new run "
                              "with a lower learning rate (and without bf16 autocast, if it was on)"})
    events: dict[str, list[tuple[int, Any]]] = {}
    for record in run.records:
        for key, value in record.items():
            if EVENT_FIELD.search(key) and _is_number(value) and value > 0:
                events.setdefault(key, []).append((record["step"], value))
    for key, points in events.items():
        if key == "skipped_steps":  # the run's running total (training/nonfinite.py): the latest value is the count
            count = int(points[-1][1])
            found.append({"title": "Training events", "items": [],
                          "text": f"{count} step{'s' if count != 1 else ''} skipped (non-finite loss or gradient); "
                                  f"the first logged at step {points[0][0]}"})
            continue
        steps = ", ".join(str(step) for step, _ in points[:10]) + (", ..." if len(points) > 10 else "")
        found.append({"title": "Training events", "items": [],
                      "text": f"metrics.jsonl records {key} > 0 at {len(points)} logging points (steps {steps}; "
                              f"latest value {format_number(points[-1][1])})"})
    skipped = run.run_dir / "skipped.txt"
    if skipped.is_file():
        lines = [line for line in skipped.read_text().splitlines() if line.strip()]
        if lines:
            found.append({"title": "Skipped inputs", "items": lines[:50],
                          "text": f"{len(lines)} input file{'s' if len(lines) != 1 else ''} could not be read and "
                                  f"{'were' if len(lines) != 1 else 'was'} left out (skipped.txt"
                                  f"{', the first 50 below' if len(lines) > 50 else ''}):"})
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------------------ sweeps and folders of runs

# summary.csv columns (docs/metrics.md) shown in the sweep report's first table, with the grid's keys.
SWEEP_KEY_METRICS = ("rate", "distortion", "elbo", "elbo_optimal_sigma", "mse", "active_units",
                     "aggregate_posterior_kl")
RUNS_SECTIONS = {
    "summary": "Summary",
    "rate-distortion": "Rate against distortion",
    "vs-beta": "Metrics against beta",
    "reconstructions": "Reconstructions side by side",
    "comparison": "Loss terms over training",
    "beta": "What each beta means",
    "questions": "Your three questions, in short",
    "other-figures": "Other figures",
    "runs": "The runs",
}


def write_sweep_report(sweep_dir: str | Path) -> Path:
    """SWEEP/report.html from summary.csv (one row per run), the sweep's figures and its runs."""
    sweep_dir = Path(sweep_dir)
    with (sweep_dir / "summary.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader, [])
        rows = [[_parse_cell(cell) for cell in row] for row in reader if row]
    runs = [read_run(path) for path in find_runs(sweep_dir) if path != sweep_dir]
    table = Table(columns=columns, rows=rows, links=_run_links(sweep_dir, rows))
    # The run, the grid's dotted config keys and the numbers of the rate-distortion story first; every
    # column of summary.csv in a second table below.
    key_columns = [c for i, c in enumerate(columns) if i == 0 or "." in c or c in SWEEP_KEY_METRICS]
    pngs = {path.name: path for folder in (sweep_dir, sweep_dir / "figures") for path in sorted(folder.glob("*.png"))}
    shown: set[str] = set()

    def figures(names: list[str], caption: str) -> list[Figure]:
        shown.update(names)
        return [embed_png(pngs[name], caption) for name in names]

    context = {
        "title": f"{sweep_dir.name}: a sweep of {len(rows)} runs",
        "kind": "sweep",
        "directory": sweep_dir,
        "summary": table.select(key_columns) if len(key_columns) < len(columns) else table,
        "summary_all": table if len(key_columns) < len(columns) else None,
        "figures": {
            "rate-distortion": figures(
                [name for name in pngs if name.startswith("rate_distortion")],
                "Each point is a run: rate (KL, nats) against distortion; the beta = 1 ELBO is constant along "
                "the iso-ELBO lines."),
            "vs-beta": figures([name for name in pngs if "vs_beta" in name and name not in shown],
                               "Final validation metrics against beta."),
            "reconstructions": figures(
                [name for name in pngs if name.startswith("reconstructions") and name not in shown],
                "The same validation inputs, reconstructed by every run."),
            "comparison": [],
        },
        "readings": _readings(runs),
        "runs": _runs_list(sweep_dir, runs),
    }
    context["figures"]["other-figures"] = figures([name for name in pngs if name not in shown], "")
    return _render("runs.html.j2", sweep_dir / REPORT, titles=RUNS_SECTIONS, **_with_sections(context))


def write_runs_report(directory: str | Path, title: str | None = None) -> Path:
    """DIR/report.html comparing every run below DIR (e.g. the demo's): a table of their final numbers, a
    figure of their loss terms and reconstructions, what each beta means, and DIR/rate_distortion*.png
    (the demo's curve) where there is one."""
    directory = Path(directory)
    runs = [read_run(path) for path in find_runs(directory)]
    if not runs:
        raise UsageError(f"{directory} holds no runs (no */config.yaml): train some with `vaelab train --out`")
    columns = ["run", "steps", *(label for _, label in KEY_METRICS)]
    rows = [[run.run_dir.relative_to(directory).as_posix(), run.steps,
             *(run.final("val").get(key, math.nan) for key, _ in KEY_METRICS)] for run in runs]
    notes = {i: run.config.describe() for i, run in enumerate(runs)}
    pngs = sorted(directory.glob("*.png"))
    reconstructions = [path for path in pngs if path.name.startswith("reconstructions")]
    curves = [path for path in pngs if path.name.startswith("rate_distortion")]
    comparison = _comparison_png(runs, reconstructions=not reconstructions)
    context = {
        "title": title or f"{directory.name}: {len(runs)} runs compared",
        "kind": "runs",
        "directory": directory,
        "summary": Table(columns=columns, rows=rows, links=_run_links(directory, rows), notes=notes),
        "summary_all": None,
        "figures": {
            "rate-distortion": [embed_png(path, "Rate (KL, nats) against distortion; the beta = 1 ELBO is "
                                          "constant along the iso-ELBO lines.") for path in curves],
            "vs-beta": [],
            "reconstructions": [embed_png(path, "The same validation inputs, reconstructed by every run.")
                                for path in reconstructions],
            "comparison": [embed_png(comparison, "Each run's recon term, KL and beta = 1 negative ELBO "
                                     "over training" + ("." if reconstructions else "; below, the same validation "
                                                        "images and every run's reconstructions."))],
            "other-figures": [embed_png(path, path.name) for path in pngs if path not in [*reconstructions, *curves]],
        },
        "readings": _readings(runs),
        "runs": _runs_list(directory, runs),
    }
    return _render("runs.html.j2", directory / REPORT, titles=RUNS_SECTIONS, **_with_sections(context))


def _comparison_png(runs: list[RunSummary], *, reconstructions: bool) -> bytes:
    """`plot_comparison` as PNG bytes; the loss terms alone where the runs' images cannot be shown side
    by side (runs on different data, or data that is no longer where the configs say)."""
    buffer = io.BytesIO()
    try:
        plot_comparison(runs, buffer, reconstructions=reconstructions)
    except UsageError as error:
        log.warning("the comparison shows no reconstructions: %s", error)
        buffer = io.BytesIO()
        plot_comparison(runs, buffer, reconstructions=False)
    return buffer.getvalue()


def _with_sections(context: dict[str, Any]) -> dict[str, Any]:
    figures = context["figures"]
    present = {
        "summary": bool(context["summary"].rows),
        "beta": bool(context["readings"]),
        "questions": True,
        "runs": bool(context["runs"]),
        **{key: bool(figures[key]) for key in ("rate-distortion", "vs-beta", "reconstructions", "comparison",
                                               "other-figures")},
    }
    return {**context, "sections": [Section(id, title) for id, title in RUNS_SECTIONS.items() if present[id]]}


def _parse_cell(cell: str) -> Any:
    """A summary.csv cell as a number where it is one (so the table formats and sorts it), None where it
    is empty (a number the run does not have, shown as n/a), else the text."""
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell


def _run_links(directory: Path, rows: list[list[Any]]) -> dict[int, str]:
    """Each row that names a run below `directory` (in any cell, e.g. summary.csv's run_dir) links to the
    run's report, relative so that the folder can be moved."""
    links = {}
    for i, row in enumerate(rows):
        named = [cell for cell in row if isinstance(cell, str) and cell and (directory / cell / REPORT).is_file()]
        if named:
            links[i] = f"{Path(named[0]).as_posix()}/{REPORT}"
    return links


def _runs_list(directory: Path, runs: list[RunSummary]) -> list[dict[str, Any]]:
    return [{"name": run.run_dir.relative_to(directory).as_posix(), "describe": run.config.describe(),
             "href": f"{run.run_dir.relative_to(directory).as_posix()}/{REPORT}",
             "has_report": (run.run_dir / REPORT).is_file()} for run in runs]


def _readings(runs: list[RunSummary]) -> list[dict[str, Any]]:
    """What each run's beta means as a decoder sigma (autoencoders, and runs whose decoder states its own
    sigma, are left out)."""
    found = []
    for run in runs:
        beta = _beta_reading(run)
        if beta is not None and beta["reading"] is not None:
            found.append({"run": run.name, **beta})
    return found
