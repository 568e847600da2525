"""WGAN-GP with the ResNet nets on CIFAR-10 (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Sec. 5
and Appendix F; the authors' gan_cifar_resnet.py in igul222/improved_wgan_training): generator z of dimension 128 ->
4x4x128, three up-sampling residual blocks of 128 channels with BatchNorm, BatchNorm, ReLU, conv3x3 to 3, tanh;
critic an optimised down-sampling block, a down-sampling block and two blocks of 128 channels without normalisation,
ReLU, global mean pooling, linear to one score. Wasserstein loss with the gradient penalty lambda = 10, n_critic = 5,
Adam 2e-4 with betas (0, 0.9), batch 64, and the learning rate decayed linearly to 0 over 100k generator updates
(the critic's schedule counts its own updates: 5 per train step, so 500k). The paper's unsupervised Inception score
with these nets is 7.86 (its Table 3; the supervised 8.42 used an AC-GAN critic, which this config is not). Offline,
pass the images as --config.data.source=npz:FILE (see README)."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer

_DECAY_STEPS = 100_000  # generator updates


def get_config():
  c = base_config()
  c.name = "wgan_gp_resnet_cifar10"
  c.num_steps = _DECAY_STEPS
  c.batch_size = 64
  c.n_critic = 5
  c.log_every = 50
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.loss = "wgan"
  c.penalty = "gradient_penalty"
  c.penalty_weight = 10.0
  c.latent_dim = 128
  c.data = image_data("cifar10")
  c.generator = ml_collections.ConfigDict({"name": "resnet", "base_features": 128})
  c.critic = ml_collections.ConfigDict(
    {"name": "resnet", "base_features": 128, "spectral_norm": False, "pooling": "mean"}
  )
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.0, b2=0.9, schedule="linear", decay_steps=_DECAY_STEPS, end_value=0.0)
  c.d_optimizer = optimizer(
    "adam", 2e-4, b1=0.0, b2=0.9, schedule="linear", decay_steps=c.n_critic * _DECAY_STEPS, end_value=0.0
  )
  # Evaluate and sample the generator's moving average (jaxgan.ema; training is unchanged, --raw_generator reads the
  # trained one): Yazici et al. 2019 find it lowers FID for these CIFAR-10 ResNet GANs with decay 0.9999; the first
  # 1000 steps copy the generator, as BigGAN-PyTorch's ema_start does.
  c.ema.update(decay=0.9999, start_step=1000)
  return c
