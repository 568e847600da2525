"""A GAN as a config describes it: its nets, optimisers, prior, loss, penalty and training tips, and its state.

`build_gan(config)` reads the names in a config once and returns a `GAN` of pure functions; `init_state` draws a
fresh `GANState` (both players' parameters and optimiser states); `generate` samples from a trained state. The
update math that trains a state lives in `jaxgan.updates`, and the train step that composes it in `jaxgan.train`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgan import augment, losses, nets, penalties, priors, regularizers, semi_supervised
from jaxgan import ema as ema_lib
from jaxgan.data.shapes import data_shape
from jaxgan.optim import build_optimizer

log = logging.getLogger(__name__)


class GANState(flax.struct.PyTreeNode):
  """Everything a run needs to continue: both players' parameters, optimiser states and net state.

  Attributes:
    step: number of train steps done (each: n_critic critic updates, then n_generator generator updates).
    g_params, g_state: generator parameters and non-parameter state (BatchNorm statistics).
    prior_params: learnable latent-prior parameters (DeLiGAN's mu, rho), {} for fixed priors.
    g_opt_state: optax state over `(g_params, prior_params)`: the generator's optimiser trains both.
    d_params, d_state, d_opt_state: the same for the critic.
    ema: the moving average of the generator (`jaxgan.ema.Average`) when `config.ema` keeps one, else None (the
      pytree of a run without it is unchanged).
    lecam: the LeCam regulariser's anchors (`jaxgan.regularizers.LeCamAnchors`) when `config.lecam_weight` > 0,
      else None, so a run without it keeps the pytree (and checkpoints) of older versions.
  """

  step: jax.Array
  g_params: Any
  g_state: Any
  prior_params: Any
  g_opt_state: Any
  d_params: Any
  d_state: Any
  d_opt_state: Any
  ema: ema_lib.Average | None = None
  lecam: Any = None


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


class LeCam(NamedTuple):
  """The LeCam regulariser's settings (Tseng et al. 2021; see `jaxgan.regularizers`)."""

  weight: float  # lambda: R's weight in the critic's loss
  decay: float = 0.99  # the anchors' EMA decay
  start: int = 0  # R joins the loss after this train step; before it the anchors track the batch (decay 0)


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
  axis_name: str | None = None  # the device axis the nets were built for (see `build_gan`)
  ema: ema_lib.Settings | None = None  # the generator's moving average (`config.ema`), None without one
  augment: str = ""  # DiffAugment's policy for every image the critic sees ('' = none; see `jaxgan.augment`)
  lecam: LeCam | None = None  # the LeCam regulariser's settings, None when off
  critic_loop: str = "auto"  # auto | scan | unroll: how the step loops over its critic updates (`jaxgan.train`)
  update_order: str = "critic_first"  # one of UPDATE_ORDERS (`jaxgan.updates`)


CRITIC_LOOPS = ("auto", "scan", "unroll")
UPDATE_ORDERS = ("critic_first", "generator_first", "simultaneous")


def _schedule_from_config(config: ml_collections.ConfigDict, n_critic: int, n_generator: int) -> tuple[str, str]:
  """(critic_loop, update_order), checked: the orders other than critic_first make one update of each player."""
  critic_loop = config.get("critic_loop", "auto")
  if critic_loop not in CRITIC_LOOPS:
    raise ValueError(f"config.critic_loop={critic_loop!r}; use one of {CRITIC_LOOPS}.")
  order = config.get("update_order", "critic_first")
  if order not in UPDATE_ORDERS:
    raise ValueError(f"config.update_order={order!r}; use one of {UPDATE_ORDERS}.")
  if order != "critic_first" and (n_critic, n_generator) != (1, 1):
    raise ValueError(
      f"config.update_order={order!r} makes one critic and one generator update per step; it needs "
      f"config.n_critic = config.n_generator = 1 (got {n_critic} and {n_generator}). Use 'critic_first' for more."
    )
  return critic_loop, order


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
      "samples of a batch. Set config.critic.batch_norm=False (WGAN-GP uses no batch norm in the critic)."
    )
  penalty = penalties.get_penalty(name)
  if name == "dragan" and axis_name is not None:
    penalty = functools.partial(penalty, axis_name=axis_name)  # its noise scale is the global batch's std
  return penalty, weight


def _tips_from_config(config: ml_collections.ConfigDict, loss: losses.LossPair) -> Tips:
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
  if tips.soft_labels and not loss.log_loss:
    raise ValueError(
      f"Label smoothing and flipping change the targets of the log loss; config.loss={config.loss!r} "
      f"has none. Use them with config.loss in {losses.LOG_LOSSES}."
    )
  return tips


def _augment_from_config(config: ml_collections.ConfigDict, shape) -> str:
  policy = str(config.get("augment", "") or "")
  try:
    groups = [group.strip() for group in policy.split(",") if group.strip()]
    augment.parse_policy(policy)
  except ValueError as error:
    raise ValueError(f"config.augment: {error}") from None
  if groups and len(shape) != 3:
    raise ValueError(
      f"config.augment={policy!r} augments images [H, W, C]; data {config.data.name!r} has shape {tuple(shape)}. "
      "Set config.augment=''."
    )
  return ",".join(groups)


def _lecam_from_config(config: ml_collections.ConfigDict, pairwise: bool) -> LeCam | None:
  weight = float(config.get("lecam_weight", 0.0))
  if weight < 0:
    raise ValueError(f"config.lecam_weight must be >= 0 (0: off); got {weight}.")
  if weight == 0:
    return None
  decay, start = float(config.get("lecam_decay", 0.99)), int(config.get("lecam_start", 0))
  if not 0 <= decay <= 1 or start < 0:
    raise ValueError(f"config.lecam_decay must be in [0, 1] and config.lecam_start >= 0; got {decay}, {start}.")
  if pairwise:
    raise ValueError(
      "config.lecam_weight > 0 anchors a critic's scores of real and of fake samples; the T-GAN pair critic scores "
      "pairs. Set config.lecam_weight=0."
    )
  return LeCam(weight, decay, start)


def build_gan(config: ml_collections.ConfigDict, axis_name: str | None = None) -> GAN:
  """Reads the nets, optimisers, prior, loss, penalty and tips that `config` names.

  Args:
    config: a run config.
    axis_name: the mapped device axis the train step will run under (BatchNorm statistics and DRAGAN's noise scale
      are averaged over it), or None on one device. It plays no part outside a train step: a GAN built for a
      device axis initialises, generates and evaluates on one device like one built without.

  Raises:
    ValueError: for an unknown name or a bad value, naming the config field to fix.
  """
  for field in ("n_critic", "latent_dim"):
    if int(config[field]) < 1:
      raise ValueError(f"config.{field} must be >= 1; got {config[field]}.")
  n_generator = int(config.get("n_generator", 1))
  if n_generator < 1:
    raise ValueError(f"config.n_generator must be >= 1; got {n_generator}.")
  critic_loop, update_order = _schedule_from_config(config, int(config.n_critic), n_generator)
  shape = data_shape(config.data)
  penalty, weight = _penalty_from_config(config, axis_name)
  prior_options = config.get(config.prior) if config.prior == "deligan" else None
  head = semi_supervised.head_from_config(config)  # before the nets: its errors name the fields to change
  num_classes = int(config.get("num_classes", 0))
  if num_classes < 0:
    raise ValueError(f"config.num_classes must be >= 0 (0: unconditional); got {num_classes}.")
  # Configs written before compute_dtype existed compute in float32, as they did.
  dtype = nets.compute_dtype(config.get("compute_dtype", "float32"))
  generator = nets.build_generator(config.generator, shape, axis_name, num_classes, dtype)
  critic = nets.build_critic(config.critic, axis_name, num_classes, dtype)
  if penalty is not None and critic.pairwise:
    raise ValueError(
      f"config.penalty={config.penalty!r} needs a one-argument critic; the T-GAN pair critic is "
      "constrained by spectral normalisation instead. Set config.penalty='none'."
    )
  g_tx = build_optimizer(config.g_optimizer, "g_optimizer")
  d_tx = build_optimizer(config.d_optimizer, "d_optimizer")
  prior = priors.get_prior(config.prior, prior_options)
  loss = losses.get_loss(config.loss)
  if head is not None and head.needs_log_loss and not loss.log_loss:
    raise ValueError(
      f"The semi-supervised GAN's D(x) = Z / (Z + 1) is a probability, trained by the log loss; set "
      f"config.loss to one of {losses.LOG_LOSSES} (got {config.loss!r})."
    )
  return GAN(
    generator=generator,
    critic=critic,
    g_tx=g_tx,
    d_tx=d_tx,
    prior=prior,
    loss=loss,
    penalty=penalty,
    penalty_weight=weight,
    latent_shape=(int(config.latent_dim),),
    data_shape=tuple(shape),
    n_critic=int(config.n_critic),
    n_generator=n_generator,
    tips=_tips_from_config(config, loss),
    num_classes=num_classes,
    head=head,
    axis_name=axis_name,
    ema=ema_lib.settings_from_config(config),
    augment=_augment_from_config(config, shape),
    lecam=_lecam_from_config(config, critic.pairwise),
    critic_loop=critic_loop,
    update_order=update_order,
  )


class _Identity:
  """A GAN keyed by identity: its nets may hold unhashable attributes (lists from a JSON config)."""

  __slots__ = ("gan",)

  def __init__(self, gan: GAN):
    self.gan = gan

  def __hash__(self) -> int:
    return id(self.gan)

  def __eq__(self, other: object) -> bool:
    return isinstance(other, _Identity) and other.gan is self.gan


@functools.lru_cache(maxsize=16)
def _compiled_init(ref: _Identity) -> Callable[[jax.Array], GANState]:
  return jax.jit(functools.partial(_init_state, ref.gan))


def init_state(gan: GAN, key: jax.Array) -> GANState:
  """Fresh parameters and optimiser states from `key`.

  Compiled once per `GAN` object: flax's initialisers run op by op otherwise, and compiling each op alone costs
  several times one program's compile (seconds for a DCGAN on a CPU), the bulk of a run's first step.
  """
  return _compiled_init(_Identity(gan))(key)


def _init_state(gan: GAN, key: jax.Array) -> GANState:
  """`init_state`'s body, traced once per GAN."""
  g_key, d_key, p_key = jax.random.split(key, 3)
  z = jnp.zeros((1, *gan.latent_shape))
  x = jnp.zeros((2, 1, *gan.data_shape) if gan.critic.pairwise else (1, *gan.data_shape))
  labels = jnp.zeros((1,), jnp.int32)
  g_params, g_state = gan.generator.init(g_key, conditioned(gan, z, labels))
  d_params, d_state = gan.critic.init(d_key, conditioned(gan, x, labels))
  prior_params = gan.prior.init(p_key, gan.latent_shape)
  state = GANState(
    step=jnp.zeros((), jnp.int32),
    g_params=g_params,
    g_state=g_state,
    prior_params=prior_params,
    g_opt_state=gan.g_tx.init((g_params, prior_params)),
    d_params=d_params,
    d_state=d_state,
    d_opt_state=gan.d_tx.init(d_params),
    lecam=None if gan.lecam is None else regularizers.init_anchors(),
  )
  return state if gan.ema is None else state.replace(ema=ema_lib.init(state))


def complete_state(gan: GAN, state: GANState) -> GANState:
  """`state`, restored from a checkpoint written without some optional field `gan` trains, with that field
  started (and logged): the generator's moving average from the generator's weights, LeCam's anchors afresh."""
  if gan.ema is not None and state.ema is None:
    log.info("The checkpoint holds no generator average (written without config.ema); starting it from the generator.")
    state = state.replace(ema=ema_lib.init(state))
  if gan.lecam is not None and state.lecam is None:
    log.info("The checkpoint holds no LeCam anchors (written without config.lecam_weight); starting them afresh.")
    state = state.replace(lecam=regularizers.init_anchors())
  return state


def example_keys(key: jax.Array, local_batch: int, axis_name: str | None) -> jax.Array:
  """[local_batch] keys, one per example, indexed by the example's position in the global batch."""
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local_batch
  return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, offset + jnp.arange(local_batch))


def sample_latents(gan: GAN, prior_params: Any, keys: jax.Array) -> jax.Array:
  """z [B, *latent_shape], one draw from the prior per example key [B]."""
  return jax.vmap(lambda k: gan.prior.sample(prior_params, k, gan.latent_shape))(keys)


def conditioned(gan: GAN, inputs: jax.Array, labels: jax.Array | None):
  """What a net takes: `inputs`, or `(inputs, labels)` for a conditional GAN."""
  return (inputs, labels) if gan.num_classes else inputs


def cycled_labels(num: int, num_classes: int) -> np.ndarray:
  """int [num] labels 0, 1, ..., num_classes - 1, 0, 1, ...: every class equally often (up to one)."""
  return np.arange(num) % num_classes


def generate(
  gan: GAN, state: GANState, key: jax.Array, num: int, labels: jax.Array | None = None, use_ema: bool = True
) -> jax.Array:
  """num samples [num, *data_shape] from the generator in inference mode (BatchNorm running statistics).

  Args:
    labels: int [num] classes for a conditional GAN; default cycles through the classes (`cycled_labels`).
    use_ema: sample from the generator's moving average when the state keeps one (`jaxgan.ema`); False: the
      trained (raw) generator.
  """
  g_params, g_state, prior_params = ema_lib.generator(state, use_ema)
  z = sample_latents(gan, prior_params, example_keys(key, num, None))
  if gan.num_classes and labels is None:
    labels = jnp.asarray(cycled_labels(num, gan.num_classes))
  if labels is not None and labels.shape != (num,):
    raise ValueError(f"generate needs labels of shape ({num},); got {labels.shape}.")
  x, _ = gan.generator.apply(g_params, g_state, conditioned(gan, z, labels), False)
  return x
