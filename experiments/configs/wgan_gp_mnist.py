"""WGAN-GP on MNIST (Gulrajani et al. 2017): DCGAN nets without BatchNorm in the critic (the penalty is per sample),
lambda = 10, n_critic 5, Adam 1e-4 with betas (0.5, 0.9) as in the authors' code (their Algorithm 1 lists beta1 = 0),
batch 64."""

from experiments.configs import dcgan_mnist
from experiments.configs.base import optimizer


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "wgan_gp_mnist"
  c.n_critic = 5
  c.loss = "wgan"
  c.penalty = "gradient_penalty"
  c.penalty_weight = 10.0
  c.critic.batch_norm = False
  c.g_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  c.d_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  return c
