import json

import chex
import jax
import numpy as np
import pytest

from jaxgan.checkpoint import Checkpointer
from jaxgan.experiment import train_and_evaluate
from jaxgan.train import build_gan, init_state


def _restore(workdir, config):
  template = init_state(build_gan(config), jax.random.key(0))
  return Checkpointer(workdir / "checkpoints").restore_latest(template)


def test_end_to_end_writes_results_samples_and_checkpoint(tiny_toy_config, tmp_path):
  results = train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  on_disk = json.loads((tmp_path / "results.json").read_text())
  for key in ("modes_covered", "high_quality_fraction", "reverse_kl", "critic_loss", "generator_loss", "steps"):
    assert key in on_disk
  assert on_disk["steps"] == 6 and results["modes_covered"] == on_disk["modes_covered"]
  assert 0 <= on_disk["modes_covered"] <= 25
  assert (tmp_path / "samples.png").stat().st_size > 1000
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  state, step = _restore(tmp_path, tiny_toy_config)
  assert step == 6 and int(state.step) == 6


def test_resume_is_bit_exact(tiny_toy_config, tmp_path):
  straight = tmp_path / "straight"
  split = tmp_path / "split"
  train_and_evaluate(tiny_toy_config, straight, progress=False)
  half = tiny_toy_config.copy_and_resolve_references()
  half.num_steps = 3
  train_and_evaluate(half, split, progress=False)
  resumed = train_and_evaluate(tiny_toy_config, split, progress=False)
  assert resumed["resumed_from"] == 3
  a, _ = _restore(straight, tiny_toy_config)
  b, _ = _restore(split, tiny_toy_config)
  chex.assert_trees_all_equal(a, b)
  first = json.loads((straight / "results.json").read_text())
  assert first["critic_loss"] == resumed["critic_loss"] and first["generator_loss"] == resumed["generator_loss"]


def test_conflicting_config_is_refused(tiny_toy_config, tmp_path):
  train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  other = tiny_toy_config.copy_and_resolve_references()
  other.critic.features = (32, 32)
  with pytest.raises(ValueError, match="different critic"):
    train_and_evaluate(other, tmp_path, progress=False)


def test_nan_loss_stops_without_saving_bad_state(tiny_toy_config, tmp_path):
  tiny_toy_config.num_steps = 4
  tiny_toy_config.checkpoint_every = 2
  train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  exploding = tiny_toy_config.copy_and_resolve_references()
  exploding.num_steps = 8
  exploding.d_optimizer.learning_rate = 1e30
  exploding.g_optimizer.learning_rate = 1e30
  with pytest.raises(FloatingPointError, match="last good checkpoint is step 4"):
    train_and_evaluate(exploding, tmp_path, progress=False)
  state, step = _restore(tmp_path, tiny_toy_config)
  assert step == 4
  assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(state))


@pytest.mark.parametrize(
  "field,value",
  [
    ("batch_size", 0),
    ("parallel", "tpu_magic"),
    ("num_steps", -1),
    ("max_train_minutes", -1.0),
    ("max_train_minutes", float("nan")),
  ],
)
def test_bad_loop_values_raise(tiny_toy_config, tmp_path, field, value):
  tiny_toy_config[field] = value
  with pytest.raises(ValueError, match=field):
    train_and_evaluate(tiny_toy_config, tmp_path, progress=False)


def test_time_budget_stops_saves_and_evaluates(tiny_toy_config, tmp_path):
  tiny_toy_config.num_steps = 10**6
  tiny_toy_config.eval_every = 10**6
  tiny_toy_config.checkpoint_every = 10**6
  tiny_toy_config.max_train_minutes = 0.5 / 60  # half a second of steps after compiling
  results = train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  assert results["max_train_minutes_reached"] and results["interrupted"] is None
  assert 2 <= results["steps"] < 10**6 and results["steps"] % tiny_toy_config.log_every == 0
  assert results["wall_time_s"] - results["compile_s"] >= 0.5
  assert "modes_covered" in results  # the final evaluation ran
  state, step = _restore(tmp_path, tiny_toy_config)
  assert step == results["steps"] == int(state.step)


@pytest.mark.slow
def test_dcgan_mnist_runs_on_real_data(tmp_path, tfds_data_dir, mnist_manual_dir):
  from experiments.configs import wgan_gp_mnist

  c = wgan_gp_mnist.get_config()
  c.num_steps, c.batch_size, c.log_every, c.eval_every, c.checkpoint_every = 2, 8, 1, 1, 2
  c.generator.base_features = c.critic.base_features = 4
  c.generator.conv_impl = c.critic.conv_impl = "xla"  # compiles faster; the data path is under test here
  c.data.data_dir, c.data.manual_dir = tfds_data_dir, mnist_manual_dir
  results = train_and_evaluate(c, tmp_path, progress=False)
  assert results["steps"] == 2 and np.isfinite(results["critic_loss"])
  assert (tmp_path / "samples.png").stat().st_size > 500


def test_corrupt_newest_checkpoint_falls_back_to_previous(tiny_toy_config, tmp_path, caplog):
  tiny_toy_config.num_steps, tiny_toy_config.checkpoint_every = 4, 2
  train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  for f in (tmp_path / "checkpoints" / "4").rglob("*"):
    if f.is_file():
      f.write_bytes(b"garbage")
  state, step = _restore(tmp_path, tiny_toy_config)
  assert step == 2 and int(state.step) == 2
  assert "cannot be restored" in caplog.text


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_continues(tmp_path):
  import os
  import pathlib
  import signal
  import subprocess
  import sys
  import time

  root = pathlib.Path(__file__).resolve().parents[1]
  args = [
    sys.executable,
    "-m",
    "experiments.train",
    f"--workdir={tmp_path}",
    "--config.num_steps=1000000",
    "--config.generator.features=(8,)",
    "--config.critic.features=(8,)",
    "--config.batch_size=8",
    "--config.checkpoint_every=1000000",
    "--config.eval_every=1000000",
    "--no_progress",
  ]
  proc = subprocess.Popen(
    args,
    cwd=root,
    env=dict(os.environ, PYTHONPATH=str(root)),
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  deadline = time.time() + 240
  while not list((tmp_path / "tensorboard").glob("events.*")) and time.time() < deadline:
    time.sleep(0.5)
  time.sleep(5)  # let it train a little
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=240)
  assert proc.returncode == 143, err[-2000:]  # 128 + SIGTERM: preempted, not finished
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["interrupted"] == results["stop_signal"] == "SIGTERM" and 0 < results["steps"] < 1000000
  saved = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert saved[-1] == results["steps"]


def test_tensorboard_gets_losses_rates_and_learning_rates(tiny_toy_config, tmp_path):
  from events import read_scalars

  from jaxgan.optim import learning_rate_schedule

  c = tiny_toy_config
  c.n_critic = 2
  c.g_optimizer.update(schedule="linear", decay_steps=10, end_value=0.0)
  train_and_evaluate(c, tmp_path, progress=False)
  scalars = read_scalars(tmp_path / "tensorboard")
  # The losses' group is ranked first (jaxgan.summary.GROUPS); this WGAN-GP run has a penalty and a W estimate.
  for tag in (
    "1_losses/critic_loss",
    "1_losses/generator_loss",
    "2_train/gradient_penalty",
    "2_train/wasserstein_estimate",
    "2_train/steps_per_s",
    "3_eval/modes_covered",
  ):
    assert tag in scalars, sorted(scalars)
  g_rates = dict(scalars["2_train/g_learning_rate"])
  d_rates = dict(scalars["2_train/d_learning_rate"])
  assert sorted(g_rates) == [2, 4, 6]
  # Each schedule counts its own optimiser's updates: one per step for G, n_critic per step for D.
  for step in (2, 4, 6):
    assert g_rates[step] == pytest.approx(float(learning_rate_schedule(c.g_optimizer)(step)), rel=1e-6)
    assert d_rates[step] == pytest.approx(c.d_optimizer.learning_rate, rel=1e-6)
  assert g_rates[6] < g_rates[2]


def test_samples_from_fixed_latents_every_evaluation(tiny_toy_config, tmp_path):
  train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  pictures = sorted(p.name for p in (tmp_path / "samples").glob("step_*.png"))
  assert pictures == ["step_00000004.png", "step_00000006.png"]
  assert (tmp_path / "samples.png").read_bytes() == (tmp_path / "samples" / "step_00000006.png").read_bytes()


def test_best_checkpoint_is_the_best_evaluated_state(tiny_toy_config, tmp_path):
  from jaxgan import eval_hook

  c = tiny_toy_config
  c.num_steps, c.eval_every, c.checkpoint_every, c.keep_checkpoints = 8, 2, 2, 10
  c.g_optimizer.learning_rate = c.d_optimizer.learning_rate = 3e-3  # so reverse KL moves between evaluations
  results = train_and_evaluate(c, tmp_path, progress=False)
  assert results["best_checkpoint"]["metric"] == "reverse_kl"
  # Re-evaluate every kept checkpoint independently and find the best by hand.
  gan = build_gan(c)
  template = init_state(gan, jax.random.key(0))
  evaluate = eval_hook.make_evaluator(gan, c)
  eval_key = jax.random.split(jax.random.key(c.seed), 4)[3]
  checkpoints = Checkpointer(tmp_path / "checkpoints", 10)
  values = {}
  for step in checkpoints.all_steps():
    state = checkpoints.manager.restore(
      step, args=__import__("orbax.checkpoint").checkpoint.args.StandardRestore(template)
    )
    values[step] = evaluate(state, eval_key)["reverse_kl"]
  checkpoints.close()
  assert len(set(values.values())) > 1
  best_step = min(values, key=values.get)
  assert results["best_checkpoint"]["step"] == best_step
  best = Checkpointer(tmp_path / "best_checkpoint", 1, "reverse_kl")
  state, step = best.restore_latest(template)
  best.close()
  assert step == best_step
  chex.assert_trees_all_equal(state, _restore_step(tmp_path, c, best_step))


def _restore_step(workdir, config, step):
  import orbax.checkpoint as ocp

  template = init_state(build_gan(config), jax.random.key(0))
  checkpoints = Checkpointer(workdir / "checkpoints", 10)
  try:
    return checkpoints.manager.restore(step, args=ocp.args.StandardRestore(template))
  finally:
    checkpoints.close()


def test_unwritable_workdir_is_refused_and_nothing_written(tiny_toy_config, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  with pytest.raises(ValueError, match="writable --workdir"):
    train_and_evaluate(tiny_toy_config, blocker / "run", progress=False)
  assert blocker.read_text() == "not a folder"


def test_unknown_dataset_name_is_refused(tiny_toy_config, tmp_path):
  tiny_toy_config.data.name = "mnistt"
  with pytest.raises(ValueError, match="Unknown dataset 'mnistt'.*config.data.name"):
    train_and_evaluate(tiny_toy_config, tmp_path, progress=False)


KILL_DURING_SAVE = """
import os, signal, sys, threading, time
import numpy as np
sys.path.insert(0, {root!r})
from jaxgan.checkpoint import Checkpointer

directory = {directory!r}
checkpointer = Checkpointer(directory, 3)
checkpointer.save(1, {{"w": np.full((1024, 1024), 1.0, np.float32), "step": np.asarray(1, np.int32)}})
checkpointer.wait()

def kill_when_step_2_is_being_written():
  while True:
    if any(name.startswith("2") and "tmp" in name for name in os.listdir(directory)):
      os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.0005)

threading.Thread(target=kill_when_step_2_is_being_written, daemon=True).start()
# Large enough that writing it takes far longer than the watcher's polling interval.
checkpointer.save(2, {{"w": np.full((8192, 8192), 2.0, np.float32), "step": np.asarray(2, np.int32)}})
checkpointer.wait()
print("not killed")
"""


def test_kill_during_save_leaves_previous_checkpoint(tmp_path):
  import subprocess
  import sys

  root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
  directory = str(tmp_path / "checkpoints")
  proc = subprocess.run(
    [sys.executable, "-c", KILL_DURING_SAVE.format(root=root, directory=directory)],
    capture_output=True,
    text=True,
    timeout=240,
  )
  assert proc.returncode == -9, proc.stdout + proc.stderr[-3000:]
  leftovers = [p.name for p in (tmp_path / "checkpoints").iterdir()]
  assert any(name.startswith("2") and "tmp" in name for name in leftovers), leftovers  # step 2 was mid-write
  template = {"w": np.zeros((1024, 1024), np.float32), "step": np.asarray(0, np.int32)}
  checkpointer = Checkpointer(directory, 3)
  restored, step = checkpointer.restore_latest(template)
  checkpointer.close()
  assert step == 1 and int(restored["step"]) == 1
  np.testing.assert_array_equal(restored["w"], np.ones((1024, 1024), np.float32))


def _steps_on_disk(directory):
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def _restore_step_any(directory, config, step):
  import orbax.checkpoint as ocp

  template = init_state(build_gan(config), jax.random.key(0))
  checkpoints = Checkpointer(directory, 10)
  try:
    return checkpoints.manager.restore(step, args=ocp.args.StandardRestore(template))
  finally:
    checkpoints.close()


def test_nan_state_is_never_saved_and_the_named_good_checkpoint_exists(tiny_toy_config, tmp_path):
  import re

  c = tiny_toy_config
  c.num_steps, c.checkpoint_every, c.keep_checkpoints, c.log_every, c.eval_every = 3, 1, 2, 100, 1
  train_and_evaluate(c, tmp_path, progress=False)
  exploding = c.copy_and_resolve_references()
  exploding.num_steps = 60  # no log step before the end: only the save-time check sees the NaN
  exploding.d_optimizer.learning_rate = exploding.g_optimizer.learning_rate = 1e30
  with pytest.raises(FloatingPointError, match=r"at step \d+.*the last good checkpoint is step \d+") as error:
    train_and_evaluate(exploding, tmp_path, progress=False)
  stopped, good = map(int, re.search(r"at step (\d+).*last good checkpoint is step (\d+)", str(error.value)).groups())
  assert stopped < 60 and good == stopped - 1  # stopped at the first non-finite save, not at the next log step
  for folder in ("checkpoints", "best_checkpoint"):
    steps = _steps_on_disk(tmp_path / folder)
    assert steps and max(steps) <= good
    for step in steps:
      state = _restore_step_any(tmp_path / folder, c, step)
      assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(state)), (folder, step)
  assert good in _steps_on_disk(tmp_path / "checkpoints")


def test_after_a_corrupt_newest_checkpoint_later_saves_land_and_resume_from_the_newest(tiny_toy_config, tmp_path):
  c = tiny_toy_config
  c.num_steps, c.checkpoint_every, c.eval_every = 4, 2, 100
  train_and_evaluate(c, tmp_path, progress=False)
  for f in (tmp_path / "checkpoints" / "4").rglob("*"):
    if f.is_file():
      f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated
  c.num_steps = 8
  results = train_and_evaluate(c, tmp_path, progress=False)
  assert results["resumed_from"] == 2 and results["steps"] == 8
  names = [p.name for p in (tmp_path / "checkpoints").iterdir()]
  assert _steps_on_disk(tmp_path / "checkpoints") == [4, 6, 8]
  assert [n for n in names if n.startswith("4.corrupt-")], names  # moved aside, not deleted
  assert int(_restore_step_any(tmp_path / "checkpoints", c, 4).step) == 4  # step 4 was saved again, readable
  state, step = _restore(tmp_path, c)
  assert step == 8 and int(state.step) == 8


def _hold_lock(workdir):
  import subprocess
  import sys

  workdir.mkdir(parents=True, exist_ok=True)
  script = (
    "import fcntl, os, sys, time\n"
    f"f = open({str(workdir / '.train.lock')!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
    "f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()\n"
    "print('held', flush=True); time.sleep(60)\n"
  )
  holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  return holder


def test_a_second_training_in_the_same_workdir_is_refused_naming_the_pid(tiny_toy_config, tmp_path):
  import time

  holder = _hold_lock(tmp_path)
  try:
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"workdir .* is in use by another training run \(PID {holder.pid}\)"):
      train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "config.json").exists()
  finally:
    holder.kill()
    holder.wait()
  tiny_toy_config.num_steps = 0  # the lock died with its process: the workdir is free again
  assert train_and_evaluate(tiny_toy_config, tmp_path, progress=False)["steps"] == 0


@pytest.mark.parametrize(
  "field,value",
  [
    ("g_optimizer.learning_rate", float("inf")),
    ("penalty_weight", float("nan")),
    ("d_optimizer.learning_rate", -1e-4),
    ("penalty_weight", -1.0),
    ("d_optimizer.learning_rate", 0.0),
  ],
)
def test_non_finite_or_negative_rates_and_weights_are_refused_at_config_time(tiny_toy_config, tmp_path, field, value):
  section, _, name = field.rpartition(".")
  (tiny_toy_config[section] if section else tiny_toy_config)[name] = value
  with pytest.raises(ValueError, match=rf"config\.{field} must be"):
    train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  assert not list(tmp_path.iterdir())


def test_a_failed_start_does_not_bind_the_workdir(tiny_toy_config, tmp_path):
  typo = tiny_toy_config.copy_and_resolve_references()
  typo.generator.name = "mpl"
  with pytest.raises(ValueError, match="Unknown generator 'mpl'"):
    train_and_evaluate(typo, tmp_path, progress=False)
  assert not (tmp_path / "config.json").exists()
  # A config.json that an older failed start left behind, with no checkpoint, does not bind the workdir either.
  (tmp_path / "config.json").write_text(typo.to_json_best_effort())
  tiny_toy_config.num_steps = 0
  train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  assert json.loads((tmp_path / "config.json").read_text())["generator"]["name"] == "mlp"


def test_resume_checks_the_checkpoints_own_config_not_config_json(tiny_toy_config, tmp_path):
  c = tiny_toy_config
  c.num_steps, c.checkpoint_every, c.eval_every = 2, 2, 100
  train_and_evaluate(c, tmp_path, progress=False)
  other = c.copy_and_resolve_references()
  other.critic.features = (32, 32)
  (tmp_path / "config.json").write_text(other.to_json_best_effort())  # overwritten by anyone: not the reference
  assert train_and_evaluate(c, tmp_path, progress=False)["resumed_from"] == 2
  (tmp_path / "config.json").unlink()
  with pytest.raises(ValueError, match="different critic"):
    train_and_evaluate(other, tmp_path, progress=False)


def test_old_checkpoints_without_stored_config_use_config_json(tiny_toy_config, tmp_path, caplog):
  c = tiny_toy_config
  c.num_steps = 0
  checkpointer = Checkpointer(tmp_path / "checkpoints")
  checkpointer.save(0, init_state(build_gan(c), jax.random.key(0)))  # as written before configs were stored
  checkpointer.close()
  (tmp_path / "config.json").write_text('{\n  "name": ')  # truncated
  with pytest.raises(ValueError, match=r"config\.json is empty, truncated or not a run config") as error:
    train_and_evaluate(c, tmp_path, progress=False)
  assert "\n" not in str(error.value)
  (tmp_path / "config.json").unlink()
  assert train_and_evaluate(c, tmp_path, progress=False)["resumed_from"] == 0
  assert "no config.json" in caplog.text


def test_sigterm_stop_is_recorded_for_the_exit_status(tiny_toy_config, tmp_path, monkeypatch):
  import signal

  from experiments.cli import exit_status  # not experiments.train: its absl flags would clash with other CLIs
  from jaxgan import experiment

  def budget_spent(budget_s, elapsed_s):  # called at each log step, in the main thread, like a signal handler
    signal.raise_signal(signal.SIGTERM)
    return False

  monkeypatch.setattr(experiment, "_budget_spent", budget_spent)
  results = train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  assert results["stop_signal"] == "SIGTERM" and results["steps"] == 2  # the first log step
  assert _steps_on_disk(tmp_path / "checkpoints")[-1] == 2
  assert exit_status(results) == 143 and exit_status({**results, "stop_signal": "SIGINT"}) == 130
  assert exit_status({**results, "stop_signal": None, "interrupted": "collapse"}) == 0


def test_disk_full_while_saving_is_one_clear_error(tiny_toy_config, tmp_path, monkeypatch):
  import errno

  import orbax.checkpoint as ocp

  from jaxgan.checkpoint import CheckpointSaveError

  real_save = ocp.CheckpointManager.save

  def save(self, step, *args, **kwargs):
    if step >= 4:
      raise OSError(errno.ENOSPC, "No space left on device")
    return real_save(self, step, *args, **kwargs)

  monkeypatch.setattr(ocp.CheckpointManager, "save", save)
  tiny_toy_config.checkpoint_every = 2
  with pytest.raises(CheckpointSaveError) as error:
    train_and_evaluate(tiny_toy_config, tmp_path, progress=False)
  message = str(error.value)
  assert "\n" not in message and "No space left on device" in message
  assert "step 4" in message and "the last complete checkpoint is step 2 (in " in message
  assert message.index("(in ") > message.index("the last complete") and "checkpoints)" in message


def test_every_documented_field_is_in_the_configs():
  import importlib
  import pathlib
  import re

  from experiments.configs.base import base_config

  readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
  base = base_config()
  image = importlib.import_module("experiments.configs.dcgan_mnist").get_config()
  for path in sorted(set(re.findall(r"config\.([a-z_][a-z_0-9.]*[a-z_0-9])", readme)) - {"json", "update"}):
    section = image if path.startswith("data.") else base  # the data fields are image data's
    for part in path.split("."):
      assert part in section, f"config.{path} is documented but not in the configs"
      section = section[part]
  critic_fields = set(re.findall(r"`critic\.([a-z_]+)`", readme)) - {"name"}
  assert {"norm", "spectral_norm", "batch_norm"} <= critic_fields
  assert critic_fields <= set(image.critic), sorted(critic_fields - set(image.critic))
  assert "spectral_norm" in base.critic  # the default MLP critic takes it too
  tips = re.search(r"- `tips`: (.*?)\n(?:\n|- )", readme, re.S).group(1)  # up to the next bullet
  for field in re.findall(r"`([a-z_]+)`", tips):
    assert field in base.tips or field in ("one_sided", "two_sided"), field
  ema = re.search(r"- `ema`: (.*?)\n(?:\n|- )", readme, re.S).group(1)
  for field in ("decay", "start_step", "rampup"):
    assert f"`{field}`" in ema and field in base.ema, field
  for field in ("schedule", "decay_steps", "end_value", "warmup_steps", "clip"):
    assert field in base.g_optimizer and field in base.d_optimizer
