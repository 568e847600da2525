# ---
# jupyter:
#   colab:
#     name: gan_zoo_toy.ipynb
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
# # The GAN zoo on a toy mixture
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jaxgan/jaxgan/blob/main/notebooks/gan_zoo_toy.ipynb)
#
# GAN, WGAN, WGAN-GP, RSGAN, the Turing-test GANs and DeLiGAN on the 25-Gaussian grid, each trained by
# `jaxgan.experiment.train_and_evaluate` from its config in `experiments/configs/`, then compared side by
# side: samples, modes covered, the fraction of high-quality samples and the reverse KL (PacGAN's rules).
# Only the config differs between them; the train step is the same function. With the defaults (3,000 steps
# each, as the README's table) it takes several minutes on a CPU; a rerun resumes from the checkpoints in
# `WORKDIR`.

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
CONFIGS = ["gan_toy", "wgan_toy", "wgan_gp_toy", "rsgan_toy", "t_sgan_toy", "t_wgan_toy", "deligan_toy"]
NUM_STEPS = 3000
BATCH_SIZE = 256
HIDDEN = None       # None keeps each config's MLP widths; e.g. (32, 32) for a quick look
NUM_SAMPLES = 2500  # samples per model in the plots (PacGAN evaluates on 2,500)
WORKDIR = "runs/gan_zoo_toy"
PROGRESS = True
SEED = 0

# %%
import importlib

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from jaxgan import data
from jaxgan.evaluation import generate_samples, load_run
from jaxgan.experiment import train_and_evaluate


def zoo_config(name):
  config = importlib.import_module(f"experiments.configs.{name}").get_config()
  config.num_steps, config.batch_size, config.seed = NUM_STEPS, BATCH_SIZE, SEED
  config.eval_every = config.checkpoint_every = max(NUM_STEPS, 1)  # evaluate and save at the end
  if HIDDEN:
    config.generator.features = config.critic.features = tuple(HIDDEN)
  return config


for name in CONFIGS:
  c = zoo_config(name)
  print(f"{name:12s} loss={c.loss:7s} penalty={c.penalty:16s} prior={c.prior:8s} critic={c.critic.name:4s} "
        f"n_critic={c.n_critic} n_generator={c.n_generator} d_optimizer={c.d_optimizer.name}")

# %% [markdown]
# ## Train each config
#
# `train_and_evaluate(config, workdir)` runs the loop, writes checkpoints, TensorBoard events, `samples.png`
# and `results.json` into the workdir, and returns the results: mode coverage on `config.eval_samples`
# samples, the final losses and timings.

# %%
results = {}
for name in CONFIGS:
  results[name] = train_and_evaluate(zoo_config(name), os.path.join(WORKDIR, name), progress=PROGRESS)
  r = results[name]
  print(f"{name}: {r['modes_covered']} modes, high-quality {r['high_quality_fraction']:.3f}, "
        f"reverse KL {r['reverse_kl']:.3f}, {r['wall_time_s']:.0f} s")

# %% [markdown]
# ## Samples side by side
#
# Each trained generator is restored from its newest checkpoint (`jaxgan.evaluation.load_run`) and sampled
# with the same key.

# %%
mixture = data.get_toy("grid25")
samples = {"real data": np.asarray(mixture.sample(jax.random.key(0), (NUM_SAMPLES,)))}
for name in CONFIGS:
  _, gan, state, step = load_run(os.path.join(WORKDIR, name))
  samples[name] = generate_samples(gan, state, jax.random.key(1), NUM_SAMPLES)

cols = 4
rows = -(-len(samples) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 4.0 * rows), sharex=True, sharey=True,
                         squeeze=False, layout="constrained")
lim = 1.4 * np.abs(mixture.centers).max()
for ax, (name, points) in zip(axes.flat, samples.items()):
  color = "tab:blue" if name == "real data" else "tab:orange"
  ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, c=color)
  ax.scatter(*mixture.centers.T, s=12, marker="x", c="black", linewidths=0.8)
  title = name if name == "real data" else f"{name}: {results[name]['modes_covered']}/25 modes"
  ax.set(title=title, xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
for ax in axes.flat[len(samples):]:
  ax.axis("off")
for ax in axes[-1]:
  ax.set_xlabel("$x_1$")
for ax in axes[:, 0]:
  ax.set_ylabel("$x_2$")
fig.suptitle(f"25-Gaussian grid after {NUM_STEPS} steps (x: mode centres)")
plt.show()

# %% [markdown]
# ## Coverage and quality
#
# *Modes covered*: modes nearest to at least one high-quality sample (within 3σ). *High-quality fraction*: the
# share of samples within 3σ of a mode (σ = 0.05 here, a tight target). *Reverse KL*: KL(P_fake ‖ P_real)
# between the histograms of nearest modes; 0 when every mode gets its share.

# %%
rows = ["| config | loss | prior | modes covered / 25 | high-quality fraction | reverse KL | steps/s |",
        "| --- | --- | --- | --- | --- | --- | --- |"]
for name, r in results.items():
  c = r["config"]
  speed = f"{r['steps_per_s']:.0f}" if r["steps_per_s"] else "-"
  rows.append(f"| `{name}` | {c['loss']} | {c['prior']} | {r['modes_covered']} | "
              f"{r['high_quality_fraction']:.3f} | {r['reverse_kl']:.3f} | {speed} |")
display(Markdown("\n".join(rows)))

names = list(results)
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, key, label in zip(axes, ("modes_covered", "high_quality_fraction", "reverse_kl"),
                          ("modes covered (of 25)", "high-quality fraction", "reverse KL (lower is better)")):
  ax.bar(names, [results[n][key] for n in names], color="tab:orange")
  ax.set(title=label, ylabel=label)
  ax.tick_params(axis="x", rotation=45)
axes[0].axhline(25, color="black", linestyle="--")
axes[0].text(-0.4, 25.4, "all 25 modes", fontsize=9)
axes[0].set_ylim(0, 28)
fig.tight_layout()
plt.show()
