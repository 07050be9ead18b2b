"""The networks: the convolutional encoder/decoder, the posterior q(z|x), FiLM conditioning on beta.

    conv.py       ConvVAE (VAE or its AE twin) and VAEOutput
    posterior.py  DiagonalGaussian and PointMass, the posteriors; the diagonal-Gaussian log density
    film.py       FiLM layers and the beta embedding of loss-conditional models
    at_beta.py    a loss-conditional model serving one beta
    build.py      the network of a config, or of a checkpoint's hyperparameters
"""

from vaelab.model.at_beta import AtBeta, at_beta
from vaelab.model.build import build_model, image_shape_of, model_from_hparams
from vaelab.model.conv import ConvVAE, VAEOutput, spatial_sizes

__all__ = ["AtBeta", "ConvVAE", "VAEOutput", "at_beta", "build_model", "image_shape_of", "model_from_hparams",
           "spatial_sizes"]
