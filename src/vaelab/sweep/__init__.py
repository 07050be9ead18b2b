"""Sweeps: a grid of runs over any config keys, trained in parallel, summed up as a rate-distortion curve.

    from vaelab.sweep.executor import LocalExecutor
    from vaelab.sweep.grid import parse_axes
    from vaelab.sweep.run import run_sweep

    config = vaelab.Config().with_updates({"data.spec": "digits", "training.epochs": 5})
    result = run_sweep(config, parse_axes(["objective.beta=0.1,1,10"]), "sweeps/digits", executor=LocalExecutor(2))

    grid.py      the axes (`--grid KEY=V1,V2,...`), their product and the runs' names
    plan.py      one run per grid point under SWEEP/runs/, SWEEP/sweep.yaml, what is finished already
    jobs.py      one run's job in a worker: train or resume it, then a cheap evaluation
    executor.py  local worker processes or Ray tasks, with a thread budget per run
    summary.py   SWEEP/summary.csv: the grid values and final numbers of each run (docs/metrics.md)
    run.py       `run_sweep`: all of the above, then the figures (vaelab.viz.sweep) and the report
    bnn.py       `run_bnn_sweep` (`vaelab sweep --bnn`): the same plan and executors for vaelab.bnn's table runs
"""
