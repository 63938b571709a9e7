"""Multipart uploads: which files go in parts, and how a file splits into them.

A file above the threshold is uploaded as numbered parts of one size (the last one shorter),
each to its own presigned URL, then joined by the store. The split is a pure function of the
file's size and the part size, so server and client always agree on every part's length.

    policy = MultipartPolicy.from_settings(settings)
    if policy.applies_to(size_bytes):
        plan = policy.plan(size_bytes)       # plan.parts_total, plan.size_of(n)
"""

from __future__ import annotations

from dataclasses import dataclass

from luna import constants
from luna.settings import Settings


@dataclass(frozen=True)
class PartPlan:
    """How `size_bytes` splits into parts of `part_size_bytes`."""

    size_bytes: int
    part_size_bytes: int

    @property
    def parts_total(self) -> int:
        return max(1, -(-self.size_bytes // self.part_size_bytes))

    def size_of(self, part_number: int) -> int:
        """The exact length of part `part_number` (1-based)."""
        if not 1 <= part_number <= self.parts_total:
            raise ValueError(f"part_number must be within 1..{self.parts_total}")
        if part_number < self.parts_total:
            return self.part_size_bytes
        return self.size_bytes - (self.parts_total - 1) * self.part_size_bytes


def plan_parts(size_bytes: int, *, part_size_bytes: int) -> PartPlan:
    """Parts of `part_size_bytes`, grown to whole MiB when the file would otherwise need more
    parts than S3 allows."""
    if size_bytes < 0:
        raise ValueError("size_bytes must not be negative")
    if part_size_bytes < 1:
        raise ValueError("part_size_bytes must be positive")
    smallest = -(-size_bytes // constants.S3_MAX_PARTS)
    if smallest > part_size_bytes:
        part_size_bytes = -(-smallest // constants.MiB) * constants.MiB
    return PartPlan(size_bytes=size_bytes, part_size_bytes=part_size_bytes)


@dataclass(frozen=True)
class MultipartPolicy:
    """Which files upload in parts, and the part size they use."""

    threshold_bytes: int = constants.MULTIPART_THRESHOLD_BYTES
    part_size_bytes: int = constants.MULTIPART_PART_BYTES

    def applies_to(self, size_bytes: int) -> bool:
        return size_bytes > self.threshold_bytes

    def plan(self, size_bytes: int) -> PartPlan:
        return plan_parts(size_bytes, part_size_bytes=self.part_size_bytes)

    @classmethod
    def from_settings(cls, settings: Settings) -> MultipartPolicy:
        """LUNA_MULTIPART_THRESHOLD_BYTES and LUNA_MULTIPART_PART_BYTES."""
        return cls(
            threshold_bytes=settings.luna_multipart_threshold_bytes,
            part_size_bytes=settings.luna_multipart_part_bytes,
        )
