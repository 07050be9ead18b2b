"""RUN/skipped.txt and the one-line warning about skipped files."""

from __future__ import annotations

from vaelab.data import skipped_warning, write_skipped

SKIPPED = [("a/x.jpg", "truncated image file"), ("b.png", "zero bytes"), ("c.png", "zero bytes")]


def test_one_line_per_file_with_its_reason(tmp_path):
    write_skipped(SKIPPED, tmp_path / "skipped.txt")
    lines = (tmp_path / "skipped.txt").read_text().splitlines()
    assert lines == ["a/x.jpg\ttruncated image file", "b.png\tzero bytes", "c.png\tzero bytes"]


def test_no_file_when_nothing_was_skipped(tmp_path):
    write_skipped([], tmp_path / "skipped.txt")
    assert not (tmp_path / "skipped.txt").exists()


def test_names_that_are_not_utf8_are_written_escaped(tmp_path):
    write_skipped([("caf\udce9.png", "zero bytes")], tmp_path / "skipped.txt")
    assert (tmp_path / "skipped.txt").read_text(encoding="utf-8") == "caf\\udce9.png\tzero bytes\n"


def test_warning_counts_reasons_and_says_where_the_list_is(tmp_path):
    assert skipped_warning([]) is None
    text = skipped_warning(SKIPPED, tmp_path / "skipped.txt")
    assert text == (f"skipped 3 files that could not be used as images (2 x zero bytes, 1 x truncated image file); "
                    f"paths and reasons in {tmp_path / 'skipped.txt'}")
    assert skipped_warning(SKIPPED[:1]).startswith("skipped 1 file that")
    assert "\n" not in text
