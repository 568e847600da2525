"""jaxgan.ema: the generator's moving average against its closed form, its warm-ups, and its place in a run (the
step, checkpoints written with and without it, evaluation and sampling)."""

import functools
import json
import os
import shutil
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from jaxgan import data, ema, evaluation, sampling
from jaxgan.checkpoint import Checkpointer
from jaxgan.experiment import train_and_evaluate
from jaxgan.gan import complete_state
from jaxgan.train import build_gan, generate, init_state, make_train_step

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint_v0")


class _Generator(NamedTuple):
  """The fields of a GANState that `ema.update` reads."""

  g_params: Any
  g_state: Any
  prior_params: Any


def test_average_of_a_known_sequence_is_the_closed_form():
  # e_0 = p_0 and e_t = d e_{t-1} + (1 - d) p_t give e_T = d^T p_0 + (1 - d) sum_{k=1..T} d^(T-k) p_k.
  decay, steps = 0.9, 6
  rng = np.random.default_rng(0)
  params = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(steps + 1)]
  stats = [rng.uniform(size=(2,)).astype(np.float32) for _ in range(steps + 1)]

  def generator(k):
    return _Generator({"w": params[k]}, {"mean": stats[k], "count": np.int32(k)}, {"mu": 2 * params[k]})

  settings = ema.Settings(decay=decay)
  average = ema.init(generator(0))
  move = jax.jit(lambda a, g, t: ema.update(settings, a, g, t))
  for t in range(1, steps + 1):
    average = move(average, generator(t), t)

  def closed_form(seq):
    seq = [np.float64(x) for x in seq]
    return decay**steps * seq[0] + (1 - decay) * sum(decay ** (steps - k) * seq[k] for k in range(1, steps + 1))

  expected = ema.Average(
    {"w": closed_form(params)},
    {"mean": closed_form(stats), "count": np.int32(steps)},  # integers are copied, not averaged
    {"mu": closed_form([2 * p for p in params])},
  )
  chex.assert_trees_all_close(average, expected, rtol=1e-6, atol=1e-6)
  assert average.g_state["count"].dtype == jnp.int32


def test_warm_up_schedules():
  start = ema.Settings(decay=0.99, start_step=3)
  np.testing.assert_allclose([float(ema.decay_at(start, t)) for t in range(5)], [0, 0, 0, 0.99, 0.99], rtol=1e-6)
  # StyleGAN2-ADA's rampup: half-life min(ln 0.5 / ln beta, rampup * t) steps.
  ramp = ema.Settings(decay=0.999, rampup=0.05)
  got = [float(ema.decay_at(ramp, t)) for t in (0, 10, 100, 100_000)]
  np.testing.assert_allclose(got, [0.0, 0.25, 0.5**0.2, 0.999], rtol=1e-6)  # half-lives 0, 0.5, 5, 693 steps
  # While the decay is 0 the average is the generator, bit for bit.
  g = _Generator({"w": jnp.arange(3.0) / 7}, {}, {})
  copied = ema.update(start, ema.Average({"w": jnp.ones(3)}, {}, {}), g, jnp.int32(2))
  chex.assert_trees_all_equal(copied.g_params, g.g_params)


def test_settings_from_config(tiny_toy_config):
  assert ema.settings_from_config(tiny_toy_config) is None  # off by default
  tiny_toy_config.ema.decay = 0.999
  assert ema.settings_from_config(tiny_toy_config) == ema.Settings(0.999, 0, 0.0)
  tiny_toy_config.ema.decay = 1.0
  with pytest.raises(ValueError, match=r"config.ema.decay must be in \[0, 1\)"):
    build_gan(tiny_toy_config)


@pytest.fixture
def cheap_config(tiny_toy_config):
  """The tiny toy WGAN with one critic update a step and no penalty: quick to compile."""
  tiny_toy_config.n_critic, tiny_toy_config.penalty = 1, "none"
  tiny_toy_config.log_every, tiny_toy_config.eval_every, tiny_toy_config.checkpoint_every = 1000, 1000, 1
  return tiny_toy_config


def _steps(config, steps, state=None, start=0, step_fn=None):
  """States after each of `steps` train steps from `state` (default: a fresh one), donated as the loop does, and the
  compiled step."""
  gan = build_gan(config)
  if state is None:  # jitted: eager initialisation compiles op by op
    state = jax.jit(functools.partial(init_state, gan))(jax.random.key(0))
  step_fn = step_fn or jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(config, jax.random.key(1))
  states = [jax.device_get(state)]
  for t in range(start, start + steps):
    state, _ = step_fn(state, next_batch(t), jax.random.key(2))
    states.append(jax.device_get(state))
  return states, step_fn


def _restore(directory, config, step=None):
  """The newest checkpoint through `restore_latest` (which fills no missing average), or `step` as it is on disk."""
  checkpointer = Checkpointer(directory)
  try:
    template = jax.eval_shape(functools.partial(init_state, build_gan(config)), jax.random.key(0))
    if step is None:
      return checkpointer.restore_latest(template)[0]
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    return checkpointer.manager.restore(step, args=ocp.args.StandardRestore(abstract))
  finally:
    checkpointer.close()


def test_step_averages_the_generator_and_leaves_its_training_unchanged(cheap_config, tmp_path):
  raw, _ = _steps(cheap_config, 3)
  cheap_config.ema.update(decay=0.5, start_step=1)
  averaged, step_fn = _steps(cheap_config, 3)
  assert raw[-1].ema is None
  # Everything but the average is the same, bit for bit.
  chex.assert_trees_all_equal(averaged[-1].replace(ema=None), raw[-1])
  # Step 0 copies (start_step=1); steps 1 and 2 average with 0.5, over the weights after each step's updates.
  g = [s.g_params for s in raw]
  expected = jax.tree.map(lambda g1, g2, g3: 0.25 * g1 + 0.25 * g2 + 0.5 * g3, g[1], g[2], g[3])
  chex.assert_trees_all_close(averaged[-1].ema.g_params, expected, rtol=1e-6, atol=1e-7)
  chex.assert_trees_all_equal(averaged[0].ema.g_params, averaged[0].g_params)  # init_state starts at the generator
  # generate picks the average unless told otherwise.
  gan = build_gan(cheap_config)
  key = jax.random.key(3)
  chex.assert_trees_all_equal(generate(gan, averaged[-1], key, 8, use_ema=False), generate(gan, raw[-1], key, 8))
  chex.assert_trees_all_equal(
    generate(gan, averaged[-1], key, 8),
    generate(gan, averaged[-1].replace(g_params=averaged[-1].ema.g_params), key, 8, use_ema=False),
  )
  # A checkpoint of step 1 continues to the same step 3, bit for bit.
  checkpointer = Checkpointer(tmp_path / "checkpoints")
  checkpointer.save(1, averaged[1])
  checkpointer.close()
  resumed, _ = _steps(cheap_config, 2, _restore(tmp_path / "checkpoints", cheap_config), 1, step_fn)
  chex.assert_trees_all_equal(resumed[-1], averaged[-1])


def test_a_run_without_ema_continues_with_it_and_is_evaluated_with_it(cheap_config, tmp_path):
  # Steps 1-2 written with EMA off (today's structure), step 3 with it on: the average starts at step 2's generator.
  workdir = tmp_path / "run"
  cheap_config.num_steps = 2
  train_and_evaluate(cheap_config, workdir, progress=False)
  cheap_config.num_steps, cheap_config.ema.decay = 3, 0.9
  at_2 = _restore(workdir / "checkpoints", cheap_config)
  assert at_2.ema is None  # the checkpoint holds none; the caller fills it
  results = train_and_evaluate(cheap_config, workdir, progress=False)
  assert results["resumed_from"] == 2 and results["eval_generator"] == "ema"
  at_3 = _restore(workdir / "checkpoints", cheap_config)
  expected = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, at_2.g_params, at_3.g_params)
  chex.assert_trees_all_close(at_3.ema.g_params, expected, rtol=1e-6, atol=1e-7)

  # The average is evaluated and sampled by default (eval.json says so), the trained generator on request.
  assert evaluation.evaluate_run(workdir, num_samples=64, progress=False)["generator"] == "ema"
  assert json.loads((workdir / "eval.json").read_text())["generator"] == "ema"
  gan = build_gan(cheap_config)
  _, files = sampling.sample_run(workdir, tmp_path / "samples.npz", num=16, raw_generator=True)
  with np.load(files[0]) as saved:
    assert str(saved["generator"]) == "raw"
    z = sampling.draw_latents(gan, at_3, jax.random.key(0), 16, use_ema=False)
    np.testing.assert_array_equal(saved["points"], sampling.generate_from_latents(gan, at_3.g_params, at_3.g_state, z))


def test_checkpoint_v0_restores_into_a_run_with_ema(tmp_path):
  # Written by an earlier version, before GANState had the field; its config.json turned EMA on here.
  workdir = tmp_path / "run"
  shutil.copytree(FIXTURE, workdir)
  config = json.loads((workdir / "config.json").read_text())
  config["ema"] = {"decay": 0.999, "start_step": 0, "rampup": 0.0}
  (workdir / "config.json").write_text(json.dumps(config))
  _, gan, state, step = evaluation.load_run(workdir)
  assert step == 3 and gan.ema is not None
  chex.assert_trees_all_equal(state.ema, ema.Average(state.g_params, state.g_state, state.prior_params))
  assert complete_state(gan, state) is state
