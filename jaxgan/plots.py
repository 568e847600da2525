"""Pictures of samples: real-vs-generated scatter plots for 2-D data and image grids for images."""

from __future__ import annotations

import os

import numpy as np


def image_grid(images: np.ndarray, rows: int | None = None) -> np.ndarray:
  """Tiles images [N, H, W, C] in [-1, 1] into one uint8 picture [rows*(H+1)+1, cols*(W+1)+1, C]."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"image_grid expects [N, H, W, C]; got {images.shape}.")
  n, h, w, c = images.shape
  rows = rows or int(np.ceil(np.sqrt(n)))
  cols = int(np.ceil(n / rows))
  grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), np.float32)
  pixels = (np.clip(images, -1.0, 1.0) + 1.0) / 2.0
  for i in range(n):
    r, col = divmod(i, cols)
    grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = pixels[i]
  return (grid * 255).round().astype(np.uint8)


def save_image_grid(path: str | os.PathLike, images: np.ndarray, rows: int | None = None) -> None:
  """Writes `image_grid(images)` as a PNG."""
  import matplotlib.image

  grid = image_grid(images, rows)
  # vmin/vmax pinned: a grey-scale grid is otherwise stretched to its own darkest and lightest pixels.
  gray = grid.shape[-1] == 1
  matplotlib.image.imsave(os.fspath(path), grid[..., 0] if gray else grid, cmap="gray", vmin=0, vmax=255)


def save_scatter(
  path: str | os.PathLike, real: np.ndarray, fake: np.ndarray, title: str = "", centers: np.ndarray | None = None
) -> None:
  """Writes a PNG scatter of real [N, 2] vs generated [M, 2] points, with mode centres if given."""
  # A bare Figure, not pyplot: no backend switch, so a notebook's inline plots keep working after training.
  from matplotlib.figure import Figure

  fig = Figure(figsize=(5, 5), dpi=100)
  ax = fig.subplots()
  ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.4, c="tab:blue", label="real")
  ax.scatter(fake[:, 0], fake[:, 1], s=2, alpha=0.4, c="tab:orange", label="generated")
  if centers is not None:
    ax.scatter(centers[:, 0], centers[:, 1], s=20, marker="x", c="black", label="mode centres")
  ax.set_title(title)
  ax.set_xlabel("x1")
  ax.set_ylabel("x2")
  ax.set_aspect("equal")
  ax.legend(loc="upper right", markerscale=3, fontsize=8)
  fig.tight_layout()
  fig.savefig(os.fspath(path))
