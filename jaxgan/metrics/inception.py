"""The FID Inception network (InceptionV3 of the 2015-12-05 TensorFlow graph) in Flax, for FID/KID/IS on natural images.

This is the network of pytorch-fid (mseitzer/pytorch-fid, `inception.py`: `fid_inception_v3` and `InceptionV3`),
which reproduces the TensorFlow reference of Heusel et al. 2017 (TTUR, `fid.py`): torchvision's `Inception3` with
1008 output classes, no auxiliary head, and the blocks `FIDInceptionA/C/E_1/E_2` that differ from torchvision's in
their pooling branch (average pooling without counting the padding; max pooling in the last block). Features are the
2048-d "pool3" output (global average of `Mixed_7c`) and the 1008 logits of the final linear layer.

Preprocessing follows pytorch-fid's `InceptionV3(resize_input=True, normalize_input=True)`: images in [0, 1] are
resized to 299x299 by bilinear interpolation with half-pixel centres and no antialiasing (torch
`F.interpolate(mode='bilinear', align_corners=False)`; here `jax.image.resize(..., antialias=False)`), then mapped to
[-1, 1]. With pytorch-fid's weights, FID values are therefore those of pytorch-fid (not of torch-fidelity, whose
resize differs slightly, nor of the TF graph with its own resize).

Weights: `load_inception(download=True)` (or `evaluate --download_inception`) fetches pytorch-fid's file
`pt_inception-2015-12-05-6726825d.pth` once, checks its SHA-256 and caches it (`cache_dir`); offline, pass that file
(a torch state dict, read without torch) or an .npz of the same state dict (`convert_to_npz`).
`resize='clean'` swaps the resize for clean-fid's antialiased PIL bicubic one (`clean_resize`).
`tests/test_inception.py` checks the architecture, the preprocessing and the conversion against torch's own
implementation of the network, under deterministic test weights (to 1e-4).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import io
import os
import pickle
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}"
# SHA-256 of that file (95,628,359 bytes); torch hub names release files by its first 8 hex digits, as here.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
# Overrides the cache folder ($XDG_CACHE_HOME/jaxgan, default ~/.cache/jaxgan) where downloads are kept.
CACHE_ENV = "JAXGAN_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 30.0
# Where `load_inception()` looks when no path is given.
WEIGHTS_ENV = "JAXGAN_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
NUM_LOGITS = 1008
POOL3_DIM = 2048


class BasicConv(nn.Module):
  """torchvision's BasicConv2d: convolution without bias, BatchNorm (eps 1e-3, running statistics), ReLU."""

  features: int
  kernel: Sequence[int] = (1, 1)
  stride: int = 1
  padding: Sequence[int] = (0, 0)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ph, pw = self.padding
    x = nn.Conv(
      self.features, tuple(self.kernel), strides=self.stride, padding=((ph, ph), (pw, pw)), use_bias=False, name="conv"
    )(x)
    return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x))


def _avg_pool(x: jax.Array) -> jax.Array:
  # The TF graph averages only over the valid pixels at the borders (pytorch-fid: count_include_pad=False).
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_valid(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), (2, 2), padding="VALID")


class InceptionA(nn.Module):
  """pytorch-fid's FIDInceptionA (torchvision InceptionA with count_include_pad=False)."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, name="branch1x1")(x)
    b5 = BasicConv(48, name="branch5x5_1")(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = BasicConv(64, name="branch3x3dbl_1")(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = BasicConv(self.pool_features, name="branch_pool")(_avg_pool(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """torchvision InceptionB (grid reduction 35 -> 17)."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), stride=2, name="branch3x3")(x)
    bd = BasicConv(64, name="branch3x3dbl_1")(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = BasicConv(96, (3, 3), stride=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_valid(x)], axis=-1)


class InceptionC(nn.Module):
  """pytorch-fid's FIDInceptionC (factorised 7x7 convolutions, count_include_pad=False)."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = BasicConv(192, name="branch1x1")(x)
    b7 = BasicConv(c7, name="branch7x7_1")(x)
    b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = BasicConv(c7, name="branch7x7dbl_1")(x)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = BasicConv(192, name="branch_pool")(_avg_pool(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """torchvision InceptionD (grid reduction 17 -> 8)."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, name="branch3x3_1")(x)
    b3 = BasicConv(320, (3, 3), stride=2, name="branch3x3_2")(b3)
    b7 = BasicConv(192, name="branch7x7x3_1")(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = BasicConv(192, (3, 3), stride=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_valid(x)], axis=-1)


class InceptionE(nn.Module):
  """pytorch-fid's FIDInceptionE_1 (average pool, count_include_pad=False) or, with `max_pool`, FIDInceptionE_2."""

  max_pool: bool = False

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, name="branch1x1")(x)
    b3 = BasicConv(384, name="branch3x3_1")(x)
    b3 = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
      ],
      axis=-1,
    )
    bd = BasicConv(448, name="branch3x3dbl_1")(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
      ],
      axis=-1,
    )
    # The TF graph's last block max-pools here (a bug in the original graph that FID keeps).
    pooled = nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1))) if self.max_pool else _avg_pool(x)
    bp = BasicConv(192, name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """x [B, 299, 299, 3] in [-1, 1] -> (pool3 [B, 2048], logits [B, 1008]).

  Submodules carry torchvision's names (`Conv2d_1a_3x3`, `Mixed_5b`, ..., `fc`), so a torch state-dict key maps to
  a parameter path by splitting at the dots (`convert_state_dict`).
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = BasicConv(32, (3, 3), stride=2, name="Conv2d_1a_3x3")(x)
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_valid(x)
    x = BasicConv(80, name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_valid(x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    x = InceptionC(128, name="Mixed_6b")(x)
    x = InceptionC(160, name="Mixed_6c")(x)
    x = InceptionC(160, name="Mixed_6d")(x)
    x = InceptionC(192, name="Mixed_6e")(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE(max_pool=False, name="Mixed_7b")(x)
    x = InceptionE(max_pool=True, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    return pool3, nn.Dense(NUM_LOGITS, name="fc")(pool3)


class Inception(NamedTuple):
  """The network and its variables ({'params', 'batch_stats'})."""

  module: FIDInceptionV3
  variables: Any


# Resize modes: pytorch-fid's bilinear without antialiasing (on device), or clean-fid's antialiased PIL bicubic.
RESIZE_MODES = ("pytorch_fid", "clean")


def check_resize(resize: str) -> str:
  """`resize` if it names a mode of `RESIZE_MODES`; else a ValueError naming the choices."""
  if resize not in RESIZE_MODES:
    raise ValueError(
      f"Unknown resize mode {resize!r}; choose one of {list(RESIZE_MODES)} (pytorch_fid: bilinear "
      "without antialiasing, as pytorch-fid; clean: antialiased PIL bicubic, as clean-fid)."
    )
  return resize


def clean_resize(images: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
  """clean-fid's resize: images [N, H, W, C] (C 1 or 3) in [0, 1] -> float32 [N, size, size, 3] in [0, 1].

  As clean-fid (Parmar et al. 2022, `cleanfid/resize.py`, mode 'clean') does it: each image is quantised to uint8
  (the PNG a generator's output becomes), every channel is resized on its own as a float ('F') PIL image with PIL's
  bicubic filter, which antialiases when shrinking, clipped to [0, 255] and divided by 255. Greyscale is repeated
  to RGB first. Runs on the host, image by image.
  """
  from PIL import Image

  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Expected images [N, H, W, 3] (or [N, H, W, 1]) in [0, 1]; got shape {images.shape}.")
  quantised = np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
  if quantised.shape[-1] == 1:
    quantised = np.repeat(quantised, 3, axis=-1)
  out = np.empty((len(images), size, size, 3), np.float32)
  for i, image in enumerate(quantised):
    for c in range(3):
      channel = Image.fromarray(image[..., c].astype(np.float32), mode="F")
      out[i, ..., c] = np.asarray(channel.resize((size, size), resample=Image.BICUBIC))
  return np.clip(out, 0.0, 255.0) / 255.0


def preprocess(images: jax.Array) -> jax.Array:
  """images [B, H, W, 3] (or 1 channel, repeated) in [0, 1] -> [B, 299, 299, 3] in [-1, 1], as pytorch-fid.

  Bilinear resize with half-pixel centres and no antialiasing (torch `F.interpolate(..., mode='bilinear',
  align_corners=False)`), then 2x - 1.
  """
  images = jnp.asarray(images, jnp.float32)
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Expected images [B, H, W, 3] (or [B, H, W, 1]) in [0, 1]; got shape {images.shape}.")
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  if images.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
    images = jax.image.resize(images, (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3), method="bilinear", antialias=False)
  return 2.0 * images - 1.0


# ------------------------------------------------------------------------------------------------ weights


def cache_dir() -> Path:
  """Where jaxgan keeps downloads: `$JAXGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/jaxgan`, else `~/.cache/jaxgan`."""
  if os.environ.get(CACHE_ENV):
    return Path(os.environ[CACHE_ENV]).expanduser()
  return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "jaxgan"


def cached_weights_path(url: str = FID_WEIGHTS_URL) -> Path:
  """Where `download_weights(url)` keeps its file: the cache folder and the URL's file name."""
  return cache_dir() / os.path.basename(urllib.parse.urlparse(url).path)


def _manual_recipe(url: str, target: Path) -> str:
  return (
    f"On a machine with network: curl -L -o {target.name} {url}, then copy the file to {target} (or pass "
    f"--inception_weights=PATH, or set ${WEIGHTS_ENV}=PATH)."
  )


def download_weights(
  url: str = FID_WEIGHTS_URL, sha256: str = FID_WEIGHTS_SHA256, timeout: float = DOWNLOAD_TIMEOUT_S
) -> Path:
  """pytorch-fid's Inception weights in the cache folder (`cache_dir`), downloaded and checked once.

  A cached file is used as it is (it was checked before it was put there). A download goes to a temporary file in
  the cache folder and is renamed into place only when its SHA-256 equals `sha256`, so an interrupted or wrong
  download never leaves a file behind.

  Args:
    url: where to fetch the file from (proxy variables are honoured).
    sha256: the expected hex SHA-256 of the file.
    timeout: seconds a connection or read may stall.

  Returns:
    The cached file's path.

  Raises:
    ConnectionError: when `url` cannot be reached, with the steps to copy the file by hand.
    ValueError: when the download's SHA-256 is not `sha256` (nothing is cached).
  """
  target = cached_weights_path(url)
  if target.is_file():
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  digest = hashlib.sha256()
  descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
  try:
    with os.fdopen(descriptor, "wb") as out:
      try:
        # A fresh opener: the proxy variables are read now, not at the first urlopen of the process.
        with urllib.request.build_opener().open(url, timeout=timeout) as response:
          for chunk in iter(lambda: response.read(2**20), b""):
            digest.update(chunk)
            out.write(chunk)
      except (urllib.error.URLError, OSError) as error:  # HTTP errors, refused connections, DNS, timeouts
        reason = getattr(error, "reason", None) or error
        raise ConnectionError(
          f"Cannot download the FID Inception weights from {url} ({reason}). {_manual_recipe(url, target)}"
        ) from None
    if digest.hexdigest() != sha256.lower():
      raise ValueError(
        f"The file downloaded from {url} has SHA-256 {digest.hexdigest()}, not the published "
        f"{sha256}; it was discarded (a proxy's error page or a changed file). "
        f"{_manual_recipe(url, target)}"
      )
    os.replace(temporary, target)
  finally:
    if os.path.exists(temporary):
      os.unlink(temporary)
  return target


def _missing_weights_message(path: str | None) -> str:
  where = (
    f"{path} does not exist"
    if path
    else (f"no weights file given, ${WEIGHTS_ENV} is not set and {cached_weights_path()} does not exist")
  )
  return (
    f"FID Inception weights not found: {where}. Where a network exists, run `python -m experiments.evaluate "
    f"--download_inception` (or load_inception(download=True)) to fetch pytorch-fid's {FID_WEIGHTS_FILE} "
    f"(about 91 MB, the TF 2015-12-05 Inception graph converted by pytorch-fid), check its SHA-256 and cache "
    f"it. Without one: {_manual_recipe(FID_WEIGHTS_URL, cached_weights_path())} An .npz made with "
    "jaxgan.metrics.inception.convert_to_npz works too."
  )


# What to pass instead of a file that cannot be read.
_WHAT_TO_PASS = (
  f"pass pytorch-fid's {FID_WEIGHTS_FILE} ({FID_WEIGHTS_URL}) or an .npz made from it with "
  "jaxgan.metrics.inception.convert_to_npz"
)


class _RefusedContent(pickle.UnpicklingError):
  """A global or persistent id that the allow-list of `_PlainUnpickler` / `_TorchUnpickler` does not hold."""


class _PlainUnpickler(pickle.Unpickler):
  """Unpickles plain data only (numbers, strings, bytes, tuples, lists, dicts): every global and persistent id is
  refused, so nothing in the file can name a function to call. Every unpickling of a user's file goes through this
  class or its subclass `_TorchUnpickler`, never through `pickle.load`."""

  def find_class(self, module: str, name: str) -> Any:
    raise _RefusedContent(f"the global {module}.{name}")

  def persistent_load(self, pid: Any) -> Any:
    raise _RefusedContent(f"the persistent id {pid!r}")


def _load_plain(file) -> Any:
  return _PlainUnpickler(file).load()


class _TorchUnpickler(_PlainUnpickler):
  """Unpickles a torch state dict into numpy arrays without importing torch.

  Tensors are pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` whose storage is a
  persistent id `('storage', <dtype>Storage, key, location, numel)`; `load_storage(key, dtype, numel)` returns its
  data. Only those globals, `collections.OrderedDict` and `torch._utils._rebuild_parameter` are allowed; anything
  else is refused before it is looked up.
  """

  _DTYPES: ClassVar[dict[str, type]] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
  }

  def __init__(self, file, load_storage, rebuild_tensor=None):
    super().__init__(file)
    self._load_storage = load_storage
    self._rebuild_tensor = rebuild_tensor or _rebuild_tensor

  def find_class(self, module: str, name: str) -> Any:
    if module == "torch._utils" and name == "_rebuild_tensor_v2":
      return self._rebuild_tensor
    if module == "torch" and name in self._DTYPES:
      # A dtype instance, not the numpy scalar type: it cannot be called with arguments from the file.
      return np.dtype(self._DTYPES[name])
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch._utils" and name == "_rebuild_parameter":
      return _rebuild_parameter
    return super().find_class(module, name)

  def persistent_load(self, pid: Any) -> Any:
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
      return super().persistent_load(pid)
    _, dtype, key, _location, numel = pid[:5]
    if not (isinstance(dtype, np.dtype) and isinstance(key, (str, int)) and _is_count(numel)):
      return super().persistent_load(pid)
    return self._load_storage(str(key), dtype, numel)


def _is_count(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _rebuild_parameter(data, requires_grad, backward_hooks, *args):
  del requires_grad, backward_hooks, args
  return data


def _strided_copy(storage: np.ndarray, offset: Any, size: Any, stride: Any) -> np.ndarray:
  """The tensor `size`/`stride` from element `offset` of a 1-D storage, after checking it lies inside the storage
  (`as_strided` would otherwise read memory outside it)."""
  if not (
    isinstance(storage, np.ndarray)
    and storage.ndim == 1
    and _is_count(offset)
    and isinstance(size, (tuple, list))
    and isinstance(stride, (tuple, list))
    and len(size) == len(stride)
    and all(map(_is_count, size))
    and all(map(_is_count, stride))
  ):
    raise ValueError("a tensor's storage, offset, size or stride is malformed")
  count = int(np.prod(size, dtype=np.int64)) if size else 1
  if count:
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    # A state dict's tensors never hold more elements than their storage (that would be a broadcast view).
    if last >= storage.shape[0] or count > storage.shape[0]:
      raise ValueError(f"a tensor of size {tuple(size)} lies outside its storage of {storage.shape[0]} elements")
  return np.lib.stride_tricks.as_strided(
    storage[offset:], shape=tuple(size), strides=tuple(s * storage.itemsize for s in stride)
  ).copy()


def _rebuild_tensor(storage, offset, size, stride, *args):
  del args  # requires_grad, backward hooks, metadata
  return _strided_copy(storage, offset, size, stride)


def _storage_bytes(data: bytes, dtype: np.dtype, numel: int) -> np.ndarray:
  if len(data) < numel * dtype.itemsize:
    raise ValueError(f"a storage of {numel} elements holds only {len(data)} bytes")
  return np.frombuffer(data, dtype=dtype.newbyteorder("<"), count=numel)


def _read_zip_checkpoint(path: str) -> dict[str, np.ndarray]:
  """torch >= 1.6 format: a zip of `<root>/data.pkl` and one raw little-endian file per storage `<root>/data/<key>`."""
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
    if len(pickles) != 1:
      raise ValueError("it is a zip file but not a torch checkpoint (no single data.pkl inside)")
    root = pickles[0][: -len("data.pkl")]

    def load_storage(key, dtype, numel):
      return _storage_bytes(archive.read(f"{root}data/{key}"), dtype, numel)

    return _TorchUnpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads a torch state dict (zip or legacy .pth) into numpy arrays, without importing torch or running anything
  from the file.

  Args:
    path: the .pth file.

  Returns:
    {torch key: array}.

  Raises:
    ValueError: naming the file, when it holds anything but tensors (a pickled function call, say: it is refused, not
      run), or is truncated, empty, a directory or not a torch checkpoint.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise ValueError(f"{path} is a directory, not a weights file; {_WHAT_TO_PASS}.")
  try:
    state = _read_zip_checkpoint(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, np.ndarray) for v in state.values()):
      raise TypeError("it holds something other than a state dict of tensors")
    return dict(state)
  except _RefusedContent as error:
    raise ValueError(
      f"{path} holds disallowed content ({error}), which no weights file needs; it was refused, not "
      f"run. Use only weights from a source you trust: {_WHAT_TO_PASS}."
    ) from None
  except (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    OSError,
  ) as error:
    raise ValueError(
      f"{path} cannot be read as FID Inception weights: it is truncated, corrupt or not a torch "
      f"checkpoint ({type(error).__name__}: {error}); {_WHAT_TO_PASS}."
    ) from None


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_legacy(path: str) -> dict[str, np.ndarray]:
  """torch < 1.6 format: pickled magic number, protocol, sys info, the object and the storage keys, then each
  storage's bytes (an int64 element count, then the data)."""
  pending: list[tuple[str, Any, Any, Any]] = []
  dtypes: dict[str, np.dtype] = {}

  def load_storage(key, dtype, numel):
    dtypes[key] = dtype
    return key

  def rebuild(storage_key, offset, size, stride, *args):
    del args
    pending.append((storage_key, offset, size, stride))
    return len(pending) - 1

  with open(path, "rb") as f:
    # In memory, so that a length field in a corrupt file cannot make a read allocate more than the file holds.
    file = io.BytesIO(f.read())
  if _load_plain(file) != _LEGACY_MAGIC:
    raise ValueError("it is neither a zip archive nor the legacy torch format")
  _load_plain(file)  # protocol version
  _load_plain(file)  # system info
  state = _TorchUnpickler(file, load_storage, rebuild).load()
  keys = _load_plain(file)
  if not isinstance(keys, list):
    raise TypeError("its storage keys are not a list")
  storages = {}
  for key in keys:
    numel = int(np.frombuffer(file.read(8), "<i8")[0])
    if numel < 0:
      raise ValueError(f"a storage has {numel} elements")
    dtype = dtypes[key]
    storages[key] = _storage_bytes(file.read(numel * dtype.itemsize), dtype, numel)
  if not isinstance(state, Mapping):
    raise TypeError("it holds something other than a state dict")

  def materialize(index):
    if not (isinstance(index, int) and 0 <= index < len(pending)):
      raise ValueError("a state dict entry is not a tensor")
    key, offset, size, stride = pending[index]
    return _strided_copy(storages[key], offset, size, stride)

  return {name: materialize(index) for name, index in state.items()}


def _template(module: FIDInceptionV3) -> dict[str, Any]:
  return jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3)))


def _flax_path(name: str) -> tuple[tuple[str, ...], bool]:
  """torch state-dict key -> (flax path in the variables, whether the torch array is a conv/linear weight)."""
  *modules, leaf = name.split(".")
  kind = modules[-1] if modules else ""
  if kind == "bn":
    collection, flax_leaf = {
      "weight": ("params", "scale"),
      "bias": ("params", "bias"),
      "running_mean": ("batch_stats", "mean"),
      "running_var": ("batch_stats", "var"),
    }[leaf]
  elif leaf == "weight":
    collection, flax_leaf = "params", "kernel"
  else:
    collection, flax_leaf = "params", leaf
  return (collection, *modules, flax_leaf), leaf == "weight" and kind != "bn"


def convert_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  """pytorch-fid's FID Inception state dict (torch names and layouts) -> Flax variables of `FIDInceptionV3`.

  Convolution weights [out, in, kh, kw] become kernels [kh, kw, in, out], the linear weight [out, in] becomes
  [in, out], BatchNorm weight/bias/running_mean/running_var become scale/bias and the batch_stats mean/var;
  `num_batches_tracked` is dropped.

  Args:
    state_dict: {torch key: array} (numpy arrays, or torch tensors converted with `.numpy()`).

  Returns:
    {'params': ..., 'batch_stats': ...} as float32 jax arrays.

  Raises:
    ValueError: listing unexpected, missing or mis-shaped entries (e.g. a torchvision ImageNet checkpoint, whose
      blocks and 1000-way head differ from the FID network's).
  """
  import flax.traverse_util

  template = flax.traverse_util.flatten_dict(_template(FIDInceptionV3()))
  flat, unexpected, misshaped = {}, [], []
  for name, value in state_dict.items():
    if name.endswith("num_batches_tracked"):
      continue
    value = np.asarray(value, np.float32)
    try:
      path, is_weight = _flax_path(name)
    except KeyError:
      unexpected.append(name)
      continue
    if path not in template:
      unexpected.append(name)
      continue
    if is_weight:
      value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
    if value.shape != template[path].shape:
      misshaped.append(f"{name}: {value.shape} vs {template[path].shape}")
      continue
    flat[path] = jnp.asarray(value)
  missing = [".".join(p[1:]) for p in template if p not in flat]
  if unexpected or missing or misshaped:
    raise ValueError(
      "The state dict does not fit pytorch-fid's FID Inception network (pass "
      f"{FID_WEIGHTS_FILE}, not a torchvision ImageNet checkpoint): unexpected keys {unexpected[:5]}"
      f"{'...' if len(unexpected) > 5 else ''}, missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
      f"wrong shapes {misshaped[:5]}."
    )
  return flax.traverse_util.unflatten_dict(flat)


def read_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
  """Reads the FID Inception state dict from `path` (.pth or .npz), default `$JAXGAN_INCEPTION_WEIGHTS`, else the
  downloaded file in the cache folder (`cached_weights_path`).

  Nothing in the file is run: a .pth is unpickled with an allow-list of the few torch names a state dict uses, and an
  .npz is read without pickles.

  Args:
    path: the weights file; None reads `$JAXGAN_INCEPTION_WEIGHTS`.

  Returns:
    {torch key: array}.

  Raises:
    FileNotFoundError: naming the file and where to get it, when it is missing.
    ValueError: naming the file and what to pass instead, when it is a directory, empty, truncated or corrupt, or
      holds disallowed content.
  """
  path = os.fspath(path) if path is not None else os.environ.get(WEIGHTS_ENV)
  if not path and cached_weights_path().is_file():
    path = str(cached_weights_path())
  if not path or not os.path.exists(path):
    raise FileNotFoundError(_missing_weights_message(path))
  if not path.endswith(".npz"):
    return read_torch_state_dict(path)
  if os.path.isdir(path):
    raise ValueError(f"{path} is a directory, not a weights file; {_WHAT_TO_PASS}.")
  try:
    with np.load(path, allow_pickle=False) as archive:
      return {name: archive[name] for name in archive.files}
  except (
    ValueError,
    EOFError,
    KeyError,
    AttributeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
    OSError,
  ) as error:
    raise ValueError(
      f"{path} cannot be read as FID Inception weights: it is truncated, corrupt or not an .npz "
      f"archive ({type(error).__name__}: {error}); {_WHAT_TO_PASS}."
    ) from None


def convert_to_npz(pth_path: str | os.PathLike, npz_path: str | os.PathLike) -> None:
  """Writes pytorch-fid's .pth as an .npz of the same state dict (torch names and layouts), checked on the way."""
  state_dict = read_weights(pth_path)
  convert_state_dict(state_dict)
  np.savez(npz_path, **state_dict)


def load_inception(path: str | os.PathLike | None = None, download: bool = False) -> Inception:
  """The FID Inception network with weights from `path` (.pth or .npz; default `$JAXGAN_INCEPTION_WEIGHTS`, else
  the cached download).

  Args:
    path: the weights file, or None.
    download: without `path` or `$JAXGAN_INCEPTION_WEIGHTS`, fetch pytorch-fid's file into the cache folder first
      (`download_weights`; once: later calls find it there).

  Raises:
    FileNotFoundError: when the weights file is missing, saying where it comes from.
    ConnectionError: with `download`, when the file cannot be fetched, saying how to copy it by hand.
    ValueError: when the file holds another network's weights, or the download's checksum is wrong.
  """
  if download and path is None and not os.environ.get(WEIGHTS_ENV):
    path = download_weights()
  return Inception(FIDInceptionV3(), convert_state_dict(read_weights(path)))


def parameter_count(variables: Any | None = None) -> int:
  """Number of trainable parameters of `FIDInceptionV3` (BatchNorm running statistics excluded)."""
  variables = _template(FIDInceptionV3()) if variables is None else variables
  return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(variables["params"])))


# Resizing is compiled per input size; the network once per batch size, on 299x299 inputs.
_preprocess = jax.jit(preprocess)


@functools.partial(jax.jit, static_argnums=0)
def _forward(module: FIDInceptionV3, variables: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  return module.apply(variables, images)


def inception_outputs(
  images,
  inception: Inception,
  batch_size: int = 50,
  progress: bool = False,
  desc: str = "inception",
  resize: str = "pytorch_fid",
) -> tuple[np.ndarray, np.ndarray]:
  """pool3 features and logits of `images`, batched and jit-compiled (the last batch is padded).

  Args:
    images: [N, H, W, 3] (or 1 channel) float images in [0, 1] (pytorch-fid's convention; map GAN outputs in
      [-1, 1] with (x + 1) / 2). Resized to 299x299 as pytorch-fid does.
    inception: from `load_inception`.
    batch_size: images per compiled call (fewer when there are fewer images).
    progress: show a progress bar over the batches.
    desc: the progress bar's label.
    resize: 'pytorch_fid' (bilinear without antialiasing, `preprocess`) or 'clean' (`clean_resize`).

  Returns:
    (pool3 [N, 2048] float32, logits [N, 1008] float32) as numpy arrays; `jax.nn.softmax(logits)` gives the
    class probabilities of the Inception Score.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"Expected images [N, H, W, C] in [0, 1]; got shape {images.shape}.")
  resized = clean_resize if check_resize(resize) == "clean" else (lambda batch: batch)
  batch_size = max(1, min(batch_size, images.shape[0]))  # a small set is not padded to a full batch
  pools, logits = [], []
  for start in tqdm.tqdm(range(0, images.shape[0], batch_size), desc=desc, disable=not progress, dynamic_ncols=True):
    batch = _preprocess(resized(images[start : start + batch_size]))
    keep = batch.shape[0]
    if keep < batch_size:
      batch = jnp.concatenate([batch, jnp.zeros((batch_size - keep, *batch.shape[1:]), batch.dtype)])
    pool, logit = jax.device_get(_forward(inception.module, inception.variables, batch))
    pools.append(pool[:keep])
    logits.append(logit[:keep])
  if not pools:
    return np.zeros((0, POOL3_DIM), np.float32), np.zeros((0, NUM_LOGITS), np.float32)
  return np.concatenate(pools), np.concatenate(logits)
