"""Per-team quotas, checked when upload URLs are issued.

Four limits, each a team's own value or the service default (LUNA_QUOTA_*): datasets started
per UTC day, bytes stored (declared by datasets not failed for a platform reason), files per
dataset, and bytes per file. A refusal names the limit, the numbers, and when it resets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from luna.errors import PayloadTooLarge, TooManyRequests
from luna.settings import Settings


@dataclass(frozen=True)
class Quota:
    datasets_per_day: int
    bytes_stored: int
    files_per_dataset: int
    bytes_per_file: int

    @classmethod
    def for_team(cls, row: Mapping[str, Any], settings: Settings) -> Quota:
        """The team's own limits where set, else the service defaults."""

        def pick(column: str, default: int) -> int:
            value = row[column]
            return default if value is None else int(value)

        return cls(
            datasets_per_day=pick("quota_datasets_per_day", settings.luna_quota_datasets_per_day),
            bytes_stored=pick("quota_bytes_stored", settings.luna_quota_bytes_stored),
            files_per_dataset=pick("quota_files_per_dataset", settings.luna_max_files),
            bytes_per_file=pick("quota_bytes_per_file", settings.luna_max_file_bytes),
        )


def next_utc_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def check_quota(
    quota: Quota,
    *,
    datasets_today: int,
    bytes_stored: int,
    file_sizes: Sequence[int],
    now: datetime | None = None,
) -> None:
    """Raise a 4xx naming the first limit this new dataset would break."""
    now = now or datetime.now(UTC)
    if datasets_today >= quota.datasets_per_day:
        resets = next_utc_midnight(now)
        retry_after_s = max(1, int((resets - now).total_seconds()))
        raise TooManyRequests(
            f"your team has started {datasets_today} datasets today, its limit of "
            f"{quota.datasets_per_day} per day; the count resets at {resets:%Y-%m-%d %H:%M} UTC",
            errors=[_limit("datasets_per_day", quota.datasets_per_day, datasets_today, resets)],
            headers={"Retry-After": str(retry_after_s)},
        )
    if len(file_sizes) > quota.files_per_dataset:
        raise PayloadTooLarge(
            f"{len(file_sizes)} files declared; your team's datasets hold at most "
            f"{quota.files_per_dataset} files",
            errors=[_limit("files_per_dataset", quota.files_per_dataset, len(file_sizes), None)],
        )
    largest = max(file_sizes, default=0)
    if largest > quota.bytes_per_file:
        raise PayloadTooLarge(
            f"a file of {largest} bytes is declared; your team's limit is "
            f"{quota.bytes_per_file} bytes per file",
            errors=[_limit("bytes_per_file", quota.bytes_per_file, largest, None)],
        )
    total = bytes_stored + sum(file_sizes)
    if total > quota.bytes_stored:
        raise PayloadTooLarge(
            f"this dataset would bring your team's stored data to {total} bytes, over its "
            f"limit of {quota.bytes_stored}; datasets whose validation failed for a platform "
            "reason do not count. Ask the organisers to raise the limit",
            errors=[_limit("bytes_stored", quota.bytes_stored, total, None)],
        )


def _limit(name: str, allowed: int, requested: int, resets: datetime | None) -> dict[str, Any]:
    return {
        "field": "quota",
        "limit": name,
        "allowed": allowed,
        "requested": requested,
        "resets_at": resets.isoformat() if resets else None,
        "message": f"quota {name}: {requested} over {allowed}",
    }
