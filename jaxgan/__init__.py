"""jaxgan: the classic GAN family as pure JAX functions."""

__version__ = "0.1.0"
