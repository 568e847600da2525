"""The update math of the one train step: one critic update and one generator update, each a pure function on a
`GANState`, usable alone (the playground's "D only" / "G only" buttons call them) or composed by
`jaxgan.train.make_train_step`.

    state, metrics = critic_update(gan, state, batch[i], key_i, axis_name)     # new d_*, g_state
    state, metrics = generator_update(gan, state, batch[-1], key_j, axis_name)  # new g_*, prior_params

Each takes one update's data (a `Batch` whose leaves have no n_critic axis: real [B, *data_shape], labels [B], ...)
and that update's own key; neither advances `state.step`, which only dates the annealed instance noise. The critic
minimises the loss pair's critic loss (with the config's training tips: smoothed or flipped targets, instance noise),
plus the penalty and, for a classifier critic (Salimans et al. 2016; Odena et al. 2017), its class cross-entropy;
the generator minimises its loss (or feature matching), the prior's regulariser and AC-GAN's class term.

Two switches for small datasets: DiffAugment (`gan.augment`; Zhao et al. 2020) augments every real and fake image
the critic sees in both players' updates, after the instance noise, with differentiable ops, so the generator's
gradients pass through them; a gradient penalty then interpolates between the augmented images (R1 penalises the
augmented reals). The LeCam regulariser (`gan.lecam`; Tseng et al. 2021, eq. 3 as in their code) adds
lambda * R(D) to the critic's loss, its anchors kept in `GANState.lecam`.

Two compositions make one update of each player with a single generator forward, the critic training on the
generator update's own fakes, detached: `generator_first_update` (PyTorch-GAN's DCGAN loop) and
`simultaneous_update` (both gradients at the current parameters, Goodfellow et al. 2014's released code).

Randomness: each example's key is `fold_in(key, global example index)` (`jaxgan.gan.example_keys`), split by purpose
(0 latents, 1 penalty, 2-3 label smoothing and flips, 4 instance noise, 5 DiffAugment), so a run over D devices
draws exactly the latents (and augmentations) of a one-device run on the same global batch. With `axis_name` set,
gradients (and the global batch means the accuracies, feature matching and LeCam's anchors compare with) are averaged
over that mapped axis; the metrics are this device's, which the train step averages.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan import augment, losses, nets, regularizers, semi_supervised
from jaxgan.batch import Batch, SemiSupervisedBatch
from jaxgan.gan import GAN, GANState, Tips, conditioned, example_keys, sample_latents

Metrics = dict[str, jax.Array]


def as_batch(gan: GAN, batch: Any) -> Batch:
  """`batch` as the `Batch` the step reads, checked once against what `gan` trains.

  Args:
    gan: the GAN the step trains.
    batch: a `Batch`, or what `jaxgan.data.make_batch_fn` serves: [n_critic, B, *data_shape] for an unconditional
      GAN, `(images, labels [n_critic, B])` for a conditional one, a `SemiSupervisedBatch` for the semi-supervised
      GAN.

  Raises:
    ValueError: for a batch of the wrong kind or shape, saying which is expected.
  """
  labelled_batch = gan.head is not None and gan.head.labelled_batch
  if not isinstance(batch, Batch):
    if labelled_batch:
      if not isinstance(batch, SemiSupervisedBatch):
        raise ValueError(
          "A semi-supervised GAN's train_step expects a jaxgan.batch.SemiSupervisedBatch "
          "(unlabelled, labelled, labels); build it with jaxgan.data.make_batch_fn(config, key)."
        )
      batch = Batch(batch.unlabelled, labelled=batch.labelled, labelled_labels=batch.labels)
    elif gan.num_classes:
      if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError("A conditional GAN's train_step expects batch = (images, labels [n_critic, B]).")
      batch = Batch(batch[0], labels=batch[1])
    else:
      batch = Batch(batch)
  real = batch.real
  if labelled_batch:
    if batch.labelled is None or batch.labelled_labels is None:
      raise ValueError(
        "A semi-supervised GAN's train_step needs the labelled batch: Batch.labelled and "
        "Batch.labelled_labels, or a jaxgan.batch.SemiSupervisedBatch."
      )
    if batch.labelled_labels.shape != batch.labelled.shape[:2] or batch.labelled.shape[0] != real.shape[0]:
      raise ValueError(
        f"SemiSupervisedBatch.labels must be [n_critic, B_l] = {batch.labelled.shape[:2]} with the "
        f"unlabelled batch's n_critic={real.shape[0]}; got {batch.labelled_labels.shape}."
      )
  elif gan.num_classes:
    if batch.labels is None:
      raise ValueError("A conditional GAN's train_step expects batch = (images, labels [n_critic, B]).")
    if batch.labels.shape != real.shape[:2]:
      raise ValueError(f"labels must be [n_critic, B] = {real.shape[:2]}; got {batch.labels.shape}.")
  if real.shape[0] != gan.n_critic or tuple(real.shape[2:]) != gan.data_shape:
    raise ValueError(f"train_step expects a batch [n_critic={gan.n_critic}, B, *{gan.data_shape}]; got {real.shape}.")
  return batch


def _subkeys(keys: jax.Array, purpose: int) -> jax.Array:
  # One stream per purpose (0 latents, 1 penalty, 2-3 labels, 4 instance noise, 5 DiffAugment) from each example's
  # key; a new purpose takes a new number, so the existing streams (and runs that do not use it) stay the same.
  return jax.vmap(lambda k: jax.random.fold_in(k, purpose))(keys)


def _pmean(tree, axis_name: str | None):
  return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def soft_targets(tips: Tips, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-example (real, fake) targets [B] of the log loss: smoothed (Salimans et al. 2016, Sec. 3.4, one-sided; the
  two-sided variant draws real ~ U(real_label, 1], fake ~ U[0, fake_label)) and a fraction flipped.

  Args:
    tips: the training tips.
    keys: [B] per-example keys (`jaxgan.gan.example_keys`).
  """
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


def instance_noise(tips: Tips, step: jax.Array, keys: jax.Array, x: jax.Array) -> jax.Array:
  """x [B, ...] plus Gaussian instance noise (Sonderby et al. 2017) of std sigma, annealed linearly to 0 over
  `tips.instance_noise_anneal_steps` train steps if asked; keys [B] per-example keys."""
  sigma = jnp.asarray(tips.instance_noise, x.dtype)
  if tips.instance_noise_anneal_steps > 0:
    sigma = sigma * jnp.maximum(0.0, 1.0 - step / tips.instance_noise_anneal_steps)
  noise = jax.vmap(lambda k: jax.random.normal(k, x.shape[1:], x.dtype))(keys)
  return x + sigma * noise


def _noisy(gan: GAN, step: jax.Array, keys: jax.Array, x: jax.Array) -> jax.Array:
  return instance_noise(gan.tips, step, _subkeys(keys, 4), x) if gan.tips.instance_noise > 0 else x


REAL, FAKE = 0, 1  # an example's two augmentation streams within purpose 5


def _augmented(gan: GAN, keys: jax.Array, images: dict[int, jax.Array]) -> dict[int, jax.Array]:
  """DiffAugment of each image batch [B, H, W, C] in `images` ({stream: batch}; REAL or FAKE, so an example's real
  and fake images draw apart) from each example's key, so a parallel run augments as one device does; `images`
  itself when the policy is empty."""
  if not gan.augment:
    return images
  # One call on the concatenated batches: the ops act per example, and one call site compiles once.
  augment_keys = _subkeys(keys, 5)
  all_keys = jnp.concatenate([_subkeys(augment_keys, stream) for stream in images])
  out = augment.augment_examples(jnp.concatenate(list(images.values())), gan.augment, all_keys)
  return dict(zip(images, jnp.split(out, len(images))))


def _lecam_term(gan: GAN, state: GANState, real_scores, fake_scores, axis_name):
  """(lambda_t * R, R, new anchors): the anchors step towards the global batch's mean scores first, and R compares
  the scores with the stepped anchors, as the authors' code orders it (`ema_losses.update` inside the critic's loss,
  then `lecam_reg`); lambda_t is 0 until the train step passes `gan.lecam.start`."""
  settings = gan.lecam
  if state.lecam is None:
    raise ValueError(
      "config.lecam_weight > 0 needs the LeCam anchors in GANState.lecam; build the state with "
      "jaxgan.gan.init_state, or complete a restored one with jaxgan.gan.complete_state."
    )
  means = _pmean(jax.lax.stop_gradient((jnp.mean(real_scores), jnp.mean(fake_scores))), axis_name)
  decay = regularizers.anchor_decay(state.step, settings.decay, settings.start)
  anchors = regularizers.update_anchors(state.lecam, *means, decay)
  value = regularizers.lecam_regularizer(real_scores, fake_scores, anchors.real, anchors.fake)
  weight = jnp.where(state.step > settings.start, settings.weight, 0.0)
  return weight * value, value, anchors


def _score(out: Any) -> jax.Array:
  """The real/fake score [B] of a critic's output: the output itself, or a classifier critic's `score`."""
  return out.score if isinstance(out, nets.CriticOutput) else out


def _dropout_key(key: jax.Array, purpose: int, axis_name: str | None) -> jax.Array:
  # Dropout masks are drawn per device (flax draws one mask for the local batch), so unlike the latents they
  # differ between a parallel run and a one-device run.
  key = jax.random.fold_in(key, purpose)
  return key if axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(axis_name))


def _outputs(gan: GAN, d_params, d_state, real, fake, labels, key, axis_name, need_real=True):
  """(real_out, fake_out, new_d_state): scores [B], or `CriticOutput`s for a classifier critic; a pair critic
  returns (T(real, fake), T(fake, real))."""
  d_apply = gan.critic.apply
  if gan.critic.pairwise:
    (t_rf, t_fr), d_state = d_apply(d_params, d_state, jnp.stack([real, fake]), True, _dropout_key(key, 0, axis_name))
    return t_rf, t_fr, d_state
  # Real and fake go through the critic as separate batches, so BatchNorm never mixes them.
  real_out = None
  if need_real:
    real_out, d_state = d_apply(
      d_params, d_state, conditioned(gan, real, labels), True, _dropout_key(key, 0, axis_name)
    )
  fake_out, d_state = d_apply(d_params, d_state, conditioned(gan, fake, labels), True, _dropout_key(key, 1, axis_name))
  return real_out, fake_out, d_state


def _adversarial_critic_loss(gan: GAN, real_scores, fake_scores, keys):
  if not gan.tips.soft_labels:
    return gan.loss.critic_loss(real_scores, fake_scores)
  real_targets, fake_targets = soft_targets(gan.tips, keys)
  return jnp.mean(optax.sigmoid_binary_cross_entropy(real_scores, real_targets)) + jnp.mean(
    optax.sigmoid_binary_cross_entropy(fake_scores, fake_targets)
  )


def _accuracy(gan: GAN, real_scores, fake_scores, axis_name):
  # The relative verdicts compare with the global batch's means, so they do not depend on the device count.
  means = _pmean((jnp.mean(real_scores), jnp.mean(fake_scores)), axis_name)
  return losses.discriminator_accuracy(real_scores, fake_scores, gan.loss.decision_threshold, *means)


def _class_terms(gan: GAN, d_params, d_state, real_out, fake_out, batch: Batch, key, axis_name):
  """The critic's class cross-entropy and accuracy (Salimans et al. 2016, L_supervised; Odena et al. 2017, L_C)."""
  head = gan.head
  if head.labelled_batch:
    # The labelled batch goes through the critic on its own too, like real and fake.
    labelled_out, d_state = gan.critic.apply(d_params, d_state, batch.labelled, True, _dropout_key(key, 3, axis_name))
    logits, targets = labelled_out.class_logits, batch.labelled_labels
  else:
    logits, targets = real_out.class_logits, batch.labels
  loss = semi_supervised.class_cross_entropy(logits, targets)
  if head.classify_fakes:
    loss = loss + semi_supervised.class_cross_entropy(fake_out.class_logits, batch.labels)
  return loss, semi_supervised.class_accuracy(logits, targets), d_state


def critic_update(
  gan: GAN, state: GANState, batch: Batch, key: jax.Array, axis_name: str | None = None, fake: jax.Array | None = None
) -> tuple[GANState, Metrics]:
  """One critic update: a gradient step on the critic's loss against fresh fakes.

  Args:
    gan: the GAN (`jaxgan.gan.build_gan`, with the same `axis_name`).
    state: the current state; `state.step` dates the annealed instance noise.
    batch: this update's data: real [B, *data_shape] (and labels [B], or labelled [B_l, ...] and labelled_labels
      [B_l], as the GAN needs), e.g. `as_batch(gan, step_batch)[i]`.
    key: this update's key. The train step's i-th critic update (i = 0 .. n_critic - 1) uses
      `fold_in(fold_in(run_key, state.step), i)`.
    axis_name: the mapped device axis, or None on one device.
    fake: [B, *data_shape] fakes the generator has already drawn this step (`generator_first_update`,
      `simultaneous_update`); None draws fresh ones from `key`.

  Returns:
    (state with new d_params, d_state, d_opt_state and g_state (the generator's BatchNorm statistics, updated when
    it drew the fakes; kept when `fake` was given) and, with LeCam, new anchors `lecam`, metrics): `critic_loss`
    (the adversarial part), `gradient_penalty`, `wasserstein_estimate`, `real_accuracy`, `fake_accuracy`,
    `critic_grad_norm`, with a classifier head `class_loss` and `class_accuracy`, and with LeCam `lecam` (R,
    unweighted); this device's values. With DiffAugment every score, the penalty and R are of the augmented images.
  """
  real, labels = batch.real, batch.labels
  keys = example_keys(key, real.shape[0], axis_name)
  g_state = state.g_state
  if fake is None:
    z = sample_latents(gan, state.prior_params, _subkeys(keys, 0))
    # A conditional GAN's fakes take the real batch's labels, so interpolates in the penalty share one label.
    fake, g_state = gan.generator.apply(state.g_params, state.g_state, conditioned(gan, z, labels), True)
  fake = jax.lax.stop_gradient(fake)
  noisy = {REAL: _noisy(gan, state.step, keys, real), FAKE: _noisy(gan, state.step, keys, fake)}
  real_in, fake_in = _augmented(gan, keys, noisy).values()

  def loss_fn(d_params):
    real_out, fake_out, new_d_state = _outputs(gan, d_params, state.d_state, real_in, fake_in, labels, key, axis_name)
    real_scores, fake_scores = _score(real_out), _score(fake_out)
    adversarial = _adversarial_critic_loss(gan, real_scores, fake_scores, keys)
    if gan.penalty is None:
      penalty = jnp.zeros(())
    else:
      penalty_key = _dropout_key(key, 2, axis_name)
      penalty = gan.penalty(
        lambda x: _score(gan.critic.apply(d_params, new_d_state, conditioned(gan, x, labels), True, penalty_key)[0]),
        real_in,
        fake_in,
        _subkeys(keys, 1),
      )
    total = adversarial + gan.penalty_weight * penalty
    metrics = {
      "critic_loss": adversarial,
      "gradient_penalty": penalty,
      "wasserstein_estimate": jnp.mean(real_scores) - jnp.mean(fake_scores),
    }
    anchors = state.lecam
    if gan.lecam is not None:
      weighted, metrics["lecam"], anchors = _lecam_term(gan, state, real_scores, fake_scores, axis_name)
      total = total + weighted
    metrics["real_accuracy"], metrics["fake_accuracy"] = _accuracy(gan, real_scores, fake_scores, axis_name)
    if gan.head is not None:
      class_loss, class_acc, new_d_state = _class_terms(
        gan, d_params, new_d_state, real_out, fake_out, batch, key, axis_name
      )
      total = total + gan.head.class_weight * class_loss
      metrics["class_loss"], metrics["class_accuracy"] = class_loss, class_acc
    return total, (new_d_state, anchors, metrics)

  (_, (d_state, anchors, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.d_params)
  grads = _pmean(grads, axis_name)
  metrics["critic_grad_norm"] = optax.tree.norm(grads)
  updates, d_opt_state = gan.d_tx.update(grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)
  state = state.replace(g_state=g_state, d_params=d_params, d_state=d_state, d_opt_state=d_opt_state)
  return (state if gan.lecam is None else state.replace(lecam=anchors)), metrics


def generator_update(
  gan: GAN, state: GANState, batch: Batch, key: jax.Array, axis_name: str | None = None
) -> tuple[GANState, Metrics]:
  """One generator update (with the learnable prior's parameters): a gradient step on its loss against the critic
  of `state`, whose own state updates during this update are dropped (it is not the critic's turn).

  Args:
    gan: the GAN (`jaxgan.gan.build_gan`, with the same `axis_name`).
    state: the current state; `state.step` dates the annealed instance noise.
    batch: this update's data: real [B, *data_shape] (read by losses that compare with real data, pair critics and
      feature matching) and labels [B] for a conditional GAN. The train step passes its last critic update's,
      `as_batch(gan, step_batch)[-1]`.
    key: this update's key. The train step's j-th generator update (j = 0 .. n_generator - 1) uses
      `fold_in(fold_in(run_key, state.step), n_critic + j)`.
    axis_name: the mapped device axis, or None on one device.

  Returns:
    (state with new g_params, g_state, prior_params and g_opt_state, metrics): `generator_loss`,
    `generator_grad_norm`, and for AC-GAN `generator_class_loss`; this device's values.
  """
  state, metrics, _, _ = _generator_update(gan, state, batch, key, axis_name)
  return state, metrics


def _generator_update(
  gan: GAN, state: GANState, batch: Batch, key: jax.Array, axis_name: str | None
) -> tuple[GANState, Metrics, jax.Array, Any]:
  """`generator_update`, also returning the fakes [B, *data_shape] it trained through (drawn with the parameters
  before its update) and the critic's state after scoring them (train-mode BatchNorm statistics advanced)."""
  real, labels = batch.real, batch.labels
  keys = example_keys(key, real.shape[0], axis_name)
  head = gan.head
  feature_matching = head is not None and head.feature_matching
  need_real = gan.loss.generator_uses_real or gan.critic.pairwise or feature_matching
  real_in = _noisy(gan, state.step, keys, real) if need_real else None

  def loss_fn(trainable):
    g_params, prior_params = trainable
    z = sample_latents(gan, prior_params, _subkeys(keys, 0))
    fake, new_g_state = gan.generator.apply(g_params, state.g_state, conditioned(gan, z, labels), True)
    noisy = {FAKE: _noisy(gan, state.step, keys, fake)}
    if need_real:
      noisy[REAL] = real_in
    augmented = _augmented(gan, keys, noisy)
    real_out, fake_out, new_d_state = _outputs(
      gan,
      state.d_params,
      state.d_state,
      augmented.get(REAL),
      augmented[FAKE],
      labels,
      key,
      axis_name,
      need_real,
    )
    if feature_matching:
      adversarial = semi_supervised.feature_matching_loss(real_out.features, fake_out.features, axis_name)
    else:
      adversarial = gan.loss.generator_loss(None if real_out is None else _score(real_out), _score(fake_out))
    metrics = {"generator_loss": adversarial}
    total = adversarial + gan.prior.regularizer(prior_params)
    if head is not None and head.classify_fakes:
      metrics["generator_class_loss"] = semi_supervised.class_cross_entropy(fake_out.class_logits, labels)
      total = total + head.class_weight * metrics["generator_class_loss"]
    return total, (new_g_state, metrics, fake, new_d_state)

  trainable = (state.g_params, state.prior_params)
  (_, (g_state, metrics, fake, d_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
  grads = _pmean(grads, axis_name)
  metrics["generator_grad_norm"] = optax.tree.norm(grads)
  updates, g_opt_state = gan.g_tx.update(grads, state.g_opt_state, trainable)
  g_params, prior_params = optax.apply_updates(trainable, updates)
  new_state = state.replace(g_params=g_params, g_state=g_state, prior_params=prior_params, g_opt_state=g_opt_state)
  return new_state, metrics, fake, d_state


def generator_first_update(
  gan: GAN, state: GANState, batch: Batch, critic_key: jax.Array, generator_key: jax.Array, axis_name: str | None = None
) -> tuple[GANState, Metrics]:
  """PyTorch-GAN's order (`implementations/dcgan`): the generator updates against the current critic, then the
  critic updates on the real batch and those same fakes, detached.

  The generator runs forward once per step instead of twice (critic_first draws the critic's fakes with a forward
  of its own): of the generator's forward, backward and second forward, the last is saved. As in PyTorch, the
  critic's train-mode pass in the generator's update advances its BatchNorm statistics, and the generator's
  statistics move once per step. Consequence: the fakes are drawn with the generator's parameters from before its
  update and the critic has not moved when the generator steps, so both gradients are taken at the step's starting
  parameters: the parameters follow `simultaneous_update`'s (they differ only in the critic's BatchNorm
  statistics), not critic_first's.

  Args:
    gan: the GAN (`jaxgan.gan.build_gan`, with the same `axis_name`); n_critic = n_generator = 1.
    state: the current state.
    batch: this step's data, `as_batch(gan, step_batch)[0]`.
    critic_key, generator_key: the two updates' keys (`critic_update`'s and `generator_update`'s; the generator's
      draws the latents). The train step uses `fold_in(step_key, 0)` and `fold_in(step_key, 1)`, as critic_first.
    axis_name: the mapped device axis, or None on one device.

  Returns:
    (the state after both updates, both updates' metrics).
  """
  g_done, g_metrics, fake, d_state = _generator_update(gan, state, batch, generator_key, axis_name)
  new_state, d_metrics = critic_update(gan, g_done.replace(d_state=d_state), batch, critic_key, axis_name, fake)
  return new_state, {**d_metrics, **g_metrics}


def simultaneous_update(
  gan: GAN, state: GANState, batch: Batch, key: jax.Array, axis_name: str | None = None
) -> tuple[GANState, Metrics]:
  """Simultaneous gradient descent, as Goodfellow et al. 2014's released code (pylearn2) trains: both players'
  gradients at the current parameters, from the same real batch and the same latents, then both applied.

  The generator runs forward once, and its fakes (detached) are the critic's. Both updates take the one `key`, so
  the critic's passes see the dropout masks, instance noise and augmentation the generator's pass saw: the two
  objectives are of one forward computation, as in the released code (`AdversaryCost2`). Consequence: neither
  player sees the other's update of this step; the generator's step is against the critic it started from.

  Args:
    gan, state, batch, axis_name: as `generator_first_update`.
    key: the step's one key (the train step's `fold_in(step_key, 1)`, generator_first's generator key, so both
      orders draw the same latents).

  Returns:
    (the state after both updates, both updates' metrics).
  """
  g_done, g_metrics, fake, _ = _generator_update(gan, state, batch, key, axis_name)
  d_done, d_metrics = critic_update(gan, state, batch, key, axis_name, fake)
  new_state = d_done.replace(
    g_params=g_done.g_params, g_state=g_done.g_state, prior_params=g_done.prior_params, g_opt_state=g_done.g_opt_state
  )
  return new_state, {**d_metrics, **g_metrics}
