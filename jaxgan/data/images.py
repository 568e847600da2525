"""Image datasets held in memory as uint8, served as deterministic batches in [-1, 1].

Sources (`config.data.source`):
  * `tfds` (default): `tensorflow_datasets.load(config.data.name)`. Offline, point `config.data.manual_dir` at a folder
    with the dataset's original files; tfds verifies their checksums and prepares the dataset into
    `config.data.data_dir`.
  * `npz:PATH`: an .npz with `images` uint8 [N, H, W, C] (and optional `labels` [N]), or the JPEG-packed layout
    (`jpeg`, `offsets`, `labels`, `is_test`) of a CIFAR-10 copy.
  * `folder:PATH`: every PNG/JPEG below PATH (sorted), all of one size; labels from sub-folder names.

Batch t of a run is a pure function of (seed, t): the stream is a sequence of epochs, each a permutation drawn from
`numpy.random.default_rng([seed, epoch])`, so a resumed run sees exactly the batches of an uninterrupted one without
saving any iterator state. Images are scaled to [-1, 1], the range of the generator's tanh output.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.data.shapes import data_shape

# The original files tfds's MNIST-style builders expect in manual_dir.
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz")
_ORIGINAL_FILES = {"mnist": _IDX_FILES, "fashion_mnist": _IDX_FILES}


def _hide_accelerators_from_tf(tf) -> None:
  # TF must not grab GPU/TPU memory that JAX needs; it only decodes and prepares data here.
  try:
    tf.config.set_visible_devices([], "GPU")
    tf.config.set_visible_devices([], "TPU")
  except (RuntimeError, ValueError):
    pass  # already initialised, or no such device type


def _missing_data_message(name: str, data_dir: str | None, manual_dir: str | None, error: Exception) -> str:
  files = _ORIGINAL_FILES.get(name)
  what = f"the files {', '.join(files)}" if files else "the dataset's original files (see its tfds catalog page)"
  where = f" (looked in manual_dir={manual_dir})" if manual_dir else ""
  return (f"Dataset {name!r} is not prepared in data_dir={data_dir or '~/tensorflow_datasets'} and could not be "
          f"downloaded{where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}\n"
          f"To use it offline, put {what} into a folder DIR and pass --config.data.manual_dir=DIR "
          "(tfds verifies their checksums and prepares the dataset once), or use "
          "--config.data.source=npz:PATH / folder:PATH for your own images.")


def _is_prepared(tfds, name: str, data_dir: str | None) -> bool:
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception:  # unknown name or broken builder: let tfds.load report it
    return False
  return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


# Centre crops applied before resizing, as the usual face-GAN setups do: CelebA's 178x218 photos are cropped to the
# central 108x108 (the face) and resized to 64x64 (Radford et al.'s and later DCGAN code's convention).
CENTER_CROPS = {"celeb_a": 108}


def _crop_and_resize(tf, image, crop: int, size: tuple[int, int] | None):
  if crop:
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    image = tf.image.crop_to_bounding_box(image, (height - crop) // 2, (width - crop) // 2, crop, crop)
  if size is not None:
    image = tf.image.resize(image, size, method="area")  # area: no aliasing when shrinking
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
  return image


def _load_tfds(name: str, split: str, data_dir: str | None, manual_dir: str | None, crop: int = 0,
               size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
  try:
    import tensorflow as tf
    import tensorflow_datasets as tfds
  except ImportError as error:
    raise ImportError(f"Loading {name!r} through tensorflow-datasets needs TensorFlow: pip install -e '.[data]' "
                      f"(or pass --config.data.source=npz:PATH). ({error})") from None
  _hide_accelerators_from_tf(tf)
  kwargs = {}
  if manual_dir:
    if not os.path.isdir(manual_dir):
      raise FileNotFoundError(f"config.data.manual_dir={manual_dir} is not a folder; it must hold the original files "
                              f"of {name!r}.")
    kwargs["download_and_prepare_kwargs"] = {
        # tfds caches extracted manual files by file name alone, and MNIST and Fashion-MNIST share names: a
        # per-dataset extract_dir keeps one from silently reading the other's images.
        "download_config": tfds.download.DownloadConfig(
            manual_dir=manual_dir,
            extract_dir=os.path.join(data_dir or os.path.expanduser("~/tensorflow_datasets"), "extracted", name))}
    missing = [f for f in _ORIGINAL_FILES.get(name, ()) if not os.path.exists(os.path.join(manual_dir, f))]
    if missing and not _is_prepared(tfds, name, data_dir):
      # Fail now: tfds would otherwise retry a download for minutes before giving up.
      raise FileNotFoundError(_missing_data_message(
          name, data_dir, manual_dir, FileNotFoundError(f"missing {', '.join(missing)}")))
  try:
    if not crop and size is None:
      data = tfds.as_numpy(tfds.load(name, split=split, data_dir=data_dir, batch_size=-1, **kwargs))
      images = np.asarray(data["image"], np.uint8)
      return images, np.asarray(data.get("label", np.zeros(len(images))), np.int32)
    # Cropped and resized in tf.data batches, so the full-size images are never all in memory at once.
    dataset = tfds.load(name, split=split, data_dir=data_dir, **kwargs)
    dataset = dataset.map(lambda ex: (_crop_and_resize(tf, ex["image"], crop, size), ex.get("label", 0)),
                          num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
    parts = [(np.asarray(x, np.uint8), np.asarray(y, np.int32)) for x, y in tfds.as_numpy(dataset)]
  except Exception as error:  # tfds raises many kinds (network, checksum, missing files)
    if isinstance(error, (ImportError, MemoryError)):
      raise
    raise FileNotFoundError(_missing_data_message(name, data_dir, manual_dir, error)) from error
  images = np.concatenate([x for x, _ in parts])
  labels = np.concatenate([np.broadcast_to(y, (len(x),)) for x, y in parts]).astype(np.int32)
  return images, labels


def _decode(encoded: bytes) -> np.ndarray:
  import io

  from PIL import Image

  image = np.asarray(Image.open(io.BytesIO(encoded)))
  return image[..., None] if image.ndim == 2 else image


def _load_npz(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  if not os.path.exists(path):
    raise FileNotFoundError(f"config.data.source=npz:{path}: no such file.")
  with np.load(path) as archive:
    if "images" in archive:
      images = np.asarray(archive["images"])
      labels = np.asarray(archive["labels"]) if "labels" in archive else np.zeros(len(images), np.int32)
    elif "jpeg" in archive:
      jpeg, offsets = archive["jpeg"], archive["offsets"]
      keep = np.ones(len(offsets) - 1, bool)
      if "is_test" in archive:
        keep = archive["is_test"] if split == "test" else ~archive["is_test"]
      index = np.flatnonzero(keep)
      images = np.stack([_decode(jpeg[offsets[i]:offsets[i + 1]].tobytes()) for i in index])
      labels = np.asarray(archive["labels"])[index] if "labels" in archive else np.zeros(len(index), np.int32)
    else:
      raise ValueError(f"{path} holds neither `images` [N, H, W, C] nor the `jpeg`/`offsets` layout; "
                       f"found keys {sorted(archive.keys())}.")
  if images.ndim == 3:
    images = images[..., None]
  return images.astype(np.uint8), labels.astype(np.int32)


def _load_folder(path: str) -> tuple[np.ndarray, np.ndarray]:
  root = Path(path)
  files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
  if not files:
    raise FileNotFoundError(f"config.data.source=folder:{path}: no PNG or JPEG files found.")
  images = [_decode(p.read_bytes()) for p in files]
  shapes = {im.shape for im in images}
  if len(shapes) > 1:
    raise ValueError(f"Images in {path} differ in size ({sorted(shapes)[:3]}...); resize them to one size first.")
  classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
  labels = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files], np.int32)
  return np.stack(images).astype(np.uint8), labels


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, source: str, split: str, data_dir: str | None, manual_dir: str | None, crop: int = 0,
                 size: tuple[int, int] | None = None):
  if source == "tfds":
    return _load_tfds(name, split, data_dir, manual_dir, crop, size)
  if source.startswith("npz:"):
    return _load_npz(source[4:], split)
  if source.startswith("folder:"):
    return _load_folder(source[7:])
  raise ValueError(f"Unknown config.data.source {source!r}; use 'tfds', 'npz:PATH' or 'folder:PATH'.")


def load_images(data_config: ml_collections.ConfigDict, expected_shape: tuple[int, ...] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
  """Loads a whole split into memory.

  Args:
    data_config: `name`, optional `source`, `split` (default 'train'), `data_dir`, `manual_dir`, `max_examples`,
      `center_crop` (side of a central square crop of tfds images; default per dataset, `CENTER_CROPS`) and
      `resize` (resize tfds images to `expected_shape`; implied by a crop).
    expected_shape: (H, W, C) the nets were built for; a mismatch raises.

  Returns:
    (images uint8 [N, H, W, C], labels int32 [N]).
  """
  source = data_config.get("source", "tfds") or "tfds"
  crop = int(data_config.get("center_crop", CENTER_CROPS.get(data_config.name, 0)) or 0)
  size = None
  if source == "tfds" and (crop or data_config.get("resize")):
    # tfds images of another size (CelebA) are centre-cropped and resized to the shape the nets were built for.
    size = tuple(expected_shape[:2]) if expected_shape is not None else None
  images, labels = _load_cached(data_config.name, source, data_config.get("split", "train") or "train",
                                data_config.get("data_dir"), data_config.get("manual_dir"), crop, size)
  limit = data_config.get("max_examples", 0) or 0
  if limit:
    images, labels = images[:limit], labels[:limit]
  if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
    raise ValueError(f"Images of {data_config.name!r} have shape {images.shape[1:]}, but the nets were built for "
                     f"{tuple(expected_shape)}; set config.data.image_shape or resize the data.")
  return images, labels


def to_unit_range(images: np.ndarray) -> np.ndarray:
  """uint8 [..., H, W, C] in [0, 255] -> float32 in [-1, 1]."""
  return images.astype(np.float32) / 127.5 - 1.0


def batch_indices(seed: int, num_examples: int, start: int, count: int) -> np.ndarray:
  """Indices of examples start .. start+count-1 of the endless stream of seeded epoch permutations."""
  out = np.empty(count, np.int64)
  filled = 0
  while filled < count:
    epoch, offset = divmod(start + filled, num_examples)
    take = min(count - filled, num_examples - offset)
    out[filled:filled + take] = _permutation(seed, epoch, num_examples)[offset:offset + take]
    filled += take
  return out


@functools.lru_cache(maxsize=2)
def _permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def make_image_batch_fn(config: ml_collections.ConfigDict, key: jax.Array, rows: tuple[int, int] | None = None
                        ) -> Callable[[int], jax.Array]:
  """`next_batch(step) -> [n_critic, batch_size, H, W, C]` float32 in [-1, 1], deterministic in (key, step); with
  `config.num_classes > 0`, `(images, labels int32 [n_critic, batch_size])`.

  Args:
    rows: (lo, hi): keep only examples lo..hi-1 of each global batch (this process's shard); default all.
  """
  images, labels = load_images(config.data, data_shape(config.data))
  num_classes = int(config.get("num_classes", 0))
  if num_classes and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f"Labels of {config.data.name!r} span [{labels.min()}, {labels.max()}], outside "
                     f"config.num_classes={num_classes}.")
  per_step = int(config.n_critic) * int(config.batch_size)
  if per_step > len(images):
    raise ValueError(f"n_critic * batch_size = {per_step} exceeds the {len(images)} images of {config.data.name!r}.")
  seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
  lo, hi = rows or (0, int(config.batch_size))

  def next_batch(step: int) -> jax.Array:
    index = batch_indices(seed, len(images), step * per_step, per_step)
    index = index.reshape(int(config.n_critic), int(config.batch_size))[:, lo:hi]
    batch = to_unit_range(images[index])
    if num_classes:
      return jnp.asarray(batch), jnp.asarray(labels[index])
    return jnp.asarray(batch)

  return next_batch
