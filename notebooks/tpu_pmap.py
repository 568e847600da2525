# ---
# jupyter:
#   accelerator: TPU
#   colab:
#     name: tpu_pmap.ipynb
#     provenance: []
#   jupytext:
#     notebook_metadata_filter: colab,accelerator,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One train step on all devices: pmap, shard_map and Colab TPUs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jaxgan/jaxgan/blob/main/notebooks/tpu_pmap.ipynb)
#
# jaxgan writes the train step once, for one device's share of the batch, with an axis name over which it
# averages gradients, metrics and BatchNorm statistics. `jaxgan.parallel` runs that same function on one
# device (`jit`), under `jax.pmap`, or under `jax.shard_map` over a device mesh. This notebook lists the
# devices, runs the WGAN-GP toy step in each mode, checks that they agree, and measures throughput per device.
# On a Colab TPU runtime (Runtime > Change runtime type > TPU) it uses the TPU cores; on a CPU it makes 4
# fake devices, which share the CPU's cores: the code paths are real, the speed-up is not.

# %%
# Setup: run from notebooks/ in a clone, the notebook uses that code; elsewhere (Colab) it installs jaxgan from
# GitHub, with the JAX build for a TPU or GPU runtime. Nothing is installed when jaxgan imports already.
import glob
import importlib.util
import os
import shutil
import subprocess
import sys

REPO_URL = "https://github.com/jaxgan/jaxgan"  # as jaxgan.runtime.REPO_URL: the expected address, unconfirmed
IN_COLAB = "google.colab" in sys.modules
ON_TPU = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_ACCELERATOR_TYPE") or glob.glob("/dev/accel*")
              or importlib.util.find_spec("libtpu"))
ON_GPU = shutil.which("nvidia-smi") is not None
CHECKOUT = os.path.abspath("..") if os.path.isfile(os.path.join("..", "jaxgan", "__init__.py")) else None

# Without a TPU or GPU, split the CPU into 4 fake devices so the parallel code runs as it would on 4
# accelerators. XLA reads the flag once, when JAX starts: it must be set before JAX is first imported.
NUM_FAKE_DEVICES = 4
xla_flags = os.environ.get("XLA_FLAGS", "")
if not (ON_TPU or ON_GPU) and "xla_force_host_platform_device_count" not in xla_flags:
  if "jax" in sys.modules:
    print("JAX is already imported: restart the kernel (Runtime > Restart session) to get fake devices.")
  os.environ["XLA_FLAGS"] = f"{xla_flags} --xla_force_host_platform_device_count={NUM_FAKE_DEVICES}".strip()

if importlib.util.find_spec("jaxgan") is None:
  if CHECKOUT:
    sys.path.insert(0, CHECKOUT)
  else:
    jax_build = ["jax[tpu]"] if ON_TPU else ["jax[cuda12]"] if ON_GPU else []
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"jaxgan @ git+{REPO_URL}", *jax_build])
print(f"Colab: {IN_COLAB}, TPU: {ON_TPU}, GPU: {ON_GPU}, jaxgan from a checkout: {CHECKOUT is not None}")

# %% tags=["parameters"]
NUM_STEPS = 100             # timed steps per mode (after one compiling step)
BATCH_SIZE = 1024           # global batch; must divide by the device count
N_CRITIC = 5
HIDDEN = (512, 512, 512)    # MLP widths: larger nets give the devices more to do per step
TRAIN_STEPS = 1000          # steps of the train_and_evaluate run at the end
WORKDIR = "runs/tpu_pmap"
PROGRESS = True

# %% [markdown]
# ## Device discovery
#
# `jax.devices()` lists every device of every process; on one host it equals `jax.local_devices()`. A Colab TPU
# runtime shows 8 TPU cores (v2-8) or more chips on newer TPUs; a GPU runtime one GPU; a CPU runtime here the
# fake CPU devices.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

print("backend:", jax.default_backend())
print(f"{jax.device_count()} devices ({jax.local_device_count()} local) in {jax.process_count()} process(es)")
for device in jax.devices():
  print(f"  {device.id}: {device.device_kind} ({device.platform})")

# %% [markdown]
# ## The same step in three modes
#
# `parallel.make_parallel_train_step(config, mode)` builds the GAN with the right axis name and wraps its step:
#
# * `none`: `jax.jit` on one device.
# * `pmap`: `jax.pmap` over the local devices; the state is stacked `[devices, ...]` and the batch reshaped to
#   `[devices, n_critic, B / devices, ...]`.
# * `shard_map`: `jax.jit(jax.shard_map(...))` over a 1-D mesh; the parameters replicated, the batch sharded
#   along its examples. This is the mode to use across hosts; `auto` picks it whenever there is more than one
#   device.
#
# `put_state` and `put_batch` place a one-device state and a global batch in the mode's layout.

# %%
from experiments.configs import wgan_gp_toy
from jaxgan import data, parallel
from jaxgan.train import build_gan, init_state

config = wgan_gp_toy.get_config()
config.batch_size, config.n_critic = BATCH_SIZE, N_CRITIC
config.generator.features = config.critic.features = tuple(HIDDEN)
parallel.check_batch_size(config.batch_size, jax.device_count())

initial = init_state(build_gan(config), jax.random.key(0))
next_batch = data.make_batch_fn(config, jax.random.key(1))
batches = [next_batch(step) for step in range(NUM_STEPS + 1)]  # made first, so only the step is timed
key = jax.random.key(2)

runs = {}
for mode in ("none", "pmap", "shard_map"):
  step = parallel.make_parallel_train_step(config, mode)
  state = step.put_state(jax.tree.map(jnp.copy, initial))  # a copy: the step donates (consumes) its state
  placed = [step.put_batch(batch) for batch in batches]
  start = time.perf_counter()
  state, metrics = step.step(state, placed[0], key)
  jax.block_until_ready(metrics)
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  for batch in placed[1:]:
    state, metrics = step.step(state, batch, key)
  jax.block_until_ready(metrics)
  seconds = time.perf_counter() - start
  runs[mode] = {"devices": step.num_devices, "compile_s": compile_s, "steps_per_s": NUM_STEPS / seconds,
                "state": step.unreplicate(state), "metrics": step.host_metrics(metrics)}
  print(f"{mode:9s} on {step.num_devices} device(s): batch placed as {placed[0].shape}, "
        f"compile {compile_s:.1f} s, {runs[mode]['steps_per_s']:.1f} steps/s")

# %% [markdown]
# ## They compute the same thing
#
# Every example draws its latent and interpolation weight from its position in the *global* batch, and the
# gradients are averaged over devices, so after the same steps the parameters match the one-device run up to
# float rounding (the cross-device mean adds in another order).

# %%
reference = runs["none"]["state"]
for mode in ("pmap", "shard_map"):
  diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), runs[mode]["state"].g_params,
                       reference.g_params)
  print(f"{mode}: largest generator parameter difference from the one-device run "
        f"{max(jax.tree.leaves(diffs)):.2e}; critic loss {runs[mode]['metrics']['critic_loss']:.5f} vs "
        f"{runs['none']['metrics']['critic_loss']:.5f}")

# %% [markdown]
# ## Throughput per device
#
# Examples per second count the real examples the critic sees (`n_critic × batch` a step). On real devices
# the parallel modes should scale with the device count; the fake CPU devices share the same cores, so there
# they only show the overhead of splitting the work.

# %%
modes = list(runs)
examples = {m: runs[m]["steps_per_s"] * N_CRITIC * BATCH_SIZE for m in modes}
labels = [f"{m}\n({runs[m]['devices']} device{'s' if runs[m]['devices'] > 1 else ''})" for m in modes]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.bar(labels, [examples[m] for m in modes], color="tab:blue")
left.set(title="throughput", ylabel="examples / s")
right.bar(labels, [examples[m] / runs[m]["devices"] for m in modes], color="tab:orange")
right.set(title="throughput per device", ylabel="examples / s / device")
fig.suptitle(f"WGAN-GP toy step, global batch {BATCH_SIZE}, n_critic {N_CRITIC}, "
             f"{jax.device_count()} {jax.devices()[0].platform.upper()} device(s)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What changes on a TPU runtime
#
# * **Runtime.** Runtime > Change runtime type > TPU. The first cell then leaves `XLA_FLAGS` alone and installs
#   jaxgan together with `jax[tpu]`, so that JAX and the TPU runtime library (libtpu) match.
# * **Devices.** `jax.devices()` lists the TPU cores; nothing else in the code changes. `auto` becomes
#   `shard_map` over all of them.
# * **Batch.** `config.batch_size` is the global batch: it must divide by the device count (8 cores: 256 gives
#   32 per core). TPU cores like per-core batches that are multiples of 8 and wide layers.
# * **Data.** Batches are made on the host and placed with `put_batch`; for image data the host feeds every
#   core, so the first steps include tfds preparation.
# * **Several hosts** (a pod slice): each process runs the same program after `jax.distributed.initialize()`,
#   uses `shard_map` over `jax.devices()` (`pmap` is refused there) and keeps its own part of each batch.
#
# With `config.parallel = "auto"` the whole loop, `train_and_evaluate`, does the same: the result records the
# mode and the device count, and checkpoints hold one copy of the state whatever the device count.

# %%
from jaxgan.experiment import train_and_evaluate

config.parallel = "auto"
config.num_steps = TRAIN_STEPS
config.eval_every = config.checkpoint_every = max(TRAIN_STEPS, 1)
results = train_and_evaluate(config, os.path.join(WORKDIR, "auto"), progress=PROGRESS)
print(f"parallel={results['parallel']} on {results['num_devices']} device(s): {results['steps']} steps, "
      f"{results['modes_covered']} of 25 modes, compile {results['compile_s']:.1f} s")
