"""Walking through the latent space: linear interpolations between images, and latent traversals.

Smoothness of an interpolation: decode the T + 1 points z_t = (1 - t) z_a + t z_b, t = 0, 1/T, ..., 1,
between the posterior means of two images, and compare the length of the decoded path in pixel
space with the distance between its ends,

    path_ratio = sum_t |x(t + 1/T) - x(t)| / |x(1) - x(0)|       (Euclidean norms over all pixels)

It is 1 when the decoded images move along a straight line from one end to the other, as a
cross-fade does, and grows with every detour: a path that wanders through unrelated images, or
jumps back and forth, is long compared to its ends. By the triangle inequality it is never below 1.
"""

from __future__ import annotations

import torch

from vaelab.model import ConvVAE


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """The `steps` + 1 points (1 - t) z_a + t z_b, t = 0, 1/steps, ..., 1, per pair. (P, Z) x2 -> (P, steps + 1, Z)"""
    t = torch.linspace(0, 1, steps + 1, device=z_a.device, dtype=z_a.dtype)[None, :, None]  # (1, T + 1, 1)
    return (1 - t) * z_a[:, None] + t * z_b[:, None]


def path_ratio(paths: torch.Tensor) -> torch.Tensor:
    """Summed step lengths over end-to-end distance, per path: (P, T + 1, C, H, W) -> (P,) float64.

    nan for a path whose ends decode to the same image.
    """
    flat = paths.double().flatten(2)  # (P, T + 1, D)
    steps = (flat[:, 1:] - flat[:, :-1]).norm(dim=2).sum(dim=1)
    ends = (flat[:, -1] - flat[:, 0]).norm(dim=1)
    return torch.where(ends > 0, steps / ends, torch.full_like(ends, float("nan")))


@torch.no_grad()
def decode_means(model: ConvVAE, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The decoder's pixel means for codes of any leading shape: (..., Z) -> (..., C, H, W)."""
    codes = z.reshape(-1, z.shape[-1])
    images = torch.cat([torch.sigmoid(model.decode(codes[i : i + batch_size]))
                        for i in range(0, len(codes), batch_size)])
    return images.view(*z.shape[:-1], *images.shape[1:])


@torch.no_grad()
def interpolation_paths(model: ConvVAE, z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded linear interpolations between pairs of codes: (P, Z) x2 -> (P, steps + 1, C, H, W)."""
    return decode_means(model, interpolate(z_a, z_b, steps))


def traversal_codes(base: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """`base` (Z,) with dimension dims[i] set to values[i, j]: (len(dims), V, Z).

    values: (len(dims), V), one row of values per traversed dimension.
    """
    codes = base.repeat(len(dims), values.shape[1], 1)  # (R, V, Z)
    for row, dim in enumerate(dims):
        codes[row, :, dim] = values[row]
    return codes
