"""A conditional GAN on the 8-Gaussian ring with each mode as a class (Mirza & Osindero 2014): the label is
embedded and concatenated to z; the critic is a projection discriminator (Miyato & Koyama 2018)."""

import ml_collections

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "cgan_toy"
  c.num_steps = 2000
  c.data.name = "ring8"
  c.num_classes = 8
  c.generator = ml_collections.ConfigDict(
    {"name": "conditional", "backbone": "mlp", "features": (128, 128), "activation": "relu", "embed_dim": 8}
  )
  c.critic = ml_collections.ConfigDict(
    {
      "name": "conditional",
      "backbone": "mlp",
      "conditioning": "projection",
      "features": (128, 128),
      "activation": "relu",
    }
  )
  return c
