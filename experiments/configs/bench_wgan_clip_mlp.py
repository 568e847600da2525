"""PyTorch-GAN's `wgan` workload (eriklindernoren/PyTorch-GAN, implementations/wgan): the MLPs of
`bench_wgan_gp_mlp`, weight clipping at 0.01 instead of the penalty, RMSProp 5e-5 (torch's RMSprop: decay 0.99,
eps 1e-8 outside the square root), n_critic 5, batch 64, on 1x28x28 images."""

from experiments.configs import bench_wgan_gp_mlp
from experiments.configs.base import optimizer


def get_config():
  c = bench_wgan_gp_mlp.get_config()
  c.name = "bench_wgan_clip_mlp"
  c.penalty = "none"
  c.penalty_weight = 0.0
  c.g_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8)
  c.d_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8, clip=0.01)
  return c
