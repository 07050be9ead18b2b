"""Property: decoding any bytes at all gives pixels or a reason to skip the file, never an exception."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from vaelab.data.decode import decode_file


def encoded(format: str, **options) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (24, 20, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **options)
    return buffer.getvalue()


VALID = [
    encoded("PNG"),
    encoded("JPEG", quality=90),
    encoded("JPEG", progressive=True),
    encoded("GIF"),
    encoded("WEBP"),
    encoded("BMP"),
    encoded("TIFF", compression="tiff_lzw"),
]


@st.composite
def mutated(draw) -> bytes:
    """A valid file of some format with a few bytes overwritten, inserted or cut, often in its header
    (past the first bytes that say which format it is, so that a decoder gets to read the damage)."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]))
        header = draw(st.booleans())
        at = draw(st.integers(4, 80) if header else st.integers(0, max(len(data) - 1, 0)))
        if edit == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.one_of(st.binary(max_size=512), mutated(), mutated(), mutated()), size=st.sampled_from([8, 16, 33]))
def test_any_bytes_decode_to_an_image_or_a_reason(content, size):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.png"  # the content decides the format, not the name
        path.write_bytes(content)
        result = decode_file(str(path), size)
    event("decoded" if result.problem is None else result.problem.split(":")[0])
    if result.problem is None:
        assert result.pixels.shape == (size, size, 3) and result.pixels.dtype == np.uint8
    else:
        assert result.pixels is None and not result.has_colour
        assert result.problem.strip() and "\n" not in result.problem and len(result.problem) < 200
