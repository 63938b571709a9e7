"""How files split into parts, and part URLs signed exactly as botocore signs UploadPart."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from luna import constants
from luna.settings import Settings
from luna.storage.multipart import MultipartPolicy, PartPlan, plan_parts
from luna.storage.signing import PresignedPutSigner

MiB, GiB = constants.MiB, constants.GiB
MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size_bytes", "parts_total", "last_bytes"),
    [
        (300 * MiB, 19, 12 * MiB),
        (64 * MiB + 1, 5, 1),
        (32 * MiB, 2, 16 * MiB),
        (1, 1, 1),
    ],
)
def test_parts_are_full_but_the_last(size_bytes: int, parts_total: int, last_bytes: int) -> None:
    plan = plan_parts(size_bytes, part_size_bytes=16 * MiB)
    assert plan.parts_total == parts_total
    assert [plan.size_of(n) for n in range(1, parts_total)] == [16 * MiB] * (parts_total - 1)
    assert plan.size_of(parts_total) == last_bytes
    assert sum(plan.size_of(n) for n in range(1, parts_total + 1)) == size_bytes


def test_part_numbers_outside_the_plan_have_no_size() -> None:
    plan = PartPlan(size_bytes=40 * MiB, part_size_bytes=16 * MiB)
    for number in (0, 4, -1):
        with pytest.raises(ValueError, match=r"1\.\.3"):
            plan.size_of(number)


def test_a_file_that_would_need_too_many_parts_gets_larger_parts() -> None:
    plan = plan_parts(200 * GiB, part_size_bytes=16 * MiB)
    assert plan.parts_total <= constants.S3_MAX_PARTS
    assert plan.part_size_bytes % MiB == 0
    assert plan.part_size_bytes == 21 * MiB  # 200 GiB / 10,000 = 20.48 MiB, rounded up


def test_the_policy_takes_files_above_the_threshold() -> None:
    policy = MultipartPolicy.from_settings(Settings.model_construct())
    assert policy.threshold_bytes == 64 * MiB
    assert not policy.applies_to(64 * MiB)
    assert policy.applies_to(64 * MiB + 1)


def test_the_policy_follows_the_settings() -> None:
    settings = Settings.model_construct(
        luna_multipart_threshold_bytes=6 * MiB, luna_multipart_part_bytes=5 * MiB
    )
    policy = MultipartPolicy.from_settings(settings)
    assert (policy.threshold_bytes, policy.part_size_bytes) == (6 * MiB, 5 * MiB)


def _signature_parts(url: str) -> tuple[str, str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.path, parse_qs(parts.query)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://files.example.org/s3"])
@pytest.mark.parametrize(
    ("key", "upload_id"),
    [
        ("datasets/17/big.dcm", "2~abcDEF_-.xyz"),
        ("datasets/17/é ü+%&=?#.bin", "a/b+c=d"),
    ],
)
async def test_part_urls_match_botocore(endpoint: str, key: str, upload_id: str) -> None:
    signer = PresignedPutSigner(
        endpoint, access_key="AKIDLUNA", secret_key="s/k+ey", region="eu-west-3"
    )
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDLUNA",
        aws_secret_access_key="s/k+ey",
        region_name="eu-west-3",
        config=config,
    ) as client:
        with mock.patch(
            "botocore.auth.get_current_datetime", return_value=MOMENT.replace(tzinfo=None)
        ):
            expected = await client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": "luna-datasets",
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": 7,
                    "ContentLength": 16 * MiB,
                },
                ExpiresIn=900,
            )
    url = signer.presign_part(
        "luna-datasets",
        key,
        upload_id=upload_id,
        part_number=7,
        size_bytes=16 * MiB,
        expires_in_s=900,
        now=MOMENT,
    )
    assert _signature_parts(url) == _signature_parts(expected)


@pytest.mark.parametrize("part_number", [0, 10_001])
def test_part_numbers_are_s3s(part_number: int) -> None:
    signer = PresignedPutSigner("http://s3", access_key="a", secret_key="s", region="us-east-1")
    with pytest.raises(ValueError, match="part_number"):
        signer.presign_part(
            "b", "k", upload_id="u", part_number=part_number, size_bytes=1, expires_in_s=60
        )
