"""The decoded-array cache of tfds splits: served again without reading, and never stale."""

import os

import numpy as np
import pytest

from jaxgan.data import array_cache


def _prepared(root, name="mnist"):
  folder = root / name / "3.0.1"
  folder.mkdir(parents=True)
  (folder / "dataset_info.json").write_text("{}")
  (folder / "mnist-train.tfrecord-00000-of-00001").write_bytes(b"records")
  return folder


def _loader(images, labels):
  calls = []

  def load():
    calls.append(1)
    return images.copy(), labels.copy()

  return load, calls


@pytest.fixture
def arrays():
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (7, 4, 4, 1), dtype=np.uint8), rng.integers(0, 10, 7).astype(np.int32)


def test_second_load_reads_the_cache_with_the_same_bytes(tmp_path, arrays):
  _prepared(tmp_path)
  load, calls = _loader(*arrays)
  request = {"split": "train", "crop": 0, "size": None}
  first = array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  second = array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  assert len(calls) == 1
  for got, want in zip(second, arrays, strict=True):
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
  np.testing.assert_array_equal(first[0], second[0])
  # Another split is another entry.
  array_cache.load_through_cache(str(tmp_path), "mnist", {**request, "split": "test"}, load)
  assert len(calls) == 2


def test_changed_prepared_files_are_read_again(tmp_path, arrays):
  folder = _prepared(tmp_path)
  load, calls = _loader(*arrays)
  request = {"split": "train"}
  array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  shard = folder / "mnist-train.tfrecord-00000-of-00001"
  shard.write_bytes(b"other records")  # re-prepared: another size and time
  os.utime(shard, ns=(1, 1))
  array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  assert len(calls) == 2


def test_damaged_entry_is_rebuilt(tmp_path, arrays, caplog):
  _prepared(tmp_path)
  load, calls = _loader(*arrays)
  request = {"split": "train"}
  array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  (entry,) = (tmp_path / array_cache.CACHE_FOLDER / "mnist").iterdir()
  (entry / "images.npy").write_bytes(b"not an array")
  got, _ = array_cache.load_through_cache(str(tmp_path), "mnist", request, load)
  assert len(calls) == 2 and "unreadable" in caplog.text
  np.testing.assert_array_equal(got, arrays[0])


def test_unprepared_or_unwritable_data_dir_still_loads(tmp_path, arrays):
  load, calls = _loader(*arrays)
  got, _ = array_cache.load_through_cache(str(tmp_path / "empty"), "mnist", {"split": "train"}, load)
  np.testing.assert_array_equal(got, arrays[0])
  _prepared(tmp_path)
  (tmp_path / array_cache.CACHE_FOLDER).write_text("a file where the cache folder would go")
  got, _ = array_cache.load_through_cache(str(tmp_path), "mnist", {"split": "train"}, load)
  np.testing.assert_array_equal(got, arrays[0])
  assert len(calls) == 2
