"""The objective's section of a run's config: the reconstruction term and the KL term's weighting and form.

Each field is checked here on its own; the rules of the KL-weighting methods, alone and combined, are the
methods' own (vaelab.objectives.rules).
"""

from __future__ import annotations

from dataclasses import dataclass

from vaelab.errors import UsageError

RECON_WORDS = {
    "sse": "summed squared error",
    "mse-mean": "mean squared error (averaged over pixels)",
    "gaussian": "Gaussian NLL (fixed sigma)",
    "bernoulli": "Bernoulli NLL",
    "sigma-learned": "Gaussian NLL (learned sigma)",
    "sigma-optimal": "Gaussian NLL (optimal sigma)",
    "l1": "summed absolute error (a Laplace NLL)",
    # not likelihoods (objectives/recon_loss.py): their ELBO is logged under a Gaussian at the optimal shared sigma
    "ms-ssim": "MS-SSIM loss",
    "watson-dft": "Watson-DFT perceptual loss",
    "focal-frequency": "focal frequency loss",
}
RECONS = tuple(RECON_WORDS)
EXTRA_RECONS = ("ms-ssim", "watson-dft", "focal-frequency")  # the losses objective.recon_extra may add
METHODS = ("elbo", "iwae", "tcvae", "infovae")  # objective.method: the KL term's form (docs/kl-weighting.md)


@dataclass
class ObjectiveConfig:
    """The reconstruction likelihood and the weighting of the KL term (see `vaelab.objectives`).

    loss = recon + beta(step) * KL, with the KL term optionally replaced by free bits, capacity
    control or GECO's constrained form (at most one of the three). docs/kl-weighting.md explains each.
    """

    recon: str = "sse"  # one of RECONS; "sse" is the seed's sum of squared errors
    # decoder std (pixels in [0, 1]) for recon="gaussian" (None: 1) and the start of "sigma-learned" (None: the RMS
    # error of the untrained network's reconstructions of the first training batch, the sigma that fits them best)
    sigma: float | None = None
    sigma_per_channel: bool = False  # sigma-learned / sigma-optimal: one sigma per channel
    beta: float = 1.0  # weight of the KL term (the target of a schedule; with beta_range, the beta validated at)
    beta_range: list[float] | None = None  # [lo, hi]: one loss-conditional model for every beta in it (conditional.py)
    beta_schedule: str = "constant"  # constant | linear:STEPS | sigmoid:STEPS | cyclical:CYCLES:RATIO
    beta_start: float = 0.0  # where warm-up and cyclical schedules start
    free_bits: float = 0.0  # lambda in nats; 0 switches free bits off
    free_bits_mode: str = "dim"  # dim | group | total
    free_bits_groups: int = 1  # number of groups when free_bits_mode == "group"
    capacity: float | None = None  # C_max in nats; None switches capacity control off
    capacity_start: float = 0.0
    capacity_steps: int = 100_000
    capacity_gamma: float = 1000.0
    geco_target: float | None = None  # kappa; None switches GECO off
    geco_units: str = "mse"  # "mse": kappa is a per-pixel MSE; "recon": kappa is in the recon term's units
    geco_alpha: float = 0.99  # moving-average rate of the constraint
    geco_lr: float = 0.01  # step size of the multiplicative lambda update
    geco_lambda_init: float = 1.0
    geco_lambda_min: float = 1e-3
    geco_lambda_max: float = 1e4
    recon_extra: str | None = None  # one of EXTRA_RECONS added to recon, e.g. recon=l1 + 0.84 x ms-ssim
    recon_extra_weight: float = 1.0
    gan_weight: float = 0.0  # PatchGAN adversarial term (objectives/adversarial.py): its weight; 0 switches it off
    gan_start: int = 0  # the step from which the adversarial term and the discriminator train
    gan_layers: int = 3  # the discriminator's stride-2 convolutions (3: 70 x 70 patches, as in pix2pix and LDM)
    method: str = "elbo"  # elbo | iwae | tcvae | infovae: how the KL term is formed (iwae.py, tcvae.py, infovae.py)
    iwae_samples: int | None = None  # iwae: K importance samples per image (None: 5)
    tc_alpha: float | None = None  # tcvae: weight of the index-code MI (None: 1), times beta
    tc_beta: float | None = None  # tcvae: weight of the total correlation (None: 1), times beta
    tc_gamma: float | None = None  # tcvae: weight of the dimension-wise KL (None: 1), times beta
    tc_sampling: str | None = None  # tcvae: mws (minibatch-weighted) | mss (minibatch-stratified) (None: mws)
    info_alpha: float | None = None  # infovae: alpha of Zhao et al. (None: 1, the MMD-VAE: no per-code KL)
    info_lambda: float | None = None  # infovae: lambda of Zhao et al. (None: 1); the MMD's weight is alpha + lambda - 1

    def describe_recon(self) -> str:
        """The reconstruction term in words: "summed absolute error (a Laplace NLL) + 0.5 x MS-SSIM loss"."""
        words = RECON_WORDS[self.recon]
        if self.recon_extra is not None:
            words += f" + {self.recon_extra_weight:g} x {RECON_WORDS[self.recon_extra]}"
        if self.gan_weight > 0:
            words += f" + {self.gan_weight:g} x adaptive PatchGAN term from step {self.gan_start}"
        return words

    def iwae_k(self) -> int:
        """K of objective.method=iwae: iwae_samples, default 5 (Burda et al. 2016 train with K = 5 and 50)."""
        return 5 if self.iwae_samples is None else self.iwae_samples

    def tc_weights(self) -> tuple[float, float, float]:
        """(alpha, beta, gamma) of objective.method=tcvae, each 1 unless set: the plain KL split in three."""
        return tuple(1.0 if value is None else value for value in (self.tc_alpha, self.tc_beta, self.tc_gamma))

    def info_weights(self) -> tuple[float, float]:
        """(alpha, lambda) of objective.method=infovae, default (1, 1): the MMD alone, with weight 1."""
        return (1.0 if self.info_alpha is None else self.info_alpha,
                1.0 if self.info_lambda is None else self.info_lambda)

    def describe_kl(self) -> str:
        """The KL term as it enters the loss, in words: "0.1 x KL", "KL under GECO (MSE <= 0.01)", ..."""
        if self.geco_target is not None:
            units = "MSE" if self.geco_units == "mse" else "recon"
            return f"KL under GECO ({units} <= {self.geco_target:g})"
        if self.capacity is not None:
            return (f"{self.capacity_gamma:g} x |KL - C|, C rising from {self.capacity_start:g} "
                    f"to {self.capacity:g} nats over {self.capacity_steps} steps")
        beta = "" if self.beta == 1 else f"{self.beta:g} x "
        kl = f"max(KL, {self.free_bits:g} nats per {self.free_bits_mode})" if self.free_bits > 0 else "KL"
        schedule = "" if self.beta_schedule == "constant" else f" (beta schedule {self.beta_schedule})"
        if self.beta_range is not None:
            low, high = self.beta_range
            schedule = f" (loss-conditional: one model for every beta in [{low:g}, {high:g}])"
        if self.method == "iwae":
            schedule += f", IWAE with K = {self.iwae_k()}"
        elif self.method == "tcvae":
            alpha, tc, gamma = self.tc_weights()
            kl = f"({alpha:g} MI + {tc:g} TC + {gamma:g} DWKL, {self.tc_sampling or 'mws'})"
        elif self.method == "infovae":
            alpha, lam = self.info_weights()
            kl = f"({1 - alpha:g} KL + {alpha + lam - 1:g} MMD)"
        return f"{beta}{kl}{schedule}"

    def validate(self) -> None:
        """The fields every objective reads; each KL-weighting method checks its own (vaelab.objectives.rules)."""
        if self.recon not in RECONS:
            raise UsageError(f"objective.recon={self.recon!r} is unknown: use one of {', '.join(RECONS)}")
        if not self.beta >= 0:
            raise UsageError(f"objective.beta={self.beta} must be >= 0: e.g. --beta 1 or --beta 0.1")
        if self.sigma is not None and not self.sigma > 0:
            raise UsageError(f"objective.sigma={self.sigma} must be > 0: e.g. --sigma 0.1")
        if self.recon_extra is not None and self.recon_extra not in EXTRA_RECONS:
            raise UsageError(f"objective.recon_extra={self.recon_extra!r} is unknown: use one of "
                             f"{', '.join(EXTRA_RECONS)} (or null)")
        if not self.recon_extra_weight > 0:
            raise UsageError(f"objective.recon_extra_weight={self.recon_extra_weight} must be > 0: e.g. "
                             "--set objective.recon_extra_weight=0.5")
        if not self.gan_weight >= 0:
            raise UsageError(f"objective.gan_weight={self.gan_weight} must be >= 0 (0: no adversarial term): e.g. "
                             "--set objective.gan_weight=0.5")
        if self.gan_start < 0:
            raise UsageError(f"objective.gan_start={self.gan_start} must be a step >= 0: e.g. "
                             "--set objective.gan_start=2000")
        if self.gan_layers < 1:
            raise UsageError(f"objective.gan_layers={self.gan_layers} must be at least 1: e.g. "
                             "--set objective.gan_layers=3")
        if self.method not in METHODS:
            raise UsageError(f"objective.method={self.method!r} is unknown: use {', '.join(METHODS)} "
                             "(e.g. --set objective.method=iwae)")
