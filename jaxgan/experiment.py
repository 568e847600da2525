"""The training loop: `train_and_evaluate(config, workdir)`, shared by the CLI, the notebooks and user code.

Everything random derives from `config.seed` and the step number (the data batch of step t, the latents of step t),
so a run resumed from a checkpoint at step t continues exactly as if it had never stopped.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from jaxgan import data as data_lib
from jaxgan import diagnostics, eval_hook, parallel, plots
from jaxgan.checkpoint import Checkpointer
from jaxgan.data.prefetch import Prefetcher
from jaxgan.optim import learning_rate_schedule
from jaxgan.summary import SummaryWriter
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


def _check_workdir(workdir: Path) -> None:
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / f".write_test.{os.getpid()}"  # per process: hosts may share the workdir
    probe.write_text("ok")
    probe.unlink()
  except OSError as error:
    raise ValueError(f"Cannot write to workdir {workdir} ({error}); pass a writable --workdir.") from None


def _model_fields(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config fields that fix the state's structure; a checkpoint is only valid for the same values.

  Learning rates and other optimiser hyperparameters may change between runs; the optimiser kind and whether it
  clips weights or caps their norms may not (they change the optimiser state's structure).
  """
  fields = {k: config[k].to_dict() if isinstance(config[k], ml_collections.ConfigDict) else config[k]
            for k in ("generator", "critic", "latent_dim")}
  for opt in ("g_optimizer", "d_optimizer"):
    fields[f"{opt}.name"] = config[opt].name
    fields[f"{opt}.clips"] = bool(config[opt].get("clip", 0.0))
    fields[f"{opt}.caps_norms"] = bool(config[opt].get("max_norm", 0.0))
  fields["data.name"] = config.data.name
  return fields


def _check_resume_compatible(workdir: Path, config: ml_collections.ConfigDict) -> None:
  saved_path = workdir / "config.json"
  if not saved_path.exists():
    return
  saved = json.loads(saved_path.read_text())
  saved_fields = _model_fields(ml_collections.ConfigDict(saved))
  new_fields = json.loads(json.dumps(_model_fields(config)))
  diff = sorted(k for k in new_fields if saved_fields.get(k) != new_fields[k])
  if diff:
    raise ValueError(f"The checkpoints in {workdir} were written with a different {', '.join(diff)}. Use a new "
                     "--workdir for this config, or the original config to resume.")


def _finite_or_raise(step: int, metrics: dict[str, float], last_good: int | None) -> None:
  for name, value in metrics.items():
    if not math.isfinite(value):
      where = f"the last good checkpoint is step {last_good}" if last_good is not None else "no checkpoint was saved"
      raise FloatingPointError(f"{name} = {value} at step {step}; stopping without saving this state ({where}). "
                               "Lower the learning rates or check the data.")


def _save_samples(path: Path, gan: GAN, state: GANState, config: ml_collections.ConfigDict, key: jax.Array,
                  title: str) -> np.ndarray | None:
  """Writes the sample picture (the same latents every time, so pictures over a run compare); returns an image
  grid for TensorBoard (images only)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  if data_lib.is_toy(config.data):
    mixture = data_lib.get_toy(config.data.name)
    real = np.asarray(mixture.sample(jax.random.fold_in(key, 1), (1000,)))
    fake = np.asarray(generate(gan, state, key, 1000))
    plots.save_scatter(path, real, fake, title, mixture.centers)
    return None
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


class _NullWriter:
  """What processes other than the first write: nothing (one event file per run, not one per host)."""

  def scalars(self, step, values):
    del step, values

  def image(self, step, name, picture):
    del step, name, picture

  def close(self):
    pass


def _learning_rates(config: ml_collections.ConfigDict, step: int) -> dict[str, float]:
  """Both players' learning rates after `step` train steps (their schedules count their own updates)."""
  counts = {"g": step * int(config.get("n_generator", 1)), "d": step * int(config.n_critic)}
  return {f"train/{who}_learning_rate": float(learning_rate_schedule(config[f"{who}_optimizer"])(count))
          for who, count in counts.items()}


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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
                       progress: bool = True) -> dict[str, Any]:
  """Trains the GAN that `config` describes, resuming from `workdir`'s checkpoints, and evaluates it.

  Writes into `workdir`: `config.json`, TensorBoard events (losses, gradient penalty, Wasserstein estimate,
  steps/s, learning rates, evaluation metrics, sample grids), `checkpoints/` (the newest `keep_checkpoints`),
  `best_checkpoint/` (the best by `config.best_metric`), `samples/step_*.png` (from the same latents at every
  evaluation; the newest also as `samples.png`) and `results.json`.

  Args:
    config: a run config (see experiments/configs).
    workdir: the run's directory.
    progress: show a progress bar.

  Returns:
    The results written to `results.json`: final metrics, final losses, steps, timings and the config.
  """
  validate_config(config)
  workdir = Path(workdir)
  # In a multi-host run every process trains and checkpoints (orbax saves collectively); only the first writes
  # the config, logs, pictures and results.
  primary = jax.process_index() == 0
  _check_workdir(workdir)
  _check_resume_compatible(workdir, config)
  if primary:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))

  # One GAN for the run, built for the device axis its step runs under; it also initialises, evaluates and samples
  # on one device, where that axis plays no part (its nets run in inference mode there).
  gan = build_gan(config, parallel.axis_name_for(config.parallel))
  train_step = parallel.make_parallel_train_step(config, config.parallel, gan=gan)
  root = jax.random.key(config.seed)
  init_key, train_key, data_key, eval_key = jax.random.split(root, 4)
  state = jax.jit(functools.partial(init_state, gan))(init_key)  # eager init of conv nets is slow
  evaluate = eval_hook.make_evaluator(gan, config)
  best = eval_hook.best_metric(config, evaluate)

  checkpointer = Checkpointer(workdir / "checkpoints", int(config.get("keep_checkpoints", 3)))
  best_checkpointer = Checkpointer(workdir / "best_checkpoint", 1, *best) if best else None
  restored = checkpointer.restore_latest(state)
  if restored is not None:
    state, start = restored
    log.info("Resuming from step %d in %s.", start, workdir)
  else:
    start = 0
  last_saved = start if restored is not None else None
  # Checkpoints hold one copy of the state, whatever the device count; it is replicated onto the devices here.
  state = train_step.put_state(state)

  num_steps = int(config.num_steps)
  next_batch = data_lib.make_batch_fn(config, data_key, parallel.data_shard())
  batches = Prefetcher(lambda step: train_step.put_local_batch(next_batch(step)), start, num_steps,
                       int(config.get("prefetch", 2)))
  writer = SummaryWriter(workdir / "tensorboard") if primary else _NullWriter()
  watch = diagnostics.settings_from_config(config)
  monitor = diagnostics.init(watch, reference_samples=diagnostics.real_samples(next_batch(start)))
  # The same latents at every check, so a change in diversity is the generator's, not the draw's.
  fixed_samples = jax.jit(lambda s: generate(gan, s, jax.random.fold_in(eval_key, 17), watch.num_samples))
  stopped_by: str | None = None

  def evaluate_and_draw(done: int, title: str) -> dict[str, float]:
    one_copy = train_step.unreplicate(state)
    eval_metrics = evaluate(one_copy, eval_key) if evaluate is not None else {}
    writer.scalars(done, {f"eval/{k}": v for k, v in eval_metrics.items()})
    if primary:
      picture = workdir / "samples" / f"step_{done:08d}.png"
      grid = _save_samples(picture, gan, one_copy, config, eval_key, title)
      shutil.copyfile(picture, workdir / "samples.png")
      if grid is not None:
        writer.image(done, "samples", grid)
    return eval_metrics

  def save_best(done: int, eval_metrics: dict[str, float]) -> None:
    value = eval_metrics.get(best[0]) if best_checkpointer is not None else None
    if value is not None and math.isfinite(value):
      best_checkpointer.save(done, train_step.global_state(state), {best[0]: value})

  t_start = time.perf_counter()
  compile_s = 0.0
  last_metrics: dict[str, float] = {}
  bar = tqdm.tqdm(total=num_steps, initial=start, disable=not (progress and primary), dynamic_ncols=True,
                  desc="train")
  t_window, steps_window = time.perf_counter(), 0
  stop = _StopRequest()
  eval_metrics: dict[str, float] = {}
  # Checked at log steps, where the host has waited for the step's metrics, so the clock measures finished work.
  budget_s = 60.0 * float(config.get("max_train_minutes", 0.0))
  budget_reached, eval_s = False, 0.0  # periodic evaluation is not training time
  try:
    for step in range(start, num_steps):
      if stop.requested:
        log.warning("Stopping at step %d on %s; saving a checkpoint. Rerun the same command to resume.", step,
                    stop.signal_name)
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
      if done % config.log_every == 0 or done == num_steps:
        last_metrics = train_step.host_metrics(metrics)
        _finite_or_raise(done, last_metrics, last_saved)
        now = time.perf_counter()
        rate = steps_window / max(now - t_window, 1e-9)
        t_window, steps_window = now, 0
        writer.scalars(done, {**{f"train/{k}": v for k, v in last_metrics.items()}, "train/steps_per_s": rate,
                              **_learning_rates(config, done)})
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
        checkpointer.save(done, train_step.global_state(state))
        last_saved = done
    bar.close()
    train_s = time.perf_counter() - t_start
    final_step = int(jax.device_get(train_step.unreplicate(state).step))
    if final_step != last_saved:
      checkpointer.save(final_step, train_step.global_state(state))
    eval_metrics = evaluate_and_draw(final_step, f"{config.name}, step {final_step}")
    save_best(final_step, eval_metrics)
  finally:
    batches.close()
    stop.restore()
    bar.close()
    writer.close()
    checkpointer.close()
    if best_checkpointer is not None:
      best_checkpointer.close()

  trained = max(final_step - start, 0)
  results = {
      **eval_metrics,
      **last_metrics,
      "steps": final_step,
      "steps_this_run": trained,
      "resumed_from": start if restored is not None else None,
      "interrupted": stop.signal_name or stopped_by,
      "max_train_minutes_reached": budget_reached,
      "diagnostics_alerts": [alert._asdict() for alert in monitor.alerts],
      "wall_time_s": train_s,
      "compile_s": compile_s,
      "steps_per_s": (trained - 1) / max(train_s - compile_s, 1e-9) if trained > 1 else None,
      "parallel": train_step.mode,
      "num_devices": train_step.num_devices,
      "num_processes": jax.process_count(),
      "best_checkpoint": ({"metric": best[0], "mode": best[1], "step": best_checkpointer.best_step()}
                          if best_checkpointer is not None else None),
      "config": config.to_dict(),
  }
  if primary:
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
  return results
