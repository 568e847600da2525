"""WGAN with weight clipping on the 25-Gaussian grid (Arjovsky et al. 2017, Algorithm 1): RMSProp 5e-5 as torch's
RMSprop that the authors used, clip 0.01, n_critic 5, with the same MLPs as wgan_gp_toy."""

from experiments.configs.base import base_config, optimizer


def get_config():
  c = base_config()
  c.name = "wgan_toy"
  c.num_steps = 5000
  c.batch_size = 256
  c.n_critic = 5
  c.loss = "wgan"
  c.latent_dim = 2
  c.data.name = "grid25"
  c.g_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8)
  c.d_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8, clip=0.01)
  return c
