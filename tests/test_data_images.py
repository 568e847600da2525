"""Image data: tfds preparation from the real MNIST files (offline, manual_dir), npz sources, deterministic batches."""

import io
import time

import chex
import jax
import ml_collections
import numpy as np
import pytest

from jaxgan.data import images as images_lib
from jaxgan.data.images import batch_indices, load_images, make_image_batch_fn


def _mnist_data(tfds_data_dir, manual_dir, **extra):
  fields = {
    "name": "mnist",
    "source": "tfds",
    "split": "train",
    "data_dir": tfds_data_dir,
    "manual_dir": manual_dir,
    "max_examples": 0,
  }
  fields.update(extra)
  return ml_collections.ConfigDict(fields)


def test_mnist_prepares_offline_from_manual_dir(tfds_data_dir, mnist_manual_dir):
  images, labels = load_images(_mnist_data(tfds_data_dir, mnist_manual_dir), (28, 28, 1))
  assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
  assert set(np.unique(labels)) == set(range(10))
  assert images.max() == 255 and images.min() == 0


def test_missing_files_fail_fast_with_the_fix(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  images_lib._load_cached.cache_clear()
  with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.gz.*--config.data.manual_dir"):
    load_images(_mnist_data(str(tmp_path / "tfds"), str(empty)))


def _npz(tmp_path, n=50):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
  path = tmp_path / "data.npz"
  np.savez(path, images=images, labels=np.arange(n) % 10)
  return path, images


def test_npz_source_and_shape_check(tmp_path):
  path, images = _npz(tmp_path)
  data = ml_collections.ConfigDict({"name": "mine", "source": f"npz:{path}", "split": "train"})
  loaded, labels = load_images(data, (28, 28, 1))
  chex.assert_trees_all_equal(loaded, images)
  with pytest.raises(ValueError, match="nets were built for"):
    load_images(data, (32, 32, 3))


def test_batches_are_deterministic_epochs(tmp_path):
  # Every epoch visits every example once; the same step gives the same batch in a fresh function (resume).
  index = batch_indices(seed=3, num_examples=10, start=0, count=30)
  for epoch in range(3):
    assert sorted(index[epoch * 10 : (epoch + 1) * 10].tolist()) == list(range(10))
  assert not np.array_equal(index[:10], index[10:20])
  chex.assert_trees_all_equal(batch_indices(3, 10, 7, 9), index[7:16])

  path, images = _npz(tmp_path)
  config = ml_collections.ConfigDict(
    {"n_critic": 2, "batch_size": 4, "data": {"name": "mine", "source": f"npz:{path}", "image_shape": (28, 28, 1)}}
  )
  first = make_image_batch_fn(config, jax.random.key(0))
  again = make_image_batch_fn(config, jax.random.key(0))
  b = first(5)
  chex.assert_shape(b, (2, 4, 28, 28, 1))
  chex.assert_trees_all_equal(b, again(5))
  assert float(b.min()) >= -1.0 and float(b.max()) <= 1.0
  expected = images[batch_indices(int(jax.random.randint(jax.random.key(0), (), 0, 2**31 - 1)), 50, 40, 8)]
  chex.assert_trees_all_close(np.asarray(b).reshape(8, 28, 28, 1), expected / 127.5 - 1.0, atol=1e-6)


@pytest.mark.parametrize("source", ["toy", "npz"])
def test_process_shards_tile_the_global_batch(tmp_path, source):
  # Each process of a multi-host run reads its contiguous slice; together the slices are the one-process batch.
  from jaxgan.data import make_batch_fn

  if source == "toy":
    config = ml_collections.ConfigDict({"n_critic": 2, "batch_size": 8, "num_classes": 0, "data": {"name": "grid25"}})
  else:
    path, _ = _npz(tmp_path)
    config = ml_collections.ConfigDict(
      {
        "n_critic": 2,
        "batch_size": 8,
        "num_classes": 0,
        "data": {"name": "mine", "source": f"npz:{path}", "image_shape": (28, 28, 1)},
      }
    )
  whole = make_batch_fn(config, jax.random.key(0))(3)
  parts = [make_batch_fn(config, jax.random.key(0), (i, 4))(3) for i in range(4)]
  assert parts[0].shape[:2] == (2, 2)
  chex.assert_trees_all_equal(np.concatenate([np.asarray(p) for p in parts], axis=1), np.asarray(whole))
  with pytest.raises(ValueError, match="divisible by the process count 3"):
    make_batch_fn(config, jax.random.key(0), (0, 3))


def test_celeb_a_is_centre_cropped_and_resized_to_64(tmp_path, monkeypatch):
  # tfds's mock replaces CelebA's files with photos whose central 108x108 square is known: the left half 50, the
  # right half 150, everything outside 0. Cropped and resized to 64x64, the halves must stay exactly 50 and 150.
  tf = pytest.importorskip("tensorflow")
  tfds = pytest.importorskip("tensorflow_datasets")
  from jaxgan.data import images as images_lib

  photo = np.zeros((218, 178, 3), np.uint8)
  top, left = (218 - 108) // 2, (178 - 108) // 2
  photo[top : top + 108, left : left + 54] = 50
  photo[top : top + 108, left + 54 : left + 108] = 150

  def as_dataset(self, *args, **kwargs):
    del self, args, kwargs
    return tf.data.Dataset.from_tensor_slices({"image": np.stack([photo] * 3)})

  images_lib._load_cached.cache_clear()
  monkeypatch.setattr(images_lib, "network_reachable", lambda *args, **kwargs: True)  # tfds is mocked: no download
  with tfds.testing.mock_data(num_examples=3, as_dataset_fn=as_dataset):
    data = ml_collections.ConfigDict({"name": "celeb_a", "source": "tfds", "split": "train", "data_dir": str(tmp_path)})
    loaded, labels = load_images(data, (64, 64, 3))
  images_lib._load_cached.cache_clear()
  assert loaded.shape == (3, 64, 64, 3) and loaded.dtype == np.uint8 and labels.shape == (3,)
  assert np.all(loaded[:, :, :32] == 50) and np.all(loaded[:, :, 32:] == 150)


def _float_config(path, channels=1):
  return ml_collections.ConfigDict(
    {
      "n_critic": 1,
      "batch_size": 50,
      "data": {"name": "floats", "source": f"npz:{path}", "image_shape": (8, 8, channels)},
    }
  )


@pytest.mark.parametrize("lo", [0.0, -1.0])
def test_float_npz_keeps_its_values(tmp_path, caplog, lo):
  # Floats in [0, 1] or [-1, 1] are told apart by their range; batches hold the same pictures in [-1, 1].
  source = np.random.default_rng(1).uniform(lo, 1.0, (50, 8, 8, 1)).astype(np.float32)
  np.savez(tmp_path / "floats.npz", images=source)
  with caplog.at_level("INFO", logger="jaxgan.data.images"):
    batch = np.asarray(make_image_batch_fn(_float_config(tmp_path / "floats.npz"), jax.random.key(0))(0))[0]
  assert f"float images in [{lo:g}, 1]" in caplog.text
  in_unit_range = source if lo < 0 else 2.0 * source - 1.0
  # Stored as uint8: every value within half a level (1/255 in [-1, 1]) of the source's.
  seed = int(jax.random.randint(jax.random.key(0), (), 0, 2**31 - 1))
  expected = in_unit_range[batch_indices(seed, 50, 0, 50)]
  chex.assert_trees_all_close(batch, expected, atol=1 / 255 + 1e-6)
  assert len(np.unique(batch)) > 200


@pytest.mark.parametrize(
  "images, match",
  [
    (np.full((4, 8, 8, 1), 2.0, np.float32), r"span \[2, 2\]; floats must lie in \[0, 1\] or \[-1, 1\]"),
    (np.full((4, 8, 8, 1), np.nan, np.float32), "NaN or inf"),
    (np.full((4, 8, 8, 1), 1000, np.int32), r"integer images span \[1000, 1000\], outside \[0, 255\]"),
    (np.full((4, 8, 8, 1), -3.0), r"span \[-3, -3\]"),
  ],
)
def test_npz_values_out_of_range_are_refused(tmp_path, images, match):
  np.savez(tmp_path / "bad.npz", images=images)
  with pytest.raises(ValueError, match=rf"bad\.npz: .*{match}"):
    load_images(ml_collections.ConfigDict({"name": "bad", "source": f"npz:{tmp_path / 'bad.npz'}"}))


def png_folder(tmp_path):
  """PNGs of the modes PIL reads without converting: palette, 16-bit and 1-bit, with their expected values."""
  from PIL import Image

  rng = np.random.default_rng(2)
  colour, grey = tmp_path / "colour", tmp_path / "grey"
  colour.mkdir()
  grey.mkdir()
  palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
  index = rng.integers(0, 256, (8, 8), dtype=np.uint8)
  image = Image.fromarray(index, mode="L").convert("P")
  image.putpalette(palette.ravel().tolist())
  image.save(colour / "palette.png")
  wide = rng.integers(0, 65536, (8, 8)).astype(np.uint16)
  Image.fromarray(wide).save(grey / "sixteen.png")  # mode I;16
  bits = rng.random((8, 8)) > 0.3
  Image.fromarray(bits).save(grey / "one_bit.png")  # mode 1
  return {"palette": palette[index], "sixteen": wide / 65535 * 255, "one_bit": bits * 255.0}


def test_png_modes_are_converted_to_the_dataset_channels(tmp_path):
  expected = png_folder(tmp_path)
  colour, _ = load_images(
    ml_collections.ConfigDict({"name": "c", "source": f"folder:{tmp_path / 'colour'}"}), (8, 8, 3)
  )
  grey, _ = load_images(ml_collections.ConfigDict({"name": "g", "source": f"folder:{tmp_path / 'grey'}"}), (8, 8, 1))
  # Files load in sorted order: one_bit.png, sixteen.png.
  for name, loaded in (("palette", colour[0]), ("one_bit", grey[0]), ("sixteen", grey[1])):
    source = expected[name].reshape(loaded.shape)
    assert abs(loaded.mean() - source.mean()) <= 1.0, name
    chex.assert_trees_all_close(loaded.astype(np.float64), source, atol=0.5 + 1e-9)


def test_corrupt_png_is_named(tmp_path):
  from PIL import Image

  Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "good.png")
  encoded = (tmp_path / "good.png").read_bytes()
  (tmp_path / "broken.png").write_bytes(encoded[: len(encoded) // 2])
  with pytest.raises(ValueError, match=r"broken\.png is not a readable image \(.*\); replace or remove it"):
    load_images(ml_collections.ConfigDict({"name": "c", "source": f"folder:{tmp_path}"}))


def test_offline_tfds_fails_within_seconds_with_the_recipe(tmp_path, monkeypatch):
  # Every request goes to a proxy on a closed port: the network is unreachable without waiting for DNS timeouts.
  for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    monkeypatch.setenv(name, "http://127.0.0.1:9")
  for name in ("NO_PROXY", "no_proxy"):
    monkeypatch.delenv(name, raising=False)
  images_lib._load_cached.cache_clear()
  start = time.perf_counter()
  with pytest.raises(FileNotFoundError) as raised:
    load_images(ml_collections.ConfigDict({"name": "mnist", "source": "tfds", "data_dir": str(tmp_path / "tfds")}))
  assert time.perf_counter() - start < 10
  message = str(raised.value)
  assert "could not be downloaded: ConnectionError: no network" in message
  assert "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz" in message
  assert "--config.data.manual_dir=DIR --config.data.data_dir=tfds_data" in message


def _smooth_images(n, size=16):
  """uint8 [n, size, size, 3] colour ramps: smooth, so JPEG changes them by a few levels only."""
  y, x = np.mgrid[0:size, 0:size] / (size - 1)
  return (
    np.stack([np.stack([200 * x + 20 * i, 200 * y + 10 * i, 100 + 50 * x * y], -1) for i in range(n)])
    .round()
    .astype(np.uint8)
  )


def _pack_jpegs(path, images, labels, is_test, quality=95):
  from PIL import Image

  files = []
  for image in images:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=0)  # 4:4:4: no chroma blur
    files.append(np.frombuffer(buffer.getvalue(), np.uint8))
  offsets = np.concatenate([[0], np.cumsum([len(f) for f in files])]).astype(np.int64)
  np.savez(path, jpeg=np.concatenate(files), offsets=offsets, labels=labels, is_test=is_test)
  return files


def test_jpeg_packed_npz_is_a_data_source_with_labels_and_splits(tmp_path):
  from PIL import Image

  source = _smooth_images(6)
  labels = np.array([3, 1, 4, 1, 5, 9], np.uint8)
  is_test = np.array([False, False, False, False, True, True])
  files = _pack_jpegs(tmp_path / "packed.npz", source, labels, is_test)
  images_lib._load_cached.cache_clear()
  data = ml_collections.ConfigDict(
    {"name": "packed", "source": f"npz:{tmp_path / 'packed.npz'}", "image_shape": (16, 16, 3)}
  )
  train, train_labels = load_images(data, (16, 16, 3))
  data.split = "test"
  test, test_labels = load_images(data, (16, 16, 3))
  assert train.dtype == np.uint8 and train.shape == (4, 16, 16, 3) and test.shape == (2, 16, 16, 3)
  chex.assert_trees_all_equal(train_labels, labels[:4].astype(np.int32))
  chex.assert_trees_all_equal(test_labels, labels[4:].astype(np.int32))
  # Exactly PIL's decoding of each file, and within JPEG's loss of the pictures that were encoded.
  decoded = np.stack([np.asarray(Image.open(io.BytesIO(f.tobytes())).convert("RGB")) for f in files])
  chex.assert_trees_all_equal(np.concatenate([train, test]), decoded)
  error = np.abs(np.concatenate([train, test]).astype(int) - source)
  assert error.mean() < 2.0 and error.max() <= 16


def test_jpeg_packed_npz_with_broken_offsets_is_named(tmp_path):
  _pack_jpegs(tmp_path / "packed.npz", _smooth_images(2), np.zeros(2), np.zeros(2, bool))
  with np.load(tmp_path / "packed.npz") as archive:
    fields = dict(archive)
  np.savez(tmp_path / "bad.npz", **{**fields, "offsets": fields["offsets"][::-1]})
  images_lib._load_cached.cache_clear()
  with pytest.raises(ValueError, match=r"bad\.npz: `offsets` must rise strictly"):
    load_images(ml_collections.ConfigDict({"name": "bad", "source": f"npz:{tmp_path / 'bad.npz'}"}))


def test_first_images_of_the_cifar10_copy_load(tmp_path):
  # The first images of the real file, repacked (decoding all 60,000 takes a while): the loader reads the real bytes.
  from PIL import Image

  from tests.conftest import first_cifar10_images

  n = 5
  first = first_cifar10_images(tmp_path / "first.npz", n)
  jpeg, offsets, labels, is_test = first["jpeg"], first["offsets"], first["labels"], first["is_test"]
  images_lib._load_cached.cache_clear()
  images, loaded_labels = load_images(
    ml_collections.ConfigDict({"name": "cifar10", "source": f"npz:{tmp_path / 'first.npz'}"}), (32, 32, 3)
  )
  assert not is_test.any() and images.shape == (n, 32, 32, 3) and images.dtype == np.uint8
  chex.assert_trees_all_equal(loaded_labels, labels.astype(np.int32))
  first = np.asarray(Image.open(io.BytesIO(jpeg[offsets[0] : offsets[1]].tobytes())).convert("RGB"))
  chex.assert_trees_all_equal(images[0], first)
  assert images.std() > 20  # real pictures, not a constant
