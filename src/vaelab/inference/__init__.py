"""Using a trained run: load it, encode, decode, reconstruct, sample, interpolate (`vaelab.load`).

    trained.py    `load(RUN)` and the `TrainedModel` it returns
    images.py     images in any usual form (paths, Pillow, uint8 or float arrays and tensors) as the network's input,
                  prepared exactly as the run's data was
    pictures.py   decoded images out: a grid saved to a file, PNG bytes
    latents.py    the codes of a whole data source (`vaelab encode`) or of the run's validation images
"""

from vaelab.inference.images import as_images
from vaelab.inference.pictures import png_bytes, save_grid
from vaelab.inference.trained import TrainedModel, load

__all__ = ["TrainedModel", "as_images", "load", "png_bytes", "save_grid"]
