"""What stops `luna submit` before a verdict; every one of these exits with code 2.

    SubmitError                  the submission could not finish (exit 2)
    ├── CredentialsMissing       no LUNA_USERNAME/LUNA_PASSWORD and no terminal to ask on
    ├── ServerUnreachable        no answer from the server (refused, reset, timed out)
    ├── ApiError                 the server answered with a problem (detail, field errors)
    │   └── LoginRefused         401 on login: wrong username or password
    ├── UploadFailed             a file could not be stored, retries included
    │   ├── UploadUrlRefused     403 from the store: the URL expired or no longer fits the file
    │   └── LocalFileChanged     the file's size changed after it was hashed
    └── ValidationDidNotRun      the job ended `failed`: a platform problem, not a verdict

A rejected dataset is not an error: it is a verdict (exit 1).
"""

from __future__ import annotations

from typing import Any


class SubmitError(Exception):
    """The submission could not finish; `str()` is the one line shown to the user."""

    exit_code = 2


class CredentialsMissing(SubmitError):
    pass


class ServerUnreachable(SubmitError):
    pass


class ApiError(SubmitError):
    """A problem+json answer (or any non-2xx one) from the luna API."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str = "",
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors or []

    def __str__(self) -> str:
        lines = [f"{self.detail} (HTTP {self.status})"]
        lines.extend(f"  {e.get('field', '?')}: {e.get('message', '')}" for e in self.errors[:20])
        if len(self.errors) > 20:
            lines.append(f"  ... and {len(self.errors) - 20} more")
        return "\n".join(lines)


class LoginRefused(ApiError):
    pass


class UploadFailed(SubmitError):
    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


class UploadUrlRefused(UploadFailed):
    pass


class LocalFileChanged(UploadFailed):
    pass


class ValidationDidNotRun(SubmitError):
    pass


def first_failure(group: BaseExceptionGroup) -> BaseException:
    """The failure to show from a task group's: the first `SubmitError` (it explains itself),
    else the first."""
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        else:
            leaves.append(exc)

    collect(group)
    return next((e for e in leaves if isinstance(e, SubmitError)), leaves[0])
