"""vaelab: train VAEs on images and see what the balance between reconstruction and KL does.

    import vaelab
    config = vaelab.Config().with_updates({"data.spec": "digits", "objective.beta": 0.1})
    result = vaelab.train(config, "runs/digits-b01")
    model = vaelab.load("runs/digits-b01")                    # encode, decode, reconstruct, sample, interpolate
    vaelab.save_grid(model.sample(64), "samples.png")
"""

from vaelab.version import __version__

__all__ = ["Config", "RunResult", "TrainedModel", "__version__", "load", "save_grid", "train"]


def __getattr__(name: str):
    # Imported on first use, so that `import vaelab.data` does not load torch.
    if name == "Config":
        from vaelab.config import Config

        return Config
    if name in ("train", "RunResult"):
        from vaelab.training import run

        return getattr(run, name)
    if name in ("load", "save_grid", "TrainedModel"):
        import vaelab.inference

        return getattr(vaelab.inference, name)
    raise AttributeError(f"module 'vaelab' has no attribute {name!r}")
