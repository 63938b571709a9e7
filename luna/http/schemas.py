"""Response bodies as pydantic models: what the OpenAPI document (`luna.http.openapi`) says each
route answers. The request models the handlers parse with live in `luna.http.models`.

Handlers build their answers as plain dicts; the tests hold the two together by checking real
answers against these schemas (tests/http/test_openapi.py and the schemathesis run), so a
field a handler adds must be added here too. Unknown fields are allowed in every body: the
contract only ever adds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DatasetStatus = Literal["uploading", "queued", "validating", "validated", "failed", "abandoned"]
JobStatus = Literal["pending", "processing", "completed", "failed"]
Verdict = Literal["accepted", "rejected"]
Severity = Literal["error", "warning"]


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class FieldError(Body):
    """One field a client must fix; quota errors add `limit`, `allowed`, `requested`,
    `resets_at`."""

    field: str = Field(description="Where the problem is, e.g. `files[3].filename` or `quota`.")
    message: str


class Problem(Body):
    """RFC 9457 problem details: what went wrong and what to do about it."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What to fix, in words a team member understands.")
    errors: list[FieldError] | None = None


class Token(Body):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires; log in again then.")


class MultipartPlan(Body):
    part_size_bytes: int
    parts: int


class UploadUrl(Body):
    file_id: int
    filename: str
    upload_url: str | None = Field(
        description="PUT the whole file here with exactly `headers`; null when one PUT cannot "
        "carry it (over S3's 5 GiB): upload it in parts."
    )
    s3_key: str
    method: Literal["PUT"]
    headers: dict[str, str]
    multipart: MultipartPlan | None = None
    stored: bool | None = Field(
        default=None,
        description="`upload/urls` only: the store already holds this file whole, with its "
        "declared size (and its declared SHA-256, where the store knows the stored bytes' one); "
        "a resuming client need not send it again.",
    )


class UploadStarted(Body):
    dataset_id: int
    upload_urls: list[UploadUrl]
    expires_in: int


class UploadCompleted(Body):
    dataset_id: int
    validation_job_id: int
    status: JobStatus
    message: str


class DatasetItem(Body):
    dataset_id: int
    dataset_name: str
    team_id: int | None = None
    team: str | None = None
    status: DatasetStatus | JobStatus = Field(
        description="The validation job's status once the upload is completed, else the "
        "dataset's (`uploading`, `abandoned`)."
    )
    verdict: Verdict | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    files: int
    bytes: int


class ChangedObject(Body):
    filename: str
    change: Literal["replaced", "removed", "added"] = Field(
        description="`replaced`: other bytes than at upload/complete; `removed`: gone since; "
        "`added`: absent at upload/complete, stored since."
    )


class DatasetDetail(DatasetItem):
    objects_recorded_at: str | None = Field(
        json_schema_extra={"format": "date-time"},
        description="When upload/complete recorded each stored object's version (S3 ETags); "
        "null while uploading, and on the embedded store, which refuses any change instead.",
    )
    objects_changed: list[ChangedObject] = Field(
        description="Objects whose stored bytes are no longer the version validation read "
        "(the first ones; `objects_changed_total` counts all)."
    )
    objects_changed_total: int


class DatasetPage(Body):
    items: list[DatasetItem]
    next_cursor: str | None


class Finding(Body):
    rule: str = Field(description="A rule id of docs/contract.md, e.g. `manifest.bad_label`.")
    severity: Severity
    file: str | None
    row: int | None = Field(description="The 1-based CSV row, for manifest rules.")
    message: str


class FindingsPage(Body):
    items: list[Finding]
    total: int
    next_cursor: str | None


class StoredFile(Body):
    filename: str
    size_bytes: int | None
    sha256: str | None
    format: str | None
    width: int | None
    height: int | None


class FilesPage(Body):
    items: list[StoredFile]
    total: int
    next_cursor: str | None


class Progress(Body):
    files_done: int
    files_total: int


class LogLine(Body):
    timestamp: str | None
    level: str
    message: str


class Summary(Body):
    errors: int
    warnings: int


class Results(Body):
    verdict: Verdict
    ruleset: str
    summary: Summary
    findings: list[Finding]
    findings_total: dict[str, int] = Field(default_factory=dict)
    findings_truncated: bool = False
    stats: dict[str, Any]
    files: list[dict[str, Any]]
    files_total: int = Field(0, description="How many files were stored (all of them).")
    files_truncated: bool = Field(
        False, description="Whether `files` leaves some out; `/files` pages through all."
    )


class ValidationStatus(Body):
    dataset_id: int
    validation_job_id: int
    status: JobStatus
    started_at: str | None
    completed_at: str | None
    error_message: str | None
    progress: Progress
    validation_logs: list[LogLine]
    validation_results: Results | None


class PartUrl(Body):
    part_number: int
    size_bytes: int
    upload_url: str
    method: Literal["PUT"]
    headers: dict[str, str]


class PartUrls(Body):
    dataset_id: int
    file_id: int
    parts: list[PartUrl]
    expires_in: int


class StoredPart(Body):
    part_number: int
    size_bytes: int
    etag: str


class StoredParts(Body):
    dataset_id: int
    file_id: int
    parts: list[StoredPart]
    parts_total: int
    part_size_bytes: int
    size_bytes: int


class FreshUploadUrls(Body):
    dataset_id: int
    upload_urls: list[UploadUrl]
    expires_in: int


class Backends(Body):
    database: str
    s3: str
    broker: str


class Health(Body):
    status: Literal["healthy", "unhealthy"]
    database: str
    s3: str
    broker: str
    version: str
    backends: Backends


class Probe(Body):
    status: str


class QueueState(Body):
    length: int
    oldest_job_age_s: float


class WorkerState(Body):
    worker: str = Field(description="host-pid of the process")
    mode: Literal["serve", "worker"]
    validators: int
    busy: int
    seen_s_ago: float


class TeamUsage(Body):
    team_id: int
    team: str
    datasets: int
    datasets_today: int
    datasets_per_day: int
    datasets_reset_at: str = Field(json_schema_extra={"format": "date-time"})
    bytes_stored: int
    bytes_stored_limit: int


class Overview(Body):
    queue: QueueState
    workers: list[WorkerState]
    teams: list[TeamUsage]


class RuleSeverity(Body):
    rule: str
    severity: Severity


class Ruleset(Body):
    ruleset: str
    manifest: str
    required_columns: list[str]
    optional_columns: list[str]
    labels: list[str]
    no_finding: str
    label_separator: str
    splits: list[str]
    views: list[str]
    patient_id_pattern: str
    patient_id_max_chars: int
    image_extensions: list[str]
    min_side_px: int
    max_side_px: int
    rules: list[RuleSeverity]
