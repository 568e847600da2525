"""PyTorch-GAN's `wgan_gp` workload (eriklindernoren/PyTorch-GAN, implementations/wgan_gp): MLP generator
100 -> 128 -> 256 -> 512 -> 1024 -> 784 (BatchNorm eps 0.8 from the second layer, LeakyReLU 0.2, tanh), MLP critic
784 -> 512 -> 256 -> 1 (LeakyReLU 0.2), lambda = 10, n_critic 5, Adam 2e-4 with betas (0.5, 0.999), batch 64, on
1x28x28 images. `benchmarks/speed.py` times it against the same workload in PyTorch."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "bench_wgan_gp_mlp"
  c.num_steps = 20000
  c.batch_size = 64
  c.n_critic = 5
  c.log_every = 100
  c.eval_every = 1000
  c.loss = "wgan"
  c.penalty = "gradient_penalty"
  c.penalty_weight = 10.0
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.data.image_shape = (28, 28, 1)
  c.generator = ml_collections.ConfigDict(
    {"name": "zoo_mlp", "base_features": 128, "num_layers": 4, "batch_norm_eps": 0.8}
  )
  c.critic = ml_collections.ConfigDict({"name": "mlp", "features": (512, 256), "activation": "leaky_relu"})
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  return c
