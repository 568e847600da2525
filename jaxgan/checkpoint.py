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
  """Saves and restores a state pytree under `directory`, keeping the newest `max_to_keep` steps.

  Args:
    directory: where checkpoints live (created if missing).
    max_to_keep: how many of the newest checkpoints to keep.
  """

  def __init__(self, directory: str | os.PathLike, max_to_keep: int = 3):
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    self.directory = os.fspath(directory)
    self.manager = ocp.CheckpointManager(os.path.abspath(self.directory), options=options)

  def latest_step(self) -> int | None:
    """The newest saved step, or None."""
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    """Every saved step, oldest first."""
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: Any) -> None:
    """Saves `state` as `step` (asynchronously; `wait()` blocks until it is on disk)."""
    self.manager.save(step, args=ocp.args.StandardSave(state))

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
