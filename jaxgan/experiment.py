"""The training loop: `train_and_evaluate(config, workdir)`, shared by the CLI, the notebooks and user code.

Everything random derives from `config.seed` and the step number (the data batch of step t, the latents of step t),
so a run resumed from a checkpoint at step t continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm
from jax.experimental import multihost_utils

from jaxgan import data as data_lib
from jaxgan import diagnostics, eval_hook, losses, nets, parallel, plots, summary
from jaxgan.checkpoint import Checkpointer, all_finite
from jaxgan.data.prefetch import Prefetcher
from jaxgan.gan import complete_state
from jaxgan.optim import learning_rate_schedule
from jaxgan.summary import SummaryWriter, hparam_values
from jaxgan.train import GAN, GANState, build_gan, generate, init_state

log = logging.getLogger(__name__)

PARALLEL_MODES = parallel.PARALLEL_MODES


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Checks the loop's own settings; the nets, losses and optimisers are checked when built.

  Raises:
    ValueError: naming the bad field and what it must be.
  """
  positive = ("batch_size", "log_every", "eval_every", "checkpoint_every", "eval_samples", "keep_checkpoints")
  for field in positive:
    if int(config[field]) < 1:
      raise ValueError(f"config.{field} must be >= 1; got {config[field]}.")
  if int(config.num_steps) < 0:
    raise ValueError(f"config.num_steps must be >= 0; got {config.num_steps}.")
  budget = float(config.get("max_train_minutes", 0.0))
  if not math.isfinite(budget) or budget < 0:
    raise ValueError(f"config.max_train_minutes must be >= 0 (0: no limit); got {budget}.")
  if config.parallel not in PARALLEL_MODES:
    raise ValueError(f"config.parallel={config.parallel!r} is not supported; choose one of {PARALLEL_MODES}.")
  for path, value in _weights_and_rates(config):
    if not math.isfinite(value) or value < 0 or (path.endswith("learning_rate") and value == 0):
      need = "a positive number" if path.endswith("learning_rate") else "a number >= 0"
      raise ValueError(f"config.{path} must be {need}; got {value}.")


def _weights_and_rates(config: ml_collections.ConfigDict, prefix: str = "") -> list[tuple[str, float]]:
  """Every numeric `*learning_rate` and `*weight` field, with its dotted path (a NaN or inf there trains garbage)."""
  found = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      found += _weights_and_rates(value, f"{prefix}{key}.")
    elif key.endswith(("learning_rate", "weight")) and isinstance(value, (int, float)) and not isinstance(value, bool):
      found.append((f"{prefix}{key}", float(value)))
  return found


def _check_workdir(workdir: Path) -> None:
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / f".write_test.{os.getpid()}"  # per process: hosts may share the workdir
    probe.write_text("ok")
    probe.unlink()
  except OSError as error:
    raise ValueError(f"Cannot write to workdir {workdir} ({error}); pass a writable --workdir.") from None


def _as_json(value: Any) -> Any:
  return json.loads(json.dumps(value))


def _net_fields(net: ml_collections.ConfigDict, registry: dict[str, Any]) -> dict[str, Any]:
  """A net's config section without the fields left at the net's own defaults, so that a config which spells out
  a default (e.g. `spectral_norm=False`) matches checkpoints written before it did."""
  fields = _as_json(net.to_dict())
  cls = registry.get(fields.get("name"))
  if cls is None or not dataclasses.is_dataclass(cls):
    return fields
  defaults = {
    f.name: f.default for f in dataclasses.fields(cls) if f.name != "name" and f.default is not dataclasses.MISSING
  }
  return {k: v for k, v in fields.items() if k not in defaults or _as_json(defaults[k]) != v}


def _model_fields(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config fields that fix the state's structure; a checkpoint is only valid for the same values.

  Learning rates and other optimiser hyperparameters may change between runs; the optimiser kind and whether it
  clips weights or caps their norms may not (they change the optimiser state's structure).
  """
  fields = {
    "generator": _net_fields(config.generator, nets.GENERATORS),
    "critic": _net_fields(config.critic, nets.CRITICS),
    "latent_dim": config.latent_dim,
  }
  for opt in ("g_optimizer", "d_optimizer"):
    fields[f"{opt}.name"] = config[opt].name
    fields[f"{opt}.clips"] = bool(config[opt].get("clip", 0.0))
    fields[f"{opt}.caps_norms"] = bool(config[opt].get("max_norm", 0.0))
  fields["data.name"] = config.data.name
  return fields


def _stored_model_fields(checkpointer: Checkpointer) -> dict[str, Any] | None:
  """The model fields stored with the newest checkpoint that has them (None for checkpoints written before they
  were stored)."""
  for step in reversed(checkpointer.all_steps()):
    fields = checkpointer.metadata(step).get("model_fields")
    if fields is not None:
      return fields
  return None


def _config_json_model_fields(workdir: Path) -> dict[str, Any] | None:
  """The model fields of `workdir/config.json`, for checkpoints that do not store their own; None without one."""
  path = workdir / "config.json"
  if not path.exists():
    log.warning(
      "%s holds checkpoints but no config.json; they cannot be checked against this config before restoring them.",
      workdir,
    )
    return None
  try:
    return _model_fields(ml_collections.ConfigDict(json.loads(path.read_text())))
  except (ValueError, KeyError, AttributeError, TypeError) as error:
    raise ValueError(
      f"{path} is empty, truncated or not a run config ({type(error).__name__}: {error}); replace "
      "it with the config the checkpoints were written with, or delete it to resume without the "
      "check."
    ) from None


def _check_resume_compatible(workdir: Path, config: ml_collections.ConfigDict, checkpointer: Checkpointer) -> None:
  """Refuses a config whose state structure differs from the newest checkpoint's.

  Checkpoints store the fields they were written with; older ones are compared with `config.json` instead.
  """
  if not checkpointer.all_steps():
    return  # nothing to resume: whatever config.json a failed start left behind does not bind this run
  saved_fields = _stored_model_fields(checkpointer)
  if saved_fields is None:
    saved_fields = _config_json_model_fields(workdir)
    if saved_fields is None:
      return
  new_fields = _as_json(_model_fields(config))
  diff = sorted(k for k in new_fields if saved_fields.get(k) != new_fields[k])
  if diff:
    raise ValueError(
      f"The checkpoints in {workdir} were written with a different {', '.join(diff)}. Use a new "
      "--workdir for this config, or the original config to resume."
    )


def _write_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
  """Writes `config.json` through a temporary file, so a crash never leaves half of one."""
  path = workdir / "config.json"
  temporary = path.with_name(f".config.json.{os.getpid()}.tmp")
  temporary.write_text(config.to_json_best_effort(indent=2))
  os.replace(temporary, path)


@contextlib.contextmanager
def _workdir_lock(workdir: Path):
  """Holds an exclusive lock on `workdir` for one training run (two would overwrite each other's checkpoints).

  `flock` locks belong to the open file, so the kernel drops a dead process's lock: a stale lock file never blocks.

  Raises:
    ValueError: if another process holds the lock (naming its PID).
  """
  path = workdir / ".train.lock"
  with open(path, "a+") as lock:
    try:
      fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      lock.seek(0)
      holder = lock.read().strip() or "unknown"
      raise ValueError(
        f"The workdir {workdir} is in use by another training run (PID {holder}); wait for it to "
        "finish, stop it, or pass another --workdir."
      ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    try:
      yield
    finally:
      fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _last_good(last_good: int | None) -> str:
  return f"the last good checkpoint is step {last_good}" if last_good is not None else "no checkpoint was saved"


def _finite_or_raise(step: int, metrics: dict[str, float], last_good: int | None) -> None:
  for name, value in metrics.items():
    if not math.isfinite(value):
      raise FloatingPointError(
        f"{name} = {value} at step {step}; stopping without saving this state "
        f"({_last_good(last_good)}). Lower the learning rates or check the data."
      )


def _finite_state_or_raise(step: int, state: Any, last_good: int | None) -> None:
  """Checks a state before it is saved: metrics are checked only at log steps, and a NaN can arise in between."""
  if not all_finite(state):
    raise FloatingPointError(
      f"The state holds NaN or inf at step {step}; stopping without saving it "
      f"({_last_good(last_good)}). Lower the learning rates or check the data."
    )


def _save_samples(
  path: Path, gan: GAN, state: GANState, config: ml_collections.ConfigDict, key: jax.Array, title: str
) -> np.ndarray | None:
  """Writes the sample picture (the same latents every time, so pictures over a run compare); returns it for
  TensorBoard as uint8 [H, W, C] (the image grid, or the toy scatter's pixels)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  if data_lib.is_toy(config.data):
    mixture = data_lib.get_toy(config.data.name)
    real = np.asarray(mixture.sample(jax.random.fold_in(key, 1), (1000,)))
    fake = np.asarray(generate(gan, state, key, 1000))
    plots.save_scatter(path, real, fake, title, mixture.centers)
    return _png_pixels(path)
  if gan.num_classes:
    # One row per class, so a glance tells whether the labels are followed.
    per_class = 8
    labels = jnp.repeat(jnp.arange(gan.num_classes), per_class)
    fake = np.asarray(generate(gan, state, key, gan.num_classes * per_class, labels))
    plots.save_image_grid(path, fake, rows=gan.num_classes)
    return plots.image_grid(fake, rows=gan.num_classes)
  fake = np.asarray(generate(gan, state, key, 64))
  plots.save_image_grid(path, fake)
  return plots.image_grid(fake)


def _png_pixels(path: Path) -> np.ndarray:
  """A PNG's pixels as uint8 [H, W, 3] (the scatter is drawn by matplotlib straight to a file)."""
  import matplotlib.image

  pixels = matplotlib.image.imread(path)  # float [H, W, 4] in [0, 1]
  return (pixels[..., :3] * 255).round().astype(np.uint8)


def _close_all(closers: list[Any], quiet: bool) -> None:
  """Calls every closer. When the run is already failing, their own errors (a full disk fails the event writer's
  flush too) are logged at debug level instead of hiding the first, clear error; otherwise the first is raised."""
  first = None
  for close in closers:
    try:
      close()
    except Exception as error:  # each closer is a different library's
      if quiet:
        log.debug("Ignored while closing after an error: %s", error)
      elif first is None:
        first = error
  if first is not None:
    raise first


class _NullWriter:
  """What processes other than the first write: nothing (one event file per run, not one per host)."""

  def scalars(self, step, values):
    del step, values

  def image(self, step, name, picture):
    del step, name, picture

  def hparams(self, hparams, metrics):
    del hparams, metrics

  def close(self):
    pass


def _learning_rates(config: ml_collections.ConfigDict, step: int) -> dict[str, float]:
  """Both players' learning rates after `step` train steps (their schedules count their own updates)."""
  counts = {"g": step * int(config.get("n_generator", 1)), "d": step * int(config.n_critic)}
  return {
    f"train/{who}_learning_rate": float(learning_rate_schedule(config[f"{who}_optimizer"])(count))
    for who, count in counts.items()
  }


def _train_scalars(config: ml_collections.ConfigDict, metrics: dict[str, float]) -> dict[str, float]:
  """The step's metrics as TensorBoard tags: `losses/*` for the losses, `train/*` for the rest, without those that
  mean nothing for this run (a gradient penalty of 0 without a penalty, a Wasserstein estimate for a loss whose
  critic is not a Wasserstein critic)."""
  skip = set()
  if config.penalty == "none":
    skip.add("gradient_penalty")
  if losses.get_loss(config.loss).chance_loss is not None:  # only Wasserstein losses have no chance value
    skip.add("wasserstein_estimate")
  return {f"{'losses' if k.endswith('_loss') else 'train'}/{k}": v for k, v in metrics.items() if k not in skip}


def _budget_spent(budget_s: float, elapsed_s: float) -> bool:
  """Whether a positive time budget is spent; process 0 decides for all, so every process stops at the same step."""
  if budget_s <= 0:
    return False
  spent = np.asarray(elapsed_s >= budget_s)
  if jax.process_count() > 1:
    spent = multihost_utils.broadcast_one_to_all(spent)
  return bool(spent)


class _StopRequest:
  """Turns SIGINT / SIGTERM into a request the loop honours after the current step (so a checkpoint is saved);
  a second signal of the same kind acts as usual."""

  def __init__(self):
    self.signal_name: str | None = None
    self._previous = {}
    if threading.current_thread() is not threading.main_thread():
      return  # signal handlers can only be installed from the main thread
    for sig in (signal.SIGINT, signal.SIGTERM):
      self._previous[sig] = signal.signal(sig, self._handle)

  @property
  def requested(self) -> bool:
    return self.signal_name is not None

  def _handle(self, signum, frame):
    del frame
    self.signal_name = signal.Signals(signum).name
    signal.signal(signum, self._previous[signum])

  def restore(self) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}


# `step_callback(done, get_state) -> stop`: called after every train step with the number of steps done and a
# function returning the state (one copy, on the devices; the step may still be running: block on it to wait).
StepCallback = Callable[[int, Callable[[], GANState]], bool]


def train_and_evaluate(
  config: ml_collections.ConfigDict,
  workdir: str | os.PathLike,
  progress: bool = True,
  step_callback: StepCallback | None = None,
) -> dict[str, Any]:
  """Trains the GAN that `config` describes, resuming from `workdir`'s checkpoints, and evaluates it.

  Writes into `workdir`: `config.json`, TensorBoard events (losses; the gradient penalty and Wasserstein estimate
  where the run has them; steps/s, learning rates, evaluation metrics, sample pictures, hyperparameters),
  `checkpoints/` (the newest `keep_checkpoints`), `best_checkpoint/` (the best by `config.best_metric`),
  `samples/step_*.png` (from the same latents at every evaluation; the newest also as `samples.png`) and
  `results.json`. With `config.ema` the metrics and pictures are the generator's moving average's (`jaxgan.ema`);
  the diagnostics watch the trained generator.

  Args:
    config: a run config (see experiments/configs).
    workdir: the run's directory.
    progress: show a progress bar.
    step_callback: `step_callback(done, get_state)` after every step (e.g. to keep the generator at wall-clock
      marks, as `benchmarks/quality.py` does); `get_state()` returns the state after `done` steps, which the next
      step donates, so copy what you keep (`jax.device_get`). A true return ends the run there, as the time budget
      does (checkpoint, final evaluation).

  Returns:
    The results written to `results.json`: final metrics, final losses, steps, timings, the config,
    `stop_signal` ("SIGTERM" or "SIGINT" when a signal stopped the run early, after saving; else None) and
    `stopped_by_callback`.

  Raises:
    ValueError: for a bad config, an unwritable workdir, one in use by another training run, or checkpoints
      written with other nets.
    FloatingPointError: when the losses or the state become NaN or inf (nothing non-finite is saved).
    jaxgan.checkpoint.CheckpointSaveError: when a checkpoint cannot be written (e.g. the disk is full).
  """
  validate_config(config)
  workdir = Path(workdir)
  _check_workdir(workdir)
  # Hosts of a multi-host run share the workdir on purpose: only the first takes the lock.
  with _workdir_lock(workdir) if jax.process_index() == 0 else contextlib.nullcontext():
    return _train_and_evaluate(config, workdir, progress, step_callback)


def _train_and_evaluate(
  config: ml_collections.ConfigDict, workdir: Path, progress: bool, step_callback: StepCallback | None
) -> dict[str, Any]:
  # In a multi-host run every process trains and checkpoints (orbax saves collectively); only the first writes
  # the config, logs, pictures and results.
  primary = jax.process_index() == 0
  if primary:
    summary.preload()  # overlaps the TensorBoard writer's slow import with the compiles below

  # One GAN for the run, built for the device axis its step runs under; it also initialises, evaluates and samples
  # on one device, where that axis plays no part (its nets run in inference mode there).
  gan = build_gan(config, parallel.axis_name_for(config.parallel))
  train_step = parallel.make_parallel_train_step(config, config.parallel, gan=gan)
  root = jax.random.key(config.seed)
  init_key, train_key, data_key, eval_key = jax.random.split(root, 4)
  state = init_state(gan, init_key)
  evaluate = eval_hook.make_evaluator(gan, config)
  best = eval_hook.best_metric(config, evaluate)

  checkpointer = Checkpointer(workdir / "checkpoints", int(config.get("keep_checkpoints", 3)))
  best_checkpointer = Checkpointer(workdir / "best_checkpoint", 1, *best, resumes_from=checkpointer) if best else None
  try:
    _check_resume_compatible(workdir, config, checkpointer)
    # Unusable checkpoints newer than the restored one are moved aside: orbax would refuse to save them again.
    restored = checkpointer.restore_latest(state, move_aside=True)
  except BaseException:
    _close_all([checkpointer.close] + ([best_checkpointer.close] if best_checkpointer else []), quiet=True)
    raise
  if restored is not None:
    state, start = restored
    state = complete_state(gan, state)  # fields the checkpoint predates (the generator's average, LeCam's anchors)
    log.info("Resuming from step %d in %s.", start, workdir)
  else:
    start = 0
  last_saved = start if restored is not None else None
  # Checkpoints hold one copy of the state, whatever the device count; it is replicated onto the devices here.
  state = train_step.put_state(state)

  num_steps = int(config.num_steps)
  next_batch = data_lib.make_batch_fn(config, data_key, parallel.data_shard())
  if primary:
    _write_config(workdir, config)  # only now: a config that fails to build must not bind the workdir
  stored = {"model_fields": _as_json(_model_fields(config))}  # checked when a run resumes
  batches = Prefetcher(
    lambda step: train_step.put_local_batch(next_batch(step)), start, num_steps, int(config.get("prefetch", 2))
  )
  writer = SummaryWriter(workdir / "tensorboard") if primary else _NullWriter()
  watch = diagnostics.settings_from_config(config)
  monitor = diagnostics.init(watch, reference_samples=diagnostics.real_samples(next_batch(start)))
  # The same latents at every check, so a change in diversity is the generator's, not the draw's; the trained
  # generator's, not its average's, which lags behind a collapse.
  fixed_samples = jax.jit(
    lambda s: generate(gan, s, jax.random.fold_in(eval_key, 17), watch.num_samples, use_ema=False)
  )
  stopped_by: str | None = None

  def evaluate_and_draw(done: int, title: str) -> dict[str, float]:
    one_copy = train_step.unreplicate(state)
    eval_metrics = evaluate(one_copy, eval_key) if evaluate is not None else {}
    writer.scalars(done, {f"eval/{k}": v for k, v in eval_metrics.items()})
    if primary:
      picture = workdir / "samples" / f"step_{done:08d}.png"
      grid = _save_samples(picture, gan, one_copy, config, eval_key, title)
      shutil.copyfile(picture, workdir / "samples.png")
      writer.image(done, "samples", grid)
    return eval_metrics

  def save_checkpoint(done: int) -> None:
    one_copy = train_step.global_state(state)
    _finite_state_or_raise(done, one_copy, last_saved)
    checkpointer.save(done, one_copy, metadata=stored)

  def save_best(done: int, eval_metrics: dict[str, float]) -> None:
    value = eval_metrics.get(best[0]) if best_checkpointer is not None else None
    if value is None or not math.isfinite(value):
      return
    newest = best_checkpointer.latest_step()
    if newest is not None and done <= newest:
      # Kept by an earlier run that got further than this one resumed from (its newer checkpoints were unusable,
      # or it stopped on NaN): orbax saves only steps above it, and the state it holds is finite.
      return
    one_copy = train_step.global_state(state)
    _finite_state_or_raise(done, one_copy, last_saved)
    best_checkpointer.save(done, one_copy, {best[0]: value}, metadata=stored)

  t_start = time.perf_counter()
  compile_s = 0.0
  last_metrics: dict[str, float] = {}
  bar = tqdm.tqdm(total=num_steps, initial=start, disable=not (progress and primary), dynamic_ncols=True, desc="train")
  t_window, steps_window = time.perf_counter(), 0
  stop = _StopRequest()
  stop_signal: str | None = None  # set only when a signal ended the loop early
  eval_metrics: dict[str, float] = {}
  # Checked at log steps, where the host has waited for the step's metrics, so the clock measures finished work.
  budget_s = 60.0 * float(config.get("max_train_minutes", 0.0))
  budget_reached, eval_s = False, 0.0  # periodic evaluation is not training time
  stopped_by_callback = False
  failed = True
  try:
    for step in range(start, num_steps):
      if stop.requested:
        log.warning(
          "Stopping at step %d on %s; saving a checkpoint. Rerun the same command to resume.", step, stop.signal_name
        )
        stop_signal = stop.signal_name
        break
      batch = batches.get(step)
      if step == start:
        t_compile = time.perf_counter()
        state, metrics = train_step.step(state, batch, train_key)
        jax.block_until_ready(metrics)
        compile_s = time.perf_counter() - t_compile
      else:
        state, metrics = train_step.step(state, batch, train_key)
      done = step + 1
      steps_window += 1
      bar.update(1)
      if step_callback is not None and step_callback(done, functools.partial(train_step.unreplicate, state)):
        stopped_by_callback = True
        log.info("Stopping at step %d: the step callback asked to.", done)
        break
      if done % config.log_every == 0 or done == num_steps:
        last_metrics = train_step.host_metrics(metrics)
        _finite_or_raise(done, last_metrics, last_saved)
        now = time.perf_counter()
        rate = steps_window / max(now - t_window, 1e-9)
        t_window, steps_window = now, 0
        writer.scalars(
          done, {**_train_scalars(config, last_metrics), "train/steps_per_s": rate, **_learning_rates(config, done)}
        )
        bar.set_postfix({k.replace("_loss", ""): f"{v:.3g}" for k, v in last_metrics.items()} | {"it/s": f"{rate:.0f}"})
        if watch.enabled:
          samples = np.asarray(fixed_samples(train_step.unreplicate(state)))
          monitor, alerts = diagnostics.update(monitor, done, last_metrics, samples)
          writer.scalars(done, diagnostics.scalars(monitor))
          for alert in alerts:
            log.warning("step %d [%s] %s", alert.step, alert.kind, alert.message)
            bar.write(f"warning at step {alert.step} [{alert.kind}]: {alert.message}")
          if diagnostics.should_stop(monitor, alerts):
            stopped_by = alerts[0].kind
            log.warning("Stopping at step %d on the %s diagnostic (config.diagnostics.stop).", done, stopped_by)
            break
        if _budget_spent(budget_s, time.perf_counter() - t_start - compile_s - eval_s):
          budget_reached = True
          log.info("Stopping at step %d: config.max_train_minutes=%g reached.", done, config.max_train_minutes)
          break
      if done % config.eval_every == 0 and done != num_steps:
        t_eval = time.perf_counter()
        eval_metrics = evaluate_and_draw(done, f"step {done}")
        eval_s += time.perf_counter() - t_eval
        if eval_metrics:
          bar.write(f"step {done}: " + ", ".join(f"{k}={v:.3g}" for k, v in eval_metrics.items()))
        save_best(done, eval_metrics)
      if done % config.checkpoint_every == 0 and done != num_steps:
        save_checkpoint(done)
        last_saved = done
    bar.close()
    train_s = time.perf_counter() - t_start
    final_step = int(jax.device_get(train_step.unreplicate(state).step))
    if final_step != last_saved:
      save_checkpoint(final_step)
    eval_metrics = evaluate_and_draw(final_step, f"{config.name}, step {final_step}")
    save_best(final_step, eval_metrics)
    # One row of TensorBoard's HParams table per run: the config against the final metrics and losses.
    writer.hparams(
      hparam_values(config.to_dict()),
      {
        **{f"eval/{k}": v for k, v in eval_metrics.items()},
        **{k: v for k, v in _train_scalars(config, last_metrics).items() if k.startswith("losses/")},
      },
    )
    failed = False
  finally:
    closers = [batches.close, stop.restore, bar.close, writer.close, checkpointer.close]
    _close_all(closers + ([best_checkpointer.close] if best_checkpointer is not None else []), quiet=failed)

  trained = max(final_step - start, 0)
  results = {
    **eval_metrics,
    **last_metrics,
    "steps": final_step,
    "steps_this_run": trained,
    "resumed_from": start if restored is not None else None,
    "interrupted": stop.signal_name or stopped_by,
    "stop_signal": stop_signal,
    "max_train_minutes_reached": budget_reached,
    "stopped_by_callback": stopped_by_callback,
    "diagnostics_alerts": [alert._asdict() for alert in monitor.alerts],
    "wall_time_s": train_s,
    "compile_s": compile_s,
    "steps_per_s": (trained - 1) / max(train_s - compile_s, 1e-9) if trained > 1 else None,
    "eval_generator": "ema" if gan.ema is not None else "raw",  # what the metrics and pictures came from
    "parallel": train_step.mode,
    "num_devices": train_step.num_devices,
    "num_processes": jax.process_count(),
    "best_checkpoint": (
      {"metric": best[0], "mode": best[1], "step": best_checkpointer.best_step()}
      if best_checkpointer is not None
      else None
    ),
    "config": config.to_dict(),
  }
  if primary:
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
  return results
