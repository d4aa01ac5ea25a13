"""The package version (a constant: reading package metadata is slow to import)."""

__version__ = "0.1.0"
