"""DiffAugment and LeCam switched on in the train step (`config.augment`, `config.lecam_*`), against hand-composed
references on the same keys: the documented per-example streams (purpose 5 for augmentation, 0 real / 1 fake within
it), the penalty between the augmented images, the anchors stepped before the regulariser (google/lecam-gan's order)
and R joining the loss only after `lecam_start`. Tiny MLP nets on 8x8 images keep each compile short."""

import json
import os
import shutil

import chex
import jax
import jax.numpy as jnp
import ml_collections
import pytest

from jaxgan import augment, regularizers, updates
from jaxgan.batch import Batch
from jaxgan.checkpoint import Checkpointer
from jaxgan.gan import complete_state
from jaxgan.train import build_gan, init_state, make_train_step

POLICY = "color,translation,cutout"
SHAPE = (8, 8, 1)
BATCH = 8
LR = 0.05


def _config(**fields) -> ml_collections.ConfigDict:
  """WGAN-GP with SGD and tiny MLPs on 8x8 images; `fields` override top-level fields."""
  from experiments.configs import wgan_gp_toy

  c = wgan_gp_toy.get_config()
  c.batch_size, c.n_critic, c.latent_dim = BATCH, 1, 4
  c.data = ml_collections.ConfigDict({"name": "tiny_images", "image_shape": SHAPE})
  c.generator = ml_collections.ConfigDict(
    {"name": "mlp", "features": (16,), "activation": "relu", "output_activation": "tanh"}
  )
  c.critic = ml_collections.ConfigDict({"name": "mlp", "features": (16,), "activation": "relu"})
  c.g_optimizer.name = c.d_optimizer.name = "sgd"
  c.g_optimizer.learning_rate = c.d_optimizer.learning_rate = LR
  c.g_optimizer.momentum = c.d_optimizer.momentum = 0.0
  for field, value in fields.items():
    c[field] = value
  return c


def _real(seed=1):
  return jax.random.uniform(jax.random.key(seed), (1, BATCH, *SHAPE), minval=-1.0, maxval=1.0)


def _example_keys(update_key):
  return jax.vmap(jax.random.fold_in, (None, 0))(update_key, jnp.arange(BATCH))


def _purpose(keys, purpose):
  return jax.vmap(lambda k: jax.random.fold_in(k, purpose))(keys)


def _sgd(params, grads):
  return jax.tree.map(lambda p, g: p - LR * g, params, grads)


def test_step_with_augment_equals_hand_composed_reference():
  gan = build_gan(_config(augment=POLICY))
  state = init_state(gan, jax.random.key(0))
  real, key = _real(), jax.random.key(2)
  new, metrics = jax.jit(make_train_step(gan))(state, real, key)

  def hand(state, real, key):
    critic = lambda p, x: gan.critic.apply(p, {}, x, True)[0]
    fakes = lambda g, keys: gan.generator.apply(g, {}, jax.vmap(lambda k: jax.random.normal(k, (4,)))(keys), True)[0]
    step_key = jax.random.fold_in(key, 0)
    keys = _example_keys(jax.random.fold_in(step_key, 0))  # the critic update's
    g_keys = _example_keys(jax.random.fold_in(step_key, 1))  # the generator update's
    # Purpose 5 of each example's key, then 0 for its real image and 1 for its fake; one call for the three batches
    # (each example's draws depend on its own key only), so the reference compiles the ops once.
    augment_keys = [_purpose(_purpose(k, 5), which) for k, which in ((keys, 0), (keys, 1), (g_keys, 1))]
    images = [real[0], fakes(state.g_params, _purpose(keys, 0)), fakes(state.g_params, _purpose(g_keys, 0))]
    out = augment.augment_examples(jnp.concatenate(images), POLICY, jnp.concatenate(augment_keys))
    x_real, x_fake, g_fake = jnp.split(out, 3)
    # The critic update: WGAN loss and the gradient penalty between the augmented real and fake images.
    eps = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, 1), ()))(keys)[:, None, None, None]
    x_hat = eps * x_real + (1 - eps) * x_fake

    def critic_total(p):
      grad_one = jax.vmap(jax.grad(lambda x: critic(p, x[None])[0]))(x_hat)
      norms = jnp.sqrt(jnp.sum(grad_one**2, axis=(1, 2, 3)) + 1e-12)
      return jnp.mean(critic(p, x_fake)) - jnp.mean(critic(p, x_real)) + gan.penalty_weight * jnp.mean((norms - 1) ** 2)

    d_params = _sgd(state.d_params, jax.grad(critic_total)(state.d_params))
    w_est = jnp.mean(critic(state.d_params, x_real)) - jnp.mean(critic(state.d_params, x_fake))
    # The generator's loss against the critic just updated, on its own keys' augmentation.
    return w_est, d_params, -jnp.mean(critic(d_params, g_fake))

  w_est, d_params, g_loss = jax.jit(hand)(state, real, key)
  chex.assert_trees_all_close(metrics["wasserstein_estimate"], w_est, rtol=1e-5)
  chex.assert_trees_all_close(new.d_params, d_params, rtol=1e-4, atol=1e-6)
  chex.assert_trees_all_close(metrics["generator_loss"], g_loss, rtol=1e-4)
  # The generator's only path to its loss runs through every op of the policy (an op that stopped the gradient
  # would zero it): its gradient is non-zero and finite.
  norm = float(metrics["generator_grad_norm"])
  assert jnp.isfinite(norm) and norm > 1e-6, norm
  assert "lecam" not in metrics and new.lecam is None  # LeCam off: no anchors, no metric


@pytest.mark.parametrize("policy", ["", " , ", None])
def test_empty_policy_is_no_augmentation(policy):
  config = _config()
  if policy is None:
    del config["augment"]  # a config written before the field
  else:
    config.augment = policy
  gan = build_gan(config)
  assert gan.augment == ""
  x = jnp.ones((BATCH, *SHAPE))
  out = updates._augmented(gan, _example_keys(jax.random.key(0)), {updates.REAL: x, updates.FAKE: -x})
  assert out[updates.REAL] is x  # the very arrays: bit for bit


def test_bad_augment_and_lecam_settings_raise():
  with pytest.raises(ValueError, match=r"config.augment: .*'rotate'.*\['color', 'cutout', 'translation'\]"):
    build_gan(_config(augment="color,rotate"))
  toy = _config()
  toy.data = ml_collections.ConfigDict({"name": "grid25"})
  toy.augment = "color"
  with pytest.raises(ValueError, match="augments images"):
    build_gan(toy)
  with pytest.raises(ValueError, match="lecam_weight must be >= 0"):
    build_gan(_config(lecam_weight=-1.0))
  assert build_gan(_config(augment=" color, cutout ")).augment == "color,cutout"


def test_lecam_anchors_and_loss_equal_a_hand_computation():
  # Plain WGAN (no penalty), weight 0.5, decay 0.9, start 1: step 0 is before the start (anchors = the batch's mean
  # scores, no R in the loss: the critic trains as without LeCam), step 1 is at it (anchors step with decay 0.9,
  # still no R), step 2 after it (R counts), as google/lecam-gan's `itr < start_itr` and `itr > start_itr`.
  gan = build_gan(_config(penalty="none", lecam_weight=0.5, lecam_decay=0.9, lecam_start=1))
  state = init_state(gan, jax.random.key(0))
  chex.assert_trees_all_equal(state.lecam, regularizers.LeCamAnchors(jnp.zeros(()), jnp.zeros(())))
  # The train step's critic update (n_critic = 1) at step t, with the key its docstring names.
  step = jax.jit(lambda state, real, key: updates.critic_update(gan, state, Batch(real[0]), key))
  critic = lambda p, x: gan.critic.apply(p, {}, x, True)[0]
  real, key = _real(), jax.random.key(2)

  def hand(state, step_key, decay, weight):
    keys = _example_keys(jax.random.fold_in(step_key, 0))
    z = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (4,)))(keys)
    fake = gan.generator.apply(state.g_params, {}, z, True)[0]
    real_s, fake_s = critic(state.d_params, real[0]), critic(state.d_params, fake)
    alpha_r = decay * state.lecam.real + (1 - decay) * jnp.mean(real_s)
    alpha_f = decay * state.lecam.fake + (1 - decay) * jnp.mean(fake_s)
    r_value = jnp.mean(jnp.maximum(real_s - alpha_f, 0) ** 2) + jnp.mean(jnp.maximum(alpha_r - fake_s, 0) ** 2)

    def loss(p):
      rs, fs = critic(p, real[0]), critic(p, fake)
      r = jnp.mean(jnp.maximum(rs - alpha_f, 0) ** 2) + jnp.mean(jnp.maximum(alpha_r - fs, 0) ** 2)
      return jnp.mean(fs) - jnp.mean(rs) + weight * r

    return (alpha_r, alpha_f), r_value, _sgd(state.d_params, jax.grad(loss)(state.d_params))

  hand = jax.jit(hand)
  for t, decay, weight in ((0, 0.0, 0.0), (1, 0.9, 0.0), (2, 0.9, 0.5)):
    anchors, r_value, d_params = hand(state, jax.random.fold_in(key, t), decay, weight)
    new, metrics = step(state.replace(step=jnp.asarray(t)), real, jax.random.fold_in(jax.random.fold_in(key, t), 0))
    chex.assert_trees_all_close(tuple(new.lecam), anchors, rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(metrics["lecam"], r_value, rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(new.d_params, d_params, rtol=1e-4, atol=1e-6)
    assert r_value > 0  # the regulariser is not vacuous at these anchors
    state = new.replace(step=jnp.asarray(t + 1))


def test_checkpoint_without_anchors_restores_into_a_lecam_run(tmp_path):
  # A checkpoint written with LeCam off (lecam None) restores into a LeCam state; complete_state starts the anchors.
  off = build_gan(_config())
  state = init_state(off, jax.random.key(0))
  checkpointer = Checkpointer(tmp_path / "checkpoints")
  checkpointer.save(0, state)
  checkpointer.close()
  on = build_gan(_config(lecam_weight=0.5))
  restored, step = Checkpointer(tmp_path / "checkpoints").restore_latest(init_state(on, jax.random.key(1)))
  assert step == 0 and restored.lecam is None
  chex.assert_trees_all_equal(restored.d_params, state.d_params)
  completed = complete_state(on, restored)
  chex.assert_trees_all_equal(completed.lecam, regularizers.init_anchors())


def test_checkpoint_from_before_the_field_restores_into_a_lecam_run(tmp_path):
  # tests/fixtures/checkpoint_v0 was written before GANState had the field at all.
  fixture = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint_v0")
  shutil.copytree(fixture, tmp_path / "run")
  config = ml_collections.ConfigDict(json.loads((tmp_path / "run" / "config.json").read_text()))
  config.lecam_weight = 0.5
  gan = build_gan(config)
  checkpointer = Checkpointer(tmp_path / "run" / "checkpoints")
  restored, step = checkpointer.restore_latest(jax.eval_shape(lambda k: init_state(gan, k), jax.random.key(0)))
  checkpointer.close()
  assert step == 3 and restored.lecam is None and int(restored.step) == 3
  assert complete_state(gan, restored).lecam is not None
