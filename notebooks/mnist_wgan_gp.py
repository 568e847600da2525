# ---
# jupyter:
#   colab:
#     name: mnist_wgan_gp.ipynb
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
# # WGAN-GP and a conditional GAN on MNIST
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jaxgan/jaxgan/blob/main/notebooks/mnist_wgan_gp.ipynb)
#
# DCGAN nets trained as WGAN-GP (λ = 10, no BatchNorm in the critic, n_critic = 5) with
# `jaxgan.experiment.train_and_evaluate`: checkpoints every leg, samples over training, and FID, KID and
# Inception scores on the features of the MNIST classifier that ships with jaxgan (`jaxgan.evaluation`,
# `jaxgan.metrics`). Then a conditional DCGAN (`cgan_mnist`) drawn one row per digit. A GPU or TPU runtime
# is advised for the default sizes; the tests run it tiny on a CPU.

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
NUM_STEPS = 2000          # WGAN-GP generator steps, each after N_CRITIC critic steps
STAGES = 4                # train in this many legs, each resuming from the last checkpoint
N_CRITIC = 5
BATCH_SIZE = 64
BASE_FEATURES = 64        # DCGAN width (64 as in the paper)
STAGE_SAMPLES = 2000      # samples scored after each leg
NUM_EVAL_SAMPLES = 10000  # samples of the final evaluation
NUM_REAL = 10000          # real test images they are compared with
CGAN_STEPS = 2000         # conditional GAN steps
WORKDIR = "runs/mnist"    # a new folder starts over; the same one resumes
DATA_DIR = None           # a folder holding mnist/ with the original files, for offline use (see below)
TFDS_DATA_DIR = None      # where tfds keeps prepared datasets (None: ~/tensorflow_datasets)
PROGRESS = True

# %% [markdown]
# ## Data through tensorflow-datasets
#
# Image configs read their data with `tfds.load` (`jaxgan.data.images`): the whole split is loaded once into memory and
# batch *t* of a run is a pure function of the seed and *t*. On Colab tfds downloads MNIST. Offline (or behind a firewall)
# put the four original files `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`
# and `t10k-labels-idx1-ubyte.gz` in a folder and pass it as `config.data.manual_dir`: tfds checks their checksums and
# prepares the dataset once into `config.data.data_dir`. The cell below looks for them in `DATA_DIR/mnist`, then
# `$JAXGAN_DATA_DIR/mnist`, then `shared/datasets/mnist` beside the checkout; the same fields work on the command line
# (`--config.data.manual_dir=... --config.data.data_dir=...`).

# %%
# The four original MNIST files in DATA_DIR/mnist (or $JAXGAN_DATA_DIR/mnist, or shared/datasets/mnist beside the
# checkout) let tfds prepare MNIST offline; without them tfds downloads it.
from jaxgan.runtime import data_dir_candidates, find_manual_dir

MANUAL_DIR = find_manual_dir("mnist", data_dir_candidates(DATA_DIR, CHECKOUT))
print("MNIST source:", MANUAL_DIR or "download through tfds")
print("prepared data in:", TFDS_DATA_DIR or "~/tensorflow_datasets")

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from experiments.configs import cgan_mnist, wgan_gp_mnist
from jaxgan import plots
from jaxgan.data.images import load_images, to_unit_range
from jaxgan.evaluation import evaluate_run, generate_samples, load_run
from jaxgan.experiment import train_and_evaluate
from jaxgan.metrics import classifier, classifier_accuracy, fid_from_features, inception_score


def mnist_config(module, num_steps):
  config = module.get_config()
  config.num_steps, config.batch_size = num_steps, BATCH_SIZE
  config.generator.base_features = config.critic.base_features = BASE_FEATURES
  config.data.data_dir, config.data.manual_dir = TFDS_DATA_DIR, MANUAL_DIR
  return config


config = mnist_config(wgan_gp_mnist, NUM_STEPS)
config.n_critic = N_CRITIC
train_images, train_labels = load_images(config.data)  # tfds prepares MNIST here the first time
test_data = config.data.copy_and_resolve_references()
test_data.split = "test"
real = to_unit_range(load_images(test_data)[0][:NUM_REAL])  # [N, 28, 28, 1] in [-1, 1]
print(f"train {train_images.shape} {train_images.dtype}, test {real.shape} in [{real.min()}, {real.max()}]")

fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(plots.image_grid(to_unit_range(train_images[:64]))[..., 0], cmap="gray")
ax.set(title="MNIST training images", xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ## Train with checkpoints
#
# Each leg raises `config.num_steps` and calls `train_and_evaluate` on the same workdir: it restores the newest
# orbax checkpoint and continues exactly as an uninterrupted run would (batches and latents are functions of
# the seed and the step). After each leg the generator is restored with `load_run` and scored with the
# shipped MNIST classifier: FID on its 128-d penultimate features and the Inception Score on its softmax.

# %%
real_probs, real_features = classifier.classifier_outputs(real)
print(f"shipped classifier: test accuracy {classifier.load_classifier('mnist').meta.get('test_accuracy')}")

workdir = os.path.join(WORKDIR, "wgan_gp")
snapshots = []
for leg in range(1, STAGES + 1):
  config.num_steps = NUM_STEPS * leg // STAGES
  results = train_and_evaluate(config, workdir, progress=PROGRESS)
  _, gan, state, step = load_run(workdir)
  samples = generate_samples(gan, state, jax.random.key(0), STAGE_SAMPLES)  # the same latents every leg
  probs, features = classifier.classifier_outputs(samples)
  snapshots.append({"step": step, "grid": plots.image_grid(samples[:64]),
                    "fid": fid_from_features(real_features, features),
                    "inception_score": inception_score(probs, splits=1)[0]})
  print(f"step {step}: Wasserstein estimate {results.get('wasserstein_estimate', float('nan')):.3f}, "
        f"FID {snapshots[-1]['fid']:.1f}, IS {snapshots[-1]['inception_score']:.2f}")

# %%
fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3.9), squeeze=False,
                         layout="constrained")
for ax, snap in zip(axes[0], snapshots):
  ax.imshow(snap["grid"][..., 0], cmap="gray")
  ax.set(title=f"step {snap['step']}\nFID {snap['fid']:.1f}, IS {snap['inception_score']:.2f}",
         xticks=[], yticks=[])
fig.suptitle("WGAN-GP samples over training (same latents)")
plt.show()

steps = [s["step"] for s in snapshots]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
left.plot(steps, [s["fid"] for s in snapshots], marker="o")
left.set(title=f"FID ({STAGE_SAMPLES} samples, classifier features)", xlabel="generator step",
         ylabel="FID (lower is better)")
right.plot(steps, [s["inception_score"] for s in snapshots], marker="o", color="tab:green")
right.axhline(10, color="black", linestyle="--", label="maximum (10 classes)")
right.set(title="Inception Score (classifier softmax)", xlabel="generator step", ylabel="IS")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Evaluate the final checkpoint
#
# `evaluate_run` restores the newest checkpoint, generates `num_samples` images and computes every metric
# that fits MNIST: Inception Score, modified IS and mode score on the classifier's softmax; FID, KID,
# precision/recall and the 1-NN two-sample accuracy on its features, against the real test images. It also
# writes `eval.json` into the workdir. The same runs from a shell:
# `python -m experiments.evaluate --workdir=runs/mnist/wgan_gp`. Reference values from the README (10,000
# samples) give the scale: real vs real images FID 0.98 and IS 9.80; an untrained generator FID 814, IS 1.005.

# %%
evaluation = evaluate_run(workdir, num_samples=NUM_EVAL_SAMPLES, num_real=NUM_REAL, progress=PROGRESS)
shown = ["inception_score", "modified_inception_score_per_class", "mode_score", "fid", "kid", "precision",
         "recall", "one_nn_accuracy"]
reference = {"inception_score": ("9.80", "1.005"), "modified_inception_score_per_class": ("1.056", "1.009"),
             "mode_score": ("9.83", "0.58"), "fid": ("0.98", "814"), "kid": ("-0.005", "101.5"),
             "precision": ("0.876", "0.000"), "recall": ("0.892", "0.000"),
             "one_nn_accuracy": ("0.536", "1.000")}
rows = [(f"| metric | this run (step {evaluation['step']}, {evaluation['num_samples']} samples) | "
         "real vs real | untrained |"), "| --- | --- | --- | --- |"]
rows += [f"| {k} | {evaluation[k]:.4g} | {reference[k][0]} | {reference[k][1]} |" for k in shown]
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## A conditional GAN: one row per digit
#
# `cgan_mnist` feeds the label to both nets: the generator embeds it next to z, the critic is a projection
# discriminator (Miyato & Koyama 2018). `generate_samples` takes the labels to draw; the classifier then says
# how often a sample shows the digit it was asked for.

# %%
cgan_config = mnist_config(cgan_mnist, CGAN_STEPS)
cgan_dir = os.path.join(WORKDIR, "cgan")
cgan_results = train_and_evaluate(cgan_config, cgan_dir, progress=PROGRESS)
_, cgan, cgan_state, cgan_step = load_run(cgan_dir)

labels = np.arange(1000) % 10
digits = generate_samples(cgan, cgan_state, jax.random.key(1), len(labels), labels)
accuracy = classifier_accuracy(classifier.softmax_probs(digits), labels)
per_row = 12
by_class = np.concatenate([digits[labels == k][:per_row] for k in range(10)])

fig, ax = plt.subplots(figsize=(7, 6.5))
ax.imshow(plots.image_grid(by_class, rows=10)[..., 0], cmap="gray")
ax.set_yticks(29 * np.arange(10) + 15, [str(k) for k in range(10)])
ax.set_xticks([])
ax.set(ylabel="conditioning label",
       title=f"cGAN, step {cgan_step}: the classifier reads the asked digit in {accuracy:.0%} of 1,000")
plt.show()
