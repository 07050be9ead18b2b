"""Diagnostics: what the balance between reconstruction and KL does to learning, to the latent space
and to the likelihood. Each is a function on tensors, callable from Python; `evaluate.evaluate_run`
runs them all on a trained run (`vaelab evaluate`), `gradients.GradientMonitor` during training.

    gradients.py       the gradients of the two loss terms: norms, cosine, share of the update
    latent.py          KL per dimension, active units, the posterior-collapse warning
    aggregate.py       the aggregate posterior q(z) against N(0, I); the ELBO decomposition (MI, TC, DWKL)
    likelihood.py      beta = 1 ELBO, IWAE, bits per dimension, the optimal decoder sigma
    reconstruction.py  MSE, PSNR, SSIM
    smoothness.py      interpolations and their path ratio, latent traversals
    evaluate.py        `evaluate_run(RUN)`: all of the above into RUN/eval.json and RUN/figures/

Metric names and units: docs/metrics.md.
"""
