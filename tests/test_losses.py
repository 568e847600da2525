import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses

REAL = jnp.array([2.0, -1.0, 0.5])
FAKE = jnp.array([-3.0, 0.0, 1.5])
sig = lambda x: 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def test_discriminator_log_loss_closed_form():
  expected = -np.mean(np.log(sig(REAL))) - np.mean(np.log(1 - sig(FAKE)))
  for name in ("gan", "ns_gan"):
    chex.assert_trees_all_close(losses.get_loss(name).critic_loss(REAL, FAKE), np.float32(expected), rtol=1e-6)


def test_generator_losses_closed_form():
  chex.assert_trees_all_close(
    losses.get_loss("gan").generator_loss(REAL, FAKE), np.float32(np.mean(np.log(1 - sig(FAKE)))), rtol=1e-6
  )
  chex.assert_trees_all_close(
    losses.get_loss("ns_gan").generator_loss(REAL, FAKE), np.float32(-np.mean(np.log(sig(FAKE)))), rtol=1e-6
  )


def test_wasserstein_closed_form():
  wgan = losses.get_loss("wgan")
  chex.assert_trees_all_close(wgan.critic_loss(REAL, FAKE), jnp.mean(FAKE) - jnp.mean(REAL))
  chex.assert_trees_all_close(wgan.generator_loss(REAL, FAKE), -jnp.mean(FAKE))


def test_generator_gradients_when_discriminator_rejects_fakes():
  # D(G(z)) -> 0 means fake logits -> -inf. Minimax: d/dl mean(log(1 - sigmoid(l))) = -sigmoid(l)/B -> 0 (saturates).
  # Non-saturating: d/dl -mean(log sigmoid(l)) = -(1 - sigmoid(l))/B -> -1/B.
  fake = jnp.array([-20.0, -30.0, -40.0, -50.0])
  g_minimax = jax.grad(lambda f: losses.get_loss("gan").generator_loss(None, f))(fake)
  g_ns = jax.grad(lambda f: losses.get_loss("ns_gan").generator_loss(None, f))(fake)
  chex.assert_trees_all_close(g_minimax, -sig(fake).astype(np.float32) / 4, rtol=1e-4, atol=0)
  assert float(jnp.max(jnp.abs(g_minimax))) < 1e-9
  chex.assert_trees_all_close(g_ns, jnp.full(4, -0.25), rtol=1e-6)


def test_losses_finite_for_extreme_logits():
  big = jnp.array([1e4, -1e4])
  for name in losses.LOSSES:
    pair = losses.get_loss(name)
    assert bool(jnp.isfinite(pair.critic_loss(big, -big)))
    assert bool(jnp.isfinite(pair.generator_loss(big, -big)))


def test_unknown_loss_names_the_choices():
  with pytest.raises(ValueError, match="config.loss.*wgan"):
    losses.get_loss("wgann")


# --- Relativistic, hinge and least-squares losses (issue 3) ---

NEW_LOSSES = ("rsgan", "rasgan", "hinge", "lsgan")
log_sig = lambda x: np.log(sig(x))


def _expected_losses(real, fake):
  """(critic, generator) losses transcribed from the papers, in float64 numpy."""
  r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  return {
    "rsgan": (-np.mean(log_sig(r - f)), -np.mean(log_sig(f - r))),
    "rasgan": (
      -np.mean(log_sig(r - f.mean())) - np.mean(np.log(1 - sig(f - r.mean()))),
      -np.mean(log_sig(f - r.mean())) - np.mean(np.log(1 - sig(r - f.mean()))),
    ),
    "hinge": (np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)), -np.mean(f)),
    "lsgan": (0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f**2), 0.5 * np.mean((f - 1) ** 2)),
  }


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_new_losses_closed_form(name):
  critic, generator = _expected_losses(REAL, FAKE)[name]
  pair = losses.get_loss(name)
  chex.assert_trees_all_close(pair.critic_loss(REAL, FAKE), np.float32(critic), rtol=1e-6)
  chex.assert_trees_all_close(pair.generator_loss(REAL, FAKE), np.float32(generator), rtol=1e-6)


def test_rsgan_hand_values_and_sign():
  # One pair, worked by hand: C(x_r) - C(x_f) = 3, so L_D = log(1 + e^-3) and L_G = log(1 + e^3).
  rsgan = losses.get_loss("rsgan")
  real, fake = jnp.array([1.0]), jnp.array([-2.0])
  chex.assert_trees_all_close(rsgan.critic_loss(real, fake), np.float32(np.log1p(np.exp(-3.0))), rtol=1e-6)
  chex.assert_trees_all_close(rsgan.generator_loss(real, fake), np.float32(np.log1p(np.exp(3.0))), rtol=1e-6)
  # A critic that ranks real above fake is winning: its loss is small and the generator's large (RelativisticGAN #2).
  assert float(rsgan.critic_loss(real, fake)) < 0.05 < 3.0 < float(rsgan.generator_loss(real, fake))
  # Equal scores give log 2 for both players.
  zeros = jnp.zeros(4)
  chex.assert_trees_all_close(rsgan.critic_loss(zeros, zeros), np.float32(np.log(2.0)), rtol=1e-6)
  chex.assert_trees_all_close(rsgan.generator_loss(zeros, zeros), np.float32(np.log(2.0)), rtol=1e-6)


@pytest.mark.parametrize("name", ["rsgan", "rasgan"])
def test_relativistic_generator_loss_is_critic_loss_with_roles_swapped(name):
  pair = losses.get_loss(name)
  chex.assert_trees_all_close(pair.generator_loss(REAL, FAKE), pair.critic_loss(FAKE, REAL), rtol=1e-6)
  # ...and the two are different functions (PyTorch-GAN #52: a generator loss overwritten by another expression).
  assert abs(float(pair.generator_loss(REAL, FAKE) - pair.critic_loss(REAL, FAKE))) > 0.1


def test_rsgan_pairs_samples_elementwise():
  # Pairing matters: permuting the fakes changes the loss, and mismatched batches are rejected.
  rsgan = losses.get_loss("rsgan")
  assert abs(float(rsgan.critic_loss(REAL, FAKE) - rsgan.critic_loss(REAL, FAKE[::-1]))) > 1e-3
  with pytest.raises(ValueError, match="pairs real and fake"):
    rsgan.critic_loss(REAL, FAKE[:2])


def test_generator_uses_real_flags():
  for name, pair in losses.LOSSES.items():
    assert pair.generator_uses_real == (name in ("rsgan", "rasgan", "t_sgan", "t_wgan")), name


# Interior scores: C(x_r) < 1 and C(x_f) > 0, where every loss (including the hinge and least-squares ones, which are
# flat or turn around past their targets) still has a strict gradient direction.
REAL_IN = jnp.array([0.2, -0.5, 0.7])
FAKE_IN = jnp.array([0.3, 0.1, 0.9])


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_gradient_directions(name):
  pair = losses.get_loss(name)
  d_real, d_fake = jax.grad(pair.critic_loss, argnums=(0, 1))(REAL_IN, FAKE_IN)
  assert bool(jnp.all(d_real < 0)), "raising C(x_r) must lower the critic's loss"
  assert bool(jnp.all(d_fake > 0)), "raising C(x_f) must raise the critic's loss"
  g_real, g_fake = jax.grad(pair.generator_loss, argnums=(0, 1))(REAL_IN, FAKE_IN)
  assert bool(jnp.all(g_fake < 0)), "raising C(x_f) must lower the generator's loss"
  if pair.generator_uses_real:
    assert bool(jnp.all(g_real > 0)), "raising C(x_r) must raise a relativistic generator's loss"
  else:
    chex.assert_trees_all_equal(g_real, jnp.zeros_like(REAL_IN))


def test_lsgan_generator_pulls_fake_scores_to_one():
  g = jax.grad(lambda f: losses.get_loss("lsgan").generator_loss(None, f))(jnp.array([-1.0, 1.0, 3.0]))
  chex.assert_trees_all_close(g, jnp.array([-2.0, 0.0, 2.0]) / 3)


def test_hinge_is_flat_beyond_the_margin():
  d_real, d_fake = jax.grad(losses.get_loss("hinge").critic_loss, argnums=(0, 1))(
    jnp.array([1.5, 0.5]), jnp.array([-1.5, -0.5])
  )
  chex.assert_trees_all_close(d_real, jnp.array([0.0, -0.5]))
  chex.assert_trees_all_close(d_fake, jnp.array([0.0, 0.5]))


def test_extreme_logit_test_covers_new_losses():
  # test_losses_finite_for_extreme_logits loops over the registry, so registering the new losses puts them under it;
  # check they are there, and that their gradients are finite too at |logit| = 1e4.
  assert set(NEW_LOSSES) <= set(losses.LOSSES)
  big = jnp.array([1e4, -1e4])
  for name in losses.LOSSES:
    pair = losses.get_loss(name)
    for fn in (pair.critic_loss, pair.generator_loss):
      for args in ((big, -big), (-big, big)):
        assert bool(jnp.isfinite(fn(*args))), name
        grads = jax.grad(fn, argnums=(0, 1))(*args)
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads), name


# --- The new losses and penalties through the one train step ---


def _finite_tree(tree) -> bool:
  return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree))


def _trees_equal(a, b) -> bool:
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("loss,penalty", [("hinge", "r1"), ("lsgan", "dragan")])
def test_one_train_step_with_new_loss_and_penalty(tiny_toy_config, loss, penalty):
  # Each new loss and each new penalty once (paired, to compile fewer steps); rsgan and rasgan run through the step in
  # the next test, which also checks that real data reaches the generator's update.
  from jaxgan import data
  from jaxgan.train import build_gan, init_state, make_train_step

  c = tiny_toy_config
  c.n_critic = 1
  c.loss, c.penalty, c.penalty_weight = loss, penalty, 10.0
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  batch = data.make_batch_fn(c, jax.random.key(1))(0)
  new_state, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(2))
  assert _finite_tree(metrics), metrics
  assert float(metrics["gradient_penalty"]) > 0
  assert _finite_tree((new_state.g_params, new_state.d_params))
  assert not _trees_equal(state.g_params, new_state.g_params)
  assert not _trees_equal(state.d_params, new_state.d_params)


@pytest.mark.parametrize("name", ["rsgan", "rasgan", "ns_gan"])
def test_generator_gradient_depends_on_real_batch_only_for_relativistic_losses(tiny_toy_config, name):
  import optax

  from jaxgan import data
  from jaxgan.train import build_gan, init_state, make_train_step

  c = tiny_toy_config
  c.n_critic = 1
  c.loss, c.penalty, c.penalty_weight = name, "none", 0.0
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  batch_a, batch_b = next_batch(0), next_batch(1)
  z = jax.random.normal(jax.random.key(3), (c.batch_size, *gan.latent_shape))

  def generator_grads(real):
    # The generator's loss through both nets, with the real scores always computed: a loss that ignores them must
    # give the same gradient for any real batch.
    def loss_fn(g_params):
      fake, _ = gan.generator.apply(g_params, state.g_state, z, True)
      fake_scores, _ = gan.critic.apply(state.d_params, state.d_state, fake, True)
      real_scores, _ = gan.critic.apply(state.d_params, state.d_state, real, True)
      return gan.loss.generator_loss(real_scores, fake_scores)

    return jax.grad(loss_fn)(state.g_params)

  grads_a, grads_b = generator_grads(batch_a[-1]), generator_grads(batch_b[-1])
  diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(grads_a), jax.tree.leaves(grads_b)))
  uses_real = name != "ns_gan"
  assert gan.loss.generator_uses_real == uses_real
  if uses_real:
    assert diff > 1e-6
  else:
    assert diff == 0.0

  # The same through the train step: with the critic frozen, the real batch can reach the generator's update only
  # through the generator's loss. This is also the one-step check for rsgan and rasgan.
  frozen = gan._replace(d_tx=optax.set_to_zero())
  step = jax.jit(make_train_step(frozen))
  state = init_state(frozen, jax.random.key(0))
  new_a, metrics_a = step(state, batch_a, jax.random.key(2))
  new_b, metrics_b = step(state, batch_b, jax.random.key(2))
  assert _finite_tree((metrics_a, metrics_b, new_a.g_params, new_b.g_params))
  assert _trees_equal(new_a.d_params, new_b.d_params)
  assert _trees_equal(new_a.g_params, new_b.g_params) != uses_real


def test_log_loss_flag_marks_the_losses_label_smoothing_and_ssgan_accept():
  # The step and the config checks read LossPair.log_loss; these are the two losses with the log loss's targets.
  assert losses.LOG_LOSSES == ("gan", "ns_gan")
  assert not any(pair.log_loss for name, pair in losses.LOSSES.items() if name not in losses.LOG_LOSSES)
