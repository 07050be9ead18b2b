"""Evaluating trained runs: the diagnostics (vaelab.diagnostics) applied to a run's checkpoint and images,
written into the run directory, and runs compared with each other.

    evaluate.py   `evaluate_run(RUN)`: RUN/eval.json and the diagnostic figures (`vaelab evaluate`)
    loaded.py     a run's checkpoint rebuilt for evaluation; a loss-conditional run at another beta
    images.py     the images an evaluation measures
    measures.py   each diagnostic's numbers, under docs/metrics.md's names
    figures.py    the decodes behind the diagnostic figures (the drawing is vaelab.viz's)
    compare.py    several runs' reconstructions of the same images, for the pages that compare runs
"""
