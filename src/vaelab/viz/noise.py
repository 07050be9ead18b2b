"""Whether two runs' numbers differ by more than noise: paired differences over the same evaluated images.

Runs that share their data share their validation split, so `vaelab evaluate` scores both on the same
images, and eval.json keeps each image's value (`per_image`). For a metric m the paired difference over
the n images both scored,

    d = mean_i (m_a(i) - m_b(i)),    SE(d) = sd_i(m_a(i) - m_b(i)) / sqrt(n),

removes what the two runs share (which images are hard), so it is far tighter than the two SEs combined.
The difference is called within noise when |d| < 2 SE(d) (about a 95% interval that covers 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


COMPARED = ("elbo_shared_sigma", "iwae_shared_sigma", "elbo_optimal_sigma", "iwae_optimal_sigma", "mse", "psnr",
            "ssim", "kl")
NOISE_SES = 2.0


def per_image_values(evaluation: dict[str, Any], name: str) -> dict[int, float]:
    """{image index: value} of one metric from eval.json's per_image (the bounds' images are their own)."""
    per_image = evaluation.get("per_image") or {}
    table = per_image.get("likelihood", {}) if name in per_image.get("likelihood", {}) else per_image
    values = table.get(name)
    if not isinstance(values, list):
        return {}
    return dict(zip(table.get("index", []), values))


def paired_difference(a: dict[str, Any], b: dict[str, Any], name: str) -> tuple[float, float, int] | None:
    """(mean difference a - b, its standard error, images) over the images both evaluations scored."""
    values_a, values_b = per_image_values(a, name), per_image_values(b, name)
    shared = sorted(set(values_a) & set(values_b))
    pairs = [(values_a[i], values_b[i]) for i in shared if values_a[i] is not None and values_b[i] is not None]
    if len(pairs) < 2:
        return None
    differences = np.array([x - y for x, y in pairs], dtype=float)
    return float(differences.mean()), float(differences.std(ddof=1) / math.sqrt(len(differences))), len(differences)
