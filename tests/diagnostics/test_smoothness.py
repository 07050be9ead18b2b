"""Interpolations, their path ratio, and traversal codes."""

import math

import torch

from vaelab.diagnostics.smoothness import interpolate, interpolation_paths, path_ratio, traversal_codes
from vaelab.model import ConvVAE


def test_interpolate_runs_from_one_code_to_the_other_in_equal_steps():
    z_a, z_b = torch.tensor([[0.0, 2.0]]), torch.tensor([[4.0, -2.0]])
    points = interpolate(z_a, z_b, steps=4)
    assert points.shape == (1, 5, 2)
    torch.testing.assert_close(points[0], torch.tensor([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [3.0, -1.0], [4.0, -2.0]]))


def image_path(values):
    """One-pixel images with the given values along a path: (1, T + 1, 1, 1, 1)."""
    return torch.tensor(values, dtype=torch.float64).view(1, -1, 1, 1, 1)


def test_path_ratio_known_answers():
    assert path_ratio(image_path([0.0, 0.1, 0.2, 0.3])).item() == 1.0  # a straight, even path
    assert path_ratio(image_path([0.0, 0.0, 0.0, 0.3])).item() == 1.0  # straight but all at once: still 1
    assert path_ratio(image_path([0.0, 1.0, 0.5])).item() == 3.0  # out to 1 and back to 0.5: (1 + 0.5) / 0.5
    assert math.isnan(path_ratio(image_path([0.2, 0.7, 0.2])).item())  # the ends coincide
    # two pixels: an L-shaped detour (0,0) -> (1,0) -> (1,1) has length 2 for a distance of sqrt 2
    corner = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]).view(1, 3, 1, 1, 2)
    assert path_ratio(corner).item() == 2 / math.sqrt(2)
    # several paths at once: one ratio each
    both = torch.cat([image_path([0.0, 0.1, 0.2, 0.3]), image_path([0.0, 1.0, 0.5, 0.5])])
    assert path_ratio(both).tolist() == [1.0, 3.0]


def test_interpolation_paths_start_and_end_at_the_decoded_codes():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    z_a, z_b = torch.randn(2, 3), torch.randn(2, 3)
    paths = interpolation_paths(model, z_a, z_b, steps=5)
    assert paths.shape == (2, 6, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(paths[:, 0], torch.sigmoid(model.decode(z_a)))
        torch.testing.assert_close(paths[:, -1], torch.sigmoid(model.decode(z_b)))
    assert torch.all(path_ratio(paths) >= 1 - 1e-9)


def test_traversal_codes_sweep_one_dimension_per_row():
    base = torch.tensor([1.0, 2.0, 3.0])
    values = torch.tensor([[-1.0, 0.0, 1.0], [5.0, 6.0, 7.0]])
    codes = traversal_codes(base, [2, 0], values)
    assert codes.shape == (2, 3, 3)
    torch.testing.assert_close(codes[0], torch.tensor([[1.0, 2.0, -1.0], [1.0, 2.0, 0.0], [1.0, 2.0, 1.0]]))
    torch.testing.assert_close(codes[1], torch.tensor([[5.0, 2.0, 3.0], [6.0, 2.0, 3.0], [7.0, 2.0, 3.0]]))
