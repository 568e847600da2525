"""jaxgan.parallel: the one per-device step under pmap and shard_map equals the one-device step.

Fake CPU devices must be configured before JAX starts, and this pytest process already runs JAX on one device, so the
4-device checks run in subprocesses (tests/parallel_check.py). Both subprocesses start together, once per module,
and run while the in-process parts proceed.
"""

import json
import os
import socket
import subprocess
import sys

import chex
import jax
import orbax.checkpoint as ocp
import parallel_check
import pytest

from jaxgan import parallel
from jaxgan.checkpoint import Checkpointer
from jaxgan.experiment import train_and_evaluate
from jaxgan.train import build_gan, init_state

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parallel_check.py")
DEVICES = 4
TIMEOUT_S = 300


class _Run:
  """A parallel_check.py subprocess; `result()` waits for it and parses the JSON on its last stdout line."""

  def __init__(self, *args, devices=DEVICES):
    # Backend optimisation off: compiling is most of these runs' time, and every mode compiles with the same flags.
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": flags}
    self.args = args
    self.process = subprocess.Popen(
      [sys.executable, SCRIPT, "--devices", str(devices), *args],
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    self._result = None

  def result(self):
    if self._result is None:
      stdout, stderr = self.process.communicate(timeout=TIMEOUT_S)
      assert self.process.returncode == 0, f"parallel_check.py {self.args} failed:\n{stderr[-4000:]}"
      self._result = json.loads(stdout.strip().splitlines()[-1])
    return self._result

  def kill(self):
    if self.process.poll() is None:
      self.process.kill()
      self.process.communicate()


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("parallel")
  # One subprocess per config, so their compilations overlap on two cores.
  started = {name: _Run("equivalence", name) for name in ("wgan_gp_toy", "dcgan_mnist_batch_norm")}
  started["checkpoints"] = _Run("checkpoints", str(root), "4")
  # Two processes with two CPU devices each, joined by jax.distributed on localhost (CPU collectives through gloo).
  coordinator = f"localhost:{_free_port()}"
  for process_id in range(2):
    started[f"process_{process_id}"] = _Run(
      "--coordinator", coordinator, "--num_processes", "2", "--process_id", str(process_id), "distributed", devices=2
    )
  # The same two-process job through train_and_evaluate, after the runs above have had a head start.
  coordinator = f"localhost:{_free_port()}"
  for process_id in range(2):
    started[f"experiment_{process_id}"] = _Run(
      "--coordinator",
      coordinator,
      "--num_processes",
      "2",
      "--process_id",
      str(process_id),
      "experiment",
      str(root),
      "4",
      devices=2,
    )
  yield root, started
  for run in started.values():
    run.kill()


@pytest.mark.parametrize(
  "case",
  ["wgan_gp_toy/pmap", "wgan_gp_toy/shard_map", "dcgan_mnist_batch_norm/pmap", "dcgan_mnist_batch_norm/shard_map"],
)
def test_parallel_step_matches_one_device(runs, case):
  # Three SGD steps on the same global batches and key; the subprocess compares with chex (atol 1e-5).
  result = runs[1][case.split("/")[0]].result()[case]
  assert result["num_devices"] == DEVICES and result["steps"] == 3
  assert result["ok"], result.get("error")
  assert result["max_metric_diff"] < 1e-4
  if case.startswith("dcgan"):
    assert result["has_batch_stats"]  # the synced BatchNorm statistics are part of the compared state
    assert result["has_ema"]  # and so is the generator's moving average


def test_batch_not_divisible_by_devices_is_refused(runs):
  errors = runs[1]["wgan_gp_toy"].result()["divisibility"]
  for mode in ("pmap", "shard_map"):
    assert "batch_size=10" in errors[mode] and "device count 4" in errors[mode], errors[mode]
  with pytest.raises(ValueError, match="batch_size=6 .* device count 4"):
    parallel.check_batch_size(6, 4)


def _restore(workdir, config, step=None):
  template = init_state(build_gan(config), jax.random.key(0))
  checkpointer = Checkpointer(workdir / "checkpoints")
  try:
    if step is None:
      return checkpointer.restore_latest(template)[0]
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    return checkpointer.manager.restore(step, args=ocp.args.StandardRestore(abstract))
  finally:
    checkpointer.close()


def test_checkpoints_move_between_device_counts(runs):
  root, started = runs
  results = started["checkpoints"].result()  # runs "four", "one_then_four" and "straight" under root
  assert results["four"]["parallel"] == "shard_map" and results["four"]["num_devices"] == DEVICES
  assert results["one_then_four"]["resumed_from"] == 2 and results["one_then_four"]["steps"] == 4
  assert results["straight"]["parallel"] == "none" and results["straight"]["num_devices"] == 1
  config = parallel_check.checkpoint_config(6, "none")
  reference_at_4 = _restore(root / "straight", config, step=4)
  # 4 devices from scratch, and 1 device then 4 devices, both reach the one-device state at step 4.
  chex.assert_trees_all_close(_restore(root / "four", config), reference_at_4, atol=1e-5)
  chex.assert_trees_all_close(_restore(root / "one_then_four", config), reference_at_4, atol=1e-5)

  # The 4-device checkpoint continues here, in a process with one device.
  assert jax.device_count() == 1
  resumed = train_and_evaluate(config, root / "four", progress=False)
  assert resumed["resumed_from"] == 4 and resumed["steps"] == 6
  assert resumed["parallel"] == "none" and resumed["num_devices"] == 1
  chex.assert_trees_all_close(_restore(root / "four", config), _restore(root / "straight", config), atol=1e-5)


def test_two_processes_match_one_process(runs):
  one_process = runs[1]["wgan_gp_toy"].result()["wgan_gp_toy/shard_map"]
  for process_id in range(2):
    result = runs[1][f"process_{process_id}"].result()
    assert result["process_count"] == 2 and result["device_count"] == DEVICES
    # Same global batches, key and steps; only the order of the cross-process reduction differs.
    chex.assert_trees_all_close(result["params"], one_process["params"], atol=1e-6)


def test_two_process_experiment_writes_once_and_checkpoints_the_global_state(runs):
  root, started = runs
  results = [started[f"experiment_{i}"].result() for i in range(2)]
  for i, result in enumerate(results):
    assert result["process_index"] == i and result["num_processes"] == 2 and result["num_devices"] == DEVICES
    assert result["steps"] == 4
  workdir = root / "two_processes"
  # Only process 0 writes: one event file, one results file, one picture per evaluation.
  assert len(list((workdir / "tensorboard").glob("events.out.tfevents.*"))) == 1
  assert json.loads((workdir / "results.json").read_text())["num_processes"] == 2
  assert sorted(p.name for p in (workdir / "samples").iterdir()) == ["step_00000004.png"]
  # Each process read half of every batch; the checkpoint both wrote equals the one-process 4-device run's.
  started["checkpoints"].result()
  config = parallel_check.checkpoint_config(4, "none")
  chex.assert_trees_all_close(_restore(workdir, config), _restore(root / "four", config, step=4), atol=1e-5)


def test_auto_and_unknown_modes():
  assert parallel.resolve_mode("auto", 1) == "none"
  assert parallel.resolve_mode("auto", 8) == "shard_map"
  assert parallel.resolve_mode("pmap", 8) == "pmap"
  with pytest.raises(ValueError, match="config.parallel"):
    parallel.resolve_mode("tpu_magic")


def test_none_mode_is_plain_jit(tiny_toy_config):
  # One device: placement is the identity and results.json records the mode actually used.
  step = parallel.make_parallel_train_step(tiny_toy_config, "auto")
  assert step.mode == "none" and step.num_devices == 1
  state = init_state(build_gan(tiny_toy_config), jax.random.key(0))
  assert step.put_state(state) is state and step.unreplicate(state) is state


def test_a_prebuilt_gan_must_fit_the_mode(tiny_toy_config):
  # The run builds its GAN once and hands it over; one built for another device axis would not average BatchNorm
  # statistics (or DRAGAN's noise scale) as the step does.
  with pytest.raises(ValueError, match="axis_name=None"):
    parallel.make_parallel_train_step(tiny_toy_config, "none", gan=build_gan(tiny_toy_config, parallel.AXIS))
  gan = build_gan(tiny_toy_config, parallel.axis_name_for("none"))
  assert parallel.make_parallel_train_step(tiny_toy_config, "none", gan=gan).mode == "none"
