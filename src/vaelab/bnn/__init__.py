"""Variational Bayesian neural networks on tables: the VAE's question (how much should the KL weigh?) asked of
the weights, with the same run directory contract as an image run.

    from vaelab.bnn import BNNConfig, train_bnn
    config = BNNConfig().with_updates({"data.spec": "diabetes", "objective.kl_weight": "batch"})
    result = train_bnn(config, "runs/diabetes-batch")       # result.test["predictive_nll"], ...

    weighting.py    the KL weighting schemes as a lambda against the ELBO, and the two temperatures (no torch)
    explain.py      a scheme read as the likelihood temperature it implies (`vaelab explain --bnn`; no torch)
    config.py       BNNConfig: data, model, objective, training sections, strict
    data.py         built-in tables and CSV files: checked, split, standardised
    layers.py       Bayes-by-backprop linear layers (local reparameterisation) and their point-estimate twin
    model.py        the MLP (bayes, map, ensemble) and its likelihood
    objective.py    BNNTerms: nll, kl, kl_weight, loss, elbo of a minibatch
    metrics.py      predictive NLL, RMSE / accuracy, ECE, pruned units
    closed_form.py  Bayesian linear regression and its mean-field optimum (the known answers)
    train.py        the loop, with exact resume
    run.py          train_bnn: the run directory
    figures.py, report.py   RUN/figures/*.png and RUN/report.html
    sweep.py        `vaelab sweep --bnn`: a grid of table runs with MAP and ensemble baselines
"""

__all__ = ["BNNConfig", "BNNResult", "train_bnn"]


def __getattr__(name: str):
    # Imported on first use, so that `import vaelab.bnn.weighting` (vaelab explain) does not load torch.
    if name == "BNNConfig":
        from vaelab.bnn.config import BNNConfig

        return BNNConfig
    if name in ("train_bnn", "BNNResult"):
        from vaelab.bnn import run

        return getattr(run, name)
    raise AttributeError(f"module 'vaelab.bnn' has no attribute {name!r}")
