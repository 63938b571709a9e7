"""luna: dataset intake for the LUNA2025 chest X-ray competition."""

__version__ = "0.1.0"
