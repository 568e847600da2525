"""Bilinear resizing of image batches, with PyTorch's `F.interpolate(mode='bilinear', align_corners=False)` semantics.

PyTorch-GAN's DCGAN trains on MNIST resized to 32x32 by torchvision's `transforms.Resize(32)`, which upsamples with
exactly that interpolation (antialiasing only matters when shrinking). This module is plain numpy (no jax import), so
the PyTorch side of `benchmarks/quality.py` resizes its data with the same function as jaxgan's pipeline
(`jaxgan.data.images.load_images`) and the MNIST classifier's extractor (`jaxgan.evaluation`).

Per output pixel i of an axis of length n_out read from n_in, the source coordinate is
src = max(0, (i + 1/2) n_in / n_out - 1/2) (half-pixel centres, clamped at the top edge), interpolated between
floor(src) and min(floor(src) + 1, n_in - 1). No antialiasing: shrinking reads at most two source pixels per axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def interpolation_matrix(size_in: int, size_out: int) -> np.ndarray:
  """The linear map of one axis, float64 [size_out, size_in], each row two weights summing to 1.

  Raises:
    ValueError: for a size below 1.
  """
  if size_in < 1 or size_out < 1:
    raise ValueError(f"Sizes must be >= 1; got {size_in} -> {size_out}.")
  src = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
  src = np.maximum(src, 0.0)
  lo = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
  hi = np.minimum(lo + 1, size_in - 1)
  frac = src - lo
  matrix = np.zeros((size_out, size_in), np.float64)
  rows = np.arange(size_out)
  np.add.at(matrix, (rows, lo), 1.0 - frac)
  np.add.at(matrix, (rows, hi), frac)
  return matrix


def resize_bilinear(images: np.ndarray, size: Sequence[int], chunk: int = 10_000) -> np.ndarray:
  """images [N, H, W, C] -> float32 [N, h, w, C], bilinear with torch's align_corners=False (see the module doc).

  Args:
    images: any real dtype; the values are interpolated as they are (no rescaling, no rounding).
    size: (h, w).
    chunk: images per einsum, to bound the float32 temporaries.
  """
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"resize_bilinear takes images [N, H, W, C]; got shape {images.shape}.")
  height, width = int(size[0]), int(size[1])
  rows = interpolation_matrix(images.shape[1], height).astype(np.float32)
  cols = interpolation_matrix(images.shape[2], width).astype(np.float32)
  out = np.empty((images.shape[0], height, width, images.shape[3]), np.float32)
  for start in range(0, images.shape[0], chunk):
    part = images[start : start + chunk].astype(np.float32)
    out[start : start + chunk] = np.einsum("ah,nhwc,bw->nabc", rows, part, cols, optimize=True)
  return out


def resize_uint8(images: np.ndarray, size: Sequence[int]) -> np.ndarray:
  """uint8 images [N, H, W, C] -> uint8 [N, h, w, C]: `resize_bilinear`, rounded to the nearest level (as PIL, which
  PyTorch-GAN's Resize runs on MNIST's uint8 images, stores its result)."""
  return np.clip(np.rint(resize_bilinear(images, size)), 0, 255).astype(np.uint8)
