"""The linear path: a model started at PCA reconstructs as PCA does before any training, for both networks and
for the AE, and rebuilds from its hyperparameters."""

import numpy as np
import pytest
import torch

from vaelab.diagnostics.baseline import fit_linear_baseline
from vaelab.model import ConvVAE, ResNetVAE, model_from_hparams
from vaelab.model.linear_path import CLIP, WithLinearPath


@pytest.mark.parametrize("network", [
    lambda: ResNetVAE(image_size=16, channels=3, latent_dim=6, width=8),
    lambda: ConvVAE(image_size=16, channels=3, latent_dim=6, width=8, kind="ae"),
])
def test_an_untrained_model_started_at_pca_is_pca(network):
    rng = np.random.default_rng(0)
    x = np.clip(0.5 + 0.2 * rng.standard_normal((40, 3 * 16 * 16)) @ rng.standard_normal((768, 768)) / 30, 0, 1)
    baseline = fit_linear_baseline(x.astype(np.float32), 6)
    model = WithLinearPath(network())
    model.initialise_from_pca(baseline.mean, baseline.directions, baseline.eigenvalues)
    images = torch.as_tensor(x, dtype=torch.float32).view(-1, 3, 16, 16)
    with torch.no_grad():
        reconstruction = model(images, sample=False).reconstruction.flatten(1).numpy()
        codes = model.encode(images).mean
    expected = np.clip(baseline.reconstruct(x), CLIP, 1 - CLIP)
    np.testing.assert_allclose(reconstruction, expected, atol=2e-5)
    np.testing.assert_allclose(codes.var(dim=0, correction=0).numpy(), np.ones(6), rtol=1e-3)  # whitened codes
    clone = model_from_hparams(model.hparams)
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone(images, sample=False).logits, model(images, sample=False).logits)
