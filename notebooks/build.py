"""Writes the notebooks of this folder from the cell sources below, so their shared cells stay identical.

    python notebooks/build.py           # rewrite every notebook
    python notebooks/build.py --check   # exit 1 if a committed notebook differs from what this script writes

Edit the cells here, not in Jupyter: the notebooks are stored without outputs (tests/test_notebooks.py checks both
that and that they match this script). Each notebook has a cell tagged `parameters` (papermill's convention) that a
runner may follow with its own values, as the tests do to run every notebook small.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import textwrap

import nbformat

REPO_URL = "https://github.com/jaxgan/jaxgan"
HERE = pathlib.Path(__file__).resolve().parent


def colab_url(name: str) -> str:
  """The address that opens notebooks/<name>.ipynb of the repository's main branch in Colab."""
  return f"https://colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/main/notebooks/{name}.ipynb"


def _md(text: str) -> nbformat.NotebookNode:
  return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip())


def _code(text: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
  cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip())
  if tags:
    cell.metadata["tags"] = list(tags)
  return cell


def _header(name: str, title: str, intro: str) -> nbformat.NotebookNode:
  badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name)})"
  return _md(f"# {title}\n\n{badge}\n\n{textwrap.dedent(intro).strip()}")


# The first code cell of every notebook: use the checkout it runs from, or install jaxgan (and the JAX build for the
# runtime's TPU or GPU) where it is missing, as on Colab. Nothing here imports JAX.
SETUP_DETECT = f'''
# Setup: run from notebooks/ in a clone, the notebook uses that code; elsewhere (Colab) it installs jaxgan from
# GitHub, with the JAX build for a TPU or GPU runtime. Nothing is installed when jaxgan imports already.
import glob
import importlib.util
import os
import shutil
import subprocess
import sys

REPO_URL = "{REPO_URL}"
IN_COLAB = "google.colab" in sys.modules
ON_TPU = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_ACCELERATOR_TYPE") or glob.glob("/dev/accel*")
              or importlib.util.find_spec("libtpu"))
ON_GPU = shutil.which("nvidia-smi") is not None
CHECKOUT = os.path.abspath("..") if os.path.isfile(os.path.join("..", "jaxgan", "__init__.py")) else None
'''

SETUP_INSTALL = '''
if importlib.util.find_spec("jaxgan") is None:
  if CHECKOUT:
    sys.path.insert(0, CHECKOUT)
  else:
    jax_build = ["jax[tpu]"] if ON_TPU else ["jax[cuda12]"] if ON_GPU else []
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"jaxgan @ git+{REPO_URL}", *jax_build])
print(f"Colab: {IN_COLAB}, TPU: {ON_TPU}, GPU: {ON_GPU}, jaxgan from a checkout: {CHECKOUT is not None}")
'''

# tpu_pmap only, between the two: fake CPU devices, which XLA reads once, when JAX starts.
FAKE_DEVICES = '''
# Without a TPU or GPU, split the CPU into 4 fake devices so the parallel code runs as it would on 4
# accelerators. XLA reads the flag once, when JAX starts: it must be set before JAX is first imported.
NUM_FAKE_DEVICES = 4
xla_flags = os.environ.get("XLA_FLAGS", "")
if not (ON_TPU or ON_GPU) and "xla_force_host_platform_device_count" not in xla_flags:
  if "jax" in sys.modules:
    print("JAX is already imported: restart the kernel (Runtime > Restart session) to get fake devices.")
  os.environ["XLA_FLAGS"] = f"{xla_flags} --xla_force_host_platform_device_count={NUM_FAKE_DEVICES}".strip()
'''


def _setup(*extra: str) -> nbformat.NotebookNode:
  parts = [SETUP_DETECT, *extra, SETUP_INSTALL]
  return _code("\n".join(textwrap.dedent(part).strip() + "\n" for part in parts))


# MNIST notebooks: where tfds finds the original files when it cannot download them.
MNIST_DATA = '''
# The four original MNIST files in DATA_DIR/mnist (or $JAXGAN_DATA_DIR/mnist, or shared/datasets/mnist beside the
# checkout) let tfds prepare MNIST offline; without them tfds downloads it.
candidates = [DATA_DIR, os.environ.get("JAXGAN_DATA_DIR"),
              CHECKOUT and os.path.join(CHECKOUT, "..", "shared", "datasets")]
MANUAL_DIR = next((os.path.join(d, "mnist") for d in candidates
                   if d and os.path.isfile(os.path.join(d, "mnist", "train-images-idx3-ubyte.gz"))), None)
print("MNIST source:", MANUAL_DIR or "download through tfds")
print("prepared data in:", TFDS_DATA_DIR or "~/tensorflow_datasets")
'''


MNIST_DATA_MD = '''
## Data through tensorflow-datasets

Image configs read their data with `tfds.load` (`jaxgan.data.images`): the whole split is loaded once into memory and
batch *t* of a run is a pure function of the seed and *t*. On Colab tfds downloads MNIST. Offline (or behind a firewall)
put the four original files `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`
and `t10k-labels-idx1-ubyte.gz` in a folder and pass it as `config.data.manual_dir`: tfds checks their checksums and
prepares the dataset once into `config.data.data_dir`. The cell below looks for them in `DATA_DIR/mnist`, then
`$JAXGAN_DATA_DIR/mnist`, then `shared/datasets/mnist` beside the checkout; the same fields work on the command line
(`--config.data.manual_dir=... --config.data.data_dir=...`).
'''


def quickstart() -> list[nbformat.NotebookNode]:
  return [
      _header("quickstart", "jaxgan quickstart: WGAN-GP on 25 Gaussians", """
          The functional API in ten cells: build a generator and a critic, compile one train step, train WGAN-GP
          (Gulrajani et al. 2017) on the 25-Gaussian grid, then look at the samples, the critic's landscape, the
          Wasserstein estimate and how many of the 25 modes the generator covers. The nets are pure `init` / `apply`
          functions over parameter pytrees; the step `(state, batch, key) -> (state, metrics)` does `n_critic` critic
          updates and one generator update. With the defaults it takes about a minute on a CPU; no download.
          """),
      _setup(),
      _code('''
          NUM_STEPS = 3000        # generator steps (each after n_critic = 5 critic steps)
          BATCH_SIZE = 256
          HIDDEN = (128, 128, 128)  # hidden widths of the generator and critic MLPs
          LOG_EVERY = 25          # fetch metrics from the device every this many steps
          SEED = 0
          ''', tags=("parameters",)),
      _md('''
          ## 1. The config

          Every variant in jaxgan is a config: `wgan_gp_toy` names the loss (`wgan`), the penalty
          (`gradient_penalty`, λ = 0.1 as the authors' toy script), the nets, the optimisers (Adam 1e-4,
          β = (0.5, 0.9)) and `n_critic = 5`.
          '''),
      _code('''
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
          '''),
      _md('''
          ## 2. A generator and a critic

          `jaxgan.nets` builds a net by name and hands back two pure functions: `init(key, x) -> (params, state)` and
          `apply(params, state, x, train) -> (out, state)` (`state` holds BatchNorm statistics; empty here).
          '''),
      _code('''
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
          '''),
      _md('''
          ## 3. The GAN and its train step

          `build_gan` reads the same nets plus the optax transforms, the loss pair, the penalty and the latent prior
          from the config; `init_state` makes the `GANState` pytree (both players' parameters and optimiser states,
          the step count). The step is compiled once, outside the loop, with the state donated.
          '''),
      _code('''
          gan = build_gan(config)
          state = init_state(gan, jax.random.key(SEED))
          train_step = jax.jit(make_train_step(gan), donate_argnums=0)
          next_batch = data.make_batch_fn(config, jax.random.key(SEED + 1))  # step -> real points [n_critic, B, 2]
          step_key = jax.random.key(SEED + 2)  # the step folds in its own step number
          print("one batch:", next_batch(0).shape, "| state fields:", list(state.__dataclass_fields__))
          '''),
      _md('''
          ## 4. Train

          Metrics stay on the device except at logging steps, where `jax.device_get` fetches them (the loop never
          waits for the device otherwise).
          '''),
      _code('''
          history = []
          start = time.perf_counter()
          for step in range(NUM_STEPS):
            state, metrics = train_step(state, next_batch(step), step_key)
            if (step + 1) % LOG_EVERY == 0 or step + 1 == NUM_STEPS:
              history.append({"step": step + 1, **{k: float(v) for k, v in jax.device_get(metrics).items()}})
          seconds = time.perf_counter() - start
          print(f"{NUM_STEPS} steps in {seconds:.1f} s (compilation included)")
          print("last logged:", ", ".join(f"{name}={value:.4g}" for name, value in history[-1].items()))
          '''),
      _md("## 5. Samples"),
      _code('''
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
          '''),
      _md('''
          ## 6. The critic's landscape

          The critic is a 1-Lipschitz function (softly, through the gradient penalty) that scores real points high and
          generated points low; the generator moves its points up the critic's slope.
          '''),
      _code('''
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
          '''),
      _md('''
          ## 7. The Wasserstein estimate

          `wasserstein_estimate` = E C(x_real) − E C(x_fake) on each batch: the critic's estimate of the
          1-Wasserstein distance (up to the Lipschitz constant). It rises while the critic learns, then falls as the
          generator catches up.
          '''),
      _code('''
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
          '''),
      _md('''
          ## 8. Mode coverage

          PacGAN's rules (Lin et al. 2018, Sec. 5.1): a sample is *high quality* within 3 standard deviations of its
          nearest mode, a mode is *covered* when at least one high-quality sample is nearest to it, and the reverse
          KL compares the histogram of nearest modes with the uniform one. The README lists what each toy config
          reaches after 3,000 steps.
          '''),
      _code('''
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
          '''),
  ]


def gan_zoo_toy() -> list[nbformat.NotebookNode]:
  return [
      _header("gan_zoo_toy", "The GAN zoo on a toy mixture", """
          GAN, WGAN, WGAN-GP, RSGAN, the Turing-test GANs and DeLiGAN on the 25-Gaussian grid, each trained by
          `jaxgan.experiment.train_and_evaluate` from its config in `experiments/configs/`, then compared side by
          side: samples, modes covered, the fraction of high-quality samples and the reverse KL (PacGAN's rules).
          Only the config differs between them; the train step is the same function. With the defaults (3,000 steps
          each, as the README's table) it takes several minutes on a CPU; a rerun resumes from the checkpoints in
          `WORKDIR`.
          """),
      _setup(),
      _code('''
          CONFIGS = ["gan_toy", "wgan_toy", "wgan_gp_toy", "rsgan_toy", "t_sgan_toy", "t_wgan_toy", "deligan_toy"]
          NUM_STEPS = 3000
          BATCH_SIZE = 256
          HIDDEN = None       # None keeps each config's MLP widths; e.g. (32, 32) for a quick look
          NUM_SAMPLES = 2500  # samples per model in the plots (PacGAN evaluates on 2,500)
          WORKDIR = "runs/gan_zoo_toy"
          PROGRESS = True
          SEED = 0
          ''', tags=("parameters",)),
      _code('''
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
          '''),
      _md('''
          ## Train each config

          `train_and_evaluate(config, workdir)` runs the loop, writes checkpoints, TensorBoard events, `samples.png`
          and `results.json` into the workdir, and returns the results: mode coverage on `config.eval_samples`
          samples, the final losses and timings.
          '''),
      _code('''
          results = {}
          for name in CONFIGS:
            results[name] = train_and_evaluate(zoo_config(name), os.path.join(WORKDIR, name), progress=PROGRESS)
            r = results[name]
            print(f"{name}: {r['modes_covered']} modes, high-quality {r['high_quality_fraction']:.3f}, "
                  f"reverse KL {r['reverse_kl']:.3f}, {r['wall_time_s']:.0f} s")
          '''),
      _md('''
          ## Samples side by side

          Each trained generator is restored from its newest checkpoint (`jaxgan.evaluation.load_run`) and sampled
          with the same key.
          '''),
      _code('''
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
          '''),
      _md('''
          ## Coverage and quality

          *Modes covered*: modes nearest to at least one high-quality sample (within 3σ). *High-quality fraction*: the
          share of samples within 3σ of a mode (σ = 0.05 here, a tight target). *Reverse KL*: KL(P_fake ‖ P_real)
          between the histograms of nearest modes; 0 when every mode gets its share.
          '''),
      _code('''
          rows = ["| config | loss | prior | modes covered / 25 | high-quality fraction | reverse KL | steps/s |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
          for name, r in results.items():
            c = r["config"]
            speed = f"{r['steps_per_s']:.0f}" if r["steps_per_s"] else "-"
            rows.append(f"| `{name}` | {c['loss']} | {c['prior']} | {r['modes_covered']} | "
                        f"{r['high_quality_fraction']:.3f} | {r['reverse_kl']:.3f} | {speed} |")
          display(Markdown("\\n".join(rows)))

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
          '''),
  ]


def mnist_wgan_gp() -> list[nbformat.NotebookNode]:
  return [
      _header("mnist_wgan_gp", "WGAN-GP and a conditional GAN on MNIST", """
          DCGAN nets trained as WGAN-GP (λ = 10, no BatchNorm in the critic, n_critic = 5) with
          `jaxgan.experiment.train_and_evaluate`: checkpoints every leg, samples over training, and FID, KID and
          Inception scores on the features of the MNIST classifier that ships with jaxgan (`jaxgan.evaluation`,
          `jaxgan.metrics`). Then a conditional DCGAN (`cgan_mnist`) drawn one row per digit. A GPU or TPU runtime
          is advised for the default sizes; the tests run it tiny on a CPU.
          """),
      _setup(),
      _code('''
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
          ''', tags=("parameters",)),
      _md(MNIST_DATA_MD),
      _code(MNIST_DATA),
      _code('''
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
          '''),
      _md('''
          ## Train with checkpoints

          Each leg raises `config.num_steps` and calls `train_and_evaluate` on the same workdir: it restores the newest
          orbax checkpoint and continues exactly as an uninterrupted run would (batches and latents are functions of
          the seed and the step). After each leg the generator is restored with `load_run` and scored with the
          shipped MNIST classifier: FID on its 128-d penultimate features and the Inception Score on its softmax.
          '''),
      _code('''
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
          '''),
      _code('''
          fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3.9), squeeze=False,
                                   layout="constrained")
          for ax, snap in zip(axes[0], snapshots):
            ax.imshow(snap["grid"][..., 0], cmap="gray")
            ax.set(title=f"step {snap['step']}\\nFID {snap['fid']:.1f}, IS {snap['inception_score']:.2f}",
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
          '''),
      _md('''
          ## Evaluate the final checkpoint

          `evaluate_run` restores the newest checkpoint, generates `num_samples` images and computes every metric
          that fits MNIST: Inception Score, modified IS and mode score on the classifier's softmax; FID, KID,
          precision/recall and the 1-NN two-sample accuracy on its features, against the real test images. It also
          writes `eval.json` into the workdir. The same runs from a shell:
          `python -m experiments.evaluate --workdir=runs/mnist/wgan_gp`. Reference values from the README (10,000
          samples) give the scale: real vs real images FID 0.98 and IS 9.80; an untrained generator FID 814, IS 1.005.
          '''),
      _code('''
          evaluation = evaluate_run(workdir, num_samples=NUM_EVAL_SAMPLES, num_real=NUM_REAL, progress=PROGRESS)
          shown = ["inception_score", "modified_inception_score_per_class", "mode_score", "fid", "kid", "precision",
                   "recall", "one_nn_accuracy"]
          reference = {"inception_score": ("9.80", "1.005"), "modified_inception_score_per_class": ("1.056", "1.009"),
                       "mode_score": ("9.83", "0.58"), "fid": ("0.98", "814"), "kid": ("-0.005", "101.5"),
                       "precision": ("0.876", "0.000"), "recall": ("0.892", "0.000"),
                       "one_nn_accuracy": ("0.536", "1.000")}
          rows = [f"| metric | this run (step {evaluation['step']}, {evaluation['num_samples']} samples) | "
                  "real vs real | untrained |", "| --- | --- | --- | --- |"]
          rows += [f"| {k} | {evaluation[k]:.4g} | {reference[k][0]} | {reference[k][1]} |" for k in shown]
          display(Markdown("\\n".join(rows)))
          '''),
      _md('''
          ## A conditional GAN: one row per digit

          `cgan_mnist` feeds the label to both nets: the generator embeds it next to z, the critic is a projection
          discriminator (Miyato & Koyama 2018). `generate_samples` takes the labels to draw; the classifier then says
          how often a sample shows the digit it was asked for.
          '''),
      _code('''
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
          '''),
  ]


def tpu_pmap() -> list[nbformat.NotebookNode]:
  return [
      _header("tpu_pmap", "One train step on all devices: pmap, shard_map and Colab TPUs", """
          jaxgan writes the train step once, for one device's share of the batch, with an axis name over which it
          averages gradients, metrics and BatchNorm statistics. `jaxgan.parallel` runs that same function on one
          device (`jit`), under `jax.pmap`, or under `jax.shard_map` over a device mesh. This notebook lists the
          devices, runs the WGAN-GP toy step in each mode, checks that they agree, and measures throughput per device.
          On a Colab TPU runtime (Runtime > Change runtime type > TPU) it uses the TPU cores; on a CPU it makes 4
          fake devices, which share the CPU's cores: the code paths are real, the speed-up is not.
          """),
      _setup(FAKE_DEVICES),
      _code('''
          NUM_STEPS = 100             # timed steps per mode (after one compiling step)
          BATCH_SIZE = 1024           # global batch; must divide by the device count
          N_CRITIC = 5
          HIDDEN = (512, 512, 512)    # MLP widths: larger nets give the devices more to do per step
          TRAIN_STEPS = 1000          # steps of the train_and_evaluate run at the end
          WORKDIR = "runs/tpu_pmap"
          PROGRESS = True
          ''', tags=("parameters",)),
      _md('''
          ## Device discovery

          `jax.devices()` lists every device of every process; on one host it equals `jax.local_devices()`. A Colab TPU
          runtime shows 8 TPU cores (v2-8) or more chips on newer TPUs; a GPU runtime one GPU; a CPU runtime here the
          fake CPU devices.
          '''),
      _code('''
          import time

          import jax
          import jax.numpy as jnp
          import matplotlib.pyplot as plt
          import numpy as np

          print("backend:", jax.default_backend())
          print(f"{jax.device_count()} devices ({jax.local_device_count()} local) in {jax.process_count()} process(es)")
          for device in jax.devices():
            print(f"  {device.id}: {device.device_kind} ({device.platform})")
          '''),
      _md('''
          ## The same step in three modes

          `parallel.make_parallel_train_step(config, mode)` builds the GAN with the right axis name and wraps its step:

          * `none`: `jax.jit` on one device.
          * `pmap`: `jax.pmap` over the local devices; the state is stacked `[devices, ...]` and the batch reshaped to
            `[devices, n_critic, B / devices, ...]`.
          * `shard_map`: `jax.jit(jax.shard_map(...))` over a 1-D mesh; the parameters replicated, the batch sharded
            along its examples. This is the mode to use across hosts; `auto` picks it whenever there is more than one
            device.

          `put_state` and `put_batch` place a one-device state and a global batch in the mode's layout.
          '''),
      _code('''
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
          '''),
      _md('''
          ## They compute the same thing

          Every example draws its latent and interpolation weight from its position in the *global* batch, and the
          gradients are averaged over devices, so after the same steps the parameters match the one-device run up to
          float rounding (the cross-device mean adds in another order).
          '''),
      _code('''
          reference = runs["none"]["state"]
          for mode in ("pmap", "shard_map"):
            diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), runs[mode]["state"].g_params,
                                 reference.g_params)
            print(f"{mode}: largest generator parameter difference from the one-device run "
                  f"{max(jax.tree.leaves(diffs)):.2e}; critic loss {runs[mode]['metrics']['critic_loss']:.5f} vs "
                  f"{runs['none']['metrics']['critic_loss']:.5f}")
          '''),
      _md('''
          ## Throughput per device

          Examples per second count the real examples the critic sees (`n_critic × batch` a step). On real devices
          the parallel modes should scale with the device count; the fake CPU devices share the same cores, so there
          they only show the overhead of splitting the work.
          '''),
      _code('''
          modes = list(runs)
          examples = {m: runs[m]["steps_per_s"] * N_CRITIC * BATCH_SIZE for m in modes}
          labels = [f"{m}\\n({runs[m]['devices']} device{'s' if runs[m]['devices'] > 1 else ''})" for m in modes]
          fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
          left.bar(labels, [examples[m] for m in modes], color="tab:blue")
          left.set(title="throughput", ylabel="examples / s")
          right.bar(labels, [examples[m] / runs[m]["devices"] for m in modes], color="tab:orange")
          right.set(title="throughput per device", ylabel="examples / s / device")
          fig.suptitle(f"WGAN-GP toy step, global batch {BATCH_SIZE}, n_critic {N_CRITIC}, "
                       f"{jax.device_count()} {jax.devices()[0].platform.upper()} device(s)")
          fig.tight_layout()
          plt.show()
          '''),
      _md('''
          ## What changes on a TPU runtime

          * **Runtime.** Runtime > Change runtime type > TPU. The first cell then leaves `XLA_FLAGS` alone and installs
            jaxgan together with `jax[tpu]`, so that JAX and the TPU runtime library (libtpu) match.
          * **Devices.** `jax.devices()` lists the TPU cores; nothing else in the code changes. `auto` becomes
            `shard_map` over all of them.
          * **Batch.** `config.batch_size` is the global batch: it must divide by the device count (8 cores: 256 gives
            32 per core). TPU cores like per-core batches that are multiples of 8 and wide layers.
          * **Data.** Batches are made on the host and placed with `put_batch`; for image data the host feeds every
            core, so the first steps include tfds preparation.
          * **Several hosts** (a pod slice): each process runs the same program after `jax.distributed.initialize()`,
            uses `shard_map` over `jax.devices()` (`pmap` is refused there) and keeps its own part of each batch.

          With `config.parallel = "auto"` the whole loop, `train_and_evaluate`, does the same: the result records the
          mode and the device count, and checkpoints hold one copy of the state whatever the device count.
          '''),
      _code('''
          from jaxgan.experiment import train_and_evaluate

          config.parallel = "auto"
          config.num_steps = TRAIN_STEPS
          config.eval_every = config.checkpoint_every = max(TRAIN_STEPS, 1)
          results = train_and_evaluate(config, os.path.join(WORKDIR, "auto"), progress=PROGRESS)
          print(f"parallel={results['parallel']} on {results['num_devices']} device(s): {results['steps']} steps, "
                f"{results['modes_covered']} of 25 modes, compile {results['compile_s']:.1f} s")
          '''),
  ]


def deligan_lowdata() -> list[nbformat.NotebookNode]:
  return [
      _header("deligan_lowdata", "DeLiGAN vs a baseline GAN on a few hundred MNIST digits", """
          DeLiGAN (Gurumurthy et al. 2017) replaces the latent N(0, I) with a learnable mixture of 50 Gaussians, which
          the paper argues helps when the data are few and diverse. Here the `deligan_mnist_lowdata` config (DCGAN
          nets, the non-saturating loss) trains on a few hundred MNIST images twice, with the learned mixture and
          with the plain normal prior; the samples are then scored by the modified Inception Score, the paper's
          measure of diversity within each class, computed on the shipped MNIST classifier. A GPU or TPU runtime is
          advised for the default sizes.
          """),
      _setup(),
      _code('''
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
          ''', tags=("parameters",)),
      _md(MNIST_DATA_MD),
      _code(MNIST_DATA),
      _code('''
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
          '''),
      _md('''
          ## Train both

          The same config, seed, data and nets; only `config.prior` differs. DeLiGAN's component means μ and scales σ
          are trained by the generator's optimiser, with the paper's regulariser pulling σ towards 1.
          '''),
      _code('''
          results = {}
          for model, prior in MODELS.items():
            results[model] = train_and_evaluate(lowdata_config(prior), os.path.join(WORKDIR, model),
                                                progress=PROGRESS)
            print(f"{model}: {results[model]['steps']} steps, discriminator loss "
                  f"{results[model]['critic_loss']:.3f}, generator loss {results[model]['generator_loss']:.3f}")
          '''),
      _md('''
          ## Modified Inception Score

          The Inception Score exp(E_x KL(p(y|x) ‖ p(y))) rewards confident and varied class predictions; DeLiGAN's
          modified score exp(E_{x_i, x_j} KL(p(y|x_i) ‖ p(y|x_j))) also rewards variety *within* a class. As the
          paper, we report it per predicted class and average over classes (`modified_inception_score_per_class`).
          `evaluate_run` computes both on the shipped MNIST classifier and saves the samples it scored.

          Read the modified score against real digits: the shipped classifier is so sure of real digits that their
          within-class score is about 1.06 (README). Samples the classifier is unsure about (blurred or broken
          digits) score *higher*, so the modified score only means within-class variety once the Inception Score
          says the samples are clear digits (IS near 10).
          '''),
      _code('''
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
          display(Markdown("\\n".join(rows)))
          '''),
      _code('''
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
          '''),
      _md('''
          ## DeLiGAN's learned mixture

          Each row below draws 8 latents from one component, z = μ_i + σ_i ε, through the trained generator (its pure
          `apply` function): each component holds one kind of digit. The regulariser that pulls σ towards 1 is weak
          (λ = 0.05), so over short runs σ stays near its initial 0.05 to 0.2 and the samples of one component
          differ little: the variety comes from the 50 means.
          '''),
      _code('''
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
          '''),
  ]


NOTEBOOKS = {
    "quickstart": (quickstart, None),
    "gan_zoo_toy": (gan_zoo_toy, None),
    "mnist_wgan_gp": (mnist_wgan_gp, None),
    "tpu_pmap": (tpu_pmap, "TPU"),
    "deligan_lowdata": (deligan_lowdata, None),
}


def build(name: str) -> nbformat.NotebookNode:
  """The notebook `name`, without outputs, with stable cell ids (`<name>-<index>`)."""
  cells_fn, accelerator = NOTEBOOKS[name]
  notebook = nbformat.v4.new_notebook()
  notebook.cells = cells_fn()
  for index, cell in enumerate(notebook.cells):
    cell.id = f"{name}-{index}"
  notebook.metadata = {
      "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
      "language_info": {"name": "python"},
      "colab": {"name": f"{name}.ipynb", "provenance": []},
  }
  if accelerator:
    notebook.metadata["accelerator"] = accelerator  # Colab opens it on that runtime
  nbformat.validate(notebook)
  return notebook


def render(name: str) -> str:
  """The file contents of notebooks/<name>.ipynb."""
  return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
  args = parser.parse_args(argv)
  stale = []
  for name in NOTEBOOKS:
    path = HERE / f"{name}.ipynb"
    text = render(name)
    if args.check:
      if not path.exists() or path.read_text() != text:
        stale.append(path.name)
    else:
      path.write_text(text)
      print(f"wrote {path.relative_to(HERE.parent)}")
  if stale:
    print(f"Out of date: {', '.join(stale)}; run python notebooks/build.py", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
