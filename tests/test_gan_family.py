"""DeLiGAN's prior, the T-GAN pair critic and the training tips, all through the one train step."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses, priors, train, updates
from jaxgan.train import Tips, build_gan, init_state, make_train_step


def _one_step(config, seed=0):
  gan = build_gan(config)
  state = init_state(gan, jax.random.key(seed))
  batch = jax.random.normal(jax.random.key(seed + 1), (config.n_critic, config.batch_size, 2))
  new_state, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(seed + 2))
  return gan, state, new_state, metrics


def _deligan(config):
  config.prior = "deligan"
  config.deligan = {"num_components": 5, "sigma_init_min": 0.05, "sigma_init_max": 0.2, "sigma_reg": 0.05}
  return config


def test_deligan_sampling_matches_its_mixture():
  prior = priors.deligan_prior(num_components=1, sigma_init_min=0.1, sigma_init_max=0.2)
  params = prior.init(jax.random.key(0), (3,))
  keys = jax.random.split(jax.random.key(1), 20000)
  z = np.asarray(jax.vmap(lambda k: prior.sample(params, k, (3,)))(keys))
  chex.assert_trees_all_close(z.mean(0), np.asarray(params["mu"][0]), atol=0.01)
  chex.assert_trees_all_close(z.std(0), np.asarray(priors.deligan_sigma(params)[0]), rtol=0.03)
  sigma = np.asarray(priors.deligan_sigma(params))
  assert np.all((sigma > 0.1 - 1e-6) & (sigma <= 0.2 + 1e-6))


def test_deligan_mu_and_sigma_are_trained(tiny_toy_config):
  c = _deligan(tiny_toy_config)
  c.loss = "ns_gan"
  c.penalty = "none"
  _, state, new_state, metrics = _one_step(c)
  for name in ("mu", "rho"):
    assert not np.allclose(np.asarray(state.prior_params[name]), np.asarray(new_state.prior_params[name]))
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_deligan_regulariser_gradient_pushes_sigma_towards_one():
  prior = priors.deligan_prior(num_components=4, sigma_reg=0.05)
  params = prior.init(jax.random.key(0), (2,))
  grads = jax.grad(prior.regularizer)(params)
  # sigma < 1 everywhere at init, so descending the regulariser raises rho (and sigma).
  assert bool(jnp.all(grads["rho"] < 0)) and bool(jnp.all(grads["mu"] == 0))
  sigma = priors.deligan_sigma(params)
  expected = 0.05 * 2 * (sigma - 1) / sigma.size * jax.nn.sigmoid(params["rho"])
  chex.assert_trees_all_close(grads["rho"], expected, rtol=1e-5)


def test_bad_deligan_options():
  with pytest.raises(ValueError, match="num_components"):
    priors.deligan_prior(num_components=0)
  with pytest.raises(ValueError, match="Bad options"):
    priors.get_prior("deligan", {"components": 3})


def _tgan(config):
  config.critic = {
    "name": "tgan",
    "encoder": "mlp",
    "features": (8, 8),
    "head_features": (8,),
    "activation": "relu",
    "spectral_norm": True,
  }
  config.penalty = "none"
  config.n_critic = 1
  config.n_generator = 2
  return config


def test_tgan_step_counts_and_runs(tiny_toy_config):
  c = _tgan(tiny_toy_config)
  c.loss = "t_sgan"
  gan, state, new_state, metrics = _one_step(c)
  assert gan.critic.pairwise

  g_count = optax.tree_utils.tree_get_all_with_path(new_state.g_opt_state, "count")[0][1]
  d_count = optax.tree_utils.tree_get_all_with_path(new_state.d_opt_state, "count")[0][1]
  assert (int(g_count), int(d_count)) == (2, 1)
  assert "batch_stats" in new_state.d_state  # spectral-norm power-iteration vectors
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_t_sgan_is_twice_rsgan_for_a_difference_critic():
  c_real = jnp.array([0.3, -1.0, 2.0, 0.1])
  c_fake = jnp.array([-0.5, 0.4, 1.0, -2.0])
  t_rf, t_fr = c_real - c_fake, c_fake - c_real
  rsgan, t_sgan = losses.get_loss("rsgan"), losses.get_loss("t_sgan")
  chex.assert_trees_all_close(t_sgan.critic_loss(t_rf, t_fr), 2 * rsgan.critic_loss(c_real, c_fake), rtol=1e-6)
  chex.assert_trees_all_close(t_sgan.generator_loss(t_rf, t_fr), 2 * rsgan.generator_loss(c_real, c_fake), rtol=1e-6)


def test_t_wgan_losses_closed_form():
  t_rf, t_fr = jnp.array([1.0, 2.0]), jnp.array([-0.5, 0.5])
  t_wgan = losses.get_loss("t_wgan")
  chex.assert_trees_all_close(t_wgan.critic_loss(t_rf, t_fr), jnp.mean(t_fr) - jnp.mean(t_rf))
  chex.assert_trees_all_close(t_wgan.generator_loss(t_rf, t_fr), jnp.mean(t_rf) - jnp.mean(t_fr))


@pytest.mark.parametrize("loss,depends", [("t_sgan", True), ("t_wgan", True), ("ns_gan", False)])
def test_generator_gradient_depends_on_real_batch_only_for_tgan(tiny_toy_config, loss, depends):
  c = _tgan(tiny_toy_config) if loss.startswith("t_") else tiny_toy_config
  c.loss = loss
  c.penalty = "none"
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  z = jax.random.normal(jax.random.key(1), (16, 2))

  def g_loss(g_params, real):
    fake, _ = gan.generator.apply(g_params, state.g_state, z, True)
    if gan.critic.pairwise:
      (t_rf, t_fr), _ = gan.critic.apply(state.d_params, state.d_state, jnp.stack([real, fake]), True)
      return gan.loss.generator_loss(t_rf, t_fr)
    fake_scores, _ = gan.critic.apply(state.d_params, state.d_state, fake, True)
    return gan.loss.generator_loss(None, fake_scores)

  g1 = jax.grad(g_loss)(state.g_params, jax.random.normal(jax.random.key(2), (16, 2)))
  g2 = jax.grad(g_loss)(state.g_params, 3 + jax.random.normal(jax.random.key(3), (16, 2)))
  same = all(np.allclose(a, b) for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)))
  assert same != depends


def test_penalty_with_pair_critic_is_rejected(tiny_toy_config):
  c = _tgan(tiny_toy_config)
  c.penalty = "gradient_penalty"
  with pytest.raises(ValueError, match="pair critic"):
    build_gan(c)


def test_spectral_norm_critic_with_penalty_is_allowed(tiny_toy_config):
  tiny_toy_config.critic.spectral_norm = True
  _, _, new_state, metrics = _one_step(tiny_toy_config)
  assert "batch_stats" in new_state.d_state and float(metrics["gradient_penalty"]) > 0


def test_soft_targets_ranges_and_flip_rate():
  keys = jax.random.split(jax.random.key(0), 20000)
  real, fake = updates.soft_targets(Tips(label_smoothing="two_sided"), keys)
  assert float(real.min()) > 0.9 and float(real.max()) <= 1.0
  assert float(fake.min()) >= 0.0 and float(fake.max()) < 0.1
  real, fake = updates.soft_targets(Tips(label_smoothing="one_sided"), keys)
  assert bool(jnp.all(real == 0.9)) and bool(jnp.all(fake == 0.0))
  real, fake = updates.soft_targets(Tips(flip_fraction=0.05), keys)
  assert abs(float(jnp.mean(real == 0.0)) - 0.05) < 0.01 and abs(float(jnp.mean(fake == 1.0)) - 0.05) < 0.01


def test_instance_noise_anneals_to_zero():
  tips = Tips(instance_noise=0.5, instance_noise_anneal_steps=100)
  keys = jax.random.split(jax.random.key(0), 4000)
  x = jnp.zeros((4000, 3))
  early = updates.instance_noise(tips, jnp.asarray(0), keys, x)
  half = updates.instance_noise(tips, jnp.asarray(50), keys, x)
  late = updates.instance_noise(tips, jnp.asarray(150), keys, x)
  chex.assert_trees_all_close(float(jnp.std(early)), 0.5, rtol=0.03)
  chex.assert_trees_all_close(half, early / 2, rtol=1e-5)
  assert float(jnp.max(jnp.abs(late))) == 0.0


def test_tips_train_and_validate(tiny_toy_config):
  c = tiny_toy_config
  c.loss, c.penalty = "ns_gan", "none"
  c.tips = {
    "label_smoothing": "two_sided",
    "flip_fraction": 0.05,
    "instance_noise": 0.1,
    "instance_noise_anneal_steps": 10,
  }
  _, _, _, metrics = _one_step(c)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  c.loss = "wgan"
  with pytest.raises(ValueError, match="log loss"):
    build_gan(c)
  c.loss = "ns_gan"
  c.tips = {"label_smoothing": "three_sided"}
  with pytest.raises(ValueError, match="label_smoothing"):
    build_gan(c)


def test_conditional_samples_follow_their_labels():
  # cgan_toy on the 8-Gaussian ring, each mode a class: after a short run, most samples of class k lie nearest mode k.
  from experiments.configs import cgan_toy
  from jaxgan import data
  from jaxgan.metrics import nearest_mode

  c = cgan_toy.get_config()
  c.batch_size = 128
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  step = jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  for t in range(600):
    state, _ = step(state, next_batch(t), jax.random.key(2))
  labels = jnp.arange(800) % 8
  samples = train.generate(gan, state, jax.random.key(3), 800, labels)
  nearest, _ = nearest_mode(np.asarray(samples), data.get_toy("ring8").centers)
  accuracy = float(np.mean(nearest == np.asarray(labels)))
  assert accuracy > 0.8, accuracy
  with pytest.raises(ValueError, match="labels"):
    train.generate(gan, state, jax.random.key(3), 8, jnp.zeros(4, jnp.int32))


def test_conditional_config_mismatch_is_rejected(tiny_toy_config):
  tiny_toy_config.num_classes = 10
  with pytest.raises(ValueError, match="num_classes"):
    build_gan(tiny_toy_config)
