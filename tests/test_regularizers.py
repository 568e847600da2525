"""The LeCam regulariser and its anchors against hand computations (Tseng et al. 2021; google/lecam-gan's
`lecam_reg` and `ema_losses`)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import regularizers

REAL = jnp.array([1.0, -0.5, 2.0])  # D(x)
FAKE = jnp.array([0.5, -1.0])  # D(G(z))
ANCHOR_REAL, ANCHOR_FAKE = 0.25, 0.5


def test_lecam_regularizer_by_hand():
  # Real term: relu(D(x) - alpha_F) = relu([0.5, -1.0, 1.5]) = [0.5, 0, 1.5]; squares [0.25, 0, 2.25]; mean 2.5 / 3.
  # Fake term: relu(alpha_R - D(G(z))) = relu([-0.25, 1.25]) = [0, 1.25]; squares [0, 1.5625]; mean 0.78125.
  value = regularizers.lecam_regularizer(REAL, FAKE, ANCHOR_REAL, ANCHOR_FAKE)
  chex.assert_trees_all_close(value, jnp.asarray(2.5 / 3 + 0.78125), rtol=1e-6)


def test_lecam_gradients_by_hand_and_none_into_the_anchors():
  grads = jax.grad(regularizers.lecam_regularizer, argnums=(0, 1, 2, 3))(REAL, FAKE, ANCHOR_REAL, ANCHOR_FAKE)
  # d/dD(x_i) = 2 relu(D(x_i) - alpha_F) / 3;  d/dD(G(z_j)) = -2 relu(alpha_R - D(G(z_j))) / 2.
  chex.assert_trees_all_close(grads[0], jnp.array([1.0 / 3, 0.0, 1.0]), rtol=1e-6)
  chex.assert_trees_all_close(grads[1], jnp.array([0.0, -1.25]), rtol=1e-6)
  assert float(grads[2]) == 0.0 and float(grads[3]) == 0.0


def test_update_anchors_by_hand():
  anchors = regularizers.LeCamAnchors(real=jnp.asarray(1.0), fake=jnp.asarray(-2.0))
  new = jax.jit(regularizers.update_anchors)(anchors, jnp.asarray(3.0), jnp.asarray(0.0), 0.9)
  assert isinstance(new, regularizers.LeCamAnchors)
  chex.assert_trees_all_close(new, regularizers.LeCamAnchors(jnp.asarray(0.9 + 0.3), jnp.asarray(-1.8)), rtol=1e-6)
  first = regularizers.update_anchors(
    regularizers.init_anchors(),
    jnp.asarray(3.0),
    jnp.asarray(-4.0),
    regularizers.anchor_decay(jnp.asarray(0), 0.99, 10),
  )
  chex.assert_trees_all_close(first, regularizers.LeCamAnchors(jnp.asarray(3.0), jnp.asarray(-4.0)))


def test_anchor_decay_starts_at_the_start_step():
  decays = [float(regularizers.anchor_decay(jnp.asarray(step), 0.99, 10)) for step in (0, 9, 10, 11)]
  np.testing.assert_allclose(decays, [0.0, 0.0, 0.99, 0.99], rtol=1e-6)


def test_anchors_updated_in_the_loss_carry_no_gradient():
  # The authors update the anchors from the batch means as constants (`.item()`), then use them in R.
  def loss(real, fake):
    anchors = regularizers.update_anchors(regularizers.init_anchors(), jnp.mean(real), jnp.mean(fake), 0.5)
    return regularizers.lecam_regularizer(real, fake, anchors.real, anchors.fake)

  anchors = regularizers.update_anchors(regularizers.init_anchors(), jnp.mean(REAL), jnp.mean(FAKE), 0.5)
  fixed = jax.grad(regularizers.lecam_regularizer, argnums=(0, 1))(REAL, FAKE, anchors.real, anchors.fake)
  chex.assert_trees_all_close(jax.grad(loss, argnums=(0, 1))(REAL, FAKE), fixed)


def test_anchors_are_a_pytree():
  anchors = regularizers.init_anchors()
  assert len(jax.tree.leaves(anchors)) == 2
  doubled = jax.tree.map(lambda a: a + 2.0, anchors)
  assert isinstance(doubled, regularizers.LeCamAnchors) and float(doubled.fake) == 2.0


def test_update_anchors_takes_the_means_as_constants():
  grad = jax.grad(lambda m: regularizers.update_anchors(regularizers.init_anchors(), m, m, 0.5).real)(1.0)
  assert float(grad) == 0.0
