"""Hugging Face datasets as `--data` (huggingface.py): a `save_to_disk` folder and `hf:` specs decode to
exactly the pixels the same images give as files in a folder; labels come from the ClassLabel column;
bad rows are skipped with their reasons; splits, missing columns, a missing library and an unreachable
hub end in one clear line. Everything runs offline: `hf:` is exercised on a local image folder, which
`datasets.load_dataset` opens as it opens a hub dataset."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from vaelab.cli import main
from vaelab.data import decode, huggingface, load_images
from vaelab.errors import UsageError

datasets = pytest.importorskip("datasets")  # the test extra installs it; a user's install may not
huggingface_hub = pytest.importorskip("huggingface_hub")  # installed with datasets


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """Hugging Face's cache in tmp_path, and no network: a test never downloads."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the libraries read those variables when imported, which may have happened already
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def pictures(image_files) -> list[tuple[str, Image.Image]]:
    """(file name, image) of modes and shapes the decoder converts: colour, grey, transparent, 16-bit, landscape."""
    grey16 = Image.fromarray(np.arange(24 * 24, dtype=np.uint16).reshape(24, 24) * 100)
    return [
        ("a.png", image_files.noise((30, 20), seed=1)),
        ("b.png", image_files.solid(90, mode="L")),
        ("c.png", image_files.solid((200, 10, 10, 128), mode="RGBA")),
        ("d.png", grey16),
        ("e.jpg", image_files.noise((40, 24), seed=2)),
    ]


def as_bytes(image_files, name: str, image: Image.Image) -> bytes:
    return image_files.encode(image, "JPEG" if name.endswith(".jpg") else "PNG")


@pytest.fixture
def saved(tmp_path, image_files):
    """A DatasetDict saved to disk: train holds the pictures, a row of junk bytes and an empty row; test two rows.
    Also the same pictures as files in image_files.root, for the folder's decoding of them."""
    rows = pictures(image_files)
    for name, image in rows:
        image_files.save(name, image, format="JPEG" if name.endswith(".jpg") else "PNG")
    features = datasets.Features({"caption": datasets.Value("string"), "image": datasets.Image(),
                                  "style": datasets.ClassLabel(names=["plain", "busy"])})
    train = datasets.Dataset.from_dict({
        "caption": [name for name, _ in rows] + ["junk", "empty"],
        "image": [{"bytes": as_bytes(image_files, name, image), "path": None} for name, image in rows]
                 + [{"bytes": b"not an image", "path": None}, None],
        "style": [1, 0, 0, 0, 1, 0, 1],
    }, features=features)
    test = train.select([0, 1])
    path = tmp_path / "saved"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(path))
    return path


def test_a_saved_dataset_decodes_to_the_folders_pixels_with_labels_and_skipped_rows(saved, image_files, data_config):
    data = load_images(data_config(saved, image_size=16))
    folder = load_images(data_config(image_files.root, image_size=16))
    assert np.array_equal(data.images, folder.images)  # same orientation, modes, resizing: the same decoder
    assert data.images.shape == (5, 3, 16, 16)
    assert data.labels.tolist() == [1, 0, 0, 0, 1] and data.classes == ["plain", "busy"]
    assert data.names == [f"{saved}:train/{row}" for row in range(5)]
    assert data.skipped == [(f"{saved}:train/5", "not an image: cannot identify image file"),
                            (f"{saved}:train/6", "no image in this row")]
    assert data.source == f"{saved}:train (5 images)"


def test_chunks_and_worker_processes_give_the_same_images_in_the_same_order(saved, data_config, monkeypatch):
    whole = load_images(data_config(saved, image_size=16))
    monkeypatch.setattr(huggingface, "CHUNK", 2)  # rows 0-1, 2-3, 4-5 (junk), 6 (empty)
    monkeypatch.setattr(decode, "PARALLEL_MIN_IMAGES", 1)  # every chunk on a pool of processes
    chunked = load_images(data_config(saved, image_size=16, cache_dir=str(saved.parent / "other-cache")))
    assert np.array_equal(chunked.images, whole.images)
    assert chunked.names == whole.names and chunked.skipped == whole.skipped


def test_a_split_is_chosen_with_hf_path_split(saved, data_config):
    data = load_images(data_config(f"hf:{saved}:test", image_size=16))
    assert len(data.images) == 2 and data.labels.tolist() == [1, 0]
    with pytest.raises(UsageError, match=r"no split 'valid' \(it has train, test\): use hf:.*:train"):
        load_images(data_config(f"hf:{saved}:valid"))


def test_the_cache_is_reused_and_a_changed_dataset_is_decoded_anew(saved, data_config):
    config = data_config(saved, image_size=16)
    entries = lambda: sorted(path.name for path in (saved.parent / "cache").glob("*.npy"))
    first = load_images(config)
    load_images(data_config(f"hf:{saved}:train", image_size=16))  # the same split, named otherwise
    assert len(entries()) == 1
    smaller = datasets.load_from_disk(str(saved))
    smaller["train"] = smaller["train"].select(range(3))
    smaller.save_to_disk(str(saved.parent / "smaller"))
    shutil.rmtree(saved)
    (saved.parent / "smaller").rename(saved)  # another dataset's files at the same path
    again = load_images(config)
    assert len(first.images) == 5 and len(again.images) == 3 and len(entries()) == 2


def test_hf_name_opens_what_datasets_load_dataset_opens_here_a_local_image_folder(image_files, data_config):
    for name, image in pictures(image_files)[:4]:
        image_files.save(f"{'busy' if name == 'a.png' else 'plain'}/{name}", image)
    image_files.raw("plain/zz.png", b"junk")
    data = load_images(data_config(f"hf:{image_files.root}", image_size=16))
    [(name, reason)] = data.skipped
    assert re.fullmatch(rf"hf:{image_files.root}:train/\d \({image_files.root}/plain/zz.png\)", name), name
    assert reason == "not an image: cannot identify image file"
    assert data.images.shape == (4, 3, 16, 16)
    assert data.classes == ["busy", "plain"] and sorted(data.labels.tolist()) == [0, 1, 1, 1]
    assert data.source == f"hf:{image_files.root}:train (4 images)"
    with pytest.raises(UsageError,
                       match=r"Unknown split \"valid\". Should be one of \['train'\]: choose one with hf:NAME:SPLIT"):
        load_images(data_config(f"hf:{image_files.root}:valid"))


def test_a_dataset_without_an_image_column_names_its_columns(tmp_path, data_config):
    datasets.Dataset.from_dict({"text": ["a", "b"], "n": [1, 2]}).save_to_disk(str(tmp_path / "texts"))
    with pytest.raises(UsageError, match=r"has no image column \(columns: text \(Value\), n \(Value\)\)"):
        load_images(data_config(tmp_path / "texts"))
    with pytest.raises(UsageError, match="holds one dataset, not a dict of splits: drop :train"):
        load_images(data_config(f"hf:{tmp_path / 'texts'}:train"))


def test_an_unreachable_hub_dataset_is_one_line_with_exit_code_2(tmp_path, capsys):
    code = main(["train", "--data", "hf:someone/no-such-dataset", "--out", str(tmp_path / "run"), "--steps", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "hf:someone/no-such-dataset: datasets.load_dataset('someone/no-such-dataset') failed" in err
    assert "save the dataset with datasets.save_to_disk" in err
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_without_the_datasets_library_the_error_says_how_to_install_it(monkeypatch, data_config):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(UsageError, match=r"needs the datasets library: pip install 'vaelab\[hf\]'"):
        load_images(data_config("hf:huggan/wikiart"))


def test_a_training_run_on_a_saved_dataset(saved, tmp_path, capsys):
    assert main(["train", "--data", str(saved), "--out", str(tmp_path / "run"), "--steps", "2", "--image-size", "16",
                 "--width", "8", "--latent-dim", "4", "--set", "training.progress=false",
                 "--set", "training.figures=false"]) == 0
    assert (tmp_path / "run" / "skipped.txt").read_text().splitlines() == [
        f"{saved}:train/5\tnot an image: cannot identify image file", f"{saved}:train/6\tno image in this row"]
