"""The package version, in one place: read by pyproject.toml, recorded with every artifact and part of every cache key."""

__version__ = "0.5.0"
