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
  chex.assert_trees_all_close(losses.get_loss("gan").generator_loss(REAL, FAKE),
                              np.float32(np.mean(np.log(1 - sig(FAKE)))), rtol=1e-6)
  chex.assert_trees_all_close(losses.get_loss("ns_gan").generator_loss(REAL, FAKE),
                              np.float32(-np.mean(np.log(sig(FAKE)))), rtol=1e-6)


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
