"""AC-GAN (Odena et al. 2017): both players' losses and updates against the paper's L_S and L_C (eqs. 2-3) computed
independently, the two-headed critic, and a short toy run in which samples follow their labels."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import classifier_eval, data, nets, train
from jaxgan.metrics import nearest_mode
from jaxgan.train import build_gan, init_state, make_train_step


def _toy_config(width=32):
  from experiments.configs import cgan_toy

  c = cgan_toy.get_config()
  c.name = "acgan_toy"
  c.batch_size = 32
  c.generator.features = (width, width)
  c.critic = ml_collections.ConfigDict({"name": "acgan", "features": (width, width)})
  c.classifier = ml_collections.ConfigDict({"name": "acgan", "class_weight": 1.5})
  return c


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _cross_entropy(logits, labels):
  return -np.mean(_log_softmax(np.asarray(logits, np.float64))[np.arange(len(labels)), np.asarray(labels)])


def _log_sigmoid(x):
  return -np.logaddexp(0.0, -np.asarray(x, np.float64))


def test_two_headed_critic_ignores_the_label_input():
  critic = nets.build_critic(ml_collections.ConfigDict({"name": "acgan", "features": (16, 8)}), num_classes=4)
  x = jax.random.normal(jax.random.key(0), (5, 2))
  params, state = critic.init(jax.random.key(1), (x, jnp.zeros(5, jnp.int32)))
  # Dense 2->16, 16->8, then the source head 8->1 and the class head 8->4.
  assert sum(p.size for p in jax.tree.leaves(params)) == (2 * 16 + 16) + (16 * 8 + 8) + (8 + 1) + (8 * 4 + 4)
  a, _ = critic.apply(params, state, (x, jnp.zeros(5, jnp.int32)), False)
  b, _ = critic.apply(params, state, (x, jnp.arange(5) % 4), False)
  chex.assert_trees_all_equal(a, b)
  chex.assert_shape((a.score, a.class_logits, a.features), ((5,), (5, 4), (5, 8)))


def test_one_step_matches_the_papers_losses():
  c = _toy_config()
  c.g_optimizer.name = c.d_optimizer.name = "sgd"
  lr, weight = float(c.d_optimizer.learning_rate), float(c.classifier.class_weight)
  c.g_optimizer.learning_rate = lr
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  images, labels = data.make_batch_fn(c, jax.random.key(1))(0)
  key = jax.random.key(2)
  new_state, metrics = jax.jit(make_train_step(gan))(state, (images, labels), key)
  real, y = images[0], labels[0]
  step_key = jax.random.fold_in(key, 0)

  def latents(update):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.fold_in(step_key, update), jnp.arange(c.batch_size))
    return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (c.latent_dim,)))(keys)

  generator = lambda p, z: gan.generator.apply(p, state.g_state, (z, y), True)[0]
  critic = lambda p, x: gan.critic.apply(p, state.d_state, (x, y), True)[0]
  fake = generator(state.g_params, latents(0))

  # numpy: L_S (log loss of the source head) and L_C (class cross-entropy on real and fake), Odena et al. eqs. 2-3.
  real_out, fake_out = critic(state.d_params, real), critic(state.d_params, fake)
  source = -_log_sigmoid(real_out.score).mean() - _log_sigmoid(-np.asarray(fake_out.score)).mean()
  classes = _cross_entropy(real_out.class_logits, y) + _cross_entropy(fake_out.class_logits, y)
  chex.assert_trees_all_close(metrics["critic_loss"], source, rtol=1e-5)
  chex.assert_trees_all_close(metrics["class_loss"], classes, rtol=1e-5)
  chex.assert_trees_all_close(metrics["class_accuracy"], np.mean(np.argmax(real_out.class_logits, -1) == y))

  def ce(logits):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], -1))

  def critic_total(p):
    r, f = critic(p, real), critic(p, fake)
    return (
      -jnp.mean(jax.nn.log_sigmoid(r.score))
      - jnp.mean(jax.nn.log_sigmoid(-f.score))
      + weight * (ce(r.class_logits) + ce(f.class_logits))
    )

  expected = jax.tree.map(lambda p, g: p - lr * g, state.d_params, jax.grad(critic_total)(state.d_params))
  chex.assert_trees_all_close(new_state.d_params, expected, atol=1e-6, rtol=1e-5)

  # The generator: its non-saturating source loss plus L_C on its fakes, against the updated critic.
  z = latents(1)
  fake_out = critic(new_state.d_params, generator(state.g_params, z))
  chex.assert_trees_all_close(metrics["generator_loss"], -_log_sigmoid(fake_out.score).mean(), rtol=1e-5)
  chex.assert_trees_all_close(metrics["generator_class_loss"], _cross_entropy(fake_out.class_logits, y), rtol=1e-5)

  def generator_total(p):
    out = critic(new_state.d_params, generator(p, z))
    return -jnp.mean(jax.nn.log_sigmoid(out.score)) + weight * ce(out.class_logits)

  expected = jax.tree.map(lambda p, g: p - lr * g, state.g_params, jax.grad(generator_total)(state.g_params))
  chex.assert_trees_all_close(new_state.g_params, expected, atol=1e-6, rtol=1e-5)


def test_acgan_toy_samples_follow_labels_and_the_critic_classifies():
  c = _toy_config(width=64)
  c.batch_size = 64
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  step = jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  for t in range(400):
    state, _ = step(state, next_batch(t), jax.random.key(2))
  labels = jnp.arange(800) % 8
  samples = train.generate(gan, state, jax.random.key(3), 800, labels)
  nearest, _ = nearest_mode(np.asarray(samples), data.get_toy("ring8").centers)
  follows = float(np.mean(nearest == np.asarray(labels)))
  real, real_labels = data.get_toy("ring8").sample_labeled(jax.random.key(4), (2000,))
  error = classifier_eval.test_error(gan, state, np.asarray(real), np.asarray(real_labels))
  assert follows > 0.8 and error < 0.05, (follows, error)


def test_bad_acgan_configs_raise():
  c = _toy_config()
  c.num_classes = 0
  with pytest.raises(ValueError, match="config.num_classes >= 2"):
    build_gan(c)
  c = _toy_config()
  c.critic.name = "conditional"
  with pytest.raises(ValueError, match="config.critic.name='acgan'"):
    build_gan(c)
  c = _toy_config()
  c.classifier.name = "none"
  c.classifier.feature_matching = True
  c.critic = ml_collections.ConfigDict({"name": "conditional", "features": (8,)})
  with pytest.raises(ValueError, match="feature_matching"):
    build_gan(c)
