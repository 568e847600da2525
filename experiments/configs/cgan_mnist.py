"""A conditional DCGAN on MNIST: class embedding concatenated to z in the generator, a projection discriminator
(Miyato & Koyama 2018) on DCGAN features, the non-saturating loss and Adam 2e-4, betas (0.5, 0.999)."""

import ml_collections

from experiments.configs import dcgan_mnist


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "cgan_mnist"
  c.num_classes = 10
  c.generator = ml_collections.ConfigDict(
    {
      "name": "conditional",
      "backbone": "dcgan",
      "base_features": 64,
      "upsample": "transpose",
      "embed_dim": 16,
      "output_activation": "tanh",
    }
  )
  c.critic = ml_collections.ConfigDict(
    {
      "name": "conditional",
      "backbone": "dcgan",
      "conditioning": "projection",
      "base_features": 64,
      "embedding": 128,
      "batch_norm": True,
    }
  )
  return c
