"""The pages' reading of the linear baseline and of the generalisation gap (eval.json's `pca_*`, `train_*`):
a table and the one sentence that says whether the network beats PCA on held-out images, and by how much."""

from __future__ import annotations

from typing import Any

from vaelab.numbers import format_number

BASELINE = (  # (eval.json key, label, how to read it), in the order the run page shows them
    ("psnr", "the network's PSNR", "dB on the images evaluated, posterior means; higher is better"),
    ("pca_psnr", "PCA's PSNR",
     "dB, the best linear autoencoder with the same latent size, fitted on the training split"),
    ("psnr_gain_over_pca", "the network's gain over PCA", "dB, per image, averaged: above 0 the network beats it"),
    ("pca_ssim", "PCA's SSIM", "beside the network's SSIM in the table above"),
    ("pca_log_likelihood", "pPCA log-likelihood",
     "nats / image, exact (Tipping & Bishop 1999): the best linear Gaussian VAE; compare with the IWAE bound"),
    ("pca_bits_per_dim", "pPCA bits / dim", "lower is better"),
    ("train_psnr", "PSNR on training images", "dB, the same checkpoint and weights, images as they are"),
    ("generalisation_gap_psnr", "generalisation gap", "dB, training minus held-out PSNR: a large gap is memorising"),
)


def verdict(evaluation: dict[str, Any]) -> str | None:
    """"On the 70 validation images the network beats PCA-128 by 2.1 +- 0.3 dB of PSNR (21.9 against 19.8 dB)",
    or None before an evaluation with the baseline."""
    gain, se = evaluation.get("psnr_gain_over_pca"), evaluation.get("psnr_gain_over_pca_se")
    if gain is None or evaluation.get("pca_psnr") is None:
        return None
    images = f"{evaluation.get('images', '?')} {'validation images' if evaluation.get('split') == 'val' else 'images'}"
    within = se is not None and abs(gain) <= 2 * se
    if within:
        outcome = "is level with"
    elif gain > 0:
        outcome = "beats"
    else:
        outcome = "falls short of"
    by = "" if within else f" by {format_number(abs(gain), 2)} ± {format_number(se, 2)} dB of PSNR"
    level = " (the difference is within twice its standard error)" if within else ""
    return (f"On the {images} the network {outcome} PCA-{evaluation.get('pca_components')}, the linear autoencoder "
            f"with the same latent size fitted on the training split,{by}{level}: "
            f"{format_number(evaluation['psnr'], 3)} against {format_number(evaluation['pca_psnr'], 3)} dB.")
