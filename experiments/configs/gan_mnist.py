"""The original GAN on MNIST (Goodfellow et al. 2014, their pylearn2 `mnist.yaml`): fully connected nets, generator
100 -> 1200 -> 1200 -> 784 with ReLU, discriminator 784 -> 240 -> 240 -> 1 (maxout there; LeakyReLU here, with the
same widths), minibatch 100, SGD with momentum 0.5 at learning rate 0.1 decayed by 1/1.000004 per update, z ~ U(-1, 1)
of dimension 100. The generator maximises log D(G(z)) (the non-saturating loss the paper recommends in practice)."""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer


def get_config():
  c = base_config()
  c.name = "gan_mnist"
  c.num_steps = 50000
  c.batch_size = 100
  c.n_critic = 1
  c.log_every = 100
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.loss = "ns_gan"
  c.prior = "uniform"
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.generator = ml_collections.ConfigDict(
    {"name": "mlp", "features": (1200, 1200), "activation": "relu", "output_activation": "tanh"}
  )
  c.critic = ml_collections.ConfigDict({"name": "mlp", "features": (240, 240), "activation": "leaky_relu"})
  # 1 / 1.000004 per update is exponential decay with half-life ln 2 / ln 1.000004 = 173,287 updates.
  c.g_optimizer = optimizer("sgd", 0.1, momentum=0.5, schedule="exponential", decay_steps=173287)
  # The authors' pylearn2 discriminator caps every unit's incoming weight norm at 1.9365 (max_col_norm); without it
  # SGD at 0.1 diverges here within ~1,000 steps.
  c.d_optimizer = optimizer("sgd", 0.1, momentum=0.5, schedule="exponential", decay_steps=173287, max_norm=1.9365)
  return c
