"""WGAN-GP on the 25-Gaussian grid, as the authors' gan_toy.py (Gulrajani et al. 2017): ReLU MLPs, lambda = 0.1,
batch 256, n_critic 5, Adam 1e-4 with betas (0.5, 0.9). The hidden layers are 3 x 128 rather than the script's
3 x 512 so the default job fits in about two minutes on two CPU cores. This is the default job's config."""

from experiments.configs.base import base_config, optimizer


def get_config():
  c = base_config()
  c.name = "wgan_gp_toy"
  c.num_steps = 5000
  c.batch_size = 256
  c.n_critic = 5
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.loss = "wgan"
  c.penalty = "gradient_penalty"
  c.penalty_weight = 0.1
  c.latent_dim = 2
  c.data.name = "grid25"
  c.g_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  c.d_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  return c
