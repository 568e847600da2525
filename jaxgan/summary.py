"""TensorBoard event files for scalars and sample images (through tensorboardX, which needs no TensorFlow)."""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np


class SummaryWriter:
  """Writes scalars and images readable by TensorBoard into `logdir`."""

  def __init__(self, logdir: str | os.PathLike):
    from tensorboardX import SummaryWriter as _Writer

    self._writer = _Writer(os.fspath(logdir))

  def scalars(self, step: int, values: Mapping[str, float]) -> None:
    for name, value in values.items():
      self._writer.add_scalar(name, float(value), step)

  def image(self, step: int, name: str, picture: np.ndarray) -> None:
    """picture: uint8 [H, W, C]."""
    self._writer.add_image(name, picture, step, dataformats="HWC")

  def flush(self) -> None:
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
