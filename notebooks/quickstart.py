# ---
# jupyter:
#   colab:
#     name: quickstart.ipynb
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
# # jaxgan quickstart: WGAN-GP on 25 Gaussians
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jaxgan/jaxgan/blob/main/notebooks/quickstart.ipynb)
#
# The functional API in ten cells: build a generator and a critic, compile one train step, train WGAN-GP
# (Gulrajani et al. 2017) on the 25-Gaussian grid, then look at the samples, the critic's landscape, the
# Wasserstein estimate and how many of the 25 modes the generator covers. The nets are pure `init` / `apply`
# functions over parameter pytrees; the step `(state, batch, key) -> (state, metrics)` does `n_critic` critic
# updates and one generator update. With the defaults it takes about a minute on a CPU; no download.

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

if importlib.util.find_spec("jaxgan") is None:
  if CHECKOUT:
    sys.path.insert(0, CHECKOUT)
  else:
    jax_build = ["jax[tpu]"] if ON_TPU else ["jax[cuda12]"] if ON_GPU else []
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"jaxgan @ git+{REPO_URL}", *jax_build])
print(f"Colab: {IN_COLAB}, TPU: {ON_TPU}, GPU: {ON_GPU}, jaxgan from a checkout: {CHECKOUT is not None}")

# %% tags=["parameters"]
NUM_STEPS = 3000        # generator steps (each after n_critic = 5 critic steps)
BATCH_SIZE = 256
HIDDEN = (128, 128, 128)  # hidden widths of the generator and critic MLPs
LOG_EVERY = 25          # fetch metrics from the device every this many steps
SEED = 0

# %% [markdown]
# ## 1. The config
#
# Every variant in jaxgan is a config: `wgan_gp_toy` names the loss (`wgan`), the penalty
# (`gradient_penalty`, λ = 0.1 as the authors' toy script), the nets, the optimisers (Adam 1e-4,
# β = (0.5, 0.9)) and `n_critic = 5`.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments.configs import wgan_gp_toy
from jaxgan import data, nets
from jaxgan.metrics import nearest_mode, toy_metrics
from jaxgan.train import build_gan, generate, init_state, make_train_step

config = wgan_gp_toy.get_config()
config.num_steps, config.batch_size, config.seed = NUM_STEPS, BATCH_SIZE, SEED
config.generator.features = config.critic.features = tuple(HIDDEN)
print(f"loss={config.loss}, penalty={config.penalty} (weight {config.penalty_weight}), "
      f"n_critic={config.n_critic}, data={config.data.name}, batch={config.batch_size}")
print("JAX devices:", jax.devices())

# %% [markdown]
# ## 2. A generator and a critic
#
# `jaxgan.nets` builds a net by name and hands back two pure functions: `init(key, x) -> (params, state)` and
# `apply(params, state, x, train) -> (out, state)` (`state` holds BatchNorm statistics; empty here).

# %%
shape = data.data_shape(config.data)  # (2,): points in the plane
generator = nets.build_generator(config.generator, shape)  # z [B, latent_dim] -> x [B, 2]
critic = nets.build_critic(config.critic)  # x [B, 2] -> scores [B]
g_params, g_state = generator.init(jax.random.key(0), jnp.zeros((1, config.latent_dim)))
d_params, d_state = critic.init(jax.random.key(1), jnp.zeros((1, *shape)))

z = jax.random.normal(jax.random.key(2), (4, config.latent_dim))
x, _ = generator.apply(g_params, g_state, z, False)
scores, _ = critic.apply(d_params, d_state, x, False)
count = lambda params: sum(p.size for p in jax.tree.leaves(params))
print(f"generator: {count(g_params):,} parameters, z {z.shape} -> x {x.shape}")
print(f"critic: {count(d_params):,} parameters, x {x.shape} -> scores {scores.shape}")

# %% [markdown]
# ## 3. The GAN and its train step
#
# `build_gan` reads the same nets plus the optax transforms, the loss pair, the penalty and the latent prior
# from the config; `init_state` makes the `GANState` pytree (both players' parameters and optimiser states,
# the step count). The step is compiled once, outside the loop, with the state donated.

# %%
gan = build_gan(config)
state = init_state(gan, jax.random.key(SEED))
train_step = jax.jit(make_train_step(gan), donate_argnums=0)
next_batch = data.make_batch_fn(config, jax.random.key(SEED + 1))  # step -> real points [n_critic, B, 2]
step_key = jax.random.key(SEED + 2)  # the step folds in its own step number
print("one batch:", next_batch(0).shape, "| state fields:", list(state.__dataclass_fields__))

# %% [markdown]
# ## 4. Train
#
# Metrics stay on the device except at logging steps, where `jax.device_get` fetches them (the loop never
# waits for the device otherwise).

# %%
history = []
start = time.perf_counter()
for step in range(NUM_STEPS):
  state, metrics = train_step(state, next_batch(step), step_key)
  if (step + 1) % LOG_EVERY == 0 or step + 1 == NUM_STEPS:
    history.append({"step": step + 1, **{k: float(v) for k, v in jax.device_get(metrics).items()}})
seconds = time.perf_counter() - start
print(f"{NUM_STEPS} steps in {seconds:.1f} s (compilation included)")
print("last logged:", ", ".join(f"{name}={value:.4g}" for name, value in history[-1].items()))

# %% [markdown]
# ## 5. Samples

# %%
mixture = data.get_toy(config.data.name)
real = np.asarray(mixture.sample(jax.random.key(10), (2000,)))
fake = np.asarray(generate(gan, state, jax.random.key(11), 2000))

fig, ax = plt.subplots(figsize=(5.5, 5.5))
ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, label="real")
ax.scatter(fake[:, 0], fake[:, 1], s=3, alpha=0.4, label="generated")
ax.scatter(*mixture.centers.T, s=25, marker="x", c="black", label="mode centres")
ax.set(title=f"WGAN-GP on {config.data.name}, step {int(state.step)}", xlabel="$x_1$", ylabel="$x_2$",
       aspect="equal")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, markerscale=3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The critic's landscape
#
# The critic is a 1-Lipschitz function (softly, through the gradient penalty) that scores real points high and
# generated points low; the generator moves its points up the critic's slope.

# %%
lim = 1.3 * np.abs(mixture.centers).max()
axis = np.linspace(-lim, lim, 150)
grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
critic_scores, _ = gan.critic.apply(state.d_params, state.d_state, jnp.asarray(grid), False)

fig, ax = plt.subplots(figsize=(6.5, 5.5))
contour = ax.contourf(axis, axis, np.asarray(critic_scores).reshape(len(axis), len(axis)), levels=30,
                      cmap="viridis")
fig.colorbar(contour, ax=ax, label="critic score C(x)")
ax.scatter(real[:500, 0], real[:500, 1], s=3, c="white", label="real")
ax.scatter(fake[:500, 0], fake[:500, 1], s=3, c="tab:red", label="generated")
ax.set(title="critic C(x) with real and generated points", xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
       xlim=(-lim, lim), ylim=(-lim, lim))
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, markerscale=3, facecolor="lightgray")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. The Wasserstein estimate
#
# `wasserstein_estimate` = E C(x_real) − E C(x_fake) on each batch: the critic's estimate of the
# 1-Wasserstein distance (up to the Lipschitz constant). It rises while the critic learns, then falls as the
# generator catches up.

# %%
steps = [h["step"] for h in history]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(steps, [h["wasserstein_estimate"] for h in history])
left.set(title="Wasserstein estimate E C(real) - E C(fake)", xlabel="generator step", ylabel="estimate")
for name in ("critic_loss", "generator_loss"):
  right.plot(steps, [h[name] for h in history], label=name)
right.plot(steps, [config.penalty_weight * h["gradient_penalty"] for h in history],
           label="penalty weight x gradient_penalty")
right.set(title="losses", xlabel="generator step", ylabel="value")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Mode coverage
#
# PacGAN's rules (Lin et al. 2018, Sec. 5.1): a sample is *high quality* within 3 standard deviations of its
# nearest mode, a mode is *covered* when at least one high-quality sample is nearest to it, and the reverse
# KL compares the histogram of nearest modes with the uniform one. The README lists what each toy config
# reaches after 3,000 steps.

# %%
centers, std = data.mode_centers(config.data.name)
print(toy_metrics(fake, centers, std))

index, distance = nearest_mode(fake, centers)
high_quality = distance <= 3 * std
fig, ax = plt.subplots(figsize=(10, 3.5))
ax.bar(np.arange(len(centers)), np.bincount(index, minlength=len(centers)), color="lightgray",
       label="all samples")
ax.bar(np.arange(len(centers)), np.bincount(index[high_quality], minlength=len(centers)),
       label="high-quality samples")
ax.axhline(len(fake) / len(centers), color="black", linestyle="--", label="uniform share")
ax.set(title="generated samples per nearest mode", xlabel="mode index", ylabel="samples")
ax.legend()
plt.show()
