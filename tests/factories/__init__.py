"""Synthetic data for luna's tests: chest-X-ray-like images (PNG, JPEG, DICOM), manifests,
and `DATASETS`, a catalogue of named datasets with the rules each must trigger.

    from factories import DATASETS, validate_offline
    spec = DATASETS["dicom.phi"]
    spec.stored, spec.declared, spec.expected_rules
"""

from .datasets import CLEAN, DATASETS, DatasetSpec, base, build_spec, content_type_for, sha256_hex
from .dicom import dicom
from .images import (
    chest_pixels,
    colour_pixels,
    gif,
    jpeg,
    jpeg_claiming,
    png,
    png_bomb,
    png_with_bad_crc,
    truncated,
)
from .manifests import COLUMNS, manifest
from .pipeline import inspect_bytes, validate_offline

__all__ = [
    "CLEAN",
    "COLUMNS",
    "DATASETS",
    "DatasetSpec",
    "base",
    "build_spec",
    "chest_pixels",
    "colour_pixels",
    "content_type_for",
    "dicom",
    "gif",
    "inspect_bytes",
    "jpeg",
    "jpeg_claiming",
    "manifest",
    "png",
    "png_bomb",
    "png_with_bad_crc",
    "sha256_hex",
    "truncated",
    "validate_offline",
]
