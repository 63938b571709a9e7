"""luna's SigV4 presigner gives the same signatures as botocore's, for any endpoint and key."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from luna.storage.signing import MAX_EXPIRES_S, PresignedPutSigner

MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
KEYS = [
    "datasets/17/manifest.csv",
    "datasets/17/scans/a b.png",
    "datasets/17/é ü+%&=?#~!*'()[]@$,;.dcm",
    "datasets/17/x//y.jpg",
]


def _signature_parts(url: str) -> tuple[str, str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.path, parse_qs(parts.query)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9000",
        "https://files.example.org",
        "https://files.example.org:443",
        "http://files.example.org:80/s3",
        "http://[::1]:9000",
    ],
)
async def test_signatures_match_botocore(endpoint: str) -> None:
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
        for key in KEYS:
            with mock.patch(
                "botocore.auth.get_current_datetime", return_value=MOMENT.replace(tzinfo=None)
            ):
                expected = await client.generate_presigned_url(
                    "put_object",
                    Params={
                        "Bucket": "luna-datasets",
                        "Key": key,
                        "ContentType": "image/png",
                        "ContentLength": 12345,
                    },
                    ExpiresIn=900,
                )
            url = signer.presign_put(
                "luna-datasets",
                key,
                content_type="image/png",
                size_bytes=12345,
                expires_in_s=900,
                now=MOMENT,
            )
            # botocore keeps a default port in the URL that the Host header (and so the
            # signature) leaves out; everything else must be identical.
            assert _signature_parts(url) == _signature_parts(expected), key
            assert url.startswith(endpoint.removesuffix(":443").removesuffix(":80/s3"))


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "http://files.example.org:80/s3"])
def test_batch_signing_gives_the_same_urls_as_one_at_a_time(endpoint: str) -> None:
    signer = PresignedPutSigner(endpoint, access_key="a", secret_key="s/k", region="r")
    puts = [
        (key, "image/png" if i % 2 else "text/csv ;  x=1", 10 + i) for i, key in enumerate(KEYS)
    ]
    batch = signer.presign_puts("luna-datasets", puts, expires_in_s=900, now=MOMENT)
    one_by_one = [
        signer.presign_put(
            "luna-datasets", key, content_type=t, size_bytes=n, expires_in_s=900, now=MOMENT
        )
        for key, t, n in puts
    ]
    assert batch == one_by_one
    with pytest.raises(ValueError, match="expires_in_s"):
        signer.presign_puts("b", puts, expires_in_s=0)
    with pytest.raises(ValueError, match="size_bytes"):
        signer.presign_puts("b", [("k", "image/png", -1)], expires_in_s=60)


def test_signed_headers_are_type_length_and_host() -> None:
    signer = PresignedPutSigner("http://s3:9000", access_key="a", secret_key="b", region="r")
    url = signer.presign_put("b", "k", content_type="text/csv", size_bytes=1, expires_in_s=60)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == ["60"]


def test_signature_depends_on_type_length_and_key() -> None:
    signer = PresignedPutSigner("http://s3:9000", access_key="a", secret_key="b", region="r")

    def sign(key: str = "k", content_type: str = "image/png", size_bytes: int = 10) -> str:
        url = signer.presign_put(
            "b", key, content_type=content_type, size_bytes=size_bytes, expires_in_s=60, now=MOMENT
        )
        return parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]

    assert len({sign(), sign(key="k2"), sign(content_type="image/jpeg"), sign(size_bytes=11)}) == 4


@pytest.mark.parametrize("expires_in_s", [0, -5, MAX_EXPIRES_S + 1])
def test_out_of_range_expiry_is_refused(expires_in_s: int) -> None:
    signer = PresignedPutSigner("http://s3:9000", access_key="a", secret_key="b", region="r")
    with pytest.raises(ValueError, match="expires_in_s"):
        signer.presign_put(
            "b", "k", content_type="image/png", size_bytes=1, expires_in_s=expires_in_s
        )


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "ftp://host", "http://"])
def test_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        PresignedPutSigner(endpoint, access_key="a", secret_key="b", region="r")
