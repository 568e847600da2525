"""Image datasets held in memory as uint8, served as deterministic batches in [-1, 1].

Sources (`config.data.source`):
  * `tfds` (default): `tensorflow_datasets.load(config.data.name)`. Offline, point `config.data.manual_dir` at a folder
    with the dataset's original files; tfds verifies their checksums and prepares the dataset into
    `config.data.data_dir`. The decoded split is kept beside it (`jaxgan.data.array_cache`), so later runs read it
    without TensorFlow.
  * `npz:PATH`: an .npz with `images` [N, H, W, C] (and optional `labels` [N]), or the JPEG-packed layout
    (`jpeg`, `offsets`, `labels`, `is_test`) of a CIFAR-10 copy. `images` may be integers in [0, 255] or floats in
    [0, 1] or [-1, 1] (told apart by their range; stored as uint8, to 1/255).
  * `folder:PATH`: every PNG/JPEG below PATH (sorted), all of one size; labels from sub-folder names. Each file is
    converted explicitly to greyscale or RGB (palette, 1-bit and 16-bit PNGs included), per the configured channels.

Batch t of a run is a pure function of (seed, t): the stream is a sequence of epochs, each a permutation drawn from
`numpy.random.default_rng([seed, epoch])`, so a resumed run sees exactly the batches of an uninterrupted one without
saving any iterator state. Images are scaled to [-1, 1], the range of the generator's tanh output.
"""

from __future__ import annotations

import functools
import glob
import io
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan.data import array_cache
from jaxgan.data.resize import resize_uint8
from jaxgan.data.shapes import data_shape

log = logging.getLogger(__name__)

# The original files tfds's MNIST-style builders expect in manual_dir.
_IDX_FILES = (
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
)
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
  return (
    f"Dataset {name!r} is not prepared in data_dir={data_dir or '~/tensorflow_datasets'} and could not be "
    f"downloaded{where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}\n"
    f"To use it offline, put {what} into a folder DIR and pass --config.data.manual_dir=DIR "
    "--config.data.data_dir=tfds_data (tfds verifies their checksums and prepares the dataset once), or use "
    "--config.data.source=npz:PATH / folder:PATH for your own images."
  )


def _is_prepared(tfds, name: str, data_dir: str | None) -> bool:
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception:  # unknown name or broken builder: let tfds.load report it
    return False
  return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


# tfds fetches dataset metadata and many datasets' files from Google Cloud Storage; if this host cannot be reached
# there is no network for tfds, and failing at once beats its minutes of retries.
NETWORK_PROBE_URL = "https://storage.googleapis.com/"
NETWORK_PROBE_TIMEOUT_S = 3.0


def network_reachable(url: str = NETWORK_PROBE_URL, timeout: float = NETWORK_PROBE_TIMEOUT_S) -> bool:
  """Whether `url` answers (any HTTP status counts) within about `timeout` seconds, through the proxy variables
  (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) as they are set now.

  The request runs in a daemon thread that is abandoned after the timeout, because a socket timeout does not bound
  the DNS lookup, which is what hangs on a machine without network.
  """
  answered: list[bool] = []

  def probe():
    try:
      # A fresh opener: urlopen's global one keeps the proxy variables of its first use.
      with urllib.request.build_opener().open(urllib.request.Request(url, method="HEAD"), timeout=timeout):
        answered.append(True)
    except urllib.error.HTTPError:
      answered.append(True)  # a server (or the proxy) answered
    except (urllib.error.URLError, OSError, ValueError):
      answered.append(False)

  thread = threading.Thread(target=probe, name="network-probe", daemon=True)
  thread.start()
  thread.join(timeout + 1.0)
  return bool(answered and answered[0])


def _has_prepared_files(name: str, data_dir: str | None) -> bool:
  """Whether some version of `name` was prepared in `data_dir` (tfds's layout: NAME/[CONFIG/]VERSION/), judged from
  the files alone so that the check needs neither TensorFlow nor the network."""
  root = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
  folder = os.path.join(root, name.split(":")[0])
  return bool(glob.glob(os.path.join(glob.escape(folder), "**", "dataset_info.json"), recursive=True))


def _check_tfds_can_download(name: str, data_dir: str | None) -> None:
  """Fails within seconds, with the offline recipe, when `name` is neither prepared nor downloadable.

  Raises:
    FileNotFoundError: when `name` is not prepared in `data_dir` and the network cannot be reached.
  """
  if _has_prepared_files(name, data_dir) or network_reachable():
    return
  error = ConnectionError(f"no network ({NETWORK_PROBE_URL} did not answer within {NETWORK_PROBE_TIMEOUT_S:g} s)")
  raise FileNotFoundError(_missing_data_message(name, data_dir, None, error))


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


def _load_tfds(
  name: str,
  split: str,
  data_dir: str | None,
  manual_dir: str | None,
  crop: int = 0,
  size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
  request = {"split": split, "crop": crop, "size": list(size) if size is not None else None}
  return array_cache.load_through_cache(
    data_dir, name, request, functools.partial(_read_tfds, name, split, data_dir, manual_dir, crop, size)
  )


def _read_tfds(
  name: str,
  split: str,
  data_dir: str | None,
  manual_dir: str | None,
  crop: int = 0,
  size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
  if not manual_dir:
    _check_tfds_can_download(name, data_dir)  # before importing TensorFlow, which alone takes many seconds
  try:
    import tensorflow as tf
    import tensorflow_datasets as tfds
  except ImportError as error:
    raise ImportError(
      f"Loading {name!r} through tensorflow-datasets needs TensorFlow: pip install -e '.[data]' "
      f"(or pass --config.data.source=npz:PATH). ({error})"
    ) from None
  _hide_accelerators_from_tf(tf)
  kwargs = {}
  if manual_dir:
    if not os.path.isdir(manual_dir):
      raise FileNotFoundError(
        f"config.data.manual_dir={manual_dir} is not a folder; it must hold the original files of {name!r}."
      )
    kwargs["download_and_prepare_kwargs"] = {
      # tfds caches extracted manual files by file name alone, and MNIST and Fashion-MNIST share names: a
      # per-dataset extract_dir keeps one from silently reading the other's images.
      "download_config": tfds.download.DownloadConfig(
        manual_dir=manual_dir,
        extract_dir=os.path.join(data_dir or os.path.expanduser("~/tensorflow_datasets"), "extracted", name),
      )
    }
    missing = [f for f in _ORIGINAL_FILES.get(name, ()) if not os.path.exists(os.path.join(manual_dir, f))]
    if missing and not _is_prepared(tfds, name, data_dir):
      # Fail now: tfds would otherwise retry a download for minutes before giving up.
      raise FileNotFoundError(
        _missing_data_message(name, data_dir, manual_dir, FileNotFoundError(f"missing {', '.join(missing)}"))
      )
  try:
    if not crop and size is None:
      data = tfds.as_numpy(tfds.load(name, split=split, data_dir=data_dir, batch_size=-1, **kwargs))
      images = np.asarray(data["image"], np.uint8)
      return images, np.asarray(data.get("label", np.zeros(len(images))), np.int32)
    # Cropped and resized in tf.data batches, so the full-size images are never all in memory at once.
    dataset = tfds.load(name, split=split, data_dir=data_dir, **kwargs)
    dataset = dataset.map(
      lambda ex: (_crop_and_resize(tf, ex["image"], crop, size), ex.get("label", 0)),
      num_parallel_calls=tf.data.AUTOTUNE,
    ).batch(1024)
    parts = [(np.asarray(x, np.uint8), np.asarray(y, np.int32)) for x, y in tfds.as_numpy(dataset)]
  except Exception as error:  # tfds raises many kinds (network, checksum, missing files)
    if isinstance(error, (ImportError, MemoryError)):
      raise
    raise FileNotFoundError(_missing_data_message(name, data_dir, manual_dir, error)) from error
  images = np.concatenate([x for x, _ in parts])
  labels = np.concatenate([np.broadcast_to(y, (len(x),)) for x, y in parts]).astype(np.int32)
  return images, labels


# PIL modes of one channel; every other mode (RGB, RGBA, palette 'P', CMYK, ...) is read as RGB.
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Modes holding 16-bit values (PIL reads 16-bit greyscale PNGs as one of these): scaled to 8 bits by 255 / 65535.
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
# Float images may overshoot their range by this much (rounding in whatever wrote them); they are clipped.
_FLOAT_SLACK = 1e-3


def decode_image(encoded: bytes, name: str, channels: int | None = None) -> np.ndarray:
  """Decodes one PNG/JPEG file into uint8 [H, W, channels].

  The image is converted explicitly: to greyscale ('L') for one channel, to RGB for three; palette and 1-bit images
  through their palette and levels, 16-bit greyscale by scaling 0..65535 to 0..255 (not clipping).

  Args:
    encoded: the file's bytes.
    name: the file's name, for error messages.
    channels: 1 or 3; None keeps the file's own kind (1 for greyscale modes, 3 otherwise).

  Returns:
    uint8 [H, W, channels].

  Raises:
    ValueError: naming the file, when it is not a readable image.
  """
  from PIL import Image, UnidentifiedImageError

  try:
    with Image.open(io.BytesIO(encoded)) as image:
      image.load()
      channels = channels or (1 if image.mode in _GREY_MODES else 3)
      if image.mode in _WIDE_MODES:
        grey = np.clip(np.rint(np.asarray(image, np.float64) / 257.0), 0, 255).astype(np.uint8)[..., None]
        return np.repeat(grey, channels, axis=-1)
      return np.asarray(image.convert("L" if channels == 1 else "RGB")).reshape(image.height, image.width, channels)
  except (OSError, SyntaxError, ValueError, EOFError) as error:  # PIL's errors for corrupt or truncated files
    reason = "not a PNG, JPEG or other known format" if isinstance(error, UnidentifiedImageError) else str(error)
    raise ValueError(f"{name} is not a readable image ({reason}); replace or remove it.") from None


def _float_range(images: np.ndarray, name: str) -> tuple[float, float]:
  """(lo, hi) of the range float images lie in, (0, 1) or (-1, 1), detected from their values.

  Raises:
    ValueError: for NaN/inf, or values outside both ranges.
  """
  if not np.all(np.isfinite(images)):
    raise ValueError(f"{name}: the float images hold NaN or inf; pass floats in [0, 1] or [-1, 1], or uint8.")
  lo, hi = float(images.min()), float(images.max())
  if hi <= 1 + _FLOAT_SLACK and lo >= -_FLOAT_SLACK:
    return 0.0, 1.0
  if hi <= 1 + _FLOAT_SLACK and lo >= -1 - _FLOAT_SLACK:
    return -1.0, 1.0
  raise ValueError(
    f"{name}: float images span [{lo:.6g}, {hi:.6g}]; floats must lie in [0, 1] or [-1, 1] (or pass "
    "integers in [0, 255])."
  )


def _check_pixel_dtype(images: np.ndarray, name: str) -> None:
  if images.dtype.kind not in "uif":
    raise ValueError(
      f"{name}: images of dtype {images.dtype} are not supported; pass integers in [0, 255] or floats "
      "in [0, 1] or [-1, 1]."
    )
  if images.dtype.kind in "ui" and images.size and (images.min() < 0 or images.max() > 255):
    raise ValueError(
      f"{name}: integer images span [{images.min()}, {images.max()}], outside [0, 255]; pass uint8 "
      "(scale 16-bit data by 255 / 65535) or floats in [0, 1] or [-1, 1]."
    )


def as_uint8_images(images: np.ndarray, name: str) -> np.ndarray:
  """Integer images in [0, 255], or float images in [0, 1] or [-1, 1], as uint8 [...] in [0, 255].

  Float arrays are told apart by their range (non-negative: [0, 1]; else [-1, 1]), logged, and rounded to the
  nearest of 256 levels.

  Args:
    images: [N, H, W, C] (or [N, H, W]) pixel values.
    name: where they come from, for messages.

  Raises:
    ValueError: naming `name`, the range found and what is accepted, for other dtypes or ranges, NaN or inf.
  """
  images = np.asarray(images)
  _check_pixel_dtype(images, name)
  if images.dtype.kind in "ui" or not images.size:
    return images.astype(np.uint8)
  lo, hi = _float_range(images, name)
  log.info(
    "%s: float images in [%g, %g] (values span [%.4g, %.4g]); stored as uint8.",
    name,
    lo,
    hi,
    float(images.min()),
    float(images.max()),
  )
  scaled = (np.clip(images.astype(np.float64), lo, hi) - lo) * (255.0 / (hi - lo))
  return np.rint(scaled).astype(np.uint8)


def as_unit_range_images(images: np.ndarray, name: str) -> np.ndarray:
  """Integer images in [0, 255], or float images in [0, 1] or [-1, 1], as float32 in [-1, 1] (floats not rounded).

  Raises:
    ValueError: as `as_uint8_images`.
  """
  images = np.asarray(images)
  _check_pixel_dtype(images, name)
  if images.dtype.kind in "ui" or not images.size:
    return to_unit_range(images)
  lo, hi = _float_range(images, name)
  log.info("%s: float images in [%g, %g].", name, lo, hi)
  images = np.clip(images.astype(np.float32), lo, hi)
  return images if lo < 0 else 2.0 * images - 1.0


def _load_npz(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  if not os.path.exists(path):
    raise FileNotFoundError(f"config.data.source=npz:{path}: no such file.")
  with np.load(path) as archive:
    if "images" in archive:
      images = as_uint8_images(archive["images"], path)
      labels = np.asarray(archive["labels"]) if "labels" in archive else np.zeros(len(images), np.int32)
    elif "jpeg" in archive:
      images, labels = _decode_jpeg_npz(archive, path, split)
    else:
      raise ValueError(
        f"{path} holds neither `images` [N, H, W, C] nor the `jpeg`/`offsets` layout; "
        f"found keys {sorted(archive.keys())}."
      )
  if images.ndim == 3:
    images = images[..., None]
  return images, labels.astype(np.int32)


def _check_jpeg_layout(archive, path: str) -> tuple[np.ndarray, np.ndarray]:
  """(jpeg uint8 [bytes], offsets int64 [N + 1]) of a JPEG-packed npz, checked so that every slice is a file."""
  if "offsets" not in archive:
    raise ValueError(f"{path} holds `jpeg` but no `offsets` [N + 1]; image i must be jpeg[offsets[i]:offsets[i + 1]].")
  jpeg, offsets = np.asarray(archive["jpeg"]), np.asarray(archive["offsets"])
  if jpeg.ndim != 1 or jpeg.dtype != np.uint8 or offsets.ndim != 1 or offsets.dtype.kind not in "iu":
    raise ValueError(
      f"{path}: expected `jpeg` uint8 [bytes] and integer `offsets` [N + 1]; got {jpeg.dtype} "
      f"{jpeg.shape} and {offsets.dtype} {offsets.shape}."
    )
  if len(offsets) < 2 or offsets[0] < 0 or offsets[-1] > len(jpeg) or np.any(np.diff(offsets) <= 0):
    raise ValueError(
      f"{path}: `offsets` must rise strictly from >= 0 to at most len(jpeg) = {len(jpeg)}, one more "
      f"entry than images; they span [{offsets.min() if len(offsets) else None}, "
      f"{offsets.max() if len(offsets) else None}] over {len(offsets)} entries."
    )
  for name in ("labels", "is_test"):
    if name in archive and archive[name].shape != (len(offsets) - 1,):
      raise ValueError(
        f"{path}: `{name}` has shape {archive[name].shape}; expected ({len(offsets) - 1},), one per image."
      )
  return jpeg, offsets


def _decode_jpeg_npz(archive, path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """Decodes the split of a JPEG-packed npz (`jpeg`, `offsets`, optional `labels`, `is_test`) once, into
  (uint8 [N, H, W, C], labels [N]); without `is_test`, every image belongs to every split."""
  jpeg, offsets = _check_jpeg_layout(archive, path)
  keep = np.ones(len(offsets) - 1, bool)
  if "is_test" in archive:
    keep = archive["is_test"] if split == "test" else ~archive["is_test"]
  index = np.flatnonzero(keep)
  if not len(index):
    raise ValueError(f"{path} holds no {split!r} images (see its `is_test`).")
  images = [decode_image(jpeg[offsets[i] : offsets[i + 1]].tobytes(), f"{path} (image {i})") for i in index]
  if len({im.shape for im in images}) > 1:
    raise ValueError(f"Images in {path} differ in size or channels ({sorted({im.shape for im in images})[:3]}...).")
  labels = np.asarray(archive["labels"])[index] if "labels" in archive else np.zeros(len(index), np.int32)
  return np.stack(images), labels


def _load_folder(path: str, channels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  root = Path(path)
  files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
  if not files:
    raise FileNotFoundError(f"config.data.source=folder:{path}: no PNG or JPEG files found.")
  images = [decode_image(p.read_bytes(), str(p), channels) for p in files]
  if channels is None and len({im.shape[-1] for im in images}) > 1:
    # Greyscale and colour files mixed: the set is RGB, and a grey image is grey in every channel.
    images = [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in images]
  shapes = {im.shape for im in images}
  if len(shapes) > 1:
    raise ValueError(f"Images in {path} differ in size ({sorted(shapes)[:3]}...); resize them to one size first.")
  classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
  labels = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files], np.int32)
  return np.stack(images), labels


@functools.lru_cache(maxsize=4)
def _load_cached(
  name: str,
  source: str,
  split: str,
  data_dir: str | None,
  manual_dir: str | None,
  crop: int = 0,
  size: tuple[int, int] | None = None,
  channels: int | None = None,
):
  if source == "tfds":
    return _load_tfds(name, split, data_dir, manual_dir, crop, size)
  if source.startswith("npz:"):
    return _load_npz(source[4:], split)
  if source.startswith("folder:"):
    return _load_folder(source[7:], channels)
  raise ValueError(f"Unknown config.data.source {source!r}; use 'tfds', 'npz:PATH' or 'folder:PATH'.")


def load_images(
  data_config: ml_collections.ConfigDict, expected_shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
  """Loads a whole split into memory.

  Args:
    data_config: `name`, optional `source`, `split` (default 'train'), `data_dir`, `manual_dir`, `max_examples`,
      `center_crop` (side of a central square crop of tfds images; default per dataset, `CENTER_CROPS`) and
      `resize` (resize tfds images to `expected_shape`; implied by a crop).
    expected_shape: (H, W, C) the nets were built for. Smaller images with the same channels (MNIST's 28x28 for a
      32x32 net) are upsampled bilinearly (`jaxgan.data.resize.resize_uint8`, torch's `F.interpolate` semantics, as
      torchvision's `Resize` upsamples); any other mismatch raises.

  Returns:
    (images uint8 [N, H, W, C], labels int32 [N]).
  """
  source = data_config.get("source", "tfds") or "tfds"
  crop = int(data_config.get("center_crop", CENTER_CROPS.get(data_config.name, 0)) or 0)
  size = None
  if source == "tfds" and (crop or data_config.get("resize")):
    # tfds images of another size (CelebA) are centre-cropped and resized to the shape the nets were built for.
    size = tuple(expected_shape[:2]) if expected_shape is not None else None
  # Image files are converted to the channels the nets expect (greyscale or RGB); without an expected shape, each
  # keeps its own.
  channels = int(expected_shape[-1]) if expected_shape is not None and expected_shape[-1] in (1, 3) else None
  images, labels = _load_cached(
    data_config.name,
    source,
    data_config.get("split", "train") or "train",
    data_config.get("data_dir"),
    data_config.get("manual_dir"),
    crop,
    size,
    channels if source.startswith("folder:") else None,
  )
  limit = data_config.get("max_examples", 0) or 0
  if limit:
    images, labels = images[:limit], labels[:limit]
  if expected_shape is not None and _upsamples(images.shape[1:], expected_shape):
    # Smaller images than the nets take (MNIST for PyTorch-GAN's 32x32 DCGAN) are upsampled as PyTorch-GAN's
    # `transforms.Resize` does: bilinear, half-pixel centres, rounded to uint8.
    log.info("Resizing %r from %s to %s (bilinear).", data_config.name, images.shape[1:3], tuple(expected_shape[:2]))
    images = resize_uint8(images, expected_shape[:2])
  if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
    raise ValueError(
      f"Images of {data_config.name!r} have shape {images.shape[1:]}, but the nets were built for "
      f"{tuple(expected_shape)}; set config.data.image_shape or resize the data."
    )
  return images, labels


def _upsamples(shape: tuple[int, ...], expected_shape: tuple[int, ...]) -> bool:
  """Whether images of `shape` (H, W, C) reach `expected_shape` by enlarging H and W alone (same channels)."""
  if len(shape) != 3 or len(expected_shape) != 3 or tuple(shape) == tuple(expected_shape):
    return False
  return shape[2] == expected_shape[2] and shape[0] <= expected_shape[0] and shape[1] <= expected_shape[1]


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
    out[filled : filled + take] = _permutation(seed, epoch, num_examples)[offset : offset + take]
    filled += take
  return out


@functools.lru_cache(maxsize=2)
def _permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def make_image_batch_fn(
  config: ml_collections.ConfigDict, key: jax.Array, rows: tuple[int, int] | None = None
) -> Callable[[int], jax.Array]:
  """`next_batch(step) -> [n_critic, batch_size, H, W, C]` float32 in [-1, 1], deterministic in (key, step); with
  `config.num_classes > 0`, `(images, labels int32 [n_critic, batch_size])`.

  Args:
    rows: (lo, hi): keep only examples lo..hi-1 of each global batch (this process's shard); default all.
  """
  images, labels = load_images(config.data, data_shape(config.data))
  num_classes = int(config.get("num_classes", 0))
  if num_classes and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(
      f"Labels of {config.data.name!r} span [{labels.min()}, {labels.max()}], outside config.num_classes={num_classes}."
    )
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
