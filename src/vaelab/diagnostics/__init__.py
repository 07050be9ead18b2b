"""Diagnostics: what the balance between reconstruction and KL does to learning, to the latent space
and to the likelihood. Each is a pure function on tensors, callable from Python and knowing nothing of
run directories; `vaelab.evaluation` applies them all to a trained run (`vaelab evaluate`), and the
training loop records the gradient view (`vaelab.training.gradient_view`).

    gradients.py       the gradients of the two loss terms: norms, cosine, share of the update
    latent.py          KL per dimension, active units, the posterior-collapse warning
    aggregate.py       the aggregate posterior q(z) against N(0, I); the ELBO decomposition (MI, TC, DWKL)
    likelihood.py      beta = 1 ELBO, IWAE, bits per dimension, the optimal decoder sigma
    reconstruction.py  MSE, PSNR, SSIM
    smoothness.py      interpolations and their path ratio, latent traversals

Metric names and units: docs/metrics.md.
"""
