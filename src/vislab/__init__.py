"""vislab: a lab bench for image classification."""

__version__ = "0.1.0"
