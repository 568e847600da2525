"""SNGAN on CIFAR-10 (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks"): the ResNet
generator of their Table 4 (z of dimension 128 -> 4x4x256, three up-sampling residual blocks of 256 channels,
BatchNorm, ReLU, conv3x3 to 3, tanh) and the spectrally normalised ResNet critic (an optimised down-sampling block, a
down-sampling block and two blocks of 128 channels, ReLU, global sum pooling, linear to one score), the hinge loss,
n_critic = 5 and Adam 2e-4 with betas (0, 0.9) for both players, batch 64, as in their ResNet experiments and the
authors' code (pfnet-research/sngan_projection). Offline, pass the images as --config.data.source=npz:FILE (see
README). A full-width step is slow on a CPU; --config.generator.base_features / --config.critic.base_features run
narrower nets."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "sngan_cifar10"
  c.num_steps = 50000
  c.batch_size = 64
  c.n_critic = 5
  c.log_every = 50
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.loss = "hinge"
  c.latent_dim = 128
  c.data = image_data("cifar10")
  c.generator = ml_collections.ConfigDict({"name": "resnet", "base_features": 256})
  c.critic = ml_collections.ConfigDict(
    {"name": "resnet", "base_features": 128, "spectral_norm": True, "pooling": "sum"}
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.0, b2=0.9)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.0, b2=0.9)
  # Evaluate and sample the generator's moving average (jaxgan.ema; training is unchanged, --raw_generator reads the
  # trained one): Yazici et al. 2019 find it lowers FID for these CIFAR-10 ResNet GANs with decay 0.9999; the first
  # 1000 steps copy the generator, as BigGAN-PyTorch's ema_start does.
  c.ema.update(decay=0.9999, start_step=1000)
  return c
