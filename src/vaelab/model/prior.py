"""The prior p(z): N(0, I), the VampPrior, or a Gaussian mixture fitted to the training codes (`model.prior`).

The model owns its prior as a module (`LatentModel.prior`), so that a learned prior trains with the network and
every prior's state goes into the checkpoints. A prior answers two questions about a model:

    trained_density(model)  the p(z) of the objective's KL term, during training
    density(model)          the p(z) the model generates from: prior samples, the likelihood bounds and the
                            prior-hole diagnostics of `vaelab evaluate`

    normal  N(0, I) for both; the KL to a diagonal Gaussian posterior has a closed form (objectives/kl.py)
    vamp    the VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior", eq. 9) for both: the mixture of the
            posteriors of K learned pseudo-inputs u_k,
                p(z) = (1/K) sum_k q(z | u_k)
            The pseudo-inputs are images (pixels sigmoid(a_k), a_k trained), started at K training images. Its
            KL has no closed form: the objective uses the Monte Carlo estimate log q(z|x) - log p(z).
    gmm     ex-post density estimation (Ghosh et al. 2020, "From variational to deterministic autoencoders",
            sec. 4): the run trains with N(0, I), and a mixture of K Gaussians with full (or diagonal)
            covariances, fitted by EM (scikit-learn's GaussianMixture) to the codes of training images
            (training/prior_fit.py) at the end of the run, is the prior it generates from. Until it is fitted,
            `density` is None; `fitted_step` says which weights' codes it was fitted to.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.model.posterior import LOG_2PI, DiagonalGaussian, log_normal

DEFAULT_COMPONENTS = {"vamp": 50, "gmm": 10}  # K: pseudo-inputs (vamp), mixture components (gmm, as Ghosh et al.)
COVARIANCES = ("full", "diag")
PIXEL_CLIP = 1e-2  # pseudo-inputs start at training images with pixels clipped to [0.01, 0.99]: finite logits
CHUNK_ELEMENTS = 2**22  # a mixture's log density is evaluated on codes in chunks of (codes x K x Z) elements


def check_config(config: Config) -> None:
    """The prior's settings, alone and with the rest of the run (called where a run starts, with the objective's
    rules: vaelab.objectives.rules); a broken one is a one-line `UsageError`."""
    model = config.model
    if model.prior_components is not None and model.prior == "normal":
        raise UsageError("model.prior_components counts the VampPrior's pseudo-inputs or the fitted mixture's "
                         "components: drop it, or add --set model.prior=vamp (or gmm)")
    if model.prior_components is not None and model.prior_components < 1:
        raise UsageError(f"model.prior_components={model.prior_components} must be at least 1: "
                         "e.g. --set model.prior_components=10")
    if model.prior_covariance is not None and model.prior != "gmm":
        raise UsageError("model.prior_covariance shapes the mixture of --set model.prior=gmm: drop it, or add "
                         "--set model.prior=gmm")
    if model.prior_covariance not in (None, *COVARIANCES):
        raise UsageError(f"model.prior_covariance={model.prior_covariance!r} is unknown: use full or diag")
    if model.prior == "vamp" and model.kind == "ae":
        raise UsageError("model.prior=vamp is learned through the KL term, which the plain autoencoder has not: "
                         "use --model vae, or --set model.prior=gmm (a mixture fitted to its codes)")
    if model.prior != "normal" and config.objective.beta_range is not None:
        raise UsageError(f"model.prior={model.prior} is one prior for one model, and a loss-conditional model's "
                         "codes change with the beta it serves: drop --beta-range, or use the N(0, I) prior")


class StandardNormal:
    """p(z) = N(0, I) in Z = `latent_dim` dimensions."""

    standard = True

    def __init__(self, latent_dim: int, device: torch.device | str = "cpu"):
        self.latent_dim = latent_dim
        self.device = torch.device(device)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I) summed over the dimensions. (..., Z) -> (...)"""
        return -0.5 * (z.pow(2) + LOG_2PI).sum(dim=-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws. (n, Z)"""
        return torch.randn(n, self.latent_dim, generator=generator, device=self.device)


class GaussianMixture:
    """p(z) = sum_k pi_k N(z; mu_k, Sigma_k) with Sigma_k diagonal (`logvar`, (K, Z)) or full (`scale_tril`, the
    Cholesky factor L_k of Sigma_k = L_k L_k^T, (K, Z, Z)); `log_weights` (K,) are log pi_k."""

    standard = False

    def __init__(self, log_weights: torch.Tensor, mean: torch.Tensor, *, logvar: torch.Tensor | None = None,
                 scale_tril: torch.Tensor | None = None):
        if (logvar is None) == (scale_tril is None):
            raise ValueError("a Gaussian mixture has either diagonal (logvar) or full (scale_tril) covariances")
        self.log_weights, self.mean, self.logvar, self.scale_tril = log_weights, mean, logvar, scale_tril
        self.latent_dim = mean.shape[1]
        self.device = mean.device

    @property
    def components(self) -> int:
        return len(self.mean)

    def component_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mu_k, Sigma_k) of every code and component, in z's dtype (float64 stays). (..., Z) -> (..., K)

        Diagonal: sum_j log N(z_j; mu_kj, var_kj). Full: -0.5 |L_k^-1 (z - mu_k)|^2 - sum_j log L_kjj - Z/2 log 2 pi.
        """
        flat = z.reshape(-1, self.latent_dim)  # (M, Z)
        mean = self.mean.to(flat.dtype)
        chunk = max(1, CHUNK_ELEMENTS // mean.numel())
        parts = []
        for start in range(0, len(flat), chunk):
            codes = flat[start : start + chunk]
            if self.logvar is not None:
                parts.append(log_normal(codes[:, None, :], mean, self.logvar.to(flat.dtype)).sum(dim=2))
                continue
            tril = self.scale_tril.to(flat.dtype)
            centred = (codes[None, :, :] - mean[:, None, :]).transpose(1, 2)  # (K, Z, m)
            whitened = torch.linalg.solve_triangular(tril, centred, upper=False)  # L_k^-1 (z - mu_k): (K, Z, m)
            log_det = tril.diagonal(dim1=1, dim2=2).log().sum(dim=1)  # (K,)
            parts.append((-0.5 * whitened.pow(2).sum(dim=1) - log_det[:, None] - 0.5 * self.latent_dim * LOG_2PI).T)
        return torch.cat(parts).reshape(*z.shape[:-1], self.components)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_k [log pi_k + log N(z; mu_k, Sigma_k)]. (..., Z) -> (...)"""
        return torch.logsumexp(self.component_log_prob(z) + self.log_weights.to(z.dtype), dim=-1)

    def to(self, device: torch.device | str) -> GaussianMixture:
        """The same mixture with its tensors on `device` (e.g. the CPU, to draw with a CPU generator)."""
        move = lambda tensor: None if tensor is None else tensor.to(device)  # noqa: E731
        return GaussianMixture(move(self.log_weights), move(self.mean), logvar=move(self.logvar),
                               scale_tril=move(self.scale_tril))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws: a component k ~ pi, then mu_k + L_k eps (full) or mu_k + sigma_k * eps (diagonal). (n, Z)"""
        weights = self.log_weights.detach().float().exp()
        k = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        if self.logvar is not None:
            return self.mean[k] + torch.exp(0.5 * self.logvar[k]) * eps
        return self.mean[k] + (self.scale_tril[k] @ eps[:, :, None]).squeeze(2)


class NormalPrior(nn.Module):
    """p(z) = N(0, I): no parameters."""

    kind = "normal"

    def trained_density(self, model: nn.Module) -> StandardNormal:
        return StandardNormal(model.latent_dim, _device(model))

    def density(self, model: nn.Module) -> StandardNormal:
        return self.trained_density(model)


class VampPrior(nn.Module):
    """The mixture of the posteriors of K learned pseudo-inputs (module docstring), each an image (C, H, W)."""

    kind = "vamp"

    def __init__(self, components: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.pseudo_logits = nn.Parameter(torch.zeros(components, *image_shape))  # a_k; the pixels are sigmoid(a_k)

    @property
    def components(self) -> int:
        return len(self.pseudo_logits)

    def pseudo_inputs(self) -> torch.Tensor:
        """u_k, pixels in [0, 1]. (K, C, H, W)"""
        return torch.sigmoid(self.pseudo_logits)

    @torch.no_grad()
    def start_at(self, images: torch.Tensor) -> None:
        """Pseudo-inputs started at `images` (K, C, H, W) in [0, 1] (clipped to [PIXEL_CLIP, 1 - PIXEL_CLIP])."""
        self.pseudo_logits.copy_(torch.logit(images.clamp(PIXEL_CLIP, 1 - PIXEL_CLIP)))

    def trained_density(self, model: nn.Module) -> GaussianMixture:
        """(1/K) sum_k q(z | u_k), with the model's encoder: differentiable in the encoder and the pseudo-inputs."""
        posterior = model.encode(self.pseudo_inputs())
        if not isinstance(posterior, DiagonalGaussian):
            raise TypeError("the VampPrior needs a Gaussian posterior (a VAE)")
        log_weights = torch.full((self.components,), -math.log(self.components), device=posterior.mean.device)
        return GaussianMixture(log_weights, posterior.mean, logvar=posterior.logvar)

    def density(self, model: nn.Module) -> GaussianMixture:
        return self.trained_density(model)


class FittedMixturePrior(nn.Module):
    """A Gaussian mixture fitted after training to the codes of training images (module docstring: gmm). Its
    parameters are buffers, in every checkpoint; `fitted_step`, the training step of the weights whose codes it
    was fitted to, is -1 until `set_mixture` is called."""

    kind = "gmm"

    def __init__(self, components: int, latent_dim: int, covariance: str = "full"):
        super().__init__()
        self.covariance = covariance
        self.register_buffer("log_weights", torch.full((components,), -math.log(components)))
        self.register_buffer("mean", torch.zeros(components, latent_dim))
        spread = torch.eye(latent_dim).repeat(components, 1, 1) if covariance == "full" else torch.zeros(
            components, latent_dim)
        self.register_buffer("scale_tril" if covariance == "full" else "logvar", spread)
        self.register_buffer("fitted_step", torch.tensor(-1))

    @torch.no_grad()
    def set_mixture(self, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, step: int) -> None:
        """The mixture: weights (K,), means (K, Z), covariances (K, Z, Z) (full) or variances (K, Z) (diag), fitted
        to the codes of the weights of training step `step`."""
        self.log_weights.copy_(weights.log())
        self.mean.copy_(means)
        if self.covariance == "full":
            self.scale_tril.copy_(torch.linalg.cholesky(covariances.double()).to(self.scale_tril.dtype))
        else:
            self.logvar.copy_(covariances.log())
        self.fitted_step.fill_(step)

    def trained_density(self, model: nn.Module) -> StandardNormal:
        """N(0, I): the mixture is fitted after training, to the codes the run learned under N(0, I)."""
        return StandardNormal(model.latent_dim, _device(model))

    def density(self, model: nn.Module) -> GaussianMixture | None:
        if int(self.fitted_step) < 0:
            return None
        spread = {"scale_tril": self.scale_tril} if self.covariance == "full" else {"logvar": self.logvar}
        return GaussianMixture(self.log_weights, self.mean, **spread)


Prior = NormalPrior | VampPrior | FittedMixturePrior


def build_prior(kind: str, *, latent_dim: int, image_shape: tuple[int, int, int], components: int | None = None,
                covariance: str | None = None) -> Prior:
    """The prior `model.prior` names; `components` None is the kind's default (DEFAULT_COMPONENTS)."""
    if kind == "normal":
        return NormalPrior()
    count = components or DEFAULT_COMPONENTS[kind]
    if kind == "vamp":
        return VampPrior(count, image_shape)
    if kind == "gmm":
        return FittedMixturePrior(count, latent_dim, covariance or "full")
    raise ValueError(f"unknown prior {kind!r}")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
