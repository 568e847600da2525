"""Fields every run config has; each config file starts from `base_config()` and sets what its paper uses."""

import ml_collections
from ml_collections.config_dict import placeholder

from jaxgan import diagnostics, ema, semi_supervised


def optimizer(name: str, learning_rate: float, **kwargs) -> ml_collections.ConfigDict:
  """An optimiser section: adam (b1, b2, eps), rmsprop (decay, eps), sgd (momentum); clip > 0 clips weights,
  max_norm > 0 caps every unit's incoming weight norm."""
  fields = {
    "name": name,
    "learning_rate": learning_rate,
    "clip": 0.0,
    "max_norm": 0.0,
    # learning-rate schedule: constant | linear | cosine | exponential, with optional linear warm-up
    "schedule": "constant",
    "warmup_steps": 0,
    "decay_steps": 0,
    "end_value": 0.0,
  }
  fields.update(kwargs)
  return ml_collections.ConfigDict(fields)


def image_data(name: str) -> ml_collections.ConfigDict:
  """A data section for an image dataset: tfds by default, or `source='npz:PATH'` / `'folder:PATH'`."""
  return ml_collections.ConfigDict(
    {
      "name": name,
      "source": "tfds",
      "split": "train",
      "data_dir": placeholder(str),  # where tfds keeps prepared data (tfds's default when unset)
      "manual_dir": placeholder(str),  # a folder with the original files, for offline preparation
      "max_examples": 0,  # > 0 keeps only the first N examples (low-data experiments)
      "image_shape": placeholder(tuple),  # (H, W, C) for datasets the library does not know by name
    }
  )


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "base"
  c.seed = 0
  c.num_steps = 1000  # generator updates
  c.max_train_minutes = 0.0  # > 0: also stop (save, evaluate) after this long; compile and periodic evals excluded
  c.batch_size = 64
  c.n_critic = 1  # critic updates per step
  c.n_generator = 1  # generator updates per step (T-GAN's authors use 2)
  # The critic updates in a lax.scan (auto: unless a net convolves; XLA:CPU runs convolutions slower in a loop) or
  # unrolled: auto | scan | unroll. Same numbers up to float reassociation; see jaxgan.train.
  c.critic_loop = "auto"
  # critic_first (n_critic critic updates, then the generator's, against the new critic) | generator_first
  # (PyTorch-GAN's DCGAN: the generator's update, then the critic's on the same fakes; one generator forward a step)
  # | simultaneous (both gradients at the current parameters, Goodfellow et al. 2014's code). The last two need
  # n_critic = n_generator = 1; see jaxgan.updates.
  c.update_order = "critic_first"
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3  # newest checkpoints kept; the best one by best_metric is kept apart
  c.best_metric = "auto"  # auto (reverse_kl on toy data, fid on images) | none | a metric the evaluation computes
  c.best_mode = "min"  # min | max: which values of best_metric are better
  c.eval_samples = 2500  # PacGAN evaluates coverage on 2,500 samples
  c.eval_metrics = ()  # image metrics at eval steps (default fid, inception_score); see jaxgan.evaluation
  c.inception_weights = ""  # FID Inception weights file: periodic metrics for images other than (Fashion-)MNIST
  c.prefetch = 2  # batches prepared and placed on the devices ahead of the step (0: none)
  c.parallel = "auto"  # auto | none | pmap | shard_map (auto: shard_map on several devices)
  # float32 | bfloat16: the dtype the nets compute in. bfloat16 is the setting for GPU and TPU (their matrix units run
  # it at several times float32's rate); parameters, optimiser states, BatchNorm and spectral-norm statistics, the
  # nets' outputs, the losses and the gradient penalty's norm stay float32. On CPU bfloat16 is usually slower.
  c.compute_dtype = "float32"

  c.loss = "ns_gan"
  c.penalty = "none"
  c.penalty_weight = 0.0
  c.prior = "normal"
  c.latent_dim = 2
  c.num_classes = 0  # > 0: a conditional GAN (labels from the data; 'conditional' nets)

  c.tips = ml_collections.ConfigDict(
    {
      "label_smoothing": "none",  # none | one_sided | two_sided (log-loss GANs)
      "real_label": 0.9,
      "fake_label": 0.1,
      "flip_fraction": 0.0,  # fraction of the discriminator's targets flipped
      "instance_noise": 0.0,  # std of Gaussian noise on the discriminator's inputs
      "instance_noise_anneal_steps": 0,  # > 0 anneals that std linearly to 0 over these steps
    }
  )
  # Low-data training (see jaxgan.augment, jaxgan.regularizers): DiffAugment (Zhao et al. 2020) on every image the
  # critic sees, real and fake, in both players' updates: a comma-separated policy of color, translation, cutout
  # ('' = none; 'color,translation,cutout' is the authors' choice for small datasets).
  c.augment = ""
  # The LeCam regulariser (Tseng et al. 2021): lecam_weight * R added to the critic's loss, R measured against EMAs of
  # the critic's mean scores on real and fake (0 = off; the authors use 0.3 on CIFAR with DiffAugment).
  c.lecam_weight = 0.0
  c.lecam_decay = 0.99  # the anchors' EMA decay
  c.lecam_start = 1000  # R joins the loss after this step; before it the anchors follow each batch (the authors: 1000)
  c.classifier = semi_supervised.default_config()  # the discriminator as a classifier: none | ssgan | acgan
  # The generator's moving average, used for evaluation and samples (see jaxgan.ema): off unless decay > 0.
  c.ema = ema.default_config()
  c.diagnostics = diagnostics.default_config()  # warnings when a run is dying (see jaxgan.diagnostics)
  # The DeLiGAN prior's options, read when prior = 'deligan' (jaxgan.priors.deligan_prior's defaults).
  c.deligan = ml_collections.ConfigDict(
    {"num_components": 50, "sigma_init_min": 0.05, "sigma_init_max": 0.2, "sigma_reg": 0.05}
  )
  c.data = ml_collections.ConfigDict({"name": "grid25"})
  c.generator = ml_collections.ConfigDict({"name": "mlp", "features": (128, 128, 128), "activation": "relu"})
  c.critic = ml_collections.ConfigDict(
    {"name": "mlp", "features": (128, 128, 128), "activation": "relu", "spectral_norm": False}
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  return c


# The low-data variants a config file's `get_config(variant)` applies (`--config=<file>.py:<variant>`), each only
# overrides of base fields: DiffAugment with the authors' small-data policy, and that plus LeCam at the weight the
# LeCam authors pair with DiffAugment on CIFAR-10 (0.3).
LOW_DATA_VARIANTS: dict[str, dict[str, object]] = {
  "": {},
  "diffaug": {"augment": "color,translation,cutout"},
  "diffaug_lecam": {"augment": "color,translation,cutout", "lecam_weight": 0.3},
}


def low_data_variant(c: ml_collections.ConfigDict, variant: str) -> ml_collections.ConfigDict:
  """`c` with the overrides of `LOW_DATA_VARIANTS[variant]`, its name suffixed with the variant."""
  if variant not in LOW_DATA_VARIANTS:
    raise ValueError(f"Unknown low-data variant {variant!r}; use one of {sorted(LOW_DATA_VARIANTS)}.")
  for field, value in LOW_DATA_VARIANTS[variant].items():
    c[field] = value
  if variant:
    c.name = f"{c.name}_{variant}"
  return c
