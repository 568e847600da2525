import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import data
from jaxgan.train import build_gan, generate, has_conv, init_state, make_train_step, scans_critic_loop


def _count(opt_state) -> int:
  counts = optax.tree_utils.tree_get_all_with_path(opt_state, "count")
  return int(counts[0][1])


def _run(config, steps, seed=0):
  gan = build_gan(config)
  state = init_state(gan, jax.random.key(seed))
  step_fn = jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(config, jax.random.key(seed + 1))
  metrics = None
  for t in range(steps):
    state, metrics = step_fn(state, next_batch(t), jax.random.key(seed + 2))
  return state, metrics, step_fn


def test_n_critic_critic_updates_and_one_generator_update(tiny_toy_config):
  tiny_toy_config.n_critic = 3
  state, _, _ = _run(tiny_toy_config, 2)
  assert _count(state.d_opt_state) == 6
  assert _count(state.g_opt_state) == 2
  assert int(state.step) == 2


def test_step_compiles_once(tiny_toy_config):
  _, _, step_fn = _run(tiny_toy_config, 4)
  assert step_fn._cache_size() == 1


def test_same_seed_same_params_different_seed_differs(tiny_toy_config):
  a, ma, _ = _run(tiny_toy_config, 3, seed=0)
  b, mb, _ = _run(tiny_toy_config, 3, seed=0)
  c, _, _ = _run(tiny_toy_config, 3, seed=5)
  chex.assert_trees_all_equal((a.g_params, a.d_params, ma), (b.g_params, b.d_params, mb))
  assert not np.allclose(np.asarray(a.g_params["Dense_0"]["kernel"]), np.asarray(c.g_params["Dense_0"]["kernel"]))


def test_metrics_match_independent_computation(tiny_toy_config):
  # One step with n_critic=1 and SGD: recompute the critic's loss, penalty and W estimate by hand from the same draws.
  c = tiny_toy_config
  c.n_critic = 1
  c.d_optimizer.name = "sgd"
  c.penalty_weight = 10.0
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  batch = data.make_batch_fn(c, jax.random.key(1))(0)
  key = jax.random.key(2)
  new_state, metrics = make_train_step(gan)(state, batch, key)

  step_key = jax.random.fold_in(jax.random.fold_in(key, 0), 0)
  keys = jax.vmap(jax.random.fold_in, (None, 0))(step_key, jnp.arange(c.batch_size))
  z = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (c.latent_dim,)))(keys)
  fake, _ = gan.generator.apply(state.g_params, state.g_state, z, True)
  eps = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, 1), ()))(keys)
  real = batch[0]
  critic = lambda p, x: gan.critic.apply(p, {}, x, True)[0]
  x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
  grad_one = jax.vmap(jax.grad(lambda x: critic(state.d_params, x[None])[0]))(x_hat)  # one sample at a time
  penalty = jnp.mean((jnp.linalg.norm(grad_one, axis=-1) - 1) ** 2)
  w_est = jnp.mean(critic(state.d_params, real)) - jnp.mean(critic(state.d_params, fake))
  chex.assert_trees_all_close(metrics["gradient_penalty"], penalty, rtol=1e-4)
  chex.assert_trees_all_close(metrics["wasserstein_estimate"], w_est, rtol=1e-5)
  chex.assert_trees_all_close(metrics["critic_loss"], -w_est, rtol=1e-5)

  def total(p):
    x_hat_grad = jax.vmap(jax.grad(lambda x: critic(p, x[None])[0]))(x_hat)
    gp = jnp.mean((jnp.sqrt(jnp.sum(x_hat_grad**2, -1) + 1e-12) - 1) ** 2)
    return jnp.mean(critic(p, fake)) - jnp.mean(critic(p, real)) + 10.0 * gp

  grads = jax.grad(total)(state.d_params)
  expected = jax.tree.map(lambda p, g: p - c.d_optimizer.learning_rate * g, state.d_params, grads)
  chex.assert_trees_all_close(new_state.d_params, expected, rtol=1e-4, atol=1e-7)


def test_wrong_batch_shape_is_rejected(tiny_toy_config):
  gan = build_gan(tiny_toy_config)
  state = init_state(gan, jax.random.key(0))
  with pytest.raises(ValueError, match="n_critic"):
    make_train_step(gan)(state, jnp.zeros((1, 16, 2)), jax.random.key(0))


@pytest.mark.parametrize(
  "field,value,match",
  [
    ("loss", "wgann", "config.loss"),
    ("prior", "cauchy", "config.prior"),
    ("penalty", "r2", "config.penalty"),
    ("n_critic", 0, "n_critic"),
    ("critic_loop", "while", "config.critic_loop"),
    ("update_order", "generator_last", "config.update_order"),
    ("update_order", "generator_first", "n_critic = config.n_generator = 1"),
  ],
)
def test_bad_config_values_raise(tiny_toy_config, field, value, match):
  tiny_toy_config[field] = value
  with pytest.raises(ValueError, match=match):
    build_gan(tiny_toy_config)


def test_batch_norm_critic_with_penalty_is_rejected():
  from experiments.configs import wgan_gp_mnist

  c = wgan_gp_mnist.get_config()
  c.critic.batch_norm = True
  with pytest.raises(ValueError, match="batch_norm"):
    build_gan(c)


def test_generate_shapes(tiny_toy_config):
  gan = build_gan(tiny_toy_config)
  state = init_state(gan, jax.random.key(0))
  chex.assert_shape(generate(gan, state, jax.random.key(1), 7), (7, 2))


def test_learning_rate_schedules():
  import ml_collections

  from jaxgan.optim import build_optimizer, learning_rate_schedule

  c = ml_collections.ConfigDict(
    dict(name="sgd", learning_rate=1.0, schedule="linear", decay_steps=10, end_value=0.0, warmup_steps=5, clip=0.0)
  )
  schedule = learning_rate_schedule(c)
  chex.assert_trees_all_close([float(schedule(i)) for i in (0, 5, 10, 15)], [0.0, 1.0, 0.5, 0.0], atol=1e-6)
  c.schedule, c.warmup_steps = "cosine", 0
  chex.assert_trees_all_close(float(learning_rate_schedule(c)(5)), 0.5, atol=1e-6)
  # SGD with the schedule moves a parameter by lr(t) * grad at update t.
  c.schedule = "exponential"
  tx = build_optimizer(c)
  params = jnp.zeros(())
  state = tx.init(params)
  moves = []
  for _ in range(3):
    updates, state = tx.update(jnp.ones(()), state, params)
    moves.append(float(updates))
  chex.assert_trees_all_close(moves, [-1.0, -(0.5**0.1), -(0.5**0.2)], rtol=1e-5)
  c.schedule = "step"
  with pytest.raises(ValueError, match="schedule"):
    build_optimizer(c)


def test_critic_dropout_gets_a_key_and_is_reproducible():
  from experiments.configs import bench_dcgan32

  c = bench_dcgan32.get_config()
  c.batch_size = 4
  c.generator.base_features = 4
  c.critic.base_features = 4
  c.generator.conv_impl = c.critic.conv_impl = "xla"  # compiles faster; the dropout key is under test

  def one_step(rate):
    c.critic.dropout_rate = rate
    gan = build_gan(c)
    state = init_state(gan, jax.random.key(0))
    batch = jax.random.uniform(jax.random.key(1), (1, 4, 32, 32, 1), minval=-1, maxval=1)
    return jax.jit(make_train_step(gan))(state, batch, jax.random.key(2))

  a, ma = one_step(0.25)
  b, mb = one_step(0.25)
  chex.assert_trees_all_equal((a.d_params, ma), (b.d_params, mb))
  _, m0 = one_step(0.0)
  assert float(ma["critic_loss"]) != float(m0["critic_loss"])  # the masks changed the critic's scores


def test_scanned_and_unrolled_critic_loops_agree(tiny_toy_config):
  # An MLP GAN scans its critic updates by default; unrolled, the same two steps differ by float reassociation only.
  # Without the penalty: its double backward is most of the compile time, and the loop is what is compared.
  c = tiny_toy_config
  c.n_critic, c.batch_size, c.penalty, c.penalty_weight = 2, 8, "none", 0.0
  runs = {}
  for loop in ("auto", "unroll"):
    tiny_toy_config.critic_loop = loop
    runs[loop] = _run(tiny_toy_config, 2)[:2]
  chex.assert_trees_all_close(runs["auto"], runs["unroll"], rtol=1e-5, atol=1e-6)
  tiny_toy_config.critic_loop = "auto"
  assert scans_critic_loop(build_gan(tiny_toy_config))


def test_auto_critic_loop_unrolls_convolutional_gans():
  from experiments.configs import wgan_gp_mnist

  c = wgan_gp_mnist.get_config()
  c.generator.base_features = c.critic.base_features = 4
  assert c.n_critic > 1 and c.critic_loop == "auto"
  assert has_conv(build_gan(c)) and not scans_critic_loop(build_gan(c))
  c.critic_loop = "scan"
  assert scans_critic_loop(build_gan(c))


def test_init_state_compiles_once_per_gan_and_equals_op_by_op(tiny_toy_config):
  from jaxgan import gan as gan_lib

  tiny_toy_config.generator.features = [8, 8]  # a list, as a config read back from JSON has: not hashable
  gan = build_gan(tiny_toy_config)
  compiled = [init_state(gan, jax.random.key(seed)) for seed in (0, 1)]
  program = gan_lib._compiled_init(gan_lib._Identity(gan))
  assert program._cache_size() == 1  # one program for both keys
  assert gan_lib._compiled_init(gan_lib._Identity(build_gan(tiny_toy_config))) is not program  # another GAN
  chex.assert_trees_all_close(compiled[1], gan_lib._init_state(gan, jax.random.key(1)), rtol=1e-6, atol=1e-7)
  assert not np.array_equal(compiled[0].g_params["Dense_0"]["kernel"], compiled[1].g_params["Dense_0"]["kernel"])
