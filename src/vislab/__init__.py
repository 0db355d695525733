"""vislab: a lab bench for image classification."""

from vislab.version import __version__

__all__ = ["__version__"]
