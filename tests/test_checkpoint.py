"""The orbax wrapper: refused and failed saves raise one clear error, unusable checkpoints are moved aside."""

import errno
import logging

import chex
import numpy as np
import pytest

from jaxgan.checkpoint import Checkpointer, CheckpointSaveError, all_finite


def _state(value: float, step: int | None = None) -> dict:
  return {"w": np.full((4, 3), value, np.float32), "step": np.asarray(int(value) if step is None else step, np.int32)}


def _saved(directory, steps) -> Checkpointer:
  checkpointer = Checkpointer(directory, 5)
  for step in steps:
    checkpointer.save(step, _state(step))
  checkpointer.wait()
  return checkpointer


def test_all_finite_looks_at_every_float_leaf():
  assert all_finite(_state(1.0))
  assert not all_finite({**_state(1.0), "b": np.asarray([0.0, np.inf], np.float16)})
  assert not all_finite({"nested": [np.asarray([np.nan])], "count": np.asarray(3, np.int32)})


def test_a_save_orbax_declines_is_an_error(tmp_path):
  checkpointer = _saved(tmp_path, [2])
  with pytest.raises(CheckpointSaveError, match="step 1 was not saved.*already holds step 2"):
    checkpointer.save(1, _state(1))
  checkpointer.close()


def test_unusable_newer_checkpoints_are_moved_aside_so_their_steps_save_again(tmp_path, caplog):
  checkpointer = _saved(tmp_path, [1, 2, 3])
  checkpointer.save(4, _state(np.nan, 4))  # as a run that saved NaN before saves were checked
  checkpointer.wait()
  for f in (tmp_path / "3").rglob("*"):
    if f.is_file():
      f.write_bytes(b"")  # truncated
  state, step = checkpointer.restore_latest(_state(0), move_aside=True)
  assert step == 2
  chex.assert_trees_all_equal(state, _state(2))
  names = sorted(p.name for p in tmp_path.iterdir())
  assert [n for n in names if n.isdigit()] == ["1", "2"]
  assert any(n.startswith("3.corrupt-") for n in names) and any(n.startswith("4.nonfinite-") for n in names)
  assert "Moved the unusable checkpoint at step 3 aside to" in caplog.text
  assert checkpointer.all_steps() == [1, 2]
  checkpointer.save(3, _state(3))  # orbax refused this before the move
  checkpointer.close()
  reopened = Checkpointer(tmp_path, 5)
  state, step = reopened.restore_latest(_state(0))
  reopened.close()
  assert step == 3 and int(state["step"]) == 3


def test_restore_without_move_aside_leaves_the_directory_alone(tmp_path):
  checkpointer = _saved(tmp_path, [1, 2])
  for f in (tmp_path / "2").rglob("*"):
    if f.is_file():
      f.write_bytes(b"")
  _, step = checkpointer.restore_latest(_state(0))
  checkpointer.close()
  assert step == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]


def _no_space(*args, **kwargs):
  raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_save_is_one_line_naming_the_last_complete_checkpoint(tmp_path, monkeypatch):
  checkpointer = _saved(tmp_path, [1])
  monkeypatch.setattr(checkpointer.manager, "save", _no_space)
  with pytest.raises(CheckpointSaveError) as error:
    checkpointer.save(2, _state(2))
  message = str(error.value)
  assert "\n" not in message and "No space left on device" in message
  assert "step 2" in message and "the last complete checkpoint is step 1 (in " in message
  checkpointer.close()  # the failure was reported: closing stays quiet


def test_disk_full_in_the_background_save_is_reported_once_and_orbax_muted(tmp_path, monkeypatch, caplog):
  checkpointer = _saved(tmp_path, [1])
  checkpointer.save(2, _state(2))
  checkpointer.manager.wait_until_finished()  # the real save ends; the patched wait below fails as a full disk does

  def failed_wait():
    logging.getLogger("absl").error("_SignalingThread.run() raised an exception: No space left on device")
    raise ValueError("RESOURCE_EXHAUSTED: Error writing local file: No space left on device [os_error_code='28']")

  monkeypatch.setattr(checkpointer.manager, "wait_until_finished", failed_wait)
  with pytest.raises(CheckpointSaveError, match="No space left on device while saving checkpoint step 2"):
    checkpointer.wait()
  caplog.clear()
  checkpointer.close()
  assert "SignalingThread" not in caplog.text
