"""The GAN train state and the one train step that every variant runs.

A step is `n_critic` critic updates (scanned with `jax.lax.scan`, one fresh real batch each, as in WGAN's
Algorithm 1) followed by one generator update. What differs between GAN, WGAN and WGAN-GP is data in the config:
the loss pair, the penalty and its weight, the optimisers (WGAN's clipping is an optax transform) and `n_critic`.
They are read once, when the step is built; the compiled step branches on nothing. A classifier critic
(`config.classifier`: the semi-supervised GAN of Salimans et al. 2016 or AC-GAN of Odena et al. 2017, see
`jaxgan.semi_supervised`) adds its class cross-entropy to the critic's loss, and feature matching or AC-GAN's class
term to the generator's, in the same step.

The step is written for one device's shard of the batch. With `axis_name` set it averages gradients, metrics and
BatchNorm statistics over that mapped axis, and draws each example's randomness from the *global* example index, so
a run over D devices draws exactly the latents and interpolation weights of a one-device run on the same global batch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import losses, nets, penalties, priors, semi_supervised
from jaxgan.batch import SemiSupervisedBatch
from jaxgan.data.shapes import data_shape
from jaxgan.optim import build_optimizer

# [n_critic, B, *data_shape]: one real batch per critic update; conditional GANs get (images, labels [n_critic, B]),
# semi-supervised GANs a `jaxgan.batch.SemiSupervisedBatch`.
Batch = jax.Array | tuple[jax.Array, jax.Array] | SemiSupervisedBatch
Metrics = dict[str, jax.Array]


class GANState(flax.struct.PyTreeNode):
  """Everything a run needs to continue: both players' parameters, optimiser states and net state.

  Attributes:
    step: number of train steps done (each: n_critic critic updates, then n_generator generator updates).
    g_params, g_state: generator parameters and non-parameter state (BatchNorm statistics).
    prior_params: learnable latent-prior parameters (DeLiGAN's mu, rho), {} for fixed priors.
    g_opt_state: optax state over `(g_params, prior_params)`: the generator's optimiser trains both.
    d_params, d_state, d_opt_state: the same for the critic.
  """

  step: jax.Array
  g_params: Any
  g_state: Any
  prior_params: Any
  g_opt_state: Any
  d_params: Any
  d_state: Any
  d_opt_state: Any


class Tips(NamedTuple):
  """The training tips a config switches on (all off by default); see `_tips_from_config`."""

  label_smoothing: str = "none"  # none | one_sided | two_sided
  real_label: float = 0.9
  fake_label: float = 0.1
  flip_fraction: float = 0.0
  instance_noise: float = 0.0
  instance_noise_anneal_steps: int = 0

  @property
  def soft_labels(self) -> bool:
    return self.label_smoothing != "none" or self.flip_fraction > 0


class GAN(NamedTuple):
  """The pure pieces a config describes; built once by `build_gan`."""

  generator: nets.Net
  critic: nets.Net
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  prior: priors.Prior
  loss: losses.LossPair
  penalty: Callable[..., jax.Array] | None
  penalty_weight: float
  latent_shape: tuple[int, ...]
  data_shape: tuple[int, ...]
  n_critic: int
  n_generator: int = 1
  tips: Tips = Tips()
  num_classes: int = 0  # > 0: a conditional GAN; nets take (inputs, labels)
  head: semi_supervised.ClassHead | None = None  # a classifier critic's objective (SSGAN, AC-GAN)


_LOG_LOSSES = ("gan", "ns_gan")


def _penalty_from_config(config: ml_collections.ConfigDict, axis_name: str | None = None):
  name = config.get("penalty", "none") or "none"
  if name == "none":
    return None, 0.0
  weight = float(config.get("penalty_weight", 10.0))
  if weight < 0:
    raise ValueError(f"config.penalty_weight must be >= 0; got {weight}.")
  if nets.critic_uses_batch_norm(config.critic):
    raise ValueError(
        f"config.penalty={name!r} penalises each sample's gradient, but config.critic.batch_norm=True couples the "
        "samples of a batch. Set config.critic.batch_norm=False (WGAN-GP uses no batch norm in the critic).")
  if config.critic.name == "tgan":
    raise ValueError(f"config.penalty={name!r} needs a one-argument critic; the T-GAN pair critic is constrained by "
                     "spectral normalisation instead. Set config.penalty='none'.")
  penalty = penalties.get_penalty(name)
  if name == "dragan" and axis_name is not None:
    penalty = functools.partial(penalty, axis_name=axis_name)  # its noise scale is the global batch's std
  return penalty, weight


def _tips_from_config(config: ml_collections.ConfigDict) -> Tips:
  fields = dict(config.get("tips", {}) or {})
  unknown = set(fields) - set(Tips._fields)
  if unknown:
    raise ValueError(f"config.tips has unknown fields {sorted(unknown)}; allowed: {list(Tips._fields)}.")
  tips = Tips(**fields)
  if tips.label_smoothing not in ("none", "one_sided", "two_sided"):
    raise ValueError(f"config.tips.label_smoothing={tips.label_smoothing!r}; use none, one_sided or two_sided.")
  if not 0 <= tips.flip_fraction < 0.5:
    raise ValueError(f"config.tips.flip_fraction must be in [0, 0.5); got {tips.flip_fraction}.")
  if not (0.5 < tips.real_label <= 1 and 0 <= tips.fake_label < 0.5):
    raise ValueError("config.tips needs 0.5 < real_label <= 1 and 0 <= fake_label < 0.5.")
  if tips.instance_noise < 0:
    raise ValueError(f"config.tips.instance_noise must be >= 0; got {tips.instance_noise}.")
  if tips.soft_labels and config.loss not in _LOG_LOSSES:
    raise ValueError(f"Label smoothing and flipping change the targets of the log loss; config.loss={config.loss!r} "
                     f"has none. Use them with config.loss in {_LOG_LOSSES}.")
  return tips


def build_gan(config: ml_collections.ConfigDict, axis_name: str | None = None) -> GAN:
  """Reads the nets, optimisers, prior, loss, penalty and tips that `config` names.

  Raises:
    ValueError: for an unknown name or a bad value, naming the config field to fix.
  """
  for field in ("n_critic", "latent_dim"):
    if int(config[field]) < 1:
      raise ValueError(f"config.{field} must be >= 1; got {config[field]}.")
  n_generator = int(config.get("n_generator", 1))
  if n_generator < 1:
    raise ValueError(f"config.n_generator must be >= 1; got {n_generator}.")
  shape = data_shape(config.data)
  penalty, weight = _penalty_from_config(config, axis_name)
  prior_options = config.get(config.prior) if config.prior == "deligan" else None
  head = semi_supervised.head_from_config(config)  # before the nets: its errors name the fields to change
  num_classes = int(config.get("num_classes", 0))
  if num_classes < 0:
    raise ValueError(f"config.num_classes must be >= 0 (0: unconditional); got {num_classes}.")
  return GAN(
      generator=nets.build_generator(config.generator, shape, axis_name, num_classes),
      critic=nets.build_critic(config.critic, axis_name, num_classes),
      g_tx=build_optimizer(config.g_optimizer, "g_optimizer"),
      d_tx=build_optimizer(config.d_optimizer, "d_optimizer"),
      prior=priors.get_prior(config.prior, prior_options),
      loss=losses.get_loss(config.loss),
      penalty=penalty,
      penalty_weight=weight,
      latent_shape=(int(config.latent_dim),),
      data_shape=tuple(shape),
      n_critic=int(config.n_critic),
      n_generator=n_generator,
      tips=_tips_from_config(config),
      num_classes=num_classes,
      head=head,
  )


def init_state(gan: GAN, key: jax.Array) -> GANState:
  """Fresh parameters and optimiser states from `key`."""
  g_key, d_key, p_key = jax.random.split(key, 3)
  z = jnp.zeros((1, *gan.latent_shape))
  x = jnp.zeros((2, 1, *gan.data_shape) if gan.critic.pairwise else (1, *gan.data_shape))
  labels = jnp.zeros((1,), jnp.int32)
  g_params, g_state = gan.generator.init(g_key, _conditioned(gan, z, labels))
  d_params, d_state = gan.critic.init(d_key, _conditioned(gan, x, labels))
  prior_params = gan.prior.init(p_key, gan.latent_shape)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_params, g_state=g_state, prior_params=prior_params,
      g_opt_state=gan.g_tx.init((g_params, prior_params)),
      d_params=d_params, d_state=d_state, d_opt_state=gan.d_tx.init(d_params),
  )


def example_keys(key: jax.Array, local_batch: int, axis_name: str | None) -> jax.Array:
  """[local_batch] keys, one per example, indexed by the example's position in the global batch."""
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local_batch
  return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, offset + jnp.arange(local_batch))


def _subkeys(keys: jax.Array, purpose: int) -> jax.Array:
  # One stream per purpose (0 latents, 1 penalty, 2-3 labels, 4 instance noise) from each example's key.
  return jax.vmap(lambda k: jax.random.fold_in(k, purpose))(keys)


def sample_latents(gan: GAN, prior_params: Any, keys: jax.Array) -> jax.Array:
  """z [B, *latent_shape], one draw from the prior per example key [B]."""
  return jax.vmap(lambda k: gan.prior.sample(prior_params, k, gan.latent_shape))(keys)


def _conditioned(gan: GAN, inputs: jax.Array, labels: jax.Array | None):
  """What a net takes: `inputs`, or `(inputs, labels)` for a conditional GAN."""
  return (inputs, labels) if gan.num_classes else inputs


def generate(gan: GAN, state: GANState, key: jax.Array, num: int, labels: jax.Array | None = None) -> jax.Array:
  """num samples [num, *data_shape] from the generator in inference mode (BatchNorm running statistics).

  Args:
    labels: int [num] classes for a conditional GAN; default cycles through the classes (0, 1, ..., C-1, 0, ...).
  """
  z = sample_latents(gan, state.prior_params, example_keys(key, num, None))
  if gan.num_classes and labels is None:
    labels = jnp.arange(num) % gan.num_classes
  if labels is not None and labels.shape != (num,):
    raise ValueError(f"generate needs labels of shape ({num},); got {labels.shape}.")
  x, _ = gan.generator.apply(state.g_params, state.g_state, _conditioned(gan, z, labels), False)
  return x


def _pmean(tree, axis_name: str | None):
  return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def _soft_targets(tips: Tips, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-example (real, fake) targets of the log loss: smoothed (Salimans et al. 2016, Sec. 3.4, one-sided; the
  two-sided variant draws real ~ U(real_label, 1], fake ~ U[0, fake_label)) and a fraction flipped."""
  batch = keys.shape[0]
  u = jax.vmap(lambda k: jax.random.uniform(k, (2,)))(_subkeys(keys, 2))
  if tips.label_smoothing == "two_sided":
    real = 1.0 - (1.0 - tips.real_label) * u[:, 0]
    fake = tips.fake_label * u[:, 1]
  elif tips.label_smoothing == "one_sided":
    real, fake = jnp.full(batch, tips.real_label), jnp.zeros(batch)
  else:
    real, fake = jnp.ones(batch), jnp.zeros(batch)
  if tips.flip_fraction > 0:
    flip = jax.vmap(lambda k: jax.random.bernoulli(k, tips.flip_fraction, (2,)))(_subkeys(keys, 3))
    real = jnp.where(flip[:, 0], 1.0 - real, real)
    fake = jnp.where(flip[:, 1], 1.0 - fake, fake)
  return real, fake


def _instance_noise(tips: Tips, step: jax.Array, keys: jax.Array, x: jax.Array) -> jax.Array:
  """x plus Gaussian instance noise (Sonderby et al. 2017) of std sigma, annealed linearly to 0 if asked."""
  sigma = jnp.asarray(tips.instance_noise, x.dtype)
  if tips.instance_noise_anneal_steps > 0:
    sigma = sigma * jnp.maximum(0.0, 1.0 - step / tips.instance_noise_anneal_steps)
  noise = jax.vmap(lambda k: jax.random.normal(k, x.shape[1:], x.dtype))(keys)
  return x + sigma * noise


def _unrolled_scan(body, carry, xs, length: int):
  """`jax.lax.scan(body, carry, xs)` unrolled in Python, so the compiled step has no loop: XLA:CPU runs convolutions
  inside a loop body several times slower than outside one (4.3x for the WGAN-GP MNIST step at n_critic = 5; even
  `unroll=True` keeps a one-trip loop). n_critic and n_generator are small, so compile time stays modest."""
  outs = []
  for i in range(length):
    carry, out = body(carry, jax.tree.map(lambda x: x[i], xs))
    outs.append(out)
  return carry, jax.tree.map(lambda *values: jnp.stack(values), *outs)


def _score(out: Any) -> jax.Array:
  """The real/fake score [B] of a critic's output: the output itself, or a classifier critic's `score`."""
  return out.score if isinstance(out, nets.CriticOutput) else out


def _unpack_batch(gan: GAN, batch: Batch):
  """(real [n_critic, B, ...], labels [n_critic, B] | None, labelled [n_critic, B_l, ...] | None,
  labelled_labels [n_critic, B_l] | None), checked against what `gan` trains."""
  labels = labelled = labelled_labels = None
  if gan.head is not None and gan.head.labelled_batch:
    if not isinstance(batch, SemiSupervisedBatch):
      raise ValueError("A semi-supervised GAN's train_step expects a jaxgan.batch.SemiSupervisedBatch "
                       "(unlabelled, labelled, labels); build it with jaxgan.data.make_batch_fn(config, key).")
    batch, labelled, labelled_labels = batch
    if labelled_labels.shape != labelled.shape[:2] or labelled.shape[0] != batch.shape[0]:
      raise ValueError(f"SemiSupervisedBatch.labels must be [n_critic, B_l] = {labelled.shape[:2]} with the "
                       f"unlabelled batch's n_critic={batch.shape[0]}; got {labelled_labels.shape}.")
  elif gan.num_classes:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
      raise ValueError("A conditional GAN's train_step expects batch = (images, labels [n_critic, B]).")
    batch, labels = batch
    if labels.shape != batch.shape[:2]:
      raise ValueError(f"labels must be [n_critic, B] = {batch.shape[:2]}; got {labels.shape}.")
  if batch.shape[0] != gan.n_critic or tuple(batch.shape[2:]) != gan.data_shape:
    raise ValueError(f"train_step expects a batch [n_critic={gan.n_critic}, B, *{gan.data_shape}]; "
                     f"got {batch.shape}.")
  return batch, labels, labelled, labelled_labels


def make_train_step(config: ml_collections.ConfigDict | GAN, axis_name: str | None = None
                    ) -> Callable[[GANState, Batch, jax.Array], tuple[GANState, Metrics]]:
  """Builds the pure train step `(state, batch, key) -> (state, metrics)`.

  Args:
    config: a run config (or an already built `GAN`, whose axis name must match).
    axis_name: the mapped device axis, or None on one device.

  Returns:
    `train_step(state, batch, key)`, where `batch` is [n_critic, B, *data_shape] (this device's shard; a
    conditional GAN's `(images, labels)`, a semi-supervised GAN's `SemiSupervisedBatch`), `key` the run's base key
    (the step folds in `state.step`), and `metrics` holds scalars averaged over devices:
    `critic_loss` (the adversarial part), `generator_loss`, `gradient_penalty`,
    `wasserstein_estimate` = E C(x_real) - E C(x_fake), `real_accuracy` and `fake_accuracy` (the critic's right
    verdicts, `losses.discriminator_accuracy`), and `critic_grad_norm` / `generator_grad_norm` (global norms of the
    averaged gradients), all from the step's last critic and generator updates. With a classifier head
    (`config.classifier`) also `class_loss` and `class_accuracy` (the critic's, on the labelled batch for SSGAN and
    on the real batch for AC-GAN) and, for AC-GAN, `generator_class_loss`.
  """
  gan = config if isinstance(config, GAN) else build_gan(config, axis_name)
  g_apply, d_apply = gan.generator.apply, gan.critic.apply
  tips, head = gan.tips, gan.head

  def dropout_key(key, purpose):
    # Dropout masks are drawn per device (flax draws one mask for the local batch), so unlike the latents they
    # differ between a parallel run and a one-device run.
    key = jax.random.fold_in(key, purpose)
    return key if axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(axis_name))

  def outputs(d_params, d_state, real, fake, labels, key, need_real=True):
    """(real_out, fake_out, new_d_state): scores [B], or `CriticOutput`s for a classifier critic; a pair critic
    returns (T(real, fake), T(fake, real))."""
    if gan.critic.pairwise:
      (t_rf, t_fr), d_state = d_apply(d_params, d_state, jnp.stack([real, fake]), True, dropout_key(key, 0))
      return t_rf, t_fr, d_state
    # Real and fake go through the critic as separate batches, so BatchNorm never mixes them.
    real_out = None
    if need_real:
      real_out, d_state = d_apply(d_params, d_state, _conditioned(gan, real, labels), True, dropout_key(key, 0))
    fake_out, d_state = d_apply(d_params, d_state, _conditioned(gan, fake, labels), True, dropout_key(key, 1))
    return real_out, fake_out, d_state

  def noisy(step, keys, x):
    return _instance_noise(tips, step, _subkeys(keys, 4), x) if tips.instance_noise > 0 else x

  def critic_loss(real_scores, fake_scores, keys):
    if not tips.soft_labels:
      return gan.loss.critic_loss(real_scores, fake_scores)
    real_targets, fake_targets = _soft_targets(tips, keys)
    return (jnp.mean(optax.sigmoid_binary_cross_entropy(real_scores, real_targets))
            + jnp.mean(optax.sigmoid_binary_cross_entropy(fake_scores, fake_targets)))

  def accuracy(real_scores, fake_scores):
    # The relative verdicts compare with the global batch's means, so they do not depend on the device count.
    means = _pmean((jnp.mean(real_scores), jnp.mean(fake_scores)), axis_name)
    return losses.discriminator_accuracy(real_scores, fake_scores, gan.loss.decision_threshold, *means)

  def class_terms(d_params, d_state, real_out, fake_out, labels, labelled, labelled_labels, key):
    """The critic's class cross-entropy and accuracy (Salimans et al. 2016, L_supervised; Odena et al. 2017, L_C)."""
    if head.labelled_batch:
      # The labelled batch goes through the critic on its own too, like real and fake.
      labelled_out, d_state = d_apply(d_params, d_state, labelled, True, dropout_key(key, 3))
      logits, targets = labelled_out.class_logits, labelled_labels
    else:
      logits, targets = real_out.class_logits, labels
    loss = semi_supervised.class_cross_entropy(logits, targets)
    if head.classify_fakes:
      loss = loss + semi_supervised.class_cross_entropy(fake_out.class_logits, labels)
    return loss, semi_supervised.class_accuracy(logits, targets), d_state

  def critic_update(carry, inputs):
    g_params, g_state, prior_params, d_params, d_state, d_opt_state, step_key, step = carry
    real, labels, labelled, labelled_labels, index = inputs
    update_key = jax.random.fold_in(step_key, index)
    keys = example_keys(update_key, real.shape[0], axis_name)
    z = sample_latents(gan, prior_params, _subkeys(keys, 0))
    # A conditional GAN's fakes take the real batch's labels, so interpolates in the penalty share one label.
    fake, g_state = g_apply(g_params, g_state, _conditioned(gan, z, labels), True)
    fake = jax.lax.stop_gradient(fake)
    real_in, fake_in = noisy(step, keys, real), noisy(step, keys, fake)

    def loss_fn(d_params):
      real_out, fake_out, new_d_state = outputs(d_params, d_state, real_in, fake_in, labels, update_key)
      real_scores, fake_scores = _score(real_out), _score(fake_out)
      adversarial = critic_loss(real_scores, fake_scores, keys)
      if gan.penalty is None:
        penalty = jnp.zeros(())
      else:
        penalty_key = dropout_key(update_key, 2)
        penalty = gan.penalty(
            lambda x: _score(d_apply(d_params, new_d_state, _conditioned(gan, x, labels), True, penalty_key)[0]),
            real_in, fake_in, _subkeys(keys, 1))
      total = adversarial + gan.penalty_weight * penalty
      metrics = {"critic_loss": adversarial, "gradient_penalty": penalty,
                 "wasserstein_estimate": jnp.mean(real_scores) - jnp.mean(fake_scores)}
      metrics["real_accuracy"], metrics["fake_accuracy"] = accuracy(real_scores, fake_scores)
      if head is not None:
        class_loss, class_acc, new_d_state = class_terms(d_params, new_d_state, real_out, fake_out, labels, labelled,
                                                         labelled_labels, update_key)
        total = total + head.class_weight * class_loss
        metrics["class_loss"], metrics["class_accuracy"] = class_loss, class_acc
      return total, (new_d_state, metrics)

    (_, (d_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
    grads = _pmean(grads, axis_name)
    metrics["critic_grad_norm"] = optax.tree.norm(grads)
    updates, d_opt_state = gan.d_tx.update(grads, d_opt_state, d_params)
    d_params = optax.apply_updates(d_params, updates)
    carry = (g_params, g_state, prior_params, d_params, d_state, d_opt_state, step_key, step)
    return carry, metrics

  def generator_update(carry, index, d_params, d_state, real, labels, step_key, step):
    g_params, g_state, prior_params, g_opt_state = carry
    update_key = jax.random.fold_in(step_key, gan.n_critic + index)
    keys = example_keys(update_key, real.shape[0], axis_name)
    real_in = noisy(step, keys, real)
    feature_matching = head is not None and head.feature_matching
    need_real = gan.loss.generator_uses_real or gan.critic.pairwise or feature_matching

    def loss_fn(trainable):
      g_params, prior_params = trainable
      z = sample_latents(gan, prior_params, _subkeys(keys, 0))
      fake, new_g_state = g_apply(g_params, g_state, _conditioned(gan, z, labels), True)
      # The critic's own state updates during the generator's update are dropped: it is not the critic's turn.
      real_out, fake_out, _ = outputs(d_params, d_state, real_in, noisy(step, keys, fake), labels, update_key,
                                      need_real)
      if feature_matching:
        adversarial = semi_supervised.feature_matching_loss(real_out.features, fake_out.features, axis_name)
      else:
        adversarial = gan.loss.generator_loss(None if real_out is None else _score(real_out), _score(fake_out))
      metrics = {"generator_loss": adversarial}
      total = adversarial + gan.prior.regularizer(prior_params)
      if head is not None and head.classify_fakes:
        metrics["generator_class_loss"] = semi_supervised.class_cross_entropy(fake_out.class_logits, labels)
        total = total + head.class_weight * metrics["generator_class_loss"]
      return total, (new_g_state, metrics)

    trainable = (g_params, prior_params)
    (_, (g_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
    grads = _pmean(grads, axis_name)
    metrics["generator_grad_norm"] = optax.tree.norm(grads)
    updates, g_opt_state = gan.g_tx.update(grads, g_opt_state, trainable)
    g_params, prior_params = optax.apply_updates(trainable, updates)
    return (g_params, g_state, prior_params, g_opt_state), metrics

  def train_step(state: GANState, batch: Batch, key: jax.Array) -> tuple[GANState, Metrics]:
    batch, labels, labelled, labelled_labels = _unpack_batch(gan, batch)
    step_key = jax.random.fold_in(key, state.step)
    carry = (state.g_params, state.g_state, state.prior_params, state.d_params, state.d_state, state.d_opt_state,
             step_key, state.step)
    carry, critic_metrics = _unrolled_scan(
        critic_update, carry, (batch, labels, labelled, labelled_labels, jnp.arange(gan.n_critic)), gan.n_critic)
    _, g_state, _, d_params, d_state, d_opt_state, _, _ = carry

    g_carry = (state.g_params, g_state, state.prior_params, state.g_opt_state)
    g_carry, g_metrics = _unrolled_scan(
        lambda c, i: generator_update(c, i, d_params, d_state, batch[-1], None if labels is None else labels[-1],
                                      step_key, state.step),
        g_carry, jnp.arange(gan.n_generator), gan.n_generator)
    g_params, g_state, prior_params, g_opt_state = g_carry

    metrics = {name: values[-1] for name, values in {**critic_metrics, **g_metrics}.items()}
    new_state = state.replace(step=state.step + 1, g_params=g_params, g_state=g_state, prior_params=prior_params,
                              g_opt_state=g_opt_state, d_params=d_params, d_state=d_state, d_opt_state=d_opt_state)
    return new_state, _pmean(metrics, axis_name)

  return train_step
