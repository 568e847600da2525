"""Decoded tfds splits kept as .npy files beside the prepared dataset, so a run after the first reads its images in
milliseconds and never imports TensorFlow (about 10 s of start-up on a 2-core machine, MNIST included).

An entry is keyed by the request (dataset name, split, crop, size) and by a fingerprint of every prepared file of the
dataset (relative path, size, modification time): re-preparing or touching the dataset makes a new key, and the
stale entry is never read again. Entries live in `DATA_DIR/jaxgan_arrays/NAME/`, may be deleted at any time, and
are written atomically, so a killed run leaves no half-written entry. The arrays are the ones tfds gave, byte for
byte, so no number changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_FOLDER = "jaxgan_arrays"
_FORMAT = 1  # bump when what an entry holds changes


def tfds_root(data_dir: str | None) -> Path:
  """The folder tfds prepares into: `data_dir`, else `$TFDS_DATA_DIR`, else ~/tensorflow_datasets."""
  return Path(data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets"))


def fingerprint(dataset_folder: Path) -> str | None:
  """SHA-256 over (relative path, size, mtime) of every file below `dataset_folder`; None when it holds none."""
  rows = []
  for path in sorted(p for p in dataset_folder.rglob("*") if p.is_file()):
    stat = path.stat()
    rows.append([path.relative_to(dataset_folder).as_posix(), stat.st_size, stat.st_mtime_ns])
  if not rows:
    return None
  return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def entry_path(root: Path, name: str, request: dict, files: str) -> Path:
  key = json.dumps({"format": _FORMAT, "name": name, "request": request, "files": files}, sort_keys=True)
  return root / CACHE_FOLDER / name.split(":")[0] / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _read(entry: Path) -> tuple[np.ndarray, np.ndarray] | None:
  try:
    images = np.load(entry / "images.npy", allow_pickle=False)
    labels = np.load(entry / "labels.npy", allow_pickle=False)
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as error:  # damaged entry: rebuilt from tfds below
    log.warning("Ignoring the unreadable cached arrays in %s (%s); reading the dataset again.", entry, error)
    return None
  if images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
    log.warning("Ignoring the inconsistent cached arrays in %s; reading the dataset again.", entry)
    return None
  return images, labels


def _write(entry: Path, images: np.ndarray, labels: np.ndarray) -> None:
  try:
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    staging.chmod(0o755)  # readable by whoever can read the prepared dataset beside it
    np.save(staging / "images.npy", images, allow_pickle=False)
    np.save(staging / "labels.npy", labels, allow_pickle=False)
    os.replace(staging, entry)  # atomic: readers see a whole entry or none
  except OSError as error:  # read-only or full data_dir: the run goes on without the cache
    log.info("Could not cache the decoded arrays in %s (%s).", entry.parent, error)
    if "staging" in locals():
      for file in staging.glob("*"):
        file.unlink(missing_ok=True)
      staging.rmdir()


def load_through_cache(
  data_dir: str | None, name: str, request: dict, load: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
  """`load()`'s (images uint8 [N, H, W, C], labels int32 [N]), from the cache when the prepared files still match.

  Args:
    data_dir: tfds's data_dir (None: its default).
    name: the tfds name ('mnist', 'mnist:3.0.1', 'NAME/CONFIG').
    request: what else selects the arrays (split, crop, size); JSON-serialisable.
    load: reads the split through tfds (and prepares the dataset when it is not prepared yet).
  """
  root = tfds_root(data_dir)
  folder = root / name.split(":")[0]
  files = fingerprint(folder) if folder.is_dir() else None
  if files is not None:
    cached = _read(entry_path(root, name, request, files))
    if cached is not None:
      log.info("Read %s %s from the decoded-array cache in %s.", name, request.get("split"), root / CACHE_FOLDER)
      return cached
  images, labels = load()
  files = fingerprint(folder) if folder.is_dir() else None  # tfds may have prepared the dataset just now
  if files is not None:
    entry = entry_path(root, name, request, files)
    if not entry.exists():
      _write(entry, images, labels)
  return images, labels
