"""Training diagnostics a user can act on, computed on the host at logging steps.

A flat loss is no reason to stop a GAN; but a discriminator whose loss races to 0 leaves the generator without a
useful gradient (Goodfellow et al. 2014, Sec. 3; Arjovsky & Bottou 2017, Sec. 2), and a generator whose samples stop
differing has collapsed (Salimans et al. 2016, Sec. 3.2). This module watches the train step's metrics and a batch of
samples from fixed latents, and raises an `Alert` when a condition holds for `window` consecutive checks:

* `d_wins`: the critic's loss is below `d_loss_fraction` x its chance value (`LossPair.chance_loss`, e.g. 2 log 2
  for the log loss: the loss of a critic that cannot tell real from fake). Not for Wasserstein losses.
* `vanishing_generator_gradient`: `generator_grad_norm` is below `vanishing_ratio` x its largest value so far.
* `mode_collapse`: the mean pairwise distance of the samples (`diversity`) is below `diversity_ratio` x the
  reference: the smaller of the real data's diversity and the largest sample diversity seen so far (so a generator
  that is still spreading out from its initial point does not count as collapsed).
* `exploding_penalty`: `penalty_weight x gradient_penalty` is above `penalty_threshold`.
* `non_finite`: a metric is NaN or infinite (at once, no window).

It also reports, as `diag/*` scalars, the trend of the critic's loss and (for Wasserstein losses) of the Wasserstein
estimate (least-squares slopes per 1,000 steps over the last `trend_window` checks), the loss relative to its
chance value, the sample diversity and, on toy mixtures, the modes covered.

The monitor is pure: `update(state, step, metrics, samples) -> (state, alerts)` returns a new `DiagnosticsState`.

    settings = diagnostics.settings_from_config(config)
    monitor = diagnostics.init(settings, reference_samples=diagnostics.real_samples(next_batch(0)))
    ...at a logging step:
    monitor, alerts = diagnostics.update(monitor, step, host_metrics, samples_from_fixed_latents)
    scalars = diagnostics.scalars(monitor)          # {"diag/...": float}
    if diagnostics.should_stop(monitor, alerts): ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import ml_collections
import numpy as np

from jaxgan import data, losses
from jaxgan.metrics import modes_covered

KINDS = ("d_wins", "vanishing_generator_gradient", "mode_collapse", "exploding_penalty", "non_finite")


def default_config() -> ml_collections.ConfigDict:
  """The `config.diagnostics` section."""
  return ml_collections.ConfigDict(
    {
      "enabled": True,
      "window": 5,  # K: consecutive checks (logging steps) a condition must hold
      "trend_window": 10,  # checks over which the loss trends are fitted
      "d_loss_fraction": 0.2,  # d_wins: critic loss below this fraction of its chance value
      "vanishing_ratio": 1e-3,  # generator gradient norm below this fraction of its peak
      "diversity_ratio": 0.25,  # sample diversity below this fraction of the reference
      "penalty_threshold": 100.0,  # penalty_weight * gradient_penalty above this
      "num_samples": 256,  # samples from fixed latents per check
      "stop": False,  # stop training when an alert of a kind in stop_on fires
      "stop_on": KINDS,
    }
  )


class Settings(NamedTuple):
  """What the monitor checks, read once from the config by `settings_from_config`.

  Attributes:
    enabled, window, trend_window, d_loss_fraction, vanishing_ratio, diversity_ratio, penalty_threshold,
      num_samples, stop, stop_on: as in `default_config`.
    chance_loss: the critic loss of a critic at chance (`LossPair.chance_loss`); None disables `d_wins`.
    wasserstein: the loss is a Wasserstein loss (its estimate's trend is reported).
    penalty_weight: the gradient penalty's weight (0 without a penalty).
    mode_centers: [M, d] toy-mixture mode centres for mode coverage, or None.
    mode_std: their standard deviation.
  """

  enabled: bool = True
  window: int = 5
  trend_window: int = 10
  d_loss_fraction: float = 0.2
  vanishing_ratio: float = 1e-3
  diversity_ratio: float = 0.25
  penalty_threshold: float = 100.0
  num_samples: int = 256
  stop: bool = False
  stop_on: tuple[str, ...] = KINDS
  chance_loss: float | None = 2 * math.log(2)
  wasserstein: bool = False
  penalty_weight: float = 0.0
  mode_centers: np.ndarray | None = None
  mode_std: float = 0.0


class Alert(NamedTuple):
  """A diagnosis: `kind` (one of `KINDS`), the `step` it fired at, and a `message` saying what to try."""

  kind: str
  step: int
  message: str


class Check(NamedTuple):
  """The numbers of one logging step that the monitor keeps (NaN where a metric was absent)."""

  step: int
  critic_loss: float
  wasserstein_estimate: float
  generator_grad_norm: float
  weighted_penalty: float
  diversity: float
  modes_covered: float


class DiagnosticsState(NamedTuple):
  """The monitor's memory; a new one is returned by every `update`.

  Attributes:
    settings: the `Settings`.
    reference_diversity: the real data's diversity (NaN if unknown).
    checks: the last max(window, trend_window) `Check`s, oldest first.
    peak_generator_grad_norm: the largest generator gradient norm seen.
    peak_diversity: the largest sample diversity seen.
    streaks: for each kind, how many consecutive checks its condition has held.
    alerts: every alert fired so far.
  """

  settings: Settings
  reference_diversity: float
  checks: tuple[Check, ...] = ()
  peak_generator_grad_norm: float = 0.0
  peak_diversity: float = 0.0
  streaks: Mapping[str, int] = {}
  alerts: tuple[Alert, ...] = ()


def settings_from_config(config: ml_collections.ConfigDict) -> Settings:
  """Reads `config.diagnostics` (defaults from `default_config`) and what the checks need from the run config.

  Raises:
    ValueError: for an unknown field or kind, or a bad value, naming the config field.
  """
  fields = default_config().to_dict()
  section = dict(config.get("diagnostics") or {})
  unknown = set(section) - set(fields)
  if unknown:
    raise ValueError(f"config.diagnostics has unknown fields {sorted(unknown)}; allowed: {sorted(fields)}.")
  fields.update(section)
  for name, least in (("window", 1), ("trend_window", 2), ("num_samples", 2)):
    if int(fields[name]) < least:
      raise ValueError(f"config.diagnostics.{name} must be >= {least}; got {fields[name]}.")
  for name in ("d_loss_fraction", "vanishing_ratio", "diversity_ratio"):
    if not 0 <= float(fields[name]) < 1:
      raise ValueError(f"config.diagnostics.{name} must be in [0, 1); got {fields[name]}.")
  if float(fields["penalty_threshold"]) <= 0:
    raise ValueError(f"config.diagnostics.penalty_threshold must be > 0; got {fields['penalty_threshold']}.")
  stop_on = (fields["stop_on"],) if isinstance(fields["stop_on"], str) else tuple(fields["stop_on"])
  bad = sorted(set(stop_on) - set(KINDS))
  if bad:
    raise ValueError(f"config.diagnostics.stop_on has unknown kinds {bad}; choose from {KINDS}.")
  loss = losses.get_loss(config.loss)
  penalty = config.get("penalty", "none") or "none"
  centers, std = None, 0.0
  if data.is_toy(config.data) and data.get_toy(config.data.name).centers is not None:
    centers, std = data.mode_centers(config.data.name)
  return Settings(
    enabled=bool(fields["enabled"]),
    window=int(fields["window"]),
    trend_window=int(fields["trend_window"]),
    d_loss_fraction=float(fields["d_loss_fraction"]),
    vanishing_ratio=float(fields["vanishing_ratio"]),
    diversity_ratio=float(fields["diversity_ratio"]),
    penalty_threshold=float(fields["penalty_threshold"]),
    num_samples=int(fields["num_samples"]),
    stop=bool(fields["stop"]),
    stop_on=stop_on,
    chance_loss=loss.chance_loss,
    wasserstein=loss.chance_loss is None,
    penalty_weight=0.0 if penalty == "none" else float(config.get("penalty_weight", 0.0)),
    mode_centers=centers,
    mode_std=float(std),
  )


def real_samples(batch: Any) -> np.ndarray:
  """The first critic update's real samples [B, ...] of a train-step batch: [n_critic, B, ...], a conditional GAN's
  (images, labels) or a semi-supervised GAN's (unlabelled, labelled, labels); a reference for `init`."""
  first = batch[0] if isinstance(batch, (tuple, list)) else batch
  return np.asarray(first[0])


def diversity(samples: Any) -> float:
  """Mean Euclidean distance between distinct pairs of samples [N, ...] (flattened), N >= 2.

  Raises:
    ValueError: for fewer than two samples.
  """
  x = np.asarray(samples, np.float64).reshape(len(samples), -1)
  if len(x) < 2:
    raise ValueError(f"diversity needs at least 2 samples; got {len(x)}.")
  x = x - x.mean(axis=0)  # distances are translation invariant; centring keeps the Gram trick accurate
  sq = np.sum(x**2, axis=1)
  d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
  upper = np.triu_indices(len(x), k=1)
  return float(np.mean(np.sqrt(d2[upper])))


def trend(steps: Sequence[float], values: Sequence[float]) -> float:
  """Least-squares slope of `values` against `steps`, per 1,000 steps (NaN with fewer than two finite points)."""
  t, v = np.asarray(steps, np.float64), np.asarray(values, np.float64)
  keep = np.isfinite(v)
  t, v = t[keep], v[keep]
  if len(t) < 2 or np.ptp(t) == 0:
    return float("nan")
  t = t - t.mean()
  return float(1000.0 * np.sum(t * (v - v.mean())) / np.sum(t * t))


def init(settings: Settings, reference_samples: Any | None = None) -> DiagnosticsState:
  """A fresh monitor; `reference_samples` [N, ...] (a real batch) fix the diversity a healthy generator reaches."""
  reference = diversity(reference_samples) if reference_samples is not None else float("nan")
  return DiagnosticsState(settings, reference, streaks={kind: 0 for kind in KINDS})


def _metric(metrics: Mapping[str, Any], name: str) -> float:
  value = metrics.get(name)
  return float("nan") if value is None else float(value)


def _conditions(state: DiagnosticsState, check: Check, metrics: Mapping[str, Any]) -> dict[str, str | None]:
  """For each kind, a message if its condition holds at this check, else None."""
  s = state.settings
  out: dict[str, str | None] = {kind: None for kind in KINDS}
  bad = sorted(name for name, value in metrics.items() if not math.isfinite(float(value)))
  if bad:
    out["non_finite"] = (
      f"{', '.join(bad)} not finite at step {check.step}. Lower the learning rates "
      "(config.g_optimizer / config.d_optimizer), or check the data for NaNs."
    )
  if s.chance_loss is not None and check.critic_loss < s.d_loss_fraction * s.chance_loss:
    out["d_wins"] = (
      f"The discriminator is winning outright: critic_loss = {check.critic_loss:.3g}, below "
      f"{s.d_loss_fraction:g} x its chance value {s.chance_loss:.3g}, for {s.window} checks; the generator's "
      "gradient is vanishing or uninformative. Try a lower config.d_optimizer.learning_rate or config.n_critic, "
      "config.loss='ns_gan' instead of 'gan', config.tips.label_smoothing='one_sided' or "
      "config.tips.instance_noise > 0."
    )
  peak = state.peak_generator_grad_norm
  if peak > 0 and check.generator_grad_norm < s.vanishing_ratio * peak:
    out["vanishing_generator_gradient"] = (
      f"The generator's gradient vanished: generator_grad_norm = {check.generator_grad_norm:.3g}, below "
      f"{s.vanishing_ratio:g} x its peak {peak:.3g}, for {s.window} checks; the generator has stopped learning. "
      "With the saturating config.loss='gan' switch to 'ns_gan' (or a Wasserstein loss), or weaken the critic "
      "(lower config.d_optimizer.learning_rate)."
    )
  reference = (
    min(state.peak_diversity, state.reference_diversity)
    if math.isfinite(state.reference_diversity)
    else state.peak_diversity
  )
  if math.isfinite(check.diversity) and reference > 0 and check.diversity < s.diversity_ratio * reference:
    coverage = "" if math.isnan(check.modes_covered) else f", {int(check.modes_covered)} modes covered"
    out["mode_collapse"] = (
      f"Mode collapse: the samples' mean pairwise distance is {check.diversity:.3g}, below {s.diversity_ratio:g} x "
      f"the reference {reference:.3g}{coverage}, for {s.window} checks. Try a Wasserstein loss with a gradient "
      "penalty (config.loss='wgan', config.penalty='gradient_penalty'), the DeLiGAN prior (config.prior="
      "'deligan'), a T-GAN pair critic, or lower learning rates."
    )
  if s.penalty_weight > 0 and check.weighted_penalty > s.penalty_threshold:
    out["exploding_penalty"] = (
      f"The gradient penalty is exploding: penalty_weight x gradient_penalty = {check.weighted_penalty:.3g} > "
      f"{s.penalty_threshold:g} for {s.window} checks; the critic's gradients are far from norm 1. Lower "
      "config.d_optimizer.learning_rate, or raise config.penalty_weight."
    )
  return out


def update(
  state: DiagnosticsState, step: int, metrics: Mapping[str, Any], samples: Any | None = None
) -> tuple[DiagnosticsState, list[Alert]]:
  """Records one logging step and returns the new state and the alerts that fire now.

  Args:
    state: the monitor.
    step: the train step just done.
    metrics: the train step's metrics as host floats (`critic_loss`, `generator_grad_norm`, `gradient_penalty`,
      `wasserstein_estimate`, ...; absent ones are skipped).
    samples: [N, ...] generator samples from the same fixed latents at every check (for diversity), or None.

  Returns:
    (new state, alerts): an alert fires once when its condition has held for `window` consecutive checks (at once
    for `non_finite`); it fires again only after the condition has cleared.
  """
  s = state.settings
  sample_diversity, covered = float("nan"), float("nan")
  if samples is not None:
    sample_diversity = diversity(samples)
    if s.mode_centers is not None:
      covered = float(modes_covered(np.asarray(samples).reshape(len(samples), -1), s.mode_centers, s.mode_std))
  check = Check(
    step=int(step),
    critic_loss=_metric(metrics, "critic_loss"),
    wasserstein_estimate=_metric(metrics, "wasserstein_estimate"),
    generator_grad_norm=_metric(metrics, "generator_grad_norm"),
    weighted_penalty=s.penalty_weight * _metric(metrics, "gradient_penalty"),
    diversity=sample_diversity,
    modes_covered=covered,
  )
  # The peaks include this check, so a first check never counts against itself.
  peaks = state._replace(
    peak_generator_grad_norm=float(np.nanmax([state.peak_generator_grad_norm, check.generator_grad_norm])),
    peak_diversity=float(np.nanmax([state.peak_diversity, sample_diversity])),
  )
  conditions = _conditions(peaks, check, metrics)
  streaks, alerts = {}, []
  for kind, message in conditions.items():
    streaks[kind] = state.streaks.get(kind, 0) + 1 if message else 0
    needed = 1 if kind == "non_finite" else s.window
    if streaks[kind] == needed:
      alerts.append(Alert(kind, int(step), message))
  keep = max(s.window, s.trend_window)
  new_state = peaks._replace(
    checks=(state.checks + (check,))[-keep:], streaks=streaks, alerts=state.alerts + tuple(alerts)
  )
  return new_state, alerts


def scalars(state: DiagnosticsState) -> dict[str, float]:
  """The latest check's diagnostics as {"diag/<name>": value}, for TensorBoard (NaN-free: absent ones are left out;
  the writer ranks the section: `4_diag/<name>`, see `jaxgan.summary`)."""
  if not state.checks:
    return {}
  s, last = state.settings, state.checks[-1]
  recent = state.checks[-s.trend_window :]
  steps = [c.step for c in recent]
  out = {"diag/critic_loss_trend": trend(steps, [c.critic_loss for c in recent])}
  if s.chance_loss is not None:
    out["diag/critic_loss_vs_chance"] = last.critic_loss / s.chance_loss
  if s.wasserstein:
    out["diag/wasserstein_trend"] = trend(steps, [c.wasserstein_estimate for c in recent])
  if state.peak_generator_grad_norm > 0:
    out["diag/generator_grad_norm_vs_peak"] = last.generator_grad_norm / state.peak_generator_grad_norm
  out["diag/diversity"] = last.diversity
  if math.isfinite(state.reference_diversity) and state.reference_diversity > 0:
    out["diag/diversity_vs_real"] = last.diversity / state.reference_diversity
  out["diag/modes_covered"] = last.modes_covered
  if s.penalty_weight > 0:
    out["diag/weighted_penalty"] = last.weighted_penalty
  for kind, streak in state.streaks.items():
    out[f"diag/streak/{kind}"] = float(streak)
  return {k: float(v) for k, v in out.items() if math.isfinite(v)}


def should_stop(state: DiagnosticsState, alerts: Sequence[Alert]) -> bool:
  """True if `config.diagnostics.stop` is on and one of `alerts` is of a kind in `stop_on`."""
  return state.settings.stop and any(alert.kind in state.settings.stop_on for alert in alerts)
