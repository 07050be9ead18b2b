"""vaelab: train VAEs on images and see what the balance between reconstruction and KL does.

    import vaelab
    config = vaelab.Config().with_updates({"data.spec": "digits", "objective.beta": 0.1})
    result = vaelab.train(config, "runs/digits-b01")
"""

__version__ = "0.1.0"

from vaelab.config import Config  # noqa: E402
from vaelab.training.run import RunResult, train  # noqa: E402

__all__ = ["Config", "RunResult", "train", "__version__"]
