"""Every config builds and trains a step with tiny nets; the CLI runs the default job end to end."""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxgan import nets, semi_supervised
from jaxgan.batch import SemiSupervisedBatch
from jaxgan.data import data_shape
from jaxgan.train import build_gan, init_state, make_train_step

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG_NAMES = sorted(
  p.stem for p in (ROOT / "experiments" / "configs").glob("*.py") if p.stem not in ("__init__", "base")
)
REQUIRED = ("num_steps", "batch_size", "seed", "n_critic", "log_every", "eval_every", "parallel", "data")


def _tiny(config):
  for net in (config.generator, config.critic):
    for field, value in (("features", (8,)), ("base_features", 4), ("head_features", (8,)), ("embedding", 8)):
      if field in net:
        net[field] = value
  for kind, registry in (("generator", nets.GENERATORS), ("critic", nets.CRITICS)):
    net = config[kind]
    if "conv_impl" in registry[net.name].__dataclass_fields__:
      # XLA's own convolutions compile several times faster than the CPU form (tests/test_conv.py checks that both
      # compute the same function); this test checks that the config builds and trains.
      net.conv_impl = "xla"
  config.batch_size = 4
  # Two critic updates still run the unrolled critic loop; five compile each convolutional critic update again.
  config.n_critic = min(config.n_critic, 2)
  return config


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_trains_one_step(name):
  config = _tiny(importlib.import_module(f"experiments.configs.{name}").get_config())
  for field in REQUIRED:
    assert field in config, f"{name} lacks {field}"
  assert config.name == name
  gan = build_gan(config)
  state = init_state(gan, jax.random.key(0))
  batch = jax.random.uniform(jax.random.key(1), (config.n_critic, 4, *data_shape(config.data)), minval=-1, maxval=1)
  if config.num_classes:
    batch = (batch, jax.random.randint(jax.random.key(3), (config.n_critic, 4), 0, config.num_classes))
  if semi_supervised.uses_labelled_batch(config):
    batch = SemiSupervisedBatch(batch, batch, jax.random.randint(jax.random.key(3), (config.n_critic, 4), 0, 10))
  state, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(2))
  assert int(state.step) == 1
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_paper_presets():
  load = lambda n: importlib.import_module(f"experiments.configs.{n}").get_config()
  gp = load("wgan_gp_toy")
  assert (gp.penalty_weight, gp.batch_size, gp.n_critic, gp.g_optimizer.learning_rate) == (0.1, 256, 5, 1e-4)
  assert (gp.d_optimizer.b1, gp.d_optimizer.b2, gp.generator.activation) == (0.5, 0.9, "relu")
  w = load("wgan_mnist")
  assert (w.d_optimizer.name, w.d_optimizer.learning_rate, w.d_optimizer.clip, w.n_critic) == ("rmsprop", 5e-5, 0.01, 5)
  gpm = load("wgan_gp_mnist")
  assert (gpm.penalty_weight, gpm.critic.batch_norm, gpm.d_optimizer.b2) == (10.0, False, 0.9)
  g = load("gan_toy")
  assert (g.n_critic, g.d_optimizer.learning_rate, g.d_optimizer.b2) == (1, 2e-4, 0.999)


@pytest.mark.slow
def test_default_job_cli_end_to_end(tmp_path):
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  args = [
    sys.executable,
    "-m",
    "experiments.train",
    f"--workdir={tmp_path}",
    "--config.num_steps=40",
    "--config.eval_every=20",
    "--config.log_every=10",
    "--config.eval_samples=500",
    "--no_progress",
  ]
  done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["steps"] == 40 and results["config"]["name"] == "wgan_gp_toy_tuned"
  assert "modes_covered=" in done.stdout
  # Rerun with more steps continues from the checkpoint.
  more = subprocess.run(
    args[:-5] + ["--config.num_steps=50", "--no_progress"],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert more.returncode == 0, more.stderr[-3000:]
  again = json.loads((tmp_path / "results.json").read_text())
  assert again["steps"] == 50 and again["resumed_from"] == 40


def test_cli_rejects_unknown_override(tmp_path):
  done = subprocess.run(
    [sys.executable, "-m", "experiments.train", f"--workdir={tmp_path}", "--config.nmu_steps=3"],
    cwd=ROOT,
    env=dict(os.environ, PYTHONPATH=str(ROOT)),
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert done.returncode == 1 and "nmu_steps" in done.stderr
  # One line naming the flag and the fix, no traceback.
  assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr
  assert "--config.nmu_steps" in done.stderr and "'num_steps'" in done.stderr and "--print_config" in done.stderr
