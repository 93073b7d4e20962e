"""The package version (one place; ``voicelive_nb.__version__`` re-exports it)."""

__version__ = "0.1.0"
