"""The commands' defaults that are not part of a run's config: how much an evaluation looks at, where a sweep's
runs execute, and the image size each kind of data source gets without --image-size.

They live apart from the code that uses them so that the command line can show them in `--help`
without importing torch (cli/__init__.py).
"""

IW_SAMPLES = 1000  # importance samples per image for `vaelab evaluate`'s IWAE bound
MAX_IMAGES = 10_000  # images `vaelab evaluate` measures at most: every validation split vaelab's data has
IW_IMAGES = 1000  # of which the importance-sampled bounds (ELBO, IWAE) use at most this many: K decodes each
# The checkpoint `vaelab evaluate`, a sweep's evaluations and the comparison pages read by default: last.pt, the
# weights (their moving average, with training.ema) the run ended with, those its figures and its final validation
# record show. best.pt (the best validation score) is picked on the validation images it would then be scored on.
CHECKPOINT = "last"
SWEEP_IW_SAMPLES = 10  # importance samples per image in each sweep run's evaluation: cheap, enough for the summary
EXECUTORS = ("local", "ray")  # where `vaelab sweep` trains its runs: local processes or Ray tasks
DEFAULT_SIZES = {"fashion-mnist": 28, "digits": 32, "huggingface": 64, "folder": 64}  # data.image_size when None
