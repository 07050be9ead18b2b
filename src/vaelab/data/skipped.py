"""Reporting input files that could not be used: RUN/skipped.txt and the one-line warning."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from vaelab.files import atomic_write


def write_skipped(skipped: list[tuple[str, str]], path: Path) -> None:
    """Write one "path<TAB>reason" line per skipped file, UTF-8; no file at all when nothing was skipped."""
    if skipped:
        lines = "".join(f"{file}\t{reason}\n" for file, reason in skipped)
        atomic_write(Path(path), lambda handle: handle.write(lines.encode("utf-8", errors="backslashreplace")))


def skipped_warning(skipped: list[tuple[str, str]], path: Path | str | None = None) -> str | None:
    """e.g. "skipped 3 files that could not be used as images (2 x truncated image file, 1 x zero bytes);
    paths and reasons in runs/a/skipped.txt", or None when nothing was skipped."""
    if not skipped:
        return None
    reasons = Counter(reason for _, reason in skipped).most_common()
    summary = ", ".join(f"{count} x {reason}" for reason, count in reasons[:3])
    more = ", ..." if len(reasons) > 3 else ""
    files = "file" if len(skipped) == 1 else "files"
    where = path or "skipped.txt in the run folder"
    return (
        f"skipped {len(skipped)} {files} that could not be used as images ({summary}{more}); "
        f"paths and reasons in {where}"
    )
