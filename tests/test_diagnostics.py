"""jaxgan.diagnostics: the monitor's numbers against independent computations, its alerts on synthetic histories, and
on real runs: a broken GAN (minimax loss, critic 10x the generator's learning rate) fires `d_wins`, a healthy
WGAN-GP fires nothing. The train step's new metrics (verdict accuracies, gradient norms) are checked here too."""

import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan import data, diagnostics, losses
from jaxgan.train import build_gan, generate, init_state, make_train_step


def _settings(**fields):
  return diagnostics.Settings(**fields)


def _metrics(critic_loss=1.0, generator_grad_norm=1.0, gradient_penalty=0.0, wasserstein_estimate=0.0):
  return {
    "critic_loss": critic_loss,
    "generator_grad_norm": generator_grad_norm,
    "gradient_penalty": gradient_penalty,
    "wasserstein_estimate": wasserstein_estimate,
  }


def _feed(state, histories, samples=None):
  """Feeds metrics dicts at steps 100, 200, ...; returns the state and {step: [alert kinds]}."""
  fired = {}
  for i, metrics in enumerate(histories):
    state, alerts = diagnostics.update(state, 100 * (i + 1), metrics, None if samples is None else samples[i])
    if alerts:
      fired[100 * (i + 1)] = [a.kind for a in alerts]
  return state, fired


# ------------------------------------------------------------------------------------------------ numbers


def test_diversity_is_the_mean_pairwise_distance():
  x = np.random.default_rng(0).normal(size=(7, 3, 2)) * 100 + 1e4  # far from 0: the Gram trick must stay accurate
  flat = x.reshape(7, -1)
  brute = np.mean([np.linalg.norm(flat[i] - flat[j]) for i in range(7) for j in range(i + 1, 7)])
  chex.assert_trees_all_close(diagnostics.diversity(x), brute, rtol=1e-9)
  assert diagnostics.diversity(np.ones((5, 2))) == 0.0
  with pytest.raises(ValueError, match="at least 2"):
    diagnostics.diversity(np.ones((1, 2)))


def test_trend_is_the_least_squares_slope_per_thousand_steps():
  steps = np.array([100.0, 200, 400, 700, 800])
  values = np.array([3.0, 2.5, 2.9, 1.0, 0.2])
  slope, _ = np.polyfit(steps, values, 1)
  chex.assert_trees_all_close(diagnostics.trend(steps, values), 1000 * slope, rtol=1e-9)
  assert math.isnan(diagnostics.trend([1.0], [2.0]))


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_chance_loss_is_the_critic_loss_of_a_critic_at_chance(name):
  # Every score at the decision threshold (or all scores equal, for relative losses): the critic cannot tell.
  loss = losses.get_loss(name)
  level = 0.3 if loss.decision_threshold is None else loss.decision_threshold
  scores = jnp.full((6,), level)
  value = float(loss.critic_loss(scores, scores))
  if loss.chance_loss is None:
    assert name in ("wgan", "t_wgan")
  else:
    chex.assert_trees_all_close(value, loss.chance_loss, rtol=1e-6)


def test_discriminator_accuracy_against_numpy():
  real = np.array([2.0, -1.0, 0.5, 3.0])
  fake = np.array([-2.0, 1.0, -0.5])
  got = losses.discriminator_accuracy(jnp.asarray(real), jnp.asarray(fake), 0.0)
  chex.assert_trees_all_close(got, (np.mean(real > 0), np.mean(fake < 0)))
  got = losses.discriminator_accuracy(jnp.asarray(real), jnp.asarray(fake), None)
  chex.assert_trees_all_close(got, (np.mean(real > fake.mean()), np.mean(fake < real.mean())))


def test_train_step_accuracies_and_gradient_norms(tiny_toy_config):
  # SGD with learning rate lr: the update is -lr * grad, so each player's gradient norm is |new - old| / lr.
  c = tiny_toy_config
  c.n_critic, c.loss, c.penalty, c.penalty_weight = 1, "ns_gan", "none", 0.0
  c.g_optimizer.name = c.d_optimizer.name = "sgd"
  lr = float(c.d_optimizer.learning_rate)
  c.g_optimizer.learning_rate = lr
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  batch = data.make_batch_fn(c, jax.random.key(1))(0)
  new_state, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(2))
  d_step = optax.tree.norm(jax.tree.map(lambda a, b: a - b, state.d_params, new_state.d_params))
  g_step = optax.tree.norm(jax.tree.map(lambda a, b: a - b, state.g_params, new_state.g_params))
  chex.assert_trees_all_close(metrics["critic_grad_norm"], d_step / lr, rtol=1e-3)
  chex.assert_trees_all_close(metrics["generator_grad_norm"], g_step / lr, rtol=1e-3)
  # The real verdicts need no latents: recompute them from the critic before its update.
  real_scores, _ = gan.critic.apply(state.d_params, state.d_state, batch[0], True)
  chex.assert_trees_all_close(metrics["real_accuracy"], np.mean(np.asarray(real_scores) > 0))
  assert 0.0 <= float(metrics["fake_accuracy"]) <= 1.0


# ------------------------------------------------------------------------------------------------ alerts


def test_d_wins_fires_once_after_window_checks_and_again_after_clearing():
  state = diagnostics.init(_settings(window=3, d_loss_fraction=0.2))
  low = 0.1 * 2 * math.log(2)
  history = [
    _metrics(1.0),
    _metrics(low),
    _metrics(low),
    _metrics(low),
    _metrics(low),
    _metrics(1.0),
    _metrics(low),
    _metrics(low),
    _metrics(low),
  ]
  state, fired = _feed(state, history)
  assert fired == {400: ["d_wins"], 900: ["d_wins"]}
  assert "critic_loss" in state.alerts[0].message and "d_optimizer.learning_rate" in state.alerts[0].message
  assert diagnostics.scalars(state)["diag/streak/d_wins"] == 3.0


def test_d_wins_is_off_for_wasserstein_losses(tiny_toy_config):
  settings = diagnostics.settings_from_config(tiny_toy_config)  # wgan_gp_toy
  assert settings.chance_loss is None and settings.wasserstein and settings.penalty_weight == 0.1
  state, fired = _feed(diagnostics.init(settings), [_metrics(-50.0)] * 8)
  assert fired == {}
  assert "diag/wasserstein_trend" in diagnostics.scalars(state)


def test_vanishing_generator_gradient_is_relative_to_its_peak():
  state = diagnostics.init(_settings(window=2, vanishing_ratio=1e-3))
  norms = [5.0, 20.0, 1.0, 0.019, 0.019, 0.03]
  _, fired = _feed(state, [_metrics(generator_grad_norm=g) for g in norms])
  assert fired == {500: ["vanishing_generator_gradient"]}


def test_mode_collapse_fires_on_a_fall_not_while_spreading():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(256, 2)) * 2.0
  spreading = [rng.normal(size=(256, 2)) * s for s in (0.05, 0.2, 0.5, 1.0, 2.0)]
  collapsed = [rng.normal(size=(256, 2)) * 0.1 + 3.0 for _ in range(3)]
  state = diagnostics.init(_settings(window=3, diversity_ratio=0.25), reference_samples=real)
  state, fired = _feed(state, [_metrics()] * 8, spreading + collapsed)
  assert fired == {800: ["mode_collapse"]}
  chex.assert_trees_all_close(diagnostics.scalars(state)["diag/diversity"], diagnostics.diversity(collapsed[-1]))


def test_exploding_penalty_uses_the_weighted_penalty():
  state = diagnostics.init(_settings(window=2, penalty_weight=10.0, penalty_threshold=100.0))
  _, fired = _feed(state, [_metrics(gradient_penalty=p) for p in (0.5, 9.0, 11.0, 12.0)])
  assert fired == {400: ["exploding_penalty"]}


def test_non_finite_fires_at_once_and_stop_follows_the_switch():
  settings = _settings(stop=True, stop_on=("non_finite",))
  state, alerts = diagnostics.update(diagnostics.init(settings), 10, _metrics(float("nan")))
  assert [a.kind for a in alerts] == ["non_finite"] and "critic_loss" in alerts[0].message
  assert diagnostics.should_stop(state, alerts)
  assert not diagnostics.should_stop(state._replace(settings=settings._replace(stop=False)), alerts)
  d_wins = [diagnostics.Alert("d_wins", 10, "")]
  assert not diagnostics.should_stop(state, d_wins)


def test_settings_from_config_validate(tiny_toy_config):
  c = tiny_toy_config
  c.diagnostics = diagnostics.default_config()
  c.diagnostics.window = 0
  with pytest.raises(ValueError, match="config.diagnostics.window"):
    diagnostics.settings_from_config(c)
  c.diagnostics = ml_collections.ConfigDict({"stop_on": ("d_wins", "sad_gan")})
  with pytest.raises(ValueError, match="sad_gan"):
    diagnostics.settings_from_config(c)
  c.diagnostics = ml_collections.ConfigDict({"windw": 3})
  with pytest.raises(ValueError, match="windw"):
    diagnostics.settings_from_config(c)
  c.diagnostics = ml_collections.ConfigDict({"diversity_ratio": 1.5})
  with pytest.raises(ValueError, match="diversity_ratio"):
    diagnostics.settings_from_config(c)
  del c.diagnostics
  settings = diagnostics.settings_from_config(c)  # defaults without the section
  assert settings.enabled and settings.window == 5 and settings.mode_centers.shape == (25, 2)


def test_real_samples_of_every_batch_form():
  images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
  labels = np.zeros((2, 3), np.int32)
  for batch in (images, (images, labels), (images, images[:, :1], labels[:, :1])):
    np.testing.assert_array_equal(diagnostics.real_samples(batch), images[0])


# ------------------------------------------------------------------------------------------------ real runs


def _monitored_run(config, steps, log_every=20):
  """Trains with the one train step and checks at every log step, as the experiment loop does."""
  gan = build_gan(config)
  state = init_state(gan, jax.random.key(0))
  step_fn = jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(config, jax.random.key(1))
  settings = diagnostics.settings_from_config(config)
  monitor = diagnostics.init(settings, reference_samples=diagnostics.real_samples(next_batch(0)))
  sample = jax.jit(lambda s: generate(gan, s, jax.random.key(7), settings.num_samples))  # fixed latents
  for t in range(steps):
    state, metrics = step_fn(state, next_batch(t), jax.random.key(2))
    if (t + 1) % log_every == 0:
      host = {k: float(v) for k, v in jax.device_get(metrics).items()}
      monitor, _ = diagnostics.update(monitor, t + 1, host, np.asarray(sample(state)))
  return monitor


def test_minimax_gan_with_a_fast_critic_fires_d_wins():
  from experiments.configs import gan_toy

  c = gan_toy.get_config()
  c.loss = "gan"  # the saturating minimax loss
  c.g_optimizer.learning_rate, c.d_optimizer.learning_rate = 1e-3, 1e-2
  c.data.name, c.batch_size = "ring8", 64
  c.critic.features, c.generator.features = (128, 128, 128), (16, 16)
  monitor = _monitored_run(c, 500)
  kinds = {a.kind for a in monitor.alerts}
  assert "d_wins" in kinds, [c.critic_loss for c in monitor.checks]


def test_healthy_wgan_gp_fires_nothing():
  from experiments.configs import wgan_gp_toy

  c = wgan_gp_toy.get_config()
  c.batch_size = 64
  c.generator.features = c.critic.features = (64, 64, 64)
  monitor = _monitored_run(c, 300)
  assert monitor.alerts == (), monitor.alerts
  scalars = diagnostics.scalars(monitor)
  assert scalars["diag/diversity_vs_real"] > 0.25 and "diag/wasserstein_trend" in scalars
