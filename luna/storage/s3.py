"""The S3 object store (MinIO in production, moto or LocalStack in tests), through aiobotocore.

One client per process, path-style addressing. Presigned upload URLs are signed offline for
the public endpoint when one is set, so clients reach the store under their own name for it.

    async with s3_store(settings) as store:
        await store.ensure_bucket()
        upload = await store.presign_put(key, content_type="image/png", size_bytes=n,
                                         expires_in_s=3600)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from luna import constants
from luna.errors import BackendUnavailable, Conflict, NotFound, ObjectChanged
from luna.settings import Settings
from luna.storage.base import ObjectInfo, PresignedUpload, StoredPart
from luna.storage.signing import PresignedPutSigner

# A store that does not accept a connection within seconds is down, not slow.
S3_CONNECT_TIMEOUT_S: Final = 5.0
# Per socket read, not per request: a streamed 5 GiB object may take minutes in total, but a
# stall this long means the store is gone.
S3_READ_TIMEOUT_S: Final = 60.0
# Three tries with botocore's "standard" backoff ride out a MinIO restart's blip without making
# a request wait more than a few seconds before it reports the store unavailable.
S3_MAX_ATTEMPTS: Final = 3
# Validators stream in parallel and /health pings beside them; keep sockets for all of them
# (the default of LUNA_S3_POOL_SIZE).
S3_MAX_POOL_CONNECTIONS: Final = constants.S3_POOL_SIZE

_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_BUCKET_EXISTS_CODES: Final = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
# What S3 answers when the parts named for completion are not what it holds: the caller's
# mistake (or a client still uploading), not a store failure.
_BAD_PARTS_CODES: Final = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
# ListParts answers at most 1,000 parts a page.
_LIST_PARTS_PAGE: Final = 1000


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_no_such_upload(exc: ClientError) -> bool:
    return _error_code(exc) == "NoSuchUpload"


def _is_precondition_failed(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 412 or _error_code(exc) == "PreconditionFailed"


def _is_missing(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or _error_code(exc) in _MISSING_CODES


@contextmanager
def _store_failures(what: str) -> Iterator[None]:
    """Turn anything the store or the network raises into `BackendUnavailable("s3", ...)`."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        detail = f"{what}: {status} {error.get('Code', '')} {error.get('Message', '')}".rstrip()
        raise BackendUnavailable("s3", detail) from exc
    except (BotoCoreError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise BackendUnavailable("s3", f"{what}: {exc}") from exc


def browser_upload_cors(origins: Sequence[str]) -> dict[str, Any]:
    """The bucket CORS rule that lets a web page (luna's console) PUT files and parts to
    presigned URLs and read each part's ETag. The URL's signature is the credential, so the
    origins only narrow which pages may use one (docs/deploy.md shows the rule)."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(origins) or ["*"],
                "AllowedMethods": ["PUT"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


class S3ObjectStore:
    """`ObjectStore` over one aiobotocore S3 client and one bucket."""

    kind = "s3"

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        region: str,
        signer: PresignedPutSigner,
        cors_origins: Sequence[str] = ("*",),
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._region = region
        self._signer = signer
        self._cors_origins = list(cors_origins)

    @property
    def bucket(self) -> str:
        return self._bucket

    async def ensure_bucket(self) -> None:
        with _store_failures(f"create bucket {self._bucket}"):
            try:
                await self._client.head_bucket(Bucket=self._bucket)
                return
            except ClientError as exc:
                if not _is_missing(exc):
                    raise
            params: dict[str, Any] = {"Bucket": self._bucket}
            if self._region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            try:
                await self._client.create_bucket(**params)
            except ClientError as exc:
                # Another replica created it between our HEAD and our create.
                if _error_code(exc) not in _BUCKET_EXISTS_CODES:
                    raise
            # "Already exists" may mean someone else's bucket; make sure it is ours to use.
            await self._client.head_bucket(Bucket=self._bucket)
            await self._client.put_bucket_cors(
                Bucket=self._bucket, CORSConfiguration=browser_upload_cors(self._cors_origins)
            )

    async def ping(self) -> None:
        with _store_failures(f"head bucket {self._bucket}"):
            await self._client.head_bucket(Bucket=self._bucket)

    async def presign_put(
        self, key: str, *, content_type: str, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        url = self._signer.presign_put(
            self._bucket,
            key,
            content_type=content_type,
            size_bytes=size_bytes,
            expires_in_s=expires_in_s,
        )
        # Both are signed. Content-Length is what every HTTP client sends for a body of known
        # size anyway; naming it also keeps clients from switching to chunked encoding, which
        # a presigned PUT refuses.
        headers = {"Content-Type": content_type, "Content-Length": str(size_bytes)}
        return PresignedUpload(url=url, method="PUT", headers=headers)

    def presign_puts(self, puts: Sequence[tuple[str, str, int]], *, expires_in_s: int) -> list[str]:
        return self._signer.presign_puts(self._bucket, puts, expires_in_s=expires_in_s)

    async def head(self, key: str) -> ObjectInfo | None:
        with _store_failures(f"head {key}"):
            try:
                response = await self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if _is_missing(exc):
                    return None
                raise
        return ObjectInfo(
            key=key,
            size_bytes=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
        )

    async def etags(self, prefix: str) -> dict[str, str] | None:
        found: dict[str, str] = {}
        with _store_failures(f"list {prefix}"):
            paginator = self._client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found[str(item["Key"])] = str(item["ETag"]).strip('"')
        return found

    async def stream(
        self, key: str, *, chunk_bytes: int, if_match: str | None = None
    ) -> AsyncIterator[bytes]:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        condition = {} if if_match is None else {"IfMatch": f'"{if_match}"'}
        with _store_failures(f"read {key}"):
            try:
                response = await self._client.get_object(Bucket=self._bucket, Key=key, **condition)
            except ClientError as exc:
                if _is_missing(exc):
                    raise NotFound(f"object {key} does not exist") from exc
                if if_match is not None and _is_precondition_failed(exc):
                    raise ObjectChanged(key, recorded_etag=if_match) from exc
                raise
            async with response["Body"] as body:
                # Full chunks (the last aside) whatever sizes the socket hands over, so the
                # consumer's per-chunk costs (a thread hop, a hash update) stay few.
                pending = bytearray()
                while piece := await body.read(chunk_bytes - len(pending)):
                    pending += piece
                    if len(pending) == chunk_bytes:
                        yield bytes(pending)
                        pending.clear()
                if pending:
                    yield bytes(pending)

    async def delete(self, key: str) -> None:
        with _store_failures(f"delete {key}"):
            try:
                await self._client.delete_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if not _is_missing(exc):
                    raise

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        with _store_failures(f"create multipart upload {key}"):
            response = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=content_type
            )
        return str(response["UploadId"])

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        url = self._signer.presign_part(
            self._bucket,
            key,
            upload_id=upload_id,
            part_number=part_number,
            size_bytes=size_bytes,
            expires_in_s=expires_in_s,
        )
        return PresignedUpload(url=url, method="PUT", headers={"Content-Length": str(size_bytes)})

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        parts: list[StoredPart] = []
        marker = 0
        with _store_failures(f"list parts of {key}"):
            while True:
                try:
                    page = await self._client.list_parts(
                        Bucket=self._bucket,
                        Key=key,
                        UploadId=upload_id,
                        MaxParts=_LIST_PARTS_PAGE,
                        PartNumberMarker=marker,
                    )
                except ClientError as exc:
                    if _is_no_such_upload(exc):
                        raise NotFound(f"no multipart upload {upload_id} of {key}") from exc
                    raise
                parts.extend(
                    StoredPart(
                        part_number=int(p["PartNumber"]),
                        size_bytes=int(p["Size"]),
                        etag=str(p["ETag"]).strip('"'),
                    )
                    for p in page.get("Parts", [])
                )
                if not page.get("IsTruncated"):
                    return parts
                marker = int(page["NextPartNumberMarker"])

    async def complete_multipart(
        self, key: str, *, upload_id: str, parts: Sequence[StoredPart]
    ) -> None:
        listed = [{"PartNumber": p.part_number, "ETag": f'"{p.etag}"'} for p in parts]
        with _store_failures(f"complete multipart upload {key}"):
            try:
                await self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": listed},
                )
            except ClientError as exc:
                if _is_no_such_upload(exc):
                    raise NotFound(f"no multipart upload {upload_id} of {key}") from exc
                if _error_code(exc) in _BAD_PARTS_CODES:
                    message = exc.response.get("Error", {}).get("Message", "")
                    raise Conflict(f"the parts of {key} cannot be joined: {message}") from exc
                raise

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        with _store_failures(f"abort multipart upload {key}"):
            try:
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
            except ClientError as exc:
                if not (_is_no_such_upload(exc) or _is_missing(exc)):
                    raise


def _queued_sessions(*, pool_wait_s: float) -> type[AIOHTTPSession]:
    """aiobotocore's HTTP session, except that a request waits at most `pool_wait_s` for a
    free pooled connection (aiohttp's `connect` timeout covers the wait and the connect;
    aiobotocore leaves it unbounded), then fails as a connect timeout: `BackendUnavailable`."""

    class QueuedSession(AIOHTTPSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            timeout: aiohttp.ClientTimeout = self._timeout  # type: ignore[has-type]
            self._timeout = aiohttp.ClientTimeout(
                connect=pool_wait_s + (timeout.sock_connect or 0),
                sock_connect=timeout.sock_connect,
                sock_read=timeout.sock_read,
            )

    return QueuedSession


def _client_config(
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    max_attempts: int,
    pool_size: int = S3_MAX_POOL_CONNECTIONS,
    pool_wait_s: float = constants.POOL_WAIT_S,
) -> Any:
    return AioConfig(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=pool_size,
        http_session_cls=_queued_sessions(pool_wait_s=pool_wait_s),
        # MinIO and other S3 look-alikes do not all know the newer default checksum headers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


@asynccontextmanager
async def s3_store(
    settings: Settings,
    *,
    connect_timeout_s: float = S3_CONNECT_TIMEOUT_S,
    read_timeout_s: float = S3_READ_TIMEOUT_S,
    max_attempts: int = S3_MAX_ATTEMPTS,
) -> AsyncIterator[S3ObjectStore]:
    """The process's S3 store: one client, closed on exit. Does not touch the network."""
    if not settings.minio_endpoint:
        raise ValueError("MINIO_ENDPOINT is not set")
    endpoint_url = settings.s3_url(settings.minio_endpoint)
    public_url = settings.s3_url(settings.minio_public_endpoint or settings.minio_endpoint)
    secret_key = settings.minio_secret_key.get_secret_value()
    signer = PresignedPutSigner(
        public_url,
        access_key=settings.minio_access_key,
        secret_key=secret_key,
        region=settings.minio_region,
    )
    config = _client_config(
        connect_timeout_s=connect_timeout_s,
        read_timeout_s=read_timeout_s,
        max_attempts=max_attempts,
        pool_size=settings.luna_s3_pool_size,
        pool_wait_s=settings.luna_pool_wait_s,
    )
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.minio_region,
        aws_access_key_id=settings.minio_access_key,
        aws_secret_access_key=secret_key,
        config=config,
    ) as client:
        yield S3ObjectStore(
            client,
            bucket=settings.minio_bucket,
            region=settings.minio_region,
            signer=signer,
            cors_origins=settings.cors_origins or ["*"],
        )
