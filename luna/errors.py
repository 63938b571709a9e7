"""luna's exceptions. The data layer raises these; one HTTP middleware maps them to
problem+json, and the job runner maps job outcomes to queue acknowledgements.

    LunaError
    ├── ProblemError              (a request that gets a 4xx problem+json)
    │   ├── BadRequest            400  malformed body or parameter; carries field errors
    │   ├── Unauthorized          401  no, bad or expired credentials
    │   ├── Forbidden             403  authenticated but not allowed
    │   ├── NotFound              404  absent, or another team's
    │   ├── Conflict              409  the resource's state forbids the action
    │   ├── PayloadTooLarge       413  a body or declared size over a limit
    │   ├── Unprocessable         422  well-formed but invalid values
    │   └── TooManyRequests       429  rate or quota limit; says when to retry
    ├── BackendUnavailable        a backing service (database, store, broker) failed
    └── JobOutcome                how a validation job attempt ended, decided by the runner
        ├── Retry                 run again after `delay_s` (a platform problem)
        └── Reject                never runs again (`reason` goes to the job's error_message)
"""

from __future__ import annotations

from typing import Any


class LunaError(Exception):
    """Root of luna's exceptions."""


class ProblemError(LunaError):
    """An error a client caused; rendered as RFC 9457 problem+json."""

    status: int = 400
    title: str = "Bad Request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def as_problem(self) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": f"https://luna2025.org/problems/{slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(ProblemError):
    status, title = 400, "Bad Request"


class Unauthorized(ProblemError):
    status, title = 401, "Unauthorized"


class Forbidden(ProblemError):
    status, title = 403, "Forbidden"


class NotFound(ProblemError):
    status, title = 404, "Not Found"


class Conflict(ProblemError):
    status, title = 409, "Conflict"


class PayloadTooLarge(ProblemError):
    status, title = 413, "Payload Too Large"


class Unprocessable(ProblemError):
    status, title = 422, "Unprocessable Content"


class TooManyRequests(ProblemError):
    status, title = 429, "Too Many Requests"


class BackendUnavailable(LunaError):
    """A backing service failed; the request may succeed later (503)."""

    def __init__(self, backend: str, detail: str) -> None:
        super().__init__(f"{backend}: {detail}")
        self.backend = backend
        self.detail = detail


class ObjectChanged(LunaError):
    """A stored object is no longer the version recorded when its dataset was completed."""

    def __init__(self, key: str, *, recorded_etag: str) -> None:
        super().__init__(
            f"object {key} changed after upload/complete (recorded ETag {recorded_etag})"
        )
        self.key = key
        self.recorded_etag = recorded_etag


class JobOutcome(LunaError):
    """How one attempt at a validation job ended, when it did not simply succeed."""


class Retry(JobOutcome):
    """Run the job again after `delay_s`; used for platform problems that may pass."""

    def __init__(self, reason: str, *, delay_s: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


class Reject(JobOutcome):
    """Never run this message again (malformed, or the job is already settled)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
