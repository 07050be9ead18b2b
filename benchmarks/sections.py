"""Putting a benchmark's results into docs/benchmarks.md: one `## ` section per benchmark, replaced in place,
saying which machine measured them."""

from __future__ import annotations

import platform
from pathlib import Path


def write_section(path: Path, text: str) -> None:
    """Put `text` into `path`; its first line is its `## ` heading, and an older section under the same
    heading is replaced (up to the next `## ` heading), everything else kept."""
    heading = text.splitlines()[0]
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines()
    if heading not in lines:
        path.write_text(old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")
        return
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "\n".join(lines[:start]).rstrip("\n"), "\n".join(lines[end:])
    path.write_text(before + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + after + "\n" if after else ""))


def cpu_name() -> str:
    """The processor's model name, as a section's "Machine:" line gives it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"
