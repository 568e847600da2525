"""Batches computed and placed on the devices ahead of the train loop, in a background thread.

A batch is a pure function of its step (see `jaxgan.data.make_batch_fn`), so preparing step t+1 while the devices
run step t changes no number: it only hides the host's gather, scaling and transfer behind the step.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Prefetcher:
  """Yields `make(step)` for `step = start, start + 1, ..., stop - 1`, up to `size` steps ahead.

  Args:
    make: `make(step) -> batch`, e.g. placement of `next_batch(step)` on the devices.
    start, stop: the steps to prepare.
    size: how many batches may wait ready; 0 computes each batch on demand, in the caller's thread.
  """

  def __init__(self, make: Callable[[int], Any], start: int, stop: int, size: int = 2):
    if size < 0:
      raise ValueError(f"config.prefetch must be >= 0 (0 disables prefetching); got {size}.")
    self._make, self._next, self._size = make, start, size
    self._queue: queue.Queue = queue.Queue(maxsize=max(size, 1))
    self._closed = threading.Event()
    self._thread = None
    if size > 0:
      self._thread = threading.Thread(target=self._fill, args=(start, stop), name="jaxgan-prefetch", daemon=True)
      self._thread.start()

  def _fill(self, start: int, stop: int) -> None:
    for step in range(start, stop):
      try:
        item = (step, self._make(step), None)
      except BaseException as error:  # handed to the loop, which raises it in its own thread
        item = (step, None, error)
      while not self._closed.is_set():
        try:
          self._queue.put(item, timeout=0.1)
          break
        except queue.Full:
          continue
      if self._closed.is_set() or item[2] is not None:
        return

  def get(self, step: int) -> Any:
    """The batch of `step`; steps must be asked for in order."""
    if step != self._next:
      raise ValueError(f"Prefetcher expected step {self._next}, was asked for {step}.")
    self._next += 1
    if self._thread is None:
      return self._make(step)
    got, batch, error = self._queue.get()
    if error is not None:
      raise error
    assert got == step, (got, step)
    return batch

  def close(self) -> None:
    """Stops the background thread (batches already prepared are dropped)."""
    self._closed.set()
    if self._thread is not None:
      while self._thread.is_alive():
        try:
          self._queue.get(timeout=0.05)
        except queue.Empty:
          pass
      self._thread.join()
