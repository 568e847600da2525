"""Multi-device checks run in a fresh process, so fake CPU devices can be set before JAX starts.

    python tests/parallel_check.py --devices 4 equivalence [CONFIG...]  # pmap / shard_map vs one device
    python tests/parallel_check.py --devices 4 checkpoints ROOT N  # train_and_evaluate runs on 1 and 4 devices
    python tests/parallel_check.py --devices 4 throughput        # wgan_gp_toy steps/s for each mode
    python tests/parallel_check.py --devices 2 --coordinator localhost:PORT --num_processes 2 --process_id I distributed
    ... --process_id I experiment ROOT N  # train_and_evaluate over two processes into ROOT/two_processes

Used by tests/test_parallel.py; the last line of stdout is a JSON object.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse():
  parser = argparse.ArgumentParser()
  parser.add_argument("--devices", type=int, default=4)
  parser.add_argument("--coordinator", default=None, help="host:port; joins a jax.distributed job")
  parser.add_argument("--num_processes", type=int, default=1)
  parser.add_argument("--process_id", type=int, default=0)
  parser.add_argument("command", choices=("equivalence", "checkpoints", "throughput", "distributed", "experiment"))
  parser.add_argument("args", nargs="*")
  return parser.parse_args()


def _configs():
  from experiments.configs import dcgan_mnist, wgan_gp_toy

  toy = wgan_gp_toy.get_config()
  toy.batch_size, toy.n_critic = 16, 2
  toy.generator.features = toy.critic.features = (16, 16)
  dcgan = dcgan_mnist.get_config()
  dcgan.batch_size = 8
  dcgan.generator.base_features = dcgan.critic.base_features = 4
  dcgan.ema.decay = 0.5  # the generator's average (weights and BatchNorm statistics) is part of the compared state
  # DiffAugment's draws come from global example indices and LeCam's anchors from pmean'd scores, so both must
  # match one device too (lecam_start 0: R counts from the second step).
  dcgan.augment, dcgan.lecam_weight, dcgan.lecam_start = "color,translation,cutout", 0.3, 0
  for c in (toy, dcgan):
    # SGD: Adam's first steps turn float noise of 1e-7 in a gradient into a step of +-lr.
    c.g_optimizer.name = c.d_optimizer.name = "sgd"
  return {"wgan_gp_toy": toy, "dcgan_mnist_batch_norm": dcgan}


def _batches(config, steps):
  import jax

  from jaxgan import data

  if data.is_toy(config.data):
    next_batch = data.make_batch_fn(config, jax.random.key(1))
    return [next_batch(t) for t in range(steps)]
  shape = (int(config.n_critic), int(config.batch_size), *data.data_shape(config.data))
  return [jax.random.uniform(jax.random.key(100 + t), shape, minval=-1.0, maxval=1.0) for t in range(steps)]


def _init(config):
  """The one-copy initial state; jitted, as eager initialisation of conv nets compiles op by op (seconds)."""
  import functools

  import jax

  from jaxgan.train import build_gan, init_state

  return jax.jit(functools.partial(init_state, build_gan(config)))(jax.random.key(0))


def _param_lists(state):
  """Generator and critic parameters as nested lists (JSON), in tree order."""
  import jax
  import numpy as np

  return [np.asarray(x).ravel().tolist() for x in jax.tree.leaves((state.g_params, state.d_params))]


def _train(config, mode, batches):
  import jax

  from jaxgan.parallel import make_parallel_train_step

  step = make_parallel_train_step(config, mode)
  state = step.put_state(_init(config))
  for batch in batches:
    state, metrics = step(state, batch, jax.random.key(2))
  return jax.device_get(step.unreplicate(state)), step.host_metrics(metrics), step


def equivalence(names=None, steps=3):
  import chex
  import jax
  import numpy as np

  results = {}
  for name, config in _configs().items():
    if names and name not in names:
      continue
    batches = _batches(config, steps)
    reference, ref_metrics, _ = _train(config, "none", batches)
    for mode in ("pmap", "shard_map"):
      state, metrics, step = _train(config, mode, batches)
      entry = {"num_devices": step.num_devices, "steps": int(state.step)}
      diffs = jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))), state, reference)
      entry["max_abs_diff"] = max(jax.tree.leaves(diffs))
      entry["max_metric_diff"] = max(abs(metrics[k] - ref_metrics[k]) for k in ref_metrics)
      entry["has_batch_stats"] = bool(jax.tree.leaves(state.g_state))
      entry["has_ema"] = state.ema is not None
      if name == "wgan_gp_toy" and mode == "shard_map":
        entry["params"] = _param_lists(state)  # compared with a two-process run of the same steps
      try:
        chex.assert_trees_all_close(state, reference, atol=1e-5, rtol=1e-5)
        entry["ok"] = True
      except AssertionError as error:
        entry["ok"], entry["error"] = False, str(error)[:2000]
      results[f"{name}/{mode}"] = entry
  return results


def divisibility():
  """The error each mode gives for a global batch of 10 on 4 devices."""
  from jaxgan.parallel import make_parallel_train_step

  out = {}
  for mode in ("pmap", "shard_map"):
    config = _configs()["wgan_gp_toy"]
    config.batch_size = 10
    try:
      make_parallel_train_step(config, mode)
      out[mode] = "no error"
    except ValueError as error:
      out[mode] = str(error)
  return out


def checkpoint_config(num_steps, mode):
  """A tiny WGAN-GP toy run with SGD, checkpointing every 2 steps (shared with tests/test_parallel.py)."""
  from experiments.configs import wgan_gp_toy

  config = wgan_gp_toy.get_config()
  config.num_steps, config.batch_size, config.n_critic = int(num_steps), 16, 2
  config.log_every = config.checkpoint_every = 2
  config.eval_every, config.eval_samples = 1000, 200
  config.generator.features = config.critic.features = (16, 16)
  config.g_optimizer.name = config.d_optimizer.name = "sgd"
  config.parallel = mode
  return config


def checkpoints(root, num_steps):
  """Writes three runs under `root` for tests/test_parallel.py to compare and continue.

  `four`: shard_map on every device from scratch; `one_then_four`: one device for half the steps, then resumed under
  shard_map; `straight`: one device throughout, for 1.5x the steps (the reference).
  """
  from jaxgan.experiment import train_and_evaluate

  num_steps = int(num_steps)
  plan = (
    ("four", num_steps, "shard_map"),
    ("one_then_four", num_steps // 2, "none"),
    ("one_then_four", num_steps, "shard_map"),
    ("straight", num_steps + num_steps // 2, "none"),
  )
  out = {}
  for name, steps, mode in plan:
    results = train_and_evaluate(checkpoint_config(steps, mode), os.path.join(root, name), progress=False)
    out[name] = {k: results[k] for k in ("parallel", "num_devices", "steps", "resumed_from", "critic_loss")}
  return out


def distributed_steps(steps=3):
  """The equivalence check's shard_map steps of the toy WGAN-GP, over every device of the job."""
  import jax

  from jaxgan.parallel import make_parallel_train_step

  config = _configs()["wgan_gp_toy"]
  batches = _batches(config, steps)
  step = make_parallel_train_step(config, "shard_map")
  state = step.put_state(_init(config))
  for batch in batches:
    state, metrics = step(state, batch, jax.random.key(2))
  return {
    "process_count": jax.process_count(),
    "device_count": jax.device_count(),
    "params": _param_lists(jax.device_get(step.unreplicate(state))),
    "metrics": step.host_metrics(metrics),
  }


def distributed_experiment(root, num_steps):
  """`train_and_evaluate` as every process of a multi-host job runs it: one shared workdir, each process reading
  its shard of each batch, orbax saving collectively, only process 0 writing logs, samples and results."""
  import jax

  from jaxgan.experiment import train_and_evaluate

  results = train_and_evaluate(
    checkpoint_config(int(num_steps), "shard_map"), os.path.join(root, "two_processes"), progress=False
  )
  return {
    "process_index": jax.process_index(),
    "steps": results["steps"],
    "num_devices": results["num_devices"],
    "num_processes": results["num_processes"],
    "critic_loss": results["critic_loss"],
  }


def throughput(steps=200):
  import jax

  from experiments.configs import wgan_gp_toy
  from jaxgan.parallel import make_parallel_train_step

  config = wgan_gp_toy.get_config()  # batch 256, n_critic 5, MLPs 512 wide: the default job
  batches = _batches(config, 8)
  out = {"device_count": jax.device_count()}
  for mode in ("none", "pmap", "shard_map"):
    step = make_parallel_train_step(config, mode)
    state = step.put_state(_init(config))
    placed = [step.put_batch(b) for b in batches]
    state, metrics = step.step(state, placed[0], jax.random.key(2))
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for t in range(steps):
      state, metrics = step.step(state, placed[t % len(placed)], jax.random.key(2))
    jax.block_until_ready(metrics)
    out[mode] = steps / (time.perf_counter() - start)
  return out


def main():
  args = _parse()
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  sys.path.insert(0, ROOT)
  import jax

  jax.config.update("jax_num_cpu_devices", args.devices)
  if args.coordinator:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  if args.command == "equivalence":
    result = {**equivalence(args.args), "divisibility": divisibility()}
  elif args.command == "distributed":
    result = distributed_steps()
  elif args.command == "experiment":
    result = distributed_experiment(*args.args)
  elif args.command == "checkpoints":
    result = checkpoints(*args.args)
  else:
    result = throughput(*(int(a) for a in args.args))
  print(json.dumps(result))


if __name__ == "__main__":
  main()
