"""T-SGAN on CIFAR-10 (Su 2018): DCGAN generator, the pair critic with a spectrally normalised DCGAN encoder,
one T update then two G updates with Adam 2e-4, beta1 0.5. Without network, pass the data as
--config.data.source=npz:FILE (see README)."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "t_sgan_cifar10"
  c.num_steps = 20000
  c.batch_size = 64
  c.n_critic = 1
  c.n_generator = 2
  c.log_every = 50
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.loss = "t_sgan"
  c.latent_dim = 128
  c.data = image_data("cifar10")
  c.generator = ml_collections.ConfigDict({"name": "dcgan", "base_features": 64, "upsample": "transpose"})
  c.critic = ml_collections.ConfigDict(
    {
      "name": "tgan",
      "encoder": "dcgan",
      "base_features": 64,
      "embedding": 128,
      "head_features": (128,),
      "activation": "relu",
      "spectral_norm": True,
    }
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  return c
