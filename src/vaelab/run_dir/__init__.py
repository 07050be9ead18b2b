"""RUN/: the one reader and writer of a run directory (layout in layout.py, DESIGN.md's contract).

    RunDir(path)                  the paths, and config.yaml, model.json and eval.json read and written
    find_runs(folder)             every run below a folder
    read_run(path)                config, metrics records and evaluation in one `RunSummary`
    load_network / load_model     the trained network, from model.json and a checkpoint, without an optimiser
    save_checkpoint / load_checkpoint, MetricsWriter / read_metrics / truncate_metrics   the two big files
"""

from vaelab.run_dir.layout import RunDir, find_runs, read_json, write_json
from vaelab.run_dir.metrics import MetricsWriter, read_metrics, truncate_metrics, write_records
from vaelab.run_dir.summary import RunSummary, read_point, read_run, read_run_end

__all__ = ["MetricsWriter", "RunDir", "RunSummary", "find_runs", "load_checkpoint", "read_json", "read_metrics",
           "read_point", "read_run", "read_run_end", "restoring", "save_checkpoint", "truncate_metrics",
           "write_json", "write_records"]


def __getattr__(name: str):
    """The checkpoint functions load torch: imported on first use, so that reading a run's small files (`vaelab
    runs ls`, the reports) does not wait seconds for it."""
    if name in ("load_checkpoint", "restoring", "save_checkpoint"):
        from vaelab.run_dir import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module 'vaelab.run_dir' has no attribute {name!r}")
