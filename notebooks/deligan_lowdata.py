# ---
# jupyter:
#   colab:
#     name: deligan_lowdata.ipynb
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
# # DeLiGAN vs a baseline GAN on a few hundred MNIST digits
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/jaxgan/jaxgan/blob/main/notebooks/deligan_lowdata.ipynb)
#
# DeLiGAN (Gurumurthy et al. 2017) replaces the latent N(0, I) with a learnable mixture of 50 Gaussians, which
# the paper argues helps when the data are few and diverse. Here the `deligan_mnist_lowdata` config (DCGAN
# nets, the non-saturating loss) trains on a few hundred MNIST images twice, with the learned mixture and
# with the plain normal prior; the samples are then scored by the modified Inception Score, the paper's
# measure of diversity within each class, computed on the shipped MNIST classifier. A GPU or TPU runtime is
# advised for the default sizes.

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
NUM_IMAGES = 500          # training images (the config's default is 1,000)
NUM_STEPS = 2000
BATCH_SIZE = 64
BASE_FEATURES = 64        # DCGAN width
NUM_EVAL_SAMPLES = 5000   # generated images scored per model
NUM_REAL = 10000          # real test images for the evaluation's reference statistics
WORKDIR = "runs/deligan_lowdata"
DATA_DIR = None           # a folder holding mnist/ with the original files, for offline use
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

from experiments.configs import deligan_mnist_lowdata
from jaxgan import plots, priors
from jaxgan.data.images import load_images, to_unit_range
from jaxgan.evaluation import evaluate_run, load_run
from jaxgan.experiment import train_and_evaluate
from jaxgan.metrics import classifier, modified_inception_score_per_class


def lowdata_config(prior):
  config = deligan_mnist_lowdata.get_config()
  config.prior = prior  # "deligan": 50 learnable components; "normal": the baseline
  config.num_steps, config.batch_size = NUM_STEPS, BATCH_SIZE
  config.data.max_examples = NUM_IMAGES
  config.generator.base_features = config.critic.base_features = BASE_FEATURES
  config.data.data_dir, config.data.manual_dir = TFDS_DATA_DIR, MANUAL_DIR
  config.eval_every = config.checkpoint_every = max(NUM_STEPS, 1)
  return config


MODELS = {"baseline": "normal", "DeLiGAN": "deligan"}
train_images, train_labels = load_images(lowdata_config("deligan").data)  # the first NUM_IMAGES only
print(f"{len(train_images)} training images; per digit: {np.bincount(train_labels, minlength=10)}")
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(plots.image_grid(to_unit_range(train_images[:64]))[..., 0], cmap="gray")
ax.set(title=f"training set ({len(train_images)} images)", xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ## Train both
#
# The same config, seed, data and nets; only `config.prior` differs. DeLiGAN's component means μ and scales σ
# are trained by the generator's optimiser, with the paper's regulariser pulling σ towards 1.

# %%
results = {}
for model, prior in MODELS.items():
  results[model] = train_and_evaluate(lowdata_config(prior), os.path.join(WORKDIR, model),
                                      progress=PROGRESS)
  print(f"{model}: {results[model]['steps']} steps, discriminator loss "
        f"{results[model]['critic_loss']:.3f}, generator loss {results[model]['generator_loss']:.3f}")

# %% [markdown]
# ## Modified Inception Score
#
# The Inception Score exp(E_x KL(p(y|x) ‖ p(y))) rewards confident and varied class predictions; DeLiGAN's
# modified score exp(E_{x_i, x_j} KL(p(y|x_i) ‖ p(y|x_j))) also rewards variety *within* a class. As the
# paper, we report it per predicted class and average over classes (`modified_inception_score_per_class`).
# `evaluate_run` computes both on the shipped MNIST classifier and saves the samples it scored.
#
# Read the modified score against real digits: the shipped classifier is so sure of real digits that their
# within-class score is about 1.06 (README). Samples the classifier is unsure about (blurred or broken
# digits) score *higher*, so the modified score only means within-class variety once the Inception Score
# says the samples are clear digits (IS near 10).

# %%
evaluations, samples = {}, {}
for model in MODELS:
  workdir = os.path.join(WORKDIR, model)
  evaluations[model] = evaluate_run(workdir, num_samples=NUM_EVAL_SAMPLES, num_real=NUM_REAL,
                                    metrics=["inception_score", "modified_inception_score"],
                                    save_samples=os.path.join(workdir, "samples.npz"), progress=PROGRESS)
  with np.load(os.path.join(workdir, "samples.npz")) as saved:
    samples[model] = saved["images"]

rows = ["| model | Inception Score | modified IS, mean over classes | modified IS, all pairs |",
        "| --- | --- | --- | --- |"]
for model, e in evaluations.items():
  rows.append(f"| {model} | {e['inception_score']:.3f} ± {e['inception_score_std']:.3f} | "
              f"{e['modified_inception_score_per_class']:.4f} ± "
              f"{e['modified_inception_score_per_class_std']:.4f} | {e['modified_inception_score']:.4g} |")
display(Markdown("\n".join(rows)))

# %%
fig, axes = plt.subplots(1, len(samples), figsize=(4.5 * len(samples), 5.0), layout="constrained")
for ax, (model, images) in zip(axes, samples.items()):
  ax.imshow(plots.image_grid(images[:64])[..., 0], cmap="gray")
  ax.set(title=f"{model}: IS {evaluations[model]['inception_score']:.2f}, modified IS "
               f"{evaluations[model]['modified_inception_score_per_class']:.3f}", xticks=[], yticks=[])
fig.suptitle(f"samples after {NUM_STEPS} steps on {NUM_IMAGES} images")
plt.show()

# Per class; the real training images give the scale (they are not perfectly diverse either).
sources = {model: classifier.softmax_probs(images) for model, images in samples.items()}
sources["real training images"] = classifier.softmax_probs(to_unit_range(train_images))
width = 0.8 / len(sources)
fig, ax = plt.subplots(figsize=(11, 4))
for i, (name, probs) in enumerate(sources.items()):
  per_class = modified_inception_score_per_class(probs)
  ax.bar(np.array(list(per_class)) + (i - (len(sources) - 1) / 2) * width, list(per_class.values()), width,
         label=name)
ax.set(title="modified Inception Score within each predicted class", xlabel="predicted digit",
       ylabel="modified IS (1: identical predictions)", xticks=range(10))
ax.set_ylim(bottom=1.0)
ax.legend()
plt.show()

# %% [markdown]
# ## DeLiGAN's learned mixture
#
# Each row below draws 8 latents from one component, z = μ_i + σ_i ε, through the trained generator (its pure
# `apply` function): each component holds one kind of digit. The regulariser that pulls σ towards 1 is weak
# (λ = 0.05), so over short runs σ stays near its initial 0.05 to 0.2 and the samples of one component
# differ little: the variety comes from the 50 means.

# %%
_, deligan_gan, deligan_state, _ = load_run(os.path.join(WORKDIR, "DeLiGAN"))
mu = deligan_state.prior_params["mu"]  # [components, latent_dim]
sigma = priors.deligan_sigma(deligan_state.prior_params)  # [components, latent_dim], > 0
print(f"{len(mu)} components; σ now in [{float(sigma.min()):.3f}, {float(sigma.max()):.3f}], mean "
      f"{float(sigma.mean()):.3f} (initially uniform in (0.05, 0.2])")

components = np.linspace(0, len(mu) - 1, 8).astype(int)
eps = jax.random.normal(jax.random.key(3), (len(components), 8, mu.shape[-1]))
z = (mu[components][:, None] + sigma[components][:, None] * eps).reshape(-1, mu.shape[-1])
images, _ = deligan_gan.generator.apply(deligan_state.g_params, deligan_state.g_state, z, False)

fig, ax = plt.subplots(figsize=(5.5, 5.8))
ax.imshow(plots.image_grid(np.asarray(images), rows=len(components))[..., 0], cmap="gray")
ax.set_yticks(29 * np.arange(len(components)) + 15, [str(i) for i in components])
ax.set_xticks([])
ax.set(ylabel="mixture component", title="DeLiGAN: 8 samples from each of 8 components")
fig.tight_layout()
plt.show()
