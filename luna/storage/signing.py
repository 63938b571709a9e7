"""S3 presigned PUT URLs (AWS Signature Version 4, query-string form), signed offline.

`upload/start` presigns one URL per file, up to 100,000 per request: botocore's presigner costs
~350 µs a URL (35 s of event loop for one large dataset), this one a few microseconds. It signs
path-style URLs for any endpoint, so URLs can name the public address clients reach the store
under while luna itself talks to an internal one.

    signer = PresignedPutSigner("http://files.example.org:9000", access_key="ak",
                                secret_key="sk", region="us-east-1")
    url = signer.presign_put("bucket", "datasets/17/a.png", content_type="image/png",
                             size_bytes=1024, expires_in_s=3600)
    url = signer.presign_part("bucket", "datasets/17/big.dcm", upload_id="...",
                              part_number=3, size_bytes=16 << 20, expires_in_s=3600)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

_ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE = "s3"
# The body is not known when presigning, so S3 signs this constant in its place.
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Signed headers, in canonical (sorted) order: the store refuses a PUT whose type or length
# differs from what was presigned.
_SIGNED_HEADERS = "content-length;content-type;host"
_SIGNED_HEADERS_QUERY = quote(_SIGNED_HEADERS, safe="")
# A part has no type of its own (the upload's was set when it was created): only its length
# is signed, so a client's default Content-Type does not break the signature.
_PART_SIGNED_HEADERS = "content-length;host"
_PART_SIGNED_HEADERS_QUERY = quote(_PART_SIGNED_HEADERS, safe="")
# S3 numbers parts 1..10,000.
MAX_PART_NUMBER = 10_000
# SigV4 caps a presigned URL's life at seven days.
MAX_EXPIRES_S = 7 * 24 * 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NOTHING_TO_ENCODE = re.compile(r"[A-Za-z0-9\-_.~/]*\Z").match


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode(), "sha256")


def _uri_encode(value: str, *, keep_slash: bool) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes. Most
    # keys need nothing encoded: one regex match is far cheaper than quote() for them.
    if keep_slash and _NOTHING_TO_ENCODE(value):
        return value
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def _canonical_header_value(value: str) -> str:
    return " ".join(value.split())


def _check_request(*, size_bytes: int, expires_in_s: int) -> None:
    if not 1 <= expires_in_s <= MAX_EXPIRES_S:
        raise ValueError(f"expires_in_s must be within 1..{MAX_EXPIRES_S}")
    if size_bytes < 0:
        raise ValueError("size_bytes must not be negative")


class PresignedPutSigner:
    """Signs PUT URLs for one endpoint and one set of credentials."""

    def __init__(self, endpoint_url: str, *, access_key: str, secret_key: str, region: str):
        parts = urlsplit(endpoint_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint URL: {endpoint_url!r}")
        host = parts.hostname
        if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
            host = f"[{host}]"
        if parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme]:
            host = f"{host}:{parts.port}"
        self._origin = f"{parts.scheme}://{host}"
        self._host = host
        self._base_path = parts.path.rstrip("/")
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        # The signing key and credential scope change once a day; derive them once per date,
        # not once per URL.
        self._key_date = ""
        self._signing_key = b""
        self._credential = ""
        # X-Amz-Date changes once a second: formatting it once per URL was a third of the
        # cost of presigning 100,000 URLs.
        self._second = -1
        self._second_date = ""

    def _refresh_for(self, date: str) -> None:
        if date != self._key_date:
            key = _hmac_sha256(f"AWS4{self._secret_key}".encode(), date)
            for part in (self._region, _SERVICE, "aws4_request"):
                key = _hmac_sha256(key, part)
            scope = f"{date}/{self._region}/{_SERVICE}/aws4_request"
            credential = _uri_encode(f"{self._access_key}/{scope}", keep_slash=False)
            self._key_date, self._signing_key, self._credential = date, key, credential

    def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size_bytes: int,
        expires_in_s: int,
        now: datetime | None = None,
    ) -> str:
        """A URL accepting one PUT of exactly this Content-Type and Content-Length."""
        _check_request(size_bytes=size_bytes, expires_in_s=expires_in_s)
        amz_date = self._amz_date(now)
        path = _uri_encode(f"{self._base_path}/{bucket}/{key}", keep_slash=True)
        # Already in sorted order, as the canonical query string requires.
        query = (
            f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential={self._credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires_in_s}"
            f"&X-Amz-SignedHeaders={_SIGNED_HEADERS_QUERY}"
        )
        canonical_request = (
            f"PUT\n{path}\n{query}\n"
            f"content-length:{size_bytes}\n"
            f"content-type:{_canonical_header_value(content_type)}\n"
            f"host:{self._host}\n\n"
            f"{_SIGNED_HEADERS}\n{_UNSIGNED_PAYLOAD}"
        )
        return self._signed_url(path, query, canonical_request, amz_date)

    def presign_puts(
        self,
        bucket: str,
        puts: Sequence[tuple[str, str, int]],
        *,
        expires_in_s: int,
        now: datetime | None = None,
    ) -> list[str]:
        """`presign_put` of each (key, content_type, size_bytes), in order: the same URLs,
        with what every URL shares (date, query, scope) worked out once for all of them."""
        for _key, _type, size_bytes in puts:
            _check_request(size_bytes=size_bytes, expires_in_s=expires_in_s)
        amz_date = self._amz_date(now)
        query = (
            f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential={self._credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires_in_s}"
            f"&X-Amz-SignedHeaders={_SIGNED_HEADERS_QUERY}"
        )
        scope = f"{amz_date[:8]}/{self._region}/{_SERVICE}/aws4_request"
        to_sign_head = f"{_ALGORITHM}\n{amz_date}\n{scope}\n"
        tail = f"host:{self._host}\n\n{_SIGNED_HEADERS}\n{_UNSIGNED_PAYLOAD}"
        url_tail = f"?{query}&X-Amz-Signature="
        prefix = f"{self._base_path}/{bucket}/"
        origin, signing_key = self._origin, self._signing_key
        sha256, digest = hashlib.sha256, hmac.digest
        urls = []
        for key, content_type, size_bytes in puts:
            path = _uri_encode(prefix + key, keep_slash=True)
            canonical_request = (
                f"PUT\n{path}\n{query}\ncontent-length:{size_bytes}\n"
                f"content-type:{_canonical_header_value(content_type)}\n{tail}"
            )
            hashed = sha256(canonical_request.encode()).hexdigest()
            signature = digest(signing_key, (to_sign_head + hashed).encode(), "sha256").hex()
            urls.append(f"{origin}{path}{url_tail}{signature}")
        return urls

    def presign_part(
        self,
        bucket: str,
        key: str,
        *,
        upload_id: str,
        part_number: int,
        size_bytes: int,
        expires_in_s: int,
        now: datetime | None = None,
    ) -> str:
        """A URL accepting one UploadPart of exactly this Content-Length (any Content-Type)."""
        _check_request(size_bytes=size_bytes, expires_in_s=expires_in_s)
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise ValueError(f"part_number must be within 1..{MAX_PART_NUMBER}")
        if not upload_id:
            raise ValueError("upload_id must not be empty")
        amz_date = self._amz_date(now)
        path = _uri_encode(f"{self._base_path}/{bucket}/{key}", keep_slash=True)
        # Sorted by byte value: every "X-Amz-*" name sorts before "partNumber" and "uploadId".
        query = (
            f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential={self._credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires_in_s}"
            f"&X-Amz-SignedHeaders={_PART_SIGNED_HEADERS_QUERY}"
            f"&partNumber={part_number}&uploadId={_uri_encode(upload_id, keep_slash=False)}"
        )
        canonical_request = (
            f"PUT\n{path}\n{query}\n"
            f"content-length:{size_bytes}\n"
            f"host:{self._host}\n\n"
            f"{_PART_SIGNED_HEADERS}\n{_UNSIGNED_PAYLOAD}"
        )
        return self._signed_url(path, query, canonical_request, amz_date)

    def _amz_date(self, now: datetime | None) -> str:
        """The request's X-Amz-Date, with the signing key ready for its day."""
        if now is None:
            second = int(time.time())
            if second != self._second:
                moment = datetime.fromtimestamp(second, UTC)
                self._second, self._second_date = second, moment.strftime("%Y%m%dT%H%M%SZ")
            amz_date = self._second_date
        else:
            amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        self._refresh_for(amz_date[:8])
        return amz_date

    def _signed_url(self, path: str, query: str, canonical_request: str, amz_date: str) -> str:
        scope = f"{amz_date[:8]}/{self._region}/{_SERVICE}/aws4_request"
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        string_to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
        signature = hmac.digest(self._signing_key, string_to_sign.encode(), "sha256").hex()
        return f"{self._origin}{path}?{query}&X-Amz-Signature={signature}"
