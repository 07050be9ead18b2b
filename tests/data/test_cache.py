"""The on-disk cache: reused without decoding, rebuilt when an input or a setting changes, atomic."""

from __future__ import annotations

import builtins
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets

from vaelab.data import cache, decode, fashion_mnist, folder, load_images
from vaelab.data.image_data import ImageData
from vaelab.data.sources import resolve_source
from vaelab.errors import UsageError


@pytest.fixture
def decodes(monkeypatch):
    """Counts calls of the folder decoder (in this process: the test folders are small)."""
    calls = []
    real = folder.decode_file

    def counting(path, size):
        calls.append(path)
        return real(path, size)

    monkeypatch.setattr(folder, "decode_file", counting)
    return calls


@pytest.fixture
def small_folder(image_files):
    for i in range(3):
        image_files.save(f"{i}.png", image_files.noise(seed=i))
    image_files.raw("bad.png", b"junk")
    return image_files.root


def cache_entries(config) -> list[str]:
    return sorted(path.name for path in Path(config.cache_dir).iterdir() if path.suffix != ".lock")


def test_the_cache_is_reused_without_decoding(small_folder, data_config, decodes, monkeypatch):
    config = data_config(small_folder)
    first = load_images(config)
    assert len(decodes) == 4
    monkeypatch.setattr(folder, "decode_file", lambda path, size: pytest.fail("decoded again"))
    again = load_images(config)
    assert isinstance(again.images, np.memmap) and isinstance(first.images, np.memmap)
    assert np.array_equal(first.images, again.images)
    assert (again.names, again.skipped, again.source) == (first.names, first.skipped, first.source)
    assert again.skipped == [(str(small_folder / "bad.png"), "not an image: cannot identify image file")]
    assert [name.rsplit(".", 1)[1] for name in cache_entries(config)] == ["json", "npy"]


@pytest.mark.parametrize("change", ["touch", "modify", "add", "remove"])
def test_a_changed_file_rebuilds_the_cache(small_folder, data_config, decodes, image_files, change):
    config = data_config(small_folder)
    before = load_images(config)
    target = small_folder / "1.png"
    if change == "touch":
        info = target.stat()
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    elif change == "modify":
        image_files.save("1.png", image_files.noise(seed=99))
    elif change == "add":
        image_files.save("new.png", image_files.noise(seed=7))
    else:
        target.unlink()
    decodes.clear()
    after = load_images(config)
    assert decodes, "rebuilt"
    assert len(cache_entries(config)) == 4  # a second entry next to the first
    expected = {"touch": 3, "modify": 3, "add": 4, "remove": 2}[change]
    assert len(after.names) == expected and len(before.names) == 3


def test_settings_are_part_of_the_key_but_limit_is_not(small_folder, data_config, decodes):
    load_images(data_config(small_folder))
    for setting in ({"image_size": 32}, {"channels": 1}):
        decodes.clear()
        load_images(data_config(small_folder, **setting))
        assert decodes, f"{setting} must give a new cache entry"
    decodes.clear()
    limited = load_images(data_config(small_folder, limit=2))
    assert not decodes and limited.images.shape[0] == 2


def test_a_killed_build_leaves_no_entry_and_its_leftovers_are_removed(small_folder, data_config, monkeypatch):
    config = data_config(small_folder)

    def killed(file, array, allow_pickle):
        file.write(b"\x93NUMPY half an array")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        load_images(config)
    assert cache_entries(config) == [] and not list(Path(config.cache_dir).glob("*.lock")), "the lock is gone too"
    monkeypatch.undo()

    leftover = Path(config.cache_dir) / ".folder-0123.npy.999-dead.tmp"  # what a SIGKILL would leave
    leftover.write_bytes(b"partial")
    source = resolve_source(config)
    key = cache.cache_key(source.kind, source.identity)
    (Path(config.cache_dir) / f".{key}.npy.999-dead.tmp").write_bytes(b"partial")
    load_images(config)
    assert not list(Path(config.cache_dir).glob(f".{key}.*.tmp"))
    assert leftover.exists(), "another key's files are not touched"


def test_a_damaged_entry_is_rebuilt(small_folder, data_config, decodes):
    config = data_config(small_folder)
    first = np.array(load_images(config).images)  # a copy: the mapped file is about to be cut short
    array = next(Path(config.cache_dir).glob("*.npy"))
    array.write_bytes(array.read_bytes()[:100])
    decodes.clear()
    assert np.array_equal(load_images(config).images, first) and decodes


def test_the_cache_folder_comes_from_config_then_environment_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_folder(None) == tmp_path / "home" / ".cache" / "vaelab"
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "env"))
    assert cache.cache_folder(None) == tmp_path / "env"
    assert cache.cache_folder(str(tmp_path / "set")) == tmp_path / "set"


def test_an_unusable_cache_folder_is_a_usage_error(small_folder, data_config, tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UsageError, match="cannot use .*a-file.* as the data cache.*cache_dir"):
        load_images(data_config(small_folder, cache_dir=str(tmp_path / "a-file")))


def test_fashion_mnist_and_digits_are_cached_too(data_config, monkeypatch, tmp_path, write_idx_set):
    write_idx_set(tmp_path / "idx", count=5)
    configs = [data_config("digits"), data_config("fashion-mnist", data_root=str(tmp_path / "idx"))]
    first = [load_images(config) for config in configs]
    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda: pytest.fail("decoded again"))
    monkeypatch.setattr(fashion_mnist, "read_idx", lambda *args, **kwargs: pytest.fail("decoded again"))
    for config, before in zip(configs, first):
        again = load_images(config)
        assert isinstance(again.images, np.memmap) and np.array_equal(again.images, before.images)
        assert np.array_equal(again.labels, before.labels) and again.classes == before.classes


@pytest.fixture
def cached(tmp_path):
    """A cache entry of 3000 random (3, 32, 32) images, memory-mapped as `load` returns it."""
    images = np.random.default_rng(0).integers(0, 256, (3000, 3, 32, 32), dtype=np.uint8)
    data = ImageData(images=images, labels=None, names=[str(i) for i in range(3000)], skipped=[], classes=None,
                     source="generated")
    (tmp_path / "cache").mkdir()
    return cache.store(tmp_path / "cache", "generated-0", data).images, images


@pytest.mark.parametrize("index", [[5], [0, 1, 2, 3], [2999, 0, 7, 8, 9, 8], [-1, -3000], [], list(range(0, 3000, 7))])
def test_rows_read_from_the_cache_are_the_rows(cached, index):
    mapped, images = cached
    rows = cache.read_rows(mapped, np.array(index, dtype=np.int64))
    assert type(rows) is np.ndarray and rows.flags["C_CONTIGUOUS"]
    assert np.array_equal(rows, images[index]) and rows.shape == (len(index), 3, 32, 32)


def test_reading_rows_maps_nothing_into_the_process(cached):
    mapped, _ = cached

    def mapped_file_kib() -> int:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return int(status["RssFile"].split()[0])

    index = np.sort(np.random.default_rng(1).choice(len(mapped), 600, replace=False))
    before = mapped_file_kib()
    cache.read_rows(mapped, index)  # 1.8 MB of rows; through the mapping, the kernel would map ~6 times that
    assert mapped_file_kib() - before < 512
    with pytest.raises(IndexError):
        cache.read_rows(mapped, np.array([3000]))


def test_arrays_that_are_not_a_cache_entry_are_indexed(cached):
    mapped, images = cached
    assert np.array_equal(cache.read_rows(images, np.array([3, 1])), images[[3, 1]])
    assert np.array_equal(cache.read_rows(mapped[10:], np.array([0, 2])), images[[10, 12]])  # a view of the map


def test_bytes_written_over_the_cached_pixels_are_found_and_decoded_again(small_folder, data_config, decodes, caplog):
    config = data_config(small_folder)
    first = np.array(load_images(config).images)
    array = next(Path(config.cache_dir).glob("*.npy"))
    content = bytearray(array.read_bytes())
    content[-40:] = bytes(255 - value for value in content[-40:])  # the last pixels, the header untouched
    array.write_bytes(bytes(content))
    assert not np.array_equal(np.load(array), first), "the damage is in the pixels"
    decodes.clear()
    caplog.set_level(logging.WARNING, logger="vaelab")
    again = load_images(config)
    assert decodes, "decoded again"
    assert np.array_equal(again.images, first)
    assert caplog.text.count("is damaged (its checksum differs): decoding the images again") == 1


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), FileNotFoundError(2, "gone")])
def test_a_file_that_could_not_be_opened_is_looked_at_again_when_the_cache_is_opened(small_folder, data_config,
                                                                                     decodes, monkeypatch, error):
    config, failing = data_config(small_folder), os.fsencode(small_folder / "1.png")

    def opened(path, *args, **kwargs):  # as an ordinary user meets a chmod 000 file, or a file that vanished
        if os.fsencode(path) == failing:
            raise error
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(decode, "open", opened, raising=False)
    first = load_images(config)
    assert "1.png" not in first.names and len(first.names) == 2 and len(decodes) == 4
    decodes.clear()
    assert load_images(config).names == first.names and not decodes, "still failing: the cache is used"
    monkeypatch.delattr(decode, "open")  # fixed, and its size and mtime, the cache key, as they were
    fixed = load_images(config)
    assert "1.png" in fixed.names and len(fixed.names) == 3 and decodes


def test_a_run_reads_on_when_its_cache_folder_is_deleted(tmp_path):
    from vaelab.training.callbacks import Callback
    from vaelab.training.run import train

    from factories import tiny_config

    cache_dir = tmp_path / "cache"

    class DeleteTheCache(Callback):
        def on_train_batch_end(self, trainer, terms):
            if trainer.step == 3:
                shutil.rmtree(cache_dir)

    config = tiny_config(8, data__cache_dir=str(cache_dir), data__limit=None)  # all 1797: mapped, not copied
    data = load_images(config.data)
    assert isinstance(data.images, np.memmap)
    rows = np.array(data.images[[5, 1, 2]])
    result = train(config, tmp_path / "run", callbacks=[DeleteTheCache()])
    assert not cache_dir.exists() and result.steps == 8 and np.isfinite(result.metrics["loss"])
    assert np.array_equal(cache.read_rows(data.images, np.array([5, 1, 2])), rows)  # read through its descriptor


HOLDER = textwrap.dedent("""
    import sys, time
    from vaelab.files import file_lock
    with file_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
""")


def test_a_run_waits_for_another_that_builds_the_entry_says_so_and_gives_up_in_time(small_folder, data_config,
                                                                                    monkeypatch, caplog):
    config = data_config(small_folder)
    source = resolve_source(config)
    lock = Path(config.cache_dir) / f"{cache.cache_key(source.kind, source.identity)}.lock"
    builder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout.readline() == "held\n"
        monkeypatch.setattr(cache, "BUILD_WAIT_SECONDS", 0.6)
        with pytest.raises(UsageError, match=rf"gave up after 0.01 minutes waiting for pid {builder.pid} on \S+ to "
                                             r"finish decoding the same images into the cache .*data.cache_dir=DIR"):
            load_images(config)
        assert f"waiting for pid {builder.pid} on" in caplog.text and "at most 0.01 minutes" in caplog.text
    finally:
        builder.kill()
        builder.wait()
    assert len(load_images(config).names) == 3  # its holder gone, the lock is the next run's
