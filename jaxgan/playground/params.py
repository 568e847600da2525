"""What the page may ask for, checked, and turned into a run config for `jaxgan.train.build_gan`.

The page sends a flat JSON object (dataset, loss preset, prior, n_critic, learning rates, net sizes). `parse_settings`
checks every field against the limits below and raises `ValueError` with a message the page shows as it is;
`make_config` overrides a base config (the CLI passes `experiments/configs/wgan_gp_toy.py`'s) with them. A loss
*preset* is a registry entry naming the library's loss, penalty, optimiser and critic, so WGAN with clipping and
WGAN-GP are two presets over the same `wgan` loss, as they are two configs in `experiments/configs/`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import ml_collections

from jaxgan.playground import datasets
from jaxgan.priors import PRIORS


class LossPreset(NamedTuple):
  """A loss as the page offers it: the library pieces and the defaults that train it at a watchable pace.

  Attributes:
    label: what the page shows.
    loss: name in `jaxgan.losses.LOSSES`.
    penalty: name in `jaxgan.penalties.PENALTIES`, or 'none'.
    penalty_weight: its weight.
    optimizer: 'adam' (betas below) or 'rmsprop' (the WGAN paper's).
    betas: Adam's (b1, b2).
    clip: WGAN weight clipping of the critic (0: none).
    n_critic: critic updates per step.
    n_generator: generator updates per step (T-GAN's authors use 2).
    lr: default learning rate of both players.
    critic: 'mlp', or 'tgan' for the Turing-test GANs' pair critic (spectrally normalised).
    heat: 'probability' shows sigmoid(critic) = D(x) on the heat-map, 'score' the raw critic value.
  """

  label: str
  loss: str
  penalty: str = "none"
  penalty_weight: float = 0.0
  optimizer: str = "adam"
  betas: tuple[float, float] = (0.5, 0.999)
  clip: float = 0.0
  n_critic: int = 1
  n_generator: int = 1
  lr: float = 1e-3
  critic: str = "mlp"
  heat: str = "score"


LOSS_PRESETS: dict[str, LossPreset] = {
  "gan": LossPreset("GAN (minimax)", "gan", heat="probability"),
  "ns_gan": LossPreset("GAN (non-saturating)", "ns_gan", heat="probability"),
  "wgan_clip": LossPreset("WGAN + clipping", "wgan", optimizer="rmsprop", clip=0.01, n_critic=5, lr=5e-4),
  "wgan_gp": LossPreset(
    "WGAN-GP", "wgan", penalty="gradient_penalty", penalty_weight=0.1, betas=(0.5, 0.9), n_critic=5
  ),
  "rsgan": LossPreset("RSGAN", "rsgan"),
  "rasgan": LossPreset("RaSGAN", "rasgan"),
  "t_sgan": LossPreset("T-SGAN", "t_sgan", n_generator=2, critic="tgan"),
  "t_wgan": LossPreset("T-WGAN", "t_wgan", n_generator=2, critic="tgan"),
  "hinge": LossPreset("Hinge", "hinge"),
  "lsgan": LossPreset("LSGAN", "lsgan"),
}

# The priors the page offers: those of `jaxgan.priors.PRIORS` whose latent square the manifold panel knows how to
# draw (`engine.LATENT_GRIDS`); a prior added to the library appears here once it has both.
PRIOR_LABELS = {"normal": "Normal N(0, I)", "uniform": "Uniform [-1, 1]²", "deligan": "DeLiGAN mixture (learned)"}
DELIGAN_COMPONENTS = 50  # as the DeLiGAN paper and experiments/configs/deligan_toy.py

# Inclusive limits of the numeric fields: beyond them a step is too slow to watch or the run is meaningless.
LIMITS: dict[str, tuple[float, float]] = {
  "n_critic": (1, 20),
  "g_lr": (1e-6, 1.0),
  "d_lr": (1e-6, 1.0),
  "g_width": (1, 512),
  "g_depth": (1, 6),
  "d_width": (1, 512),
  "d_depth": (1, 6),
  "batch_size": (8, 1024),
  "seed": (0, 2**31 - 1),
}
_INTEGER_FIELDS = {"n_critic", "g_width", "g_depth", "d_width", "d_depth", "batch_size", "seed"}
# What a running session can take without restarting (`parse_live_changes`); null for them means the preset's default.
LIVE_FIELDS = ("n_critic", "d_lr", "g_lr")


@dataclasses.dataclass(frozen=True)
class Settings:
  """One playground run, as checked by `parse_settings`. None for n_critic and the learning rates means the
  preset's default."""

  data: str = "ring8"
  loss: str = "ns_gan"
  prior: str = "normal"
  n_critic: int | None = None
  g_lr: float | None = None
  d_lr: float | None = None
  g_width: int = 64
  g_depth: int = 3
  d_width: int = 64
  d_depth: int = 3
  batch_size: int = 256
  seed: int = 0
  points: tuple[tuple[float, float], ...] | None = None

  @property
  def preset(self) -> LossPreset:
    return LOSS_PRESETS[self.loss]

  def resolved(self) -> dict[str, Any]:
    """The settings with the preset's defaults filled in, as the page shows them (without the points)."""
    fields = dataclasses.asdict(self)
    del fields["points"]
    fields["n_critic"] = self.n_critic or self.preset.n_critic
    fields["g_lr"] = self.g_lr or self.preset.lr
    fields["d_lr"] = self.d_lr or self.preset.lr
    return fields


def _shown(value: Any) -> str:
  """A value as an error message quotes it: an empty field says so rather than showing '' or None."""
  if value is None or (isinstance(value, str) and not value.strip()):
    return "an empty field"
  return repr(value)


def _limit(value: float) -> str:
  return str(int(value)) if value == int(value) and abs(value) >= 1 else f"{value:g}"


def _number(name: str, value: Any) -> float | int:
  """`value` checked against `LIMITS[name]` (an int for `_INTEGER_FIELDS`). Raises `ValueError` naming the field, the
  bad value and the allowed range, whatever is wrong with it (not a number, not whole, out of range)."""
  low, high = LIMITS[name]
  kind = "a whole number" if name in _INTEGER_FIELDS else "a number"
  problem = ValueError(f"{name} must be {kind} from {_limit(low)} to {_limit(high)}; got {_shown(value)}.")
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    raise problem
  if name in _INTEGER_FIELDS:
    if value != int(value):
      raise problem
    value = int(value)
  if not low <= value <= high:
    raise problem
  return value


def parse_settings(raw: Any) -> Settings:
  """Checks what the page sent.

  Args:
    raw: a JSON object with any of `Settings`' fields; absent fields keep their defaults. n_critic and the learning
      rates may be null (the preset's default); the other numbers may not.

  Returns:
    The `Settings`.

  Raises:
    ValueError: one line naming the field, the bad value and what it may be.
  """
  if not isinstance(raw, dict):
    raise ValueError(f"Settings must be a JSON object; got {type(raw).__name__}.")
  allowed = [field.name for field in dataclasses.fields(Settings)]
  unknown = sorted(set(raw) - set(allowed), key=str)
  if unknown:
    raise ValueError(f"Unknown setting {unknown[0]!r} (= {_shown(raw[unknown[0]])}); allowed: {allowed}.")
  fields = dict(raw)
  choices = {
    "data": list(datasets.DATASETS),
    "loss": list(LOSS_PRESETS),
    "prior": [p for p in PRIORS if p in PRIOR_LABELS],
  }
  for name, options in choices.items():
    if name in fields and not (isinstance(fields[name], str) and fields[name] in options):
      raise ValueError(f"Unknown {name} {_shown(fields[name])}; choose one of {options}.")
  for name in LIMITS:
    if name in fields and (fields[name] is not None or name not in LIVE_FIELDS):
      fields[name] = _number(name, fields[name])
  if fields.get("data") == "drawn":
    fields["points"] = tuple(map(tuple, datasets.check_points(fields.get("points")).tolist()))
  else:
    fields["points"] = None  # points only matter to the drawn dataset
  return Settings(**fields)


def parse_live_changes(raw: Any) -> dict[str, float | int]:
  """Checks a change of the settings a run takes without restarting (`LIVE_FIELDS`).

  Args:
    raw: a JSON object with one or more of `LIVE_FIELDS`, e.g. {"d_lr": 0.0002}.

  Returns:
    The checked values (n_critic an int).

  Raises:
    ValueError: one line naming the field, the bad value and what it may be.
  """
  if not isinstance(raw, dict) or not raw:
    raise ValueError(f"A live change is a JSON object with one or more of {list(LIVE_FIELDS)}; got {_shown(raw)}.")
  unknown = sorted(set(raw) - set(LIVE_FIELDS), key=str)
  if unknown:
    raise ValueError(
      f"{unknown[0]!r} cannot change while a run goes on; only {list(LIVE_FIELDS)} can (the other "
      "settings start a new run)."
    )
  return {name: _number(name, value) for name, value in raw.items()}


def make_config(settings: Settings, base: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`base` (a toy run config) with the playground's settings: 2-D latents, MLP nets of the chosen size, the preset's
  loss, penalty, optimisers and critic."""
  preset = settings.preset
  resolved = settings.resolved()
  c = ml_collections.ConfigDict(base.to_dict())
  c.name = "playground"
  c.seed = settings.seed
  c.batch_size = settings.batch_size
  c.latent_dim = 2  # the latent panel and the manifold grid are drawn in a 2-D latent plane
  # data_shape() knows the library's toy sets by name; two moons and drawn points give their shape instead.
  c.data = ml_collections.ConfigDict({"name": settings.data, "image_shape": (2,)})
  c.loss = preset.loss
  c.penalty = preset.penalty
  c.penalty_weight = preset.penalty_weight
  c.n_critic = resolved["n_critic"]
  c.n_generator = preset.n_generator
  c.prior = settings.prior
  if settings.prior == "deligan":
    c.deligan = ml_collections.ConfigDict({"num_components": DELIGAN_COMPONENTS})
  c.generator = ml_collections.ConfigDict(
    {"name": "mlp", "features": (settings.g_width,) * settings.g_depth, "activation": "relu"}
  )
  critic_features = (settings.d_width,) * settings.d_depth
  if preset.critic == "tgan":
    c.critic = ml_collections.ConfigDict(
      {
        "name": "tgan",
        "encoder": "mlp",
        "features": critic_features,
        "head_features": (settings.d_width,),
        "activation": "relu",
        "spectral_norm": True,
      }
    )
  else:
    c.critic = ml_collections.ConfigDict({"name": "mlp", "features": critic_features, "activation": "relu"})
  c.g_optimizer = _optimizer(preset, resolved["g_lr"], clip=0.0)
  c.d_optimizer = _optimizer(preset, resolved["d_lr"], clip=preset.clip)
  return c


def _optimizer(preset: LossPreset, learning_rate: float, clip: float) -> ml_collections.ConfigDict:
  fields = {"name": preset.optimizer, "learning_rate": learning_rate, "clip": clip}
  if preset.optimizer == "adam":
    fields.update(b1=preset.betas[0], b2=preset.betas[1])
  return ml_collections.ConfigDict(fields)


def options() -> dict[str, Any]:
  """What the page's pickers offer, with the defaults and limits, as JSON."""
  defaults = Settings()
  return {
    "datasets": [{"name": name, "label": datasets.LABELS[name]} for name in datasets.DATASETS],
    "losses": [
      {"name": name, "label": p.label, "n_critic": p.n_critic, "lr": p.lr} for name, p in LOSS_PRESETS.items()
    ],
    "priors": [{"name": name, "label": PRIOR_LABELS[name]} for name in PRIORS if name in PRIOR_LABELS],
    "limits": LIMITS,
    "defaults": defaults.resolved(),
    "drawn_extent": datasets.DRAWN_EXTENT,
  }
