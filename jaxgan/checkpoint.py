"""Checkpoints of a `GANState` through orbax's `CheckpointManager`.

Orbax writes each step into a temporary directory and renames it when complete, so a run killed during a save leaves
the previous checkpoints intact. A step that fails to restore (corrupt or truncated files) is reported and the next
older one is tried, so one bad checkpoint never costs a run.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

log = logging.getLogger(__name__)


class Checkpointer:
  """Saves and restores a state pytree under `directory`, keeping the newest `max_to_keep` steps, or with
  `best_metric` the `max_to_keep` steps with the best value of that metric.

  Args:
    directory: where checkpoints live (created if missing).
    max_to_keep: how many checkpoints to keep.
    best_metric: keep by this metric (each `save` must then pass `metrics` holding it) instead of by recency.
    best_mode: "min" or "max": which values of `best_metric` are better.
  """

  def __init__(self, directory: str | os.PathLike, max_to_keep: int = 3, best_metric: str | None = None,
               best_mode: str = "min"):
    if best_mode not in ("min", "max"):
      raise ValueError(f"config.best_mode must be 'min' or 'max'; got {best_mode!r}.")
    by_metric = {}
    if best_metric:
      by_metric = {"best_fn": lambda metrics: float(metrics[best_metric]), "best_mode": best_mode,
                   "keep_checkpoints_without_metrics": False}
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, **by_metric)
    self.directory = os.fspath(directory)
    self.best_metric = best_metric
    self.manager = ocp.CheckpointManager(os.path.abspath(self.directory), options=options)

  def latest_step(self) -> int | None:
    """The newest saved step, or None."""
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    """Every saved step, oldest first."""
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: Any, metrics: dict[str, float] | None = None) -> None:
    """Saves `state` as `step` (asynchronously; `wait()` blocks until it is on disk), with the `metrics` that rank
    it when the checkpointer keeps the best."""
    if self.best_metric and (metrics is None or self.best_metric not in metrics):
      raise ValueError(f"Keeping the best checkpoints by {self.best_metric!r} needs that metric at each save; got "
                       f"{sorted(metrics or {})}. Set config.best_metric to one the evaluation computes.")
    self.manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)

  def best_step(self) -> int | None:
    """The kept step with the best metric (None without `best_metric` or checkpoints)."""
    return self.manager.best_step() if self.best_metric else None

  def wait(self) -> None:
    """Blocks until pending saves are complete."""
    self.manager.wait_until_finished()

  def restore_latest(self, template: Any) -> tuple[Any, int] | None:
    """Restores the newest readable checkpoint into the structure of `template`.

    Args:
      template: a state with the expected tree structure, shapes and dtypes (e.g. a freshly initialised one).

    Returns:
      `(state, step)`, or None when there is no checkpoint.

    Raises:
      ValueError: if checkpoints exist but none can be restored into `template` (e.g. different nets).
    """
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    errors = []
    for step in reversed(self.all_steps()):
      try:
        state = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as error:  # orbax raises many types for unreadable or mismatched files
        log.warning("Checkpoint at step %d in %s cannot be restored (%s); trying an older one.", step,
                    self.directory, error)
        errors.append(f"step {step}: {type(error).__name__}: {error}")
        continue
      if errors:
        log.warning("Restored step %d after skipping newer unreadable checkpoints.", step)
      return state, step
    if errors:
      raise ValueError(
          f"None of the checkpoints in {self.directory} matches this config's state (different nets or optimiser, "
          "or corrupt files). Use another --workdir, or the config the checkpoints were written with.\n"
          + "\n".join(errors))
    return None

  def close(self) -> None:
    """Waits for pending saves and releases the manager."""
    self.manager.wait_until_finished()
    self.manager.close()
