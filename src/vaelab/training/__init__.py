"""Training a run: `run.train(config, out)` is `vaelab train`.

    run.py            train(): the run directory, the data, the network and objective, resume, the callbacks
    trainer.py        the loop: optimiser steps, an epoch's validation, the state a resume needs
    validation.py     the validation pass, shared with evaluation
    batches.py        batches cut by index from the cached images
    callbacks.py      metric logging, checkpoints, the progress bar
    figures.py        the run's figures of its model; gradient_view.py the gradient decomposition
    prior_fit.py      the VampPrior's start at training images; the mixture prior fitted at the run's end
    nonfinite.py      steps whose loss or gradient is not finite; stop.py Ctrl-C and SIGTERM
    distributed.py    data-parallel training under torchrun; device.py the device and the CPU allocator
    lock.py           one writer per run directory; loggers.py and tensorboard.py where the metrics go
"""
