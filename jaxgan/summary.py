"""TensorBoard event files for scalars, pictures and hyperparameters (through tensorboardX, which needs no
TensorFlow).

Scalar tags are `<group>/<name>`; the groups are written with their rank in `GROUPS` in front (`losses/critic_loss`
becomes `1_losses/critic_loss`), because TensorBoard sorts its sections alphabetically and the losses, which one
reads first, would otherwise come after `diag` and `eval`. Tags in other groups are written as given.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

GROUPS = ("losses", "train", "eval", "diag")  # TensorBoard's sections, in the order they appear


def ordered_tag(tag: str) -> str:
  """The tag as written: `losses/critic_loss` -> `1_losses/critic_loss` (see the module's docstring)."""
  group, sep, rest = tag.partition("/")
  return f"{GROUPS.index(group) + 1}_{group}/{rest}" if sep and group in GROUPS else tag


def scalar_value(value: Any) -> float | None:
  """`value` as a float if it is one number (a Python or NumPy scalar, or an array of size 1); else None."""
  if isinstance(value, (str, bytes)) or value is None:
    return None
  array = np.asarray(value)
  if array.size != 1 or not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
    return None
  return float(array.reshape(()))


def hparam_values(config: Mapping[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
  """A config flattened to `{dotted.path: value}` for TensorBoard's HParams table: numbers, strings and booleans
  as they are, tuples and lists as their text; unset (None) fields are left out."""
  out: dict[str, bool | int | float | str] = {}
  for key, value in config.items():
    path = f"{prefix}{key}"
    if isinstance(value, Mapping):
      out.update(hparam_values(value, f"{path}."))
    elif isinstance(value, (bool, int, float, str)):
      out[path] = value
    elif isinstance(value, (tuple, list)):
      out[path] = str(tuple(value))
  return out


def _import_quietly(module: str) -> None:
  try:
    importlib.import_module(module)
  except Exception:  # noqa: BLE001  (SummaryWriter imports it again and reports what is wrong in one line)
    pass


def preload() -> threading.Thread:
  """Starts importing tensorboardX on a daemon thread and returns it.

  The import takes seconds (it imports torch where torch is installed); started before a run compiles, it proceeds
  while XLA compiles, which releases the GIL, instead of delaying the first step. `SummaryWriter` then finds the
  module imported (Python's import lock makes it wait for an import still under way).
  """
  thread = threading.Thread(target=_import_quietly, args=("tensorboardX",), name="preload-tensorboardx")
  thread.daemon = True
  thread.start()
  return thread


class SummaryWriter:
  """Writes scalars, images and hyperparameters readable by TensorBoard into `logdir`."""

  def __init__(self, logdir: str | os.PathLike):
    from tensorboardX import SummaryWriter as _Writer

    self._writer = _Writer(os.fspath(logdir))

  def scalars(self, step: int, values: Mapping[str, Any]) -> None:
    """Writes each value that is one number under `ordered_tag(name)`; arrays (e.g. per-split scores) are skipped:
    a scalar chart cannot show them."""
    for name, value in values.items():
      number = scalar_value(value)
      if number is not None:
        self._writer.add_scalar(ordered_tag(name), number, step)

  def image(self, step: int, name: str, picture: np.ndarray) -> None:
    """picture: uint8 [H, W, C]."""
    self._writer.add_image(name, picture, step, dataformats="HWC")

  def hparams(self, hparams: Mapping[str, bool | int | float | str], metrics: Mapping[str, Any]) -> None:
    """Records the run's hyperparameters for TensorBoard's HParams dashboard, with `metrics` (scalar tags as passed
    to `scalars`, which must be written too) as its columns; in this run's own event file, so the table reads the
    run's scalars."""
    from tensorboardX.summary import hparams as hparams_summaries

    columns = {
      ordered_tag(k): v for k, v in metrics.items() if (number := scalar_value(v)) is not None and math.isfinite(number)
    }
    writer = self._writer._get_file_writer()  # add_hparams itself would open a second run in a sub-folder
    for summary in hparams_summaries(dict(hparams), columns):
      writer.add_summary(summary)

  def flush(self) -> None:
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
