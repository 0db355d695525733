"""vislab's version: a bottom module that any layer may import (``vislab/__init__.py`` re-exports it)."""

__version__ = "0.2.0"
