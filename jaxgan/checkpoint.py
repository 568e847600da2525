"""Checkpoints of a `GANState` through orbax's `CheckpointManager`.

Orbax writes each step into a temporary directory and renames it when complete, so a run killed during a save leaves
the previous checkpoints intact. A step that fails to restore (corrupt or truncated files) or holds NaN/inf is
reported and the next older one is tried, so one bad checkpoint never costs a run; the training loop then has it
moved aside (renamed `<step>.corrupt-<time>` or `<step>.nonfinite-<time>`, names the manager ignores), since orbax
refuses to save a step at or below one it already lists. A save that does not happen raises `CheckpointSaveError`.
A checkpoint written before the state gained an optional field (a dataclass field whose default is None) restores
with that field None; the caller initialises it (`jaxgan.gan.complete_state`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

log = logging.getLogger(__name__)


class CheckpointSaveError(RuntimeError):
  """A checkpoint was not written (the disk is full, or orbax declined the step); the message says which is the last
  complete one."""


@jax.jit
def _finite_flags(tree: Any) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def all_finite(tree: Any) -> bool:
  """Whether every float leaf of `tree` is free of NaN and inf.

  The reduction runs where the arrays live and only one boolean comes to the host, so it is cheap enough to run
  before every save.
  """
  return bool(jax.device_get(_finite_flags(tree)))


def _is_no_space(error: BaseException | None) -> bool:
  """Whether `error`, or one it was raised from, is a full disk (orbax and tensorstore wrap the OSError)."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
      return True
    if "No space left on device" in str(error):
      return True
    error = error.__cause__ or error.__context__
  return False


class _NoSpaceFilter(logging.Filter):
  """Drops orbax's (absl's) log records of a full disk: its background threads log the error with a traceback as
  it happens, then the main thread gets the same error, which `Checkpointer` reports in one line."""

  def filter(self, record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return not (_is_no_space(error) or "No space left on device" in record.getMessage())


_NO_SPACE_FILTER = _NoSpaceFilter()


@contextlib.contextmanager
def _orbax_quiet() -> Iterator[None]:
  """Mutes orbax's (absl's) error logging: after one clear error its background threads repeat it hundreds of
  times."""
  logger = logging.getLogger("absl")
  level = logger.level
  logger.setLevel(logging.CRITICAL)
  try:
    yield
  finally:
    logger.setLevel(level)


class Checkpointer:
  """Saves and restores a state pytree under `directory`, keeping the newest `max_to_keep` steps, or with
  `best_metric` the `max_to_keep` steps with the best value of that metric.

  Args:
    directory: where checkpoints live (created if missing).
    max_to_keep: how many checkpoints to keep.
    best_metric: keep by this metric (each `save` must then pass `metrics` holding it) instead of by recency.
    best_mode: "min" or "max": which values of `best_metric` are better.
    resumes_from: the checkpointer a rerun resumes from, whose last complete step a disk-full error names
      (default: this one; a run's best checkpoints name its regular ones).
  """

  def __init__(
    self,
    directory: str | os.PathLike,
    max_to_keep: int = 3,
    best_metric: str | None = None,
    best_mode: str = "min",
    resumes_from: Checkpointer | None = None,
  ):
    if best_mode not in ("min", "max"):
      raise ValueError(f"config.best_mode must be 'min' or 'max'; got {best_mode!r}.")
    by_metric = {}
    if best_metric:
      by_metric = {
        "best_fn": lambda metrics: float(metrics[best_metric]),
        "best_mode": best_mode,
        "keep_checkpoints_without_metrics": False,
      }
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, **by_metric)
    self.directory = os.fspath(directory)
    self.best_metric = best_metric
    self.manager = ocp.CheckpointManager(os.path.abspath(self.directory), options=options)
    self._pending_step: int | None = None  # the step of the save that may still be in flight
    self._failed = False  # a save failed and was reported; close() then stays quiet
    self._resumes_from = resumes_from or self
    if _NO_SPACE_FILTER not in logging.getLogger("absl").filters:
      logging.getLogger("absl").addFilter(_NO_SPACE_FILTER)

  def latest_step(self) -> int | None:
    """The newest saved step, or None."""
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    """Every saved step, oldest first."""
    return sorted(self.manager.all_steps())

  def save(
    self, step: int, state: Any, metrics: dict[str, float] | None = None, metadata: dict[str, Any] | None = None
  ) -> None:
    """Saves `state` as `step` (asynchronously; `wait()` blocks until it is on disk).

    Args:
      step: the step number; must be above every step the directory holds.
      state: the pytree to save.
      metrics: the metrics that rank it when the checkpointer keeps the best.
      metadata: JSON-serialisable facts stored with the step (see `metadata`), e.g. the config that fixes the
        state's structure.

    Raises:
      ValueError: if the best metric is missing from `metrics`.
      CheckpointSaveError: if orbax declined the step (one at or above it exists) or the disk is full (this save
        or the previous, asynchronous one).
    """
    if self.best_metric and (metrics is None or self.best_metric not in metrics):
      raise ValueError(
        f"Keeping the best checkpoints by {self.best_metric!r} needs that metric at each save; got "
        f"{sorted(metrics or {})}. Set config.best_metric to one the evaluation computes."
      )
    try:
      saved = self.manager.save(
        step, args=ocp.args.StandardSave(state), metrics=metrics, custom_metadata=metadata or {}
      )
    except Exception as error:  # orbax re-raises the previous asynchronous save's error here
      raise self._save_error(error, step) from None
    if not saved:
      latest = self.latest_step()
      raise CheckpointSaveError(
        f"Checkpoint step {step} was not saved: {self.directory} already holds step {latest}, and orbax only "
        f"writes steps above its newest. Move {os.path.join(self.directory, str(latest))} aside or use another "
        "--workdir."
      )
    self._pending_step = step

  def _save_error(self, error: Exception, step: int | None) -> Exception:
    """The one-line error for a failed save; other errors pass through unchanged."""
    if not _is_no_space(error):
      return error
    self._failed = True
    with _orbax_quiet(), contextlib.suppress(Exception):
      self.manager.wait_until_finished()  # so an earlier save still in flight counts as complete
    complete = self._resumes_from.complete_steps()
    if step is None or (self._pending_step is not None and self._pending_step not in self.complete_steps()):
      step = self._pending_step  # the error is the previous, asynchronous save's, surfacing now
    last = f"step {complete[-1]} (in {self._resumes_from.directory})" if complete else "none"
    return CheckpointSaveError(
      f"No space left on device while saving checkpoint step {step} in {self.directory}; the last complete "
      f"checkpoint is {last}. Free some space and rerun the same command to resume."
    )

  def complete_steps(self) -> list[int]:
    """The steps whose folders orbax has finished (renamed from their temporary name), oldest first, read from
    disk."""
    try:
      names = os.listdir(self.directory)
    except OSError:
      return []
    return sorted(int(name) for name in names if name.isdigit() and os.path.isdir(os.path.join(self.directory, name)))

  def metadata(self, step: int) -> dict[str, Any]:
    """The `metadata` saved with `step` ({} for checkpoints written without it, or when it cannot be read)."""
    try:
      return dict(self.manager.metadata(step).custom_metadata or {})
    except Exception:  # an unreadable step's metadata: treat it as absent, restoring it reports the damage
      return {}

  def best_step(self) -> int | None:
    """The kept step with the best metric (None without `best_metric` or checkpoints)."""
    return self.manager.best_step() if self.best_metric else None

  def wait(self) -> None:
    """Blocks until pending saves are complete.

    Raises:
      CheckpointSaveError: if the disk filled up during an asynchronous save.
    """
    try:
      self.manager.wait_until_finished()
    except Exception as error:
      raise self._save_error(error, None) from None

  def restore_latest(self, template: Any, move_aside: bool = False) -> tuple[Any, int] | None:
    """Restores the newest readable checkpoint whose float arrays are all finite into the structure of `template`.

    Args:
      template: a state with the expected tree structure, shapes and dtypes (e.g. a freshly initialised one).
      move_aside: rename the newer checkpoints skipped on the way (unreadable, or holding NaN/inf) to
        `<step>.corrupt-<time>` / `<step>.nonfinite-<time>`, which the manager ignores, so that the steps after the
        restored one can be saved again. Only a training run (which owns the directory) should pass True.

    Returns:
      `(state, step)`, or None when there is no checkpoint.

    Raises:
      ValueError: if checkpoints exist but none can be restored into `template` (e.g. different nets).
    """
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    errors = []
    skipped: list[tuple[int, str]] = []
    for step in reversed(self.all_steps()):
      try:
        state = self._restore(step, abstract)
      except Exception as error:  # orbax raises many types for unreadable or mismatched files
        log.warning(
          "Checkpoint at step %d in %s cannot be restored (%s); trying an older one.", step, self.directory, error
        )
        errors.append(f"step {step}: {type(error).__name__}: {error}")
        skipped.append((step, "corrupt"))
        continue
      if not all_finite(state):
        log.warning("Checkpoint at step %d in %s holds NaN or inf; trying an older one.", step, self.directory)
        errors.append(f"step {step}: holds NaN or inf")
        skipped.append((step, "nonfinite"))
        continue
      if skipped:
        log.warning("Restored step %d after skipping newer unusable checkpoints.", step)
        if move_aside:
          self._move_aside(skipped)
      return state, step
    if errors:
      raise ValueError(
        f"None of the checkpoints in {self.directory} matches this config's state (different nets or optimiser, "
        "or corrupt files). Use another --workdir, or the config the checkpoints were written with.\n"
        + "\n".join(errors)
      )
    return None

  def _restore(self, step: int, abstract: Any) -> Any:
    """Step `step` in the structure of `abstract`; a dataclass's None-default fields that the checkpoint lacks
    (written before they existed) or holds as None (written with them off) come back as None."""
    try:
      return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except Exception:
      saved = self._saved_fields(step, abstract)
      if saved is None:
        raise
    restored = self.manager.restore(step, args=ocp.args.StandardRestore(saved))
    missing = sorted(f.name for f in dataclasses.fields(abstract) if restored.get(f.name) is None)
    log.info("Checkpoint step %d in %s holds no %s; restored as None.", step, self.directory, ", ".join(missing))
    return abstract.replace(**{f.name: restored.get(f.name) for f in dataclasses.fields(abstract)})

  def _saved_fields(self, step: int, abstract: Any) -> dict[str, Any] | None:
    """A restore template for step `step` as saved: `abstract`'s fields as a dict, without those the saved tree
    lacks and None where it holds None; None (no such template) unless all those fields default to None."""
    if not dataclasses.is_dataclass(abstract):
      return None
    try:
      item = ocp.utils.get_save_directory(step, self.manager.directory, name="default")
      metadata = ocp.StandardCheckpointHandler().metadata(item)
      tree = dict(metadata.tree if hasattr(metadata, "tree") else metadata)
    except Exception:  # unreadable metadata: the original error stands
      return None
    fields = dataclasses.fields(abstract)
    if any(f.default is not None and tree.get(f.name) is None for f in fields):
      return None
    return {f.name: getattr(abstract, f.name) if tree[f.name] is not None else None for f in fields if f.name in tree}

  def _move_aside(self, skipped: list[tuple[int, str]]) -> None:
    """Renames the skipped steps' folders (process 0 only: hosts share the directory) and refreshes the manager's
    list of steps."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if jax.process_index() == 0:
      for step, why in skipped:
        source = os.path.join(self.directory, str(step))
        target = f"{source}.{why}-{stamp}"
        os.rename(source, target)
        log.warning("Moved the unusable checkpoint at step %d aside to %s.", step, target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices("jaxgan_checkpoint_move_aside")
    self.manager.reload()

  def close(self) -> None:
    """Waits for pending saves and releases the manager.

    Raises:
      CheckpointSaveError: if the disk filled up during an asynchronous save not reported before.
    """
    if self._failed:
      # The failure is already reported: let orbax's threads finish without repeating it hundreds of times.
      with _orbax_quiet():
        with contextlib.suppress(Exception):
          self.manager.wait_until_finished()
        with contextlib.suppress(Exception):
          self.manager.close()
      return
    try:
      self.manager.wait_until_finished()
    except Exception as error:
      with _orbax_quiet(), contextlib.suppress(Exception):
        self.manager.close()
      raise self._save_error(error, None) from None
    self.manager.close()
