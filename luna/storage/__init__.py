"""Object storage behind one interface: `ObjectStore` (see `base`), with an S3 implementation."""

from luna.storage.base import ObjectInfo, ObjectStore, PresignedUpload

__all__ = ["ObjectInfo", "ObjectStore", "PresignedUpload"]
