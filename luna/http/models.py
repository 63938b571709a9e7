"""Request bodies as pydantic models; their errors name the field a client must fix."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
)

from luna.constants import MAX_FILENAME_BYTES

_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# C0, DEL and C1 (U+0080-U+009F): none belongs in a file name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def filename_problem(name: str) -> str | None:
    """Why `name` is not an acceptable dataset filename, or None when it is."""
    if not name:
        return "is empty; give the file's path relative to the dataset root"
    if len(name.encode()) > MAX_FILENAME_BYTES:
        return f"is longer than {MAX_FILENAME_BYTES} bytes; shorten it"
    if _CONTROL.search(name):
        return "contains a control character; remove it"
    if "\\" in name:
        return "contains '\\'; separate folders with '/'"
    if name.startswith("/"):
        return "starts with '/'; give a path relative to the dataset root"
    segments = name.split("/")
    if ".." in segments:
        return "contains '..'; paths may not leave the dataset"
    if any(s in ("", ".") for s in segments):
        return "has an empty or '.' folder name; write paths like 'images/a.png'"
    return None


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


# Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class LoginRequest(Strict):
    username: Text = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class FileDeclaration(Strict):
    filename: str
    content_type: str
    size_bytes: StrictInt = Field(ge=0)
    sha256: str | None = None

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        problem = filename_problem(value)
        if problem:
            raise ValueError(f"filename {value!r} {problem}")
        return value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        if not _CONTENT_TYPE.match(value):
            raise ValueError(
                f"content_type {value!r} is not a plain type/subtype such as 'image/png'"
            )
        return value

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _SHA256.match(value):
            raise ValueError("sha256 must be 64 hexadecimal digits (the SHA-256 of the file)")
        return value.lower()


class UploadStartRequest(Strict):
    dataset_name: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    team_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    files: list[FileDeclaration] = Field(min_length=1)


class UploadCompleteRequest(Strict):
    dataset_id: StrictInt = Field(ge=1, le=MAX_ID)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as `{field, message}` with paths like `files[3].filename`."""
    out = []
    for error in exc.errors(include_url=False):
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(error["msg"]).removeprefix("Value error, ")
        out.append({"field": path or "body", "message": message})
    return out
