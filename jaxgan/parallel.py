"""Data parallelism: the one per-device train step run on one device, under `jax.pmap`, or under `jax.shard_map`.

`jaxgan.train.make_train_step(gan, AXIS)` is written for one device's shard of the global batch; it `pmean`s
gradients, metrics and BatchNorm statistics over `AXIS` and draws each example's randomness from its global index.
`parallelize` wraps that same function, unchanged, for a mode:

- `"none"`: `jax.jit` on one device (the step must be built with `axis_name=None`).
- `"pmap"`: `jax.pmap` over the devices of one host; the state is stacked [devices, ...] and the batch split
  [n_critic, B, ...] -> [devices, n_critic, B / devices, ...]. `jax.pmap` is in maintenance mode (since JAX 0.8 it is
  built on `jit` + `shard_map`); it stays for users of older stacks.
- `"shard_map"`: `jax.jit(jax.shard_map(...))` over a 1-D `Mesh` named `AXIS`; parameters replicated (`P()`), the
  batch sharded along its example axis (`P(None, AXIS)`). This is what new code should use, across hosts too.
- `"auto"`: `"shard_map"` when more than one device is present, else `"none"`.

Each mode is a placement object (`OneDevice`, `Pmap`, `ShardMap`), chosen once by `parallelize`: how it compiles the
step, lays out the state and batches on its devices, and reads them back. `ParallelStep` delegates to it.

Every mode gives the same parameters as the one-device step on the same global batch and key (up to float
reassociation in the cross-device means). Checkpoints hold one device-count-independent copy of the state
(`ParallelStep.global_state`), so a run may resume on a different number of devices.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxgan.train import GAN, build_gan, make_train_step

log = logging.getLogger(__name__)

AXIS = "devices"
PARALLEL_MODES = ("auto", "none", "pmap", "shard_map")

StepFn = Callable[[Any, jax.Array, jax.Array], tuple[Any, dict[str, jax.Array]]]


def resolve_mode(mode: str, num_devices: int | None = None) -> str:
  """The concrete mode for `mode`: "auto" becomes "shard_map" on more than one device, else "none".

  Raises:
    ValueError: for an unknown mode.
  """
  if mode not in PARALLEL_MODES:
    raise ValueError(f"config.parallel={mode!r} is not supported; choose one of {PARALLEL_MODES}.")
  if mode != "auto":
    return mode
  num_devices = jax.device_count() if num_devices is None else num_devices
  return "shard_map" if num_devices > 1 else "none"


def check_batch_size(batch_size: int, num_devices: int) -> None:
  """Raises a ValueError unless the global `batch_size` splits evenly over `num_devices`."""
  if batch_size % num_devices:
    raise ValueError(
      f"config.batch_size={batch_size} must be divisible by the device count {num_devices} (each "
      f"device takes batch_size / {num_devices} examples); set --config.batch_size to a multiple of "
      f"{num_devices}."
    )


def _first_local_copy(x: jax.Array, stacked: bool) -> jax.Array:
  shard = x.addressable_shards[0].data
  return shard[0] if stacked else shard


@dataclasses.dataclass(frozen=True)
class OneDevice:
  """Mode "none": the step jitted on one device; state and batches stay as they are."""

  devices: tuple[jax.Device, ...]
  mode = "none"
  mesh = None

  def compile(self, step: StepFn) -> StepFn:
    return jax.jit(step, donate_argnums=0)

  def put_state(self, state):
    return state

  def put_batch(self, batch):
    return batch

  def put_process_batch(self, local_batch):
    del local_batch
    raise ValueError(
      "config.parallel='none' runs in one process; use config.parallel='shard_map' (or 'auto') across processes."
    )

  def unreplicate(self, tree):
    return tree

  def global_state(self, state):
    return state


@dataclasses.dataclass(frozen=True)
class _OverMesh:
  """What the mapped modes share: a 1-D mesh named `AXIS` over the devices, batches split along B."""

  devices: tuple[jax.Device, ...]
  mesh: Mesh

  def put_process_batch(self, local_batch):
    """This process's [n_critic, B / process_count, ...] shard of a multi-process run's global batch, placed."""
    check_batch_size(jax.tree.leaves(local_batch)[0].shape[1] * jax.process_count(), len(self.devices))
    sharding = NamedSharding(self.mesh, P(None, AXIS))
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch)


@dataclasses.dataclass(frozen=True)
class Pmap(_OverMesh):
  """Mode "pmap": the state stacked [devices, ...], the batch [devices, n_critic, B / devices, ...]."""

  mode = "pmap"

  def compile(self, step: StepFn) -> StepFn:
    # The key is broadcast (in_axes None): every device folds the same key; `axis_index` tells their examples apart.
    return jax.pmap(step, axis_name=AXIS, in_axes=(0, 0, None), donate_argnums=0, devices=list(self.devices))

  def put_state(self, state):
    stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(self.devices), *jnp.shape(x))), state)
    return jax.device_put(stacked, NamedSharding(self.mesh, P(AXIS)))

  def put_batch(self, batch):
    check_batch_size(jax.tree.leaves(batch)[0].shape[1], len(self.devices))
    return jax.tree.map(self._split, batch)

  def _split(self, x: jax.Array) -> jax.Array:
    n_critic, global_batch, *rest = x.shape
    num_devices = len(self.devices)
    split = jnp.reshape(x, (n_critic, num_devices, global_batch // num_devices, *rest))
    return jnp.swapaxes(split, 0, 1)  # [devices, n_critic, B / devices, ...]

  def unreplicate(self, tree):
    return jax.tree.map(lambda x: _first_local_copy(x, True), tree)

  def global_state(self, state):
    return self.unreplicate(state)


@dataclasses.dataclass(frozen=True)
class ShardMap(_OverMesh):
  """Mode "shard_map": parameters replicated (`P()`), the batch sharded along its example axis (`P(None, AXIS)`)."""

  mode = "shard_map"

  def compile(self, step: StepFn) -> StepFn:
    # check_vma=False gives pmap's semantics. With the default check_vma=True, JAX tracks which values vary over
    # AXIS, and the gradient with respect to replicated (P()) parameters comes back already psum-ed over devices;
    # the step's own pmean would then leave a gradient D times the one-device gradient.
    mapped = jax.shard_map(
      step, mesh=self.mesh, in_specs=(P(), P(None, AXIS), P()), out_specs=(P(), P()), check_vma=False
    )
    return jax.jit(mapped, donate_argnums=0)

  def put_state(self, state):
    return jax.device_put(state, NamedSharding(self.mesh, P()))

  def put_batch(self, batch):
    check_batch_size(jax.tree.leaves(batch)[0].shape[1], len(self.devices))
    sharding = NamedSharding(self.mesh, P(None, AXIS))
    if jax.process_count() == 1:
      return jax.device_put(batch, sharding)

    # Every process holds the same global batch here; each keeps its devices' part.
    def local_part(x):
      host = np.asarray(x)
      return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(local_part, batch)

  def unreplicate(self, tree):
    return jax.tree.map(lambda x: _first_local_copy(x, False), tree)

  def global_state(self, state):
    # The replicated global array itself: orbax writes one replica, from every process alike.
    return state


Placement = OneDevice | Pmap | ShardMap


@dataclasses.dataclass(frozen=True)
class ParallelStep:
  """A compiled train step for one mode, with the helpers that move state and batches in and out of its layout.

  Attributes:
    mode: the concrete mode: "none", "pmap" or "shard_map".
    devices: the devices the step runs on (all devices, over every process, for "shard_map").
    step: the compiled `step(placed_state, placed_batch, key) -> (placed_state, placed_metrics)`; the state is
      donated.
    mesh: the 1-D mesh over `devices` named `AXIS` (None for "none").
    placement: the mode's placement (`OneDevice`, `Pmap` or `ShardMap`): how state and batches are laid out on the
      devices and read back.
  """

  mode: str
  devices: tuple[jax.Device, ...]
  step: StepFn
  mesh: Mesh | None
  placement: Placement

  @property
  def num_devices(self) -> int:
    """How many devices share each batch."""
    return len(self.devices)

  def __call__(self, state, batch: jax.Array, key: jax.Array):
    """Places the global `batch` ([n_critic, B, ...] or a tuple of them) and runs one step on a placed state."""
    return self.step(state, self.put_batch(batch), key)

  def put_state(self, state):
    """A one-copy state (as `init_state` or a checkpoint gives it) in this mode's layout: replicated per device."""
    return self.placement.put_state(state)

  def put_batch(self, batch):
    """The global batch in this mode's layout, split over the devices along B.

    Args:
      batch: [n_critic, B, ...], or a pytree of such arrays (a conditional GAN's (images, labels)).

    Raises:
      ValueError: if B does not divide by the device count.
    """
    return self.placement.put_batch(batch)

  def put_local_batch(self, local_batch):
    """Like `put_batch`, from this process's shard of the global batch (`make_batch_fn(..., shard=data_shard())`).

    Args:
      local_batch: [n_critic, B / process_count, ...] (or a pytree of them): the examples of this process's devices.
    """
    if jax.process_count() == 1:
      return self.put_batch(local_batch)
    return self.placement.put_process_batch(local_batch)

  def unreplicate(self, tree):
    """One copy of a replicated tree (state or metrics), on the first local device."""
    return self.placement.unreplicate(tree)

  def global_state(self, state):
    """The state to checkpoint: one copy, whatever the device count, that `put_state` can place again.

    Under "shard_map" this is the replicated global array itself (orbax writes one replica, from every process
    alike); under "pmap" the first replica.
    """
    return self.placement.global_state(state)

  def host_metrics(self, metrics) -> dict[str, float]:
    """Metrics as Python floats on the host (call at logging steps only: it waits for the step)."""
    return {k: float(v) for k, v in jax.device_get(self.unreplicate(metrics)).items()}


def data_shard() -> tuple[int, int]:
  """(process index, process count): the slice of each global batch this process reads."""
  return jax.process_index(), jax.process_count()


def parallelize(step: StepFn, mode: str = "auto", devices: Sequence[jax.Device] | None = None) -> ParallelStep:
  """Wraps the per-device `step(state, batch, key) -> (state, metrics)` for `mode`.

  Args:
    step: the per-device train step; built with `axis_name=AXIS` for "pmap" and "shard_map", and with
      `axis_name=None` for "none" (resolve "auto" with `resolve_mode` first to know which; or let
      `make_parallel_train_step` do both).
    mode: "auto", "none", "pmap" or "shard_map".
    devices: the devices to use (default: all for "shard_map", the local ones for "pmap", the first for "none").

  Returns:
    A `ParallelStep`, compiled once; call `put_state` on the state before the first step.
  """
  devices = _default_devices(mode) if devices is None else devices
  mode = resolve_mode(mode, len(devices))
  if mode == "none":
    placement = OneDevice(tuple(devices[:1]))
  else:
    placement = (Pmap if mode == "pmap" else ShardMap)(tuple(devices), Mesh(np.asarray(devices), (AXIS,)))
  return ParallelStep(mode, placement.devices, placement.compile(step), placement.mesh, placement)


def _default_devices(mode: str) -> Sequence[jax.Device]:
  return jax.devices() if mode in ("shard_map", "auto") else jax.local_devices()


def axis_name_for(mode: str, devices: Sequence[jax.Device] | None = None) -> str | None:
  """The device axis a GAN must be built with (`build_gan(config, axis_name)`) to run under `mode`: `AXIS` for the
  mapped modes, None for "none" (and for "auto" on one device)."""
  devices = _default_devices(mode) if devices is None else devices
  return None if resolve_mode(mode, len(devices)) == "none" else AXIS


def make_parallel_train_step(
  config: ml_collections.ConfigDict,
  mode: str = "auto",
  devices: Sequence[jax.Device] | None = None,
  gan: GAN | None = None,
) -> ParallelStep:
  """Builds the GAN `config` names with the right axis name and wraps its train step for `mode`.

  Args:
    config: the run config.
    mode: "auto", "none", "pmap" or "shard_map".
    devices: the devices to use (see `parallelize`).
    gan: the run's GAN, if already built: `build_gan(config, axis_name_for(mode, devices))`.

  Raises:
    ValueError: for an unknown mode, a `config.batch_size` that does not divide by the device count, or a `gan`
      built for another device axis.
  """
  devices = _default_devices(mode) if devices is None else devices
  mode = resolve_mode(mode, len(devices))
  if mode == "pmap" and jax.process_count() > 1:
    raise ValueError(
      "config.parallel='pmap' runs on one host here; use config.parallel='shard_map' (or 'auto') across hosts."
    )
  axis_name = None if mode == "none" else AXIS
  num_devices = 1 if mode == "none" else len(devices)
  check_batch_size(int(config.batch_size), num_devices)
  if gan is None:
    gan = build_gan(config, axis_name)
  elif gan.axis_name != axis_name:
    raise ValueError(
      f"make_parallel_train_step(mode={mode!r}) needs a GAN built with axis_name={axis_name!r}; got "
      f"one built with {gan.axis_name!r}. Build it with build_gan(config, axis_name_for(mode))."
    )
  return parallelize(make_train_step(gan, axis_name), mode, devices)


def initialize_distributed() -> bool:
  """Joins a multi-process run when the environment asks for one; returns True if it did.

  Reads `JAXGAN_COORDINATOR` (host:port of process 0), `JAXGAN_NUM_PROCESSES` and `JAXGAN_PROCESS_ID`. Without them
  (one process, or a TPU pod / SLURM job where `jax.distributed.initialize()` finds its peers itself) nothing is done
  here; call `jax.distributed.initialize()` yourself in that case before anything else touches JAX.
  """
  coordinator = os.environ.get("JAXGAN_COORDINATOR")
  if not coordinator:
    return False
  jax.distributed.initialize(
    coordinator_address=coordinator,
    num_processes=int(os.environ["JAXGAN_NUM_PROCESSES"]),
    process_id=int(os.environ["JAXGAN_PROCESS_ID"]),
  )
  log.info(
    "Process %d of %d, %d local of %d devices.",
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
  return True
