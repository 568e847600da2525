"""One browser tab's run: an `Engine` driven by a background thread, and the latest frame for its event streams.

The thread owns the engine (JAX state is touched by no other thread). Requests reach it as commands on a queue:
play, pause, the three single-step buttons, reset, a speed limit, a live change of the learning rates or n_critic
("set", handed to `Engine.set_hyperparameters` where the engine has it), and a new engine when other settings change.
While playing it trains as fast as it can (or at the chosen steps/s) and renders a frame at most every
`FRAME_INTERVAL_S`, so the page stays smooth however fast training runs. Each frame is encoded to JSON once; every
stream attached to the session waits on a condition for the next one and skips frames it was too slow for.

A session ends when `close()` is called or when no stream has been attached for `idle_timeout_s` (the tab was
closed), so closing one tab stops its training and nothing else.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import traceback
import uuid
from typing import Any

from jaxgan.playground import params
from jaxgan.playground.engine import Engine

log = logging.getLogger(__name__)

FRAME_INTERVAL_S = 0.1  # at most 10 frames per second
ACTIONS = ("play", "pause", "step", "step_d", "step_g", "reset")


class LiveChangeUnsupported(ValueError):
  """A 'set' command for a run whose engine cannot change its hyperparameters while it goes on (no
  `set_hyperparameters`): the caller starts a new run with the settings instead."""


class Session:
  """A run in a background thread, published as a stream of JSON frames.

  Args:
    engine: the run (built, so its settings are already checked).
    settings: the resolved settings, echoed in every frame.
    idle_timeout_s: stop after this long with no stream attached.
  """

  def __init__(self, engine: Engine, settings: dict[str, Any], idle_timeout_s: float = 5.0):
    self.id = uuid.uuid4().hex[:12]
    self.idle_timeout_s = idle_timeout_s
    self._engine, self._settings = engine, settings
    self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
    self._stopped = threading.Event()
    self._lock = threading.Condition()
    self._frame: bytes | None = None
    self._frame_number = 0
    self._streams = 0
    self._last_detached = time.monotonic()
    self._playing = False
    self._max_steps_per_s = 0.0  # 0: as fast as possible
    self._error: str | None = None
    self._steps_per_s = 0.0
    self._needs_warm_up = True
    self._render_s = 0.0
    self._thread = threading.Thread(target=self._run, name=f"playground-{self.id}", daemon=True)
    self._thread.start()

  # --- called from request threads ---

  @property
  def settings(self) -> dict[str, Any]:
    return dict(self._settings)

  @property
  def alive(self) -> bool:
    return self._thread.is_alive() and not self._stopped.is_set()

  @property
  def can_set_live(self) -> bool:
    """Whether this session's run takes a 'set' command (its engine has `set_hyperparameters`); where it does not,
    the page starts a new run for those settings instead."""
    return callable(getattr(self._engine, "set_hyperparameters", None))

  def command(self, action: str, value: Any = None) -> None:
    """Queues a toolbar action (`ACTIONS`), 'speed' with a steps/s limit (0: none), or 'set' with a live change of
    `params.LIVE_FIELDS` (e.g. {"d_lr": 2e-4}), which the run takes without restarting.

    Raises:
      ValueError: for an unknown action, a bad speed or a bad change.
      LiveChangeUnsupported: (a ValueError) for 'set' on a run that cannot take it.
    """
    if action == "speed":
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1000:
        raise ValueError(f"speed must be a number of steps per second in [0, 1000] (0: no limit); got {value!r}.")
    elif action == "set":
      value = params.parse_live_changes(value)
      if not self.can_set_live:
        raise LiveChangeUnsupported(
          f"This run cannot change {', '.join(value)} while it goes on; send the settings instead (a new run)."
        )
    elif action not in ACTIONS:
      raise ValueError(f"Unknown action {action!r}; use one of {list(ACTIONS) + ['speed', 'set']}.")
    self._commands.put((action, value))

  def replace(self, engine: Engine, settings: dict[str, Any]) -> None:
    """Swaps in a run with new settings (paused, from fresh parameters)."""
    self._commands.put(("replace", (engine, settings)))

  def close(self) -> None:
    self._stopped.set()
    with self._lock:
      self._lock.notify_all()

  def join(self, timeout: float | None = None) -> None:
    self._thread.join(timeout)

  def attach(self) -> None:
    with self._lock:
      self._streams += 1

  def detach(self) -> None:
    with self._lock:
      self._streams -= 1
      self._last_detached = time.monotonic()

  def next_frame(self, after: int, timeout: float) -> tuple[int, bytes | None]:
    """Waits up to `timeout` for a frame newer than number `after`; returns (number, JSON) or (after, None)."""
    with self._lock:
      self._lock.wait_for(lambda: self._frame_number > after or self._stopped.is_set(), timeout)
      if self._frame_number > after:
        return self._frame_number, self._frame
      return after, None

  # --- the session thread ---

  def _idle(self) -> bool:
    with self._lock:
      return self._streams == 0 and time.monotonic() - self._last_detached > self.idle_timeout_s

  def _run(self) -> None:
    try:
      self._guarded(self._engine.reset)
      self._publish()
      last_frame = rate_start = time.monotonic()
      rate_steps = self._engine.steps
      while not self._stopped.is_set():
        if self._idle():
          log.info("Session %s: no stream for %.0f s, stopping.", self.id, self.idle_timeout_s)
          break
        if self._needs_warm_up and not self._playing and self._commands.empty():
          self._needs_warm_up = False
          self._guarded(self._engine.warm_up)
        changed = self._handle_commands(block=not self._playing)
        if changed:
          rate_start, rate_steps = time.monotonic(), self._engine.steps
        if self._playing:
          self._guarded(self._train_one)
        now = time.monotonic()
        if not self._playing:
          self._steps_per_s = 0.0
        elif now - rate_start >= 0.5:
          self._steps_per_s = (self._engine.steps - rate_steps) / (now - rate_start)
          rate_start, rate_steps = now, self._engine.steps
        # Frames come at most every FRAME_INTERVAL_S, and rarer when rendering is slow (big nets), so that
        # training keeps at least three quarters of the thread's time.
        if changed or (self._playing and now - last_frame >= max(FRAME_INTERVAL_S, 4 * self._render_s)):
          self._publish()
          if not changed:  # a frame right after a change may include compiling; it says nothing of the pace
            self._render_s = time.monotonic() - now
          last_frame = now
    except Exception:  # never expected; keep the server up and say so on the page
      log.exception("Session %s failed", self.id)
      self._error = "The session stopped on an internal error:\n" + traceback.format_exc(limit=3)
      self._publish(render=False)
    finally:
      self._stopped.set()
      # The run's state and program go now, not when the server next prunes its sessions: an ended tab holds no
      # device memory.
      self._engine = None
      while not self._commands.empty():
        self._commands.get_nowait()
      with self._lock:
        self._lock.notify_all()

  def _train_one(self) -> None:
    start = time.monotonic()
    self._engine.step()
    self._engine.state.step.block_until_ready()  # bounds the dispatch queue, so pause acts at once
    if self._max_steps_per_s > 0:
      self._stopped.wait(max(0.0, 1.0 / self._max_steps_per_s - (time.monotonic() - start)))

  def _handle_commands(self, block: bool) -> bool:
    """Runs the queued commands; waits briefly for one when paused. Returns whether a frame is due."""
    changed = False
    try:
      action, value = self._commands.get(timeout=0.2) if block else self._commands.get_nowait()
    except queue.Empty:
      return False
    while True:
      changed = True
      self._apply(action, value)
      try:
        action, value = self._commands.get_nowait()
      except queue.Empty:
        return changed

  def _apply(self, action: str, value: Any) -> None:
    engine = self._engine
    handlers = {
      "play": lambda: setattr(self, "_playing", True),
      "pause": lambda: setattr(self, "_playing", False),
      "step": lambda: self._guarded(engine.step),
      "step_d": lambda: self._guarded(engine.step_critic),
      "step_g": lambda: self._guarded(engine.step_generator),
      "reset": lambda: self._guarded(engine.reset),
      "speed": lambda: setattr(self, "_max_steps_per_s", float(value)),
      "set": lambda: self._set(value),
      "replace": lambda: self._replace(*value),
    }
    if action in ("play", "step", "step_d", "step_g", "reset", "set", "replace"):
      self._error = None
    handlers[action]()

  def _replace(self, engine: Engine, settings: dict[str, Any]) -> None:
    self._engine, self._settings, self._playing = engine, settings, False
    self._needs_warm_up = True
    self._guarded(engine.reset)

  def _set(self, changes: dict[str, Any]) -> None:
    """Hands a live change to the engine; the run goes on (playing or not) with the new values, or, if the engine
    refuses them, with the old ones and the reason on the page."""
    try:
      self._engine.set_hyperparameters(**changes)
    except Exception as error:
      log.exception("Session %s: could not set %r", self.id, changes)
      self._error = (
        f"Could not change {', '.join(changes)} (the run goes on as it was): {type(error).__name__}: {error}"
      )
      return
    self._settings = {**self._settings, **changes}

  def _guarded(self, fn) -> None:
    """Runs a training call; an error pauses the run and goes to the page instead of ending the thread."""
    try:
      fn()
    except Exception as error:  # e.g. a compile failure for an unusual setting
      log.exception("Session %s: training call failed", self.id)
      self._playing = False
      self._error = f"{type(error).__name__}: {error}"

  def _publish(self, render: bool = True) -> None:
    frame: dict[str, Any] = {}
    if render:
      try:
        frame = self._engine.frame()
      except Exception as error:
        log.exception("Session %s: rendering failed", self.id)
        self._playing, self._error = False, f"Could not render a frame: {type(error).__name__}: {error}"
      if frame and not frame["finite"] and self._error is None:
        self._playing = False
        self._error = (
          "Training diverged: the losses or samples are no longer finite. Lower the learning rates or press reset."
        )
    frame.update(
      session=self.id,
      playing=self._playing,
      steps_per_s=round(self._steps_per_s, 1),
      max_steps_per_s=self._max_steps_per_s,
      error=self._error,
      settings=self._settings,
      time=time.time(),
    )
    data = json.dumps(frame, allow_nan=False, separators=(",", ":")).encode()
    with self._lock:
      self._frame, self._frame_number = data, self._frame_number + 1
      self._lock.notify_all()
