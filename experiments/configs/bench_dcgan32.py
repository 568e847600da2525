"""PyTorch-GAN's `dcgan` workload (eriklindernoren/PyTorch-GAN, implementations/dcgan) on 32x32x1 images: generator
linear -> 128x8x8, BatchNorm, two (nearest x2 upsample, 3x3 conv, BatchNorm eps 0.8, LeakyReLU 0.2) blocks with 128
and 64 channels, 3x3 conv to 1 channel, tanh; discriminator of four 3x3 stride-2 conv blocks (16/32/64/128 channels,
LeakyReLU 0.2, BatchNorm eps 0.8 from the second block) and a linear logit; the log loss with the non-saturating
generator loss (PyTorch-GAN's Sigmoid + BCELoss), Adam 2e-4 with betas (0.5, 0.999), batch 64, latent 100.

The step runs in PyTorch-GAN's order (`update_order='generator_first'`): the generator's update, then the
discriminator's on the same fakes, detached, so the generator runs forward once per step. The critic keeps
PyTorch-GAN's Dropout2d(0.25); the train step hands it a fresh dropout key per critic call. The
upsampling runs in its exact 'subpixel' form (4/9 of the work of 'resize'; the same function and parameters), and the
convolutions in jaxgan.nets.conv's form with fast CPU gradients (conv_impl 'auto': XLA's own on GPU and TPU).
"""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "bench_dcgan32"
  c.num_steps = 10000
  c.batch_size = 64
  c.n_critic = 1
  c.update_order = "generator_first"  # PyTorch-GAN's loop: G's update, then D's on the same (detached) fakes
  c.log_every = 50
  c.eval_every = 500
  c.loss = "ns_gan"
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.data.image_shape = (32, 32, 1)
  c.generator = ml_collections.ConfigDict(
    {"name": "zoo_dcgan", "base_features": 64, "batch_norm_eps": 0.8, "upsample": "subpixel", "conv_impl": "auto"}
  )
  c.critic = ml_collections.ConfigDict(
    {"name": "zoo_dcgan", "base_features": 16, "batch_norm_eps": 0.8, "dropout_rate": 0.25, "conv_impl": "auto"}
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  # PyTorch-GAN halves D's loss, (BCE(real) + BCE(fake)) / 2; under Adam that is the same step as eps doubled.
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999, eps=2e-8)
  return c
