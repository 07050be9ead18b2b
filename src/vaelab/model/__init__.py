"""The networks: a residual or a plain convolutional encoder/decoder, the posterior q(z|x), FiLM conditioning.

    base.py       what every network shares: VAEOutput, the posterior head, conditioning on beta
    resnet.py     ResNetVAE (`model.arch=resnet`, the default): residual blocks, GroupNorm, optional attention
    conv.py       ConvVAE (`model.arch=plain`): the seed's simple conv VAE
    posterior.py  DiagonalGaussian and PointMass, the posteriors; the diagonal-Gaussian log density
    prior.py      the priors p(z) a network owns: N(0, I), the VampPrior, a mixture fitted to the codes
    film.py       FiLM layers and the beta embedding of loss-conditional models
    at_beta.py    a loss-conditional model serving one beta
    build.py      the network of a config, or of a checkpoint's hyperparameters
"""

from vaelab.model.at_beta import AtBeta, at_beta
from vaelab.model.base import LatentModel, VAEOutput
from vaelab.model.build import ARCHS, build_model, model_from_hparams
from vaelab.model.conv import ConvVAE, spatial_sizes
from vaelab.model.resnet import ResNetVAE

__all__ = ["ARCHS", "AtBeta", "ConvVAE", "LatentModel", "ResNetVAE", "VAEOutput", "at_beta", "build_model",
           "model_from_hparams", "spatial_sizes"]
