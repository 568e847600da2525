"""DCGAN on MNIST (Radford et al. 2016): transposed-conv generator with BatchNorm and ReLU, strided-conv discriminator
with LeakyReLU 0.2 and BatchNorm, non-saturating loss, Adam 2e-4 with betas (0.5, 0.999), batch 64, z ~ N(0, I)
of dimension 100."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "dcgan_mnist"
  c.num_steps = 10000
  c.batch_size = 64
  c.n_critic = 1
  c.log_every = 50
  c.eval_every = 500
  c.checkpoint_every = 1000
  c.loss = "ns_gan"
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.generator = ml_collections.ConfigDict({"name": "dcgan", "base_features": 64, "upsample": "transpose"})
  c.critic = ml_collections.ConfigDict(
    {"name": "dcgan", "base_features": 64, "batch_norm": True, "norm": "none", "spectral_norm": False}
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  return c
