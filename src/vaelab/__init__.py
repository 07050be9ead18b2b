"""vaelab: train VAEs on images and see what the balance between reconstruction and KL does."""

__version__ = "0.1.0"
