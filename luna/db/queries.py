"""Every runtime SQL statement luna runs, named. Functions take a connection (or pool) first.

The data layer raises domain errors from `luna.errors`; callers never see SQL details.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, TypeAlias

import asyncpg
import orjson

from luna import constants
from luna.errors import Conflict

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


# ---------------------------------------------------------------- teams and users


@dataclass(frozen=True)
class User:
    id: int
    username: str
    password_hash: str
    team_id: int
    team_name: str
    is_admin: bool
    token_version: int = 0


FETCH_USER_SQL = """
SELECT u.id, u.username, u.password_hash, u.team_id, t.name AS team_name, u.is_admin,
       u.token_version
FROM users u JOIN teams t ON t.id = u.team_id
WHERE u.username = $1
"""


async def fetch_user(conn: Conn, username: str) -> User | None:
    row = await conn.fetchrow(FETCH_USER_SQL, username)
    return User(**dict(row)) if row else None


UPSERT_TEAM_SQL = """
INSERT INTO teams (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id
"""

UPSERT_USER_SQL = """
INSERT INTO users (username, password_hash, team_id, is_admin) VALUES ($1, $2, $3, $4)
ON CONFLICT (username) DO UPDATE
    SET password_hash = EXCLUDED.password_hash, team_id = EXCLUDED.team_id,
        is_admin = EXCLUDED.is_admin
RETURNING id, (xmax = 0) AS created
"""


async def save_user(
    conn: asyncpg.Connection, username: str, *, password_hash: str, team: str, is_admin: bool
) -> tuple[int, bool]:
    """Create the team if needed and the user (or reset an existing user's password and team)."""
    async with conn.transaction():
        team_id = await conn.fetchval(UPSERT_TEAM_SQL, team)
        row = await conn.fetchrow(UPSERT_USER_SQL, username, password_hash, team_id, is_admin)
    return int(row["id"]), bool(row["created"])


USER_CHANGES_CHANNEL = "luna_user_changes"

FETCH_IDENTITY_SQL = """
SELECT u.id, u.username, u.team_id, u.is_admin, u.token_version
FROM users u WHERE u.id = $1
"""


async def fetch_identity(conn: Conn, user_id: int) -> asyncpg.Record | None:
    """Who user `user_id` is now (team, role, token version), or None once deleted."""
    return await conn.fetchrow(FETCH_IDENTITY_SQL, user_id)


INSERT_USER_SQL = """
INSERT INTO users (username, password_hash, team_id, is_admin) VALUES ($1, $2, $3, $4)
ON CONFLICT (username) DO NOTHING
RETURNING id
"""
UPDATE_USER_SQL = """
UPDATE users
SET team_id = coalesce($2, team_id), password_hash = coalesce($3, password_hash), is_admin = $4
WHERE username = $1
RETURNING id
"""


async def create_user(
    conn: asyncpg.Connection, username: str, *, password_hash: str, team: str, is_admin: bool
) -> bool:
    """Create the user (and its team if needed); False when the name is taken."""
    async with conn.transaction():
        team_id = await conn.fetchval(UPSERT_TEAM_SQL, team)
        user_id = await conn.fetchval(INSERT_USER_SQL, username, password_hash, team_id, is_admin)
    return user_id is not None


async def update_user(
    conn: asyncpg.Connection,
    username: str,
    *,
    team: str | None,
    password_hash: str | None,
    is_admin: bool,
) -> bool:
    """Move the user to `team` and/or set a new password (None keeps each); False when there
    is no such user. The change bumps the user's token version (sql/0008)."""
    async with conn.transaction():
        team_id = await conn.fetchval(UPSERT_TEAM_SQL, team) if team is not None else None
        user_id = await conn.fetchval(UPDATE_USER_SQL, username, team_id, password_hash, is_admin)
    return user_id is not None


COUNT_ADMINS_SQL = "SELECT count(*) FROM users WHERE is_admin"


async def count_admins(conn: Conn) -> int:
    return int(await conn.fetchval(COUNT_ADMINS_SQL))


# ---------------------------------------------------------------- datasets and files


INSERT_DATASET_SQL = """
INSERT INTO datasets (team_id, user_id, name, description, files_count, bytes_total)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""

# Ids for the declared files, taken from their sequence before the rows are copied in: COPY
# returns nothing, and the client needs each file's id with its URL. The sequence is looked up
# once (MATERIALIZED keeps the planner from folding the lookup back into every row): looked up
# per row it cost ten times the nextval calls themselves, about a second per 100,000 files.
ALLOCATE_FILE_IDS_SQL = """
WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('dataset_files', 'id')::regclass AS seq)
SELECT nextval(s.seq) FROM s, generate_series(1, $1)
"""
COPY_FILES_COLUMNS = (
    "id",
    "dataset_id",
    "filename",
    "content_type",
    "size_bytes",
    "sha256",
    "s3_key",
    "part_size_bytes",
    "multipart_state",
)


# Named tuples, not dataclasses: one of each per declared file, and a frozen dataclass costs
# about twice as much to build (~0.3 s more for 100,000 files of `upload/start`).
class NewFile(NamedTuple):
    filename: str
    content_type: str
    size_bytes: int
    sha256: str | None
    # Set for a file that uploads in parts (its upload opens when parts are first asked for).
    part_size_bytes: int | None = None


class StoredFile(NamedTuple):
    file_id: int
    s3_key: str


async def insert_dataset(
    conn: asyncpg.Connection,
    *,
    team_id: int,
    user_id: int,
    name: str,
    description: str | None,
    files: Sequence[NewFile],
) -> int:
    """Record a dataset (`uploading`, counted in its team's quota from here on); its files
    follow with `copy_declared_files`. Call inside the quota check's transaction."""
    return int(
        await conn.fetchval(
            INSERT_DATASET_SQL,
            team_id,
            user_id,
            name,
            description,
            len(files),
            sum(f.size_bytes for f in files),
        )
    )


async def copy_declared_files(
    conn: asyncpg.Connection, dataset_id: int, files: Sequence[NewFile]
) -> list[StoredFile]:
    """Write the dataset's declared files; returns each file's id and key, in the order of
    `files`.

    Outside any transaction, by COPY in chunks of `FILE_ROWS_PER_COPY`, each chunk its own
    short transaction: 100,000 files never hold one for long (one INSERT of them all held a
    transaction for tens of seconds). Until the last chunk is in, `count_declared_files` is
    below the dataset's `files_count` and `upload/complete` refuses it; on failure the caller
    removes the dataset (`delete_dataset`)."""
    prefix = f"datasets/{dataset_id}/"
    stored: list[StoredFile] = []
    for first in range(0, len(files), constants.FILE_ROWS_PER_COPY):
        chunk = files[first : first + constants.FILE_ROWS_PER_COPY]
        async with conn.transaction():
            ids = [int(r[0]) for r in await conn.fetch(ALLOCATE_FILE_IDS_SQL, len(chunk))]
            records = [
                (
                    file_id,
                    dataset_id,
                    f.filename,
                    f.content_type,
                    f.size_bytes,
                    f.sha256,
                    prefix + f.filename,
                    f.part_size_bytes,
                    None if f.part_size_bytes is None else "planned",
                )
                for file_id, f in zip(ids, chunk, strict=True)
            ]
            await conn.copy_records_to_table(
                "dataset_files", records=records, columns=COPY_FILES_COLUMNS
            )
        stored.extend(StoredFile(r[0], r[6]) for r in records)
    return stored


COUNT_DECLARED_FILES_SQL = "SELECT count(*) FROM dataset_files WHERE dataset_id = $1"
DELETE_DATASET_SQL = "DELETE FROM datasets WHERE id = $1"


async def count_declared_files(conn: Conn, dataset_id: int) -> int:
    return int(await conn.fetchval(COUNT_DECLARED_FILES_SQL, dataset_id))


async def delete_dataset(conn: Conn, dataset_id: int) -> None:
    """Remove a dataset whose declaration could not be written whole (files go with it)."""
    await conn.execute(DELETE_DATASET_SQL, dataset_id)


FETCH_DATASET_OWNER_SQL = "SELECT id, team_id, status FROM datasets WHERE id = $1"


async def fetch_dataset_owner(conn: Conn, dataset_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(FETCH_DATASET_OWNER_SQL, dataset_id)


LOCK_DATASET_SQL = "SELECT id, team_id, status, files_count FROM datasets WHERE id = $1 FOR UPDATE"
QUEUE_DATASET_SQL = "UPDATE datasets SET status = 'queued', updated_at = now() WHERE id = $1"
INSERT_JOB_SQL = """
INSERT INTO validation_jobs (id, files_total) VALUES ($1, $2)
ON CONFLICT (id) DO NOTHING
"""
FETCH_JOB_SQL = """
SELECT id, status, attempts, files_done, files_total, results, error_message, created_at,
       published_at, started_at, completed_at
FROM validation_jobs WHERE id = $1
"""


async def queue_dataset(conn: asyncpg.Connection, dataset_id: int) -> asyncpg.Record | None:
    """Move an uploading dataset to `queued` with its job; a repeat returns the same job.

    Returns None when the dataset does not exist.
    """
    async with conn.transaction():
        dataset = await conn.fetchrow(LOCK_DATASET_SQL, dataset_id)
        if dataset is None:
            return None
        if dataset["status"] == "uploading":
            declared = await conn.fetchval(COUNT_DECLARED_FILES_SQL, dataset_id)
            if declared != dataset["files_count"]:
                raise Conflict(
                    f"dataset {dataset_id} is still being declared (upload/start has not "
                    "answered yet); complete it once its upload URLs are in hand"
                )
            await conn.execute(QUEUE_DATASET_SQL, dataset_id)
            await conn.execute(INSERT_JOB_SQL, dataset_id, dataset["files_count"])
        return await conn.fetchrow(FETCH_JOB_SQL, dataset_id)


MARK_PUBLISHED_SQL = "UPDATE validation_jobs SET published_at = now() WHERE id = $1"


async def mark_published(conn: Conn, job_id: int) -> None:
    await conn.execute(MARK_PUBLISHED_SQL, job_id)


LIST_DATASETS_SQL = """
SELECT d.id AS dataset_id, d.name AS dataset_name, d.team_id, t.name AS team,
       coalesce(j.status, d.status) AS status, d.status AS dataset_status,
       j.results ->> 'verdict' AS verdict, d.created_at, d.files_count AS files,
       d.bytes_total AS bytes
FROM datasets d
JOIN teams t ON t.id = d.team_id
LEFT JOIN validation_jobs j ON j.id = d.id
WHERE ($1::bigint IS NULL OR d.team_id = $1) AND ($2::bigint IS NULL OR d.id < $2)
ORDER BY d.id DESC
LIMIT $3
"""


FETCH_DATASET_SQL = """
SELECT d.id AS dataset_id, d.name AS dataset_name, d.team_id, t.name AS team,
       coalesce(j.status, d.status) AS status, d.status AS dataset_status,
       j.results ->> 'verdict' AS verdict, d.created_at, d.files_count AS files,
       d.bytes_total AS bytes, d.objects_recorded_at
FROM datasets d
JOIN teams t ON t.id = d.team_id
LEFT JOIN validation_jobs j ON j.id = d.id
WHERE d.id = $1
"""


async def fetch_dataset(conn: Conn, dataset_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(FETCH_DATASET_SQL, dataset_id)


async def list_datasets(
    conn: Conn, *, team_id: int | None, before_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first; `team_id=None` lists every team's (organisers)."""
    return list(await conn.fetch(LIST_DATASETS_SQL, team_id, before_id, limit))


# ---------------------------------------------------------------- quotas


# What a team has used: datasets started since UTC midnight, and bytes declared by its
# datasets, leaving out those whose validation failed for a platform reason and uploads
# abandoned before completion (uploading for longer than their URLs lived, $2).
TEAM_USAGE_SQL = """
SELECT t.quota_datasets_per_day, t.quota_bytes_stored, t.quota_files_per_dataset,
       t.quota_bytes_per_file,
       count(d.id) FILTER (WHERE d.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC')
                                                 AT TIME ZONE 'UTC') AS datasets_today,
       coalesce(sum(d.bytes_total) FILTER (
           WHERE d.status <> 'uploading' OR d.created_at > now() - $2::interval
       ), 0)::bigint AS bytes_stored
FROM teams t
LEFT JOIN datasets d ON d.team_id = t.id AND d.status NOT IN ('failed', 'abandoned')
WHERE t.id = $1
GROUP BY t.id
"""
# Serialises quota checks of one team, so two concurrent starts cannot both squeeze in.
LOCK_TEAM_SQL = "SELECT pg_advisory_xact_lock(hashtext('luna.quota'), $1::int)"


async def team_usage(
    conn: asyncpg.Connection, team_id: int, *, upload_urls_live_s: float
) -> asyncpg.Record | None:
    """Lock the team's quota for this transaction and return its limits and usage."""
    await conn.execute(LOCK_TEAM_SQL, team_id)
    return await conn.fetchrow(TEAM_USAGE_SQL, team_id, timedelta(seconds=upload_urls_live_s))


SET_TEAM_QUOTA_SQL = """
UPDATE teams SET
    quota_datasets_per_day = $2, quota_bytes_stored = $3,
    quota_files_per_dataset = $4, quota_bytes_per_file = $5
WHERE name = $1
RETURNING id
"""


async def set_team_quota(
    conn: Conn,
    team: str,
    *,
    datasets_per_day: int | None,
    bytes_stored: int | None,
    files_per_dataset: int | None,
    bytes_per_file: int | None,
) -> bool:
    row = await conn.fetchrow(
        SET_TEAM_QUOTA_SQL, team, datasets_per_day, bytes_stored, files_per_dataset, bytes_per_file
    )
    return row is not None


# ---------------------------------------------------------------- validation status


async def fetch_job(conn: Conn, job_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(FETCH_JOB_SQL, job_id)


# A timestamp as Python's isoformat() writes one in UTC, whatever the session's time zone.
def _iso_sql(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


# The whole status body, built by PostgreSQL in one round trip together with the owner (so the
# handler checks the caller's team without a second query): the job row, its logs, and at most
# $2 of its stored files; results already hold the capped findings and per-rule totals written
# at commit time, so nothing here grows with the dataset. `body` is NULL before upload/complete.
FETCH_STATUS_SQL = f"""
SELECT d.team_id, d.status AS dataset_status, j.status,
       CASE WHEN j.id IS NOT NULL THEN json_build_object(
           'dataset_id', d.id,
           'validation_job_id', j.id,
           'status', j.status,
           'started_at', {_iso_sql("j.started_at")},
           'completed_at', {_iso_sql("j.completed_at")},
           'error_message', j.error_message,
           'progress', json_build_object('files_done', j.files_done, 'files_total', j.files_total),
           'validation_logs', coalesce((
               SELECT json_agg(json_build_object(
                   'timestamp', {_iso_sql("l.logged_at")}, 'level', l.level, 'message', l.message
               ) ORDER BY l.id)
               FROM validation_logs l WHERE l.job_id = j.id
           ), '[]'::json),
           'validation_results', j.results || jsonb_build_object(
               'files', coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                       'filename', f.filename, 'size_bytes', r.size_bytes, 'sha256', r.sha256,
                       'format', r.format, 'width', r.width, 'height', r.height
                   ) ORDER BY r.file_id)
                   FROM (SELECT * FROM file_reports
                         WHERE job_id = j.id AND present ORDER BY file_id LIMIT $2) r
                   JOIN dataset_files f ON f.id = r.file_id
               ), '[]'::jsonb),
               'files_truncated', coalesce((j.results ->> 'files_total')::bigint, 0) > $2
           )
       )::text END AS body
FROM datasets d LEFT JOIN validation_jobs j ON j.id = d.id
WHERE d.id = $1
"""


async def fetch_status(conn: Conn, dataset_id: int, *, files_shown: int) -> asyncpg.Record | None:
    """(team_id, dataset_status, status, body): the status body as JSON text, or None."""
    return await conn.fetchrow(FETCH_STATUS_SQL, dataset_id, files_shown)


FETCH_FILES_PAGE_SQL = """
SELECT r.file_id, f.filename, r.size_bytes, r.sha256, r.format, r.width, r.height
FROM file_reports r JOIN dataset_files f ON f.id = r.file_id
WHERE r.job_id = $1 AND r.present AND r.file_id > $2
ORDER BY r.file_id
LIMIT $3
"""
# A settled job's total was stored at commit; a job still running counts what is stored so far.
COUNT_FILES_SQL = """
SELECT coalesce((SELECT (results ->> 'files_total')::bigint FROM validation_jobs WHERE id = $1),
                (SELECT count(*) FROM file_reports WHERE job_id = $1 AND present))
"""


async def fetch_files_page(
    conn: Conn, job_id: int, *, after_file_id: int, limit: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(FETCH_FILES_PAGE_SQL, job_id, after_file_id, limit)
    total = await conn.fetchval(COUNT_FILES_SQL, job_id)
    return list(rows), int(total)


FETCH_FINDINGS_TOTALS_SQL = "SELECT results -> 'findings_total' FROM validation_jobs WHERE id = $1"


async def fetch_findings_totals(conn: Conn, job_id: int) -> dict[str, int] | None:
    """{rule: count} as stored when the job's results were committed; None before."""
    totals = await conn.fetchval(FETCH_FINDINGS_TOTALS_SQL, job_id)
    return {str(k): int(v) for k, v in totals.items()} if isinstance(totals, dict) else None


FETCH_FINDINGS_PAGE_SQL = """
SELECT seq, rule, severity, file, "row", message FROM findings
WHERE job_id = $1 AND ($2::text IS NULL OR rule = $2) AND ($3::text IS NULL OR severity = $3)
  AND seq > $4
ORDER BY seq
LIMIT $5
"""
COUNT_FINDINGS_SQL = """
SELECT count(*) FROM findings
WHERE job_id = $1 AND ($2::text IS NULL OR rule = $2) AND ($3::text IS NULL OR severity = $3)
"""


async def fetch_findings_page(
    conn: Conn,
    job_id: int,
    *,
    rule: str | None,
    severity: str | None,
    after_seq: int,
    limit: int,
) -> list[asyncpg.Record]:
    return list(await conn.fetch(FETCH_FINDINGS_PAGE_SQL, job_id, rule, severity, after_seq, limit))


async def count_findings(conn: Conn, job_id: int, *, rule: str | None, severity: str | None) -> int:
    """Count on the table: only for jobs committed without stored totals."""
    return int(await conn.fetchval(COUNT_FINDINGS_SQL, job_id, rule, severity))


# ---------------------------------------------------------------- the validation job


# Every change a client may follow (progress, start, end) is announced on this channel with
# the job id as payload; NOTIFY is delivered at commit, to every replica listening.
JOB_EVENTS_CHANNEL = "luna_job_events"
NOTIFY_JOB_SQL = "SELECT pg_notify('luna_job_events', $1::text)"

CLAIM_JOB_SQL = """
UPDATE validation_jobs
SET status = 'processing', attempts = attempts + 1, started_at = coalesce(started_at, now()),
    heartbeat_at = now(), worker = $2
WHERE id = $1 AND status IN ('pending', 'processing')
RETURNING id, attempts, files_total
"""
DATASET_VALIDATING_SQL = """
UPDATE datasets SET status = 'validating', updated_at = now() WHERE id = $1
"""


async def claim_job(conn: asyncpg.Connection, job_id: int, *, worker: str) -> int | None:
    """Start an attempt at a job; returns the attempt number, or None if it is settled/absent."""
    async with conn.transaction():
        row = await conn.fetchrow(CLAIM_JOB_SQL, job_id, worker)
        if row is None:
            return None
        await conn.execute(DATASET_VALIDATING_SQL, job_id)
        await conn.execute(NOTIFY_JOB_SQL, str(job_id))
    return int(row["attempts"])


FETCH_DECLARED_FILES_SQL = """
SELECT id AS file_id, filename, content_type, size_bytes, sha256, s3_key, etag
FROM dataset_files WHERE dataset_id = $1 ORDER BY id
"""


async def fetch_declared_files(conn: Conn, dataset_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(FETCH_DECLARED_FILES_SQL, dataset_id))


RECORD_PROGRESS_SQL = """
WITH updated AS (
    UPDATE validation_jobs SET files_done = $2, heartbeat_at = now()
    WHERE id = $1 AND status = 'processing'
    RETURNING id
)
SELECT pg_notify('luna_job_events', id::text) FROM updated
"""


async def record_progress(conn: Conn, job_id: int, *, files_done: int) -> None:
    await conn.execute(RECORD_PROGRESS_SQL, job_id, files_done)


TOUCH_JOB_SQL = """
UPDATE validation_jobs SET heartbeat_at = now() WHERE id = $1 AND status = 'processing'
"""


async def touch_job(conn: Conn, job_id: int) -> None:
    """The job's heartbeat: its validator is alive and still on it."""
    await conn.execute(TOUCH_JOB_SQL, job_id)


INSERT_LOG_SQL = "INSERT INTO validation_logs (job_id, level, message) VALUES ($1, $2, $3)"


async def add_log(conn: Conn, job_id: int, *, level: str, message: str) -> None:
    await conn.execute(INSERT_LOG_SQL, job_id, level, message)


# One row per declared file of a job: what its inspection found. Written per batch of files and
# idempotent, so a repeated batch (a redelivered chunk) overwrites rather than duplicates.
SAVE_FILE_REPORTS_SQL = """
INSERT INTO file_reports
    (job_id, file_id, present, size_bytes, sha256, format, width, height, dicom_patient_id,
     findings)
SELECT $1, r.file_id, r.present, r.size_bytes, r.sha256, r.format, r.width, r.height,
       r.dicom_patient_id, r.findings::jsonb
FROM unnest($2::bigint[], $3::boolean[], $4::bigint[], $5::text[], $6::text[], $7::integer[],
            $8::integer[], $9::text[], $10::text[])
    AS r (file_id, present, size_bytes, sha256, format, width, height, dicom_patient_id, findings)
ON CONFLICT (job_id, file_id) DO UPDATE SET
    present = EXCLUDED.present, size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256,
    format = EXCLUDED.format, width = EXCLUDED.width, height = EXCLUDED.height,
    dicom_patient_id = EXCLUDED.dicom_patient_id, findings = EXCLUDED.findings
"""


@dataclass(frozen=True)
class FileReportRow:
    """One file's stored report: the facts the status shows, plus what the dataset-wide pass
    needs from the file (its own findings as contract dicts, a DICOM's PatientID)."""

    file_id: int
    present: bool
    size_bytes: int | None = None
    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    dicom_patient_id: str | None = None
    findings: Sequence[dict[str, Any]] = ()


async def save_file_reports(conn: Conn, job_id: int, rows: Sequence[FileReportRow]) -> None:
    if not rows:
        return
    await conn.execute(
        SAVE_FILE_REPORTS_SQL,
        job_id,
        [r.file_id for r in rows],
        [r.present for r in rows],
        [r.size_bytes for r in rows],
        [r.sha256 for r in rows],
        [r.format for r in rows],
        [r.width for r in rows],
        [r.height for r in rows],
        [r.dicom_patient_id for r in rows],
        [orjson.dumps(list(r.findings)).decode() for r in rows],
    )


COMPLETE_JOB_SQL = """
UPDATE validation_jobs
SET status = 'completed', results = $2, files_done = files_total, completed_at = now(),
    heartbeat_at = now(), error_message = NULL
WHERE id = $1 AND status = 'processing'
"""
DATASET_VALIDATED_SQL = """
UPDATE datasets SET status = 'validated', updated_at = now() WHERE id = $1
"""
DELETE_FINDINGS_SQL = "DELETE FROM findings WHERE job_id = $1"
COPY_FINDINGS_COLUMNS = ("job_id", "seq", "rule", "severity", "file", "row", "message")


async def complete_job(
    conn: asyncpg.Connection,
    job_id: int,
    *,
    results: dict[str, Any],
    findings: Sequence[tuple[str, str, str | None, int | None, str]],
    log_message: str,
    files: Sequence[FileReportRow] = (),
) -> bool:
    """Commit a job's results, every finding and the `files` reports not stored yet at once;
    False when another attempt won. `results` is `Results.stored()`: totals counted once here
    rather than on every read."""
    async with conn.transaction():
        status = await conn.execute(COMPLETE_JOB_SQL, job_id, results)
        if status != "UPDATE 1":
            return False
        await save_file_reports(conn, job_id, files)
        await conn.execute(DATASET_VALIDATED_SQL, job_id)
        await conn.execute(DELETE_FINDINGS_SQL, job_id)
        await conn.copy_records_to_table(
            "findings",
            records=[(job_id, seq, *f) for seq, f in enumerate(findings, start=1)],
            columns=COPY_FINDINGS_COLUMNS,
        )
        await conn.execute(INSERT_LOG_SQL, job_id, "INFO", log_message)
        await conn.execute(NOTIFY_JOB_SQL, str(job_id))
    return True


FAIL_JOB_SQL = """
UPDATE validation_jobs
SET status = 'failed', error_message = $2, completed_at = now(), heartbeat_at = now()
WHERE id = $1 AND status IN ('pending', 'processing')
"""
DATASET_FAILED_SQL = "UPDATE datasets SET status = 'failed', updated_at = now() WHERE id = $1"


async def fail_job(conn: asyncpg.Connection, job_id: int, *, reason: str) -> bool:
    """Give up on a job for a platform reason; the team sees `failed` with the reason."""
    async with conn.transaction():
        status = await conn.execute(FAIL_JOB_SQL, job_id, reason)
        if status != "UPDATE 1":
            return False
        await conn.execute(DATASET_FAILED_SQL, job_id)
        await conn.execute(INSERT_LOG_SQL, job_id, "ERROR", reason)
        await conn.execute(NOTIFY_JOB_SQL, str(job_id))
    return True


# ---------------------------------------------------------------- the reconciler


# Jobs whose message may be lost: committed but never confirmed as published, long pending,
# or processing with a stale heartbeat (its validator died or lost its message, whatever the
# broker thinks). Republishing is harmless: a settled job is skipped, and a claim counts an
# attempt, so a job that keeps losing its validator still ends `failed`.
FIND_LOST_JOBS_SQL = """
SELECT id FROM validation_jobs
WHERE (status = 'pending' AND published_at IS NULL AND created_at < now() - $1::interval)
   OR (status = 'pending' AND published_at < now() - $2::interval)
   OR (status = 'processing' AND heartbeat_at < now() - $3::interval)
ORDER BY id
LIMIT 1000
"""


async def jobs_to_republish(
    conn: Conn, *, unconfirmed_after_s: float, silent_after_s: float, stale_heartbeat_s: float
) -> list[int]:
    rows = await conn.fetch(
        FIND_LOST_JOBS_SQL,
        timedelta(seconds=unconfirmed_after_s),
        timedelta(seconds=silent_after_s),
        timedelta(seconds=stale_heartbeat_s),
    )
    return [int(r["id"]) for r in rows]


UNSETTLED_JOBS_SQL = """
SELECT id FROM validation_jobs WHERE status IN ('pending', 'processing') ORDER BY id
"""


async def unsettled_jobs(conn: Conn) -> list[int]:
    return [int(r["id"]) for r in await conn.fetch(UNSETTLED_JOBS_SQL)]


OLDEST_UNSETTLED_AGE_SQL = """
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)
FROM validation_jobs WHERE status IN ('pending', 'processing')
"""


async def oldest_unsettled_age_s(conn: Conn) -> float:
    return float(await conn.fetchval(OLDEST_UNSETTLED_AGE_SQL))


COUNT_UPLOADING_SQL = "SELECT count(*) FROM datasets WHERE status = 'uploading'"


async def count_uploading(conn: Conn) -> int:
    return int(await conn.fetchval(COUNT_UPLOADING_SQL))


# ---------------------------------------------------------------- multipart uploads


# `upload/complete` of a dataset holds this lock (session-level: no transaction stays open
# while the store joins parts) from its first look at the open uploads until the dataset is
# queued; opening an upload for parts takes it shared, so no upload opens unseen meanwhile.
COMPLETION_LOCK_SQL = "SELECT pg_advisory_lock(hashtext('luna.complete'), ($1 % 2147483647)::int)"
COMPLETION_UNLOCK_SQL = (
    "SELECT pg_advisory_unlock(hashtext('luna.complete'), ($1 % 2147483647)::int)"
)
TRY_COMPLETION_LOCK_XACT_SQL = """
SELECT pg_try_advisory_xact_lock(hashtext('luna.complete'), ($1 % 2147483647)::int)
"""
COMPLETION_LOCK_SHARED_XACT_SQL = """
SELECT pg_advisory_xact_lock_shared(hashtext('luna.complete'), ($1 % 2147483647)::int)
"""


@asynccontextmanager
async def completion_lock(conn: asyncpg.Connection, dataset_id: int) -> AsyncIterator[None]:
    """Hold the dataset's completion lock on `conn` (outside any transaction)."""
    await conn.execute(COMPLETION_LOCK_SQL, dataset_id)
    try:
        yield
    finally:
        await conn.execute(COMPLETION_UNLOCK_SQL, dataset_id)


async def try_completion_lock(conn: asyncpg.Connection, dataset_id: int) -> bool:
    """Inside a transaction: take the completion lock until it ends, unless it is held."""
    return bool(await conn.fetchval(TRY_COMPLETION_LOCK_XACT_SQL, dataset_id))


OPEN_MULTIPART_SQL = """
UPDATE dataset_files f SET multipart_upload_id = $3, multipart_state = 'uploading'
FROM datasets d
WHERE f.dataset_id = $1 AND f.id = $2 AND d.id = f.dataset_id AND d.status = 'uploading'
  AND f.multipart_state = 'planned'
RETURNING f.multipart_upload_id
"""


async def record_opened_multipart(
    conn: asyncpg.Connection, dataset_id: int, file_id: int, *, upload_id: str
) -> bool:
    """Record `upload_id` as the file's multipart upload while its dataset is uploading and
    the file has none yet; False when another request opened one first or the dataset was
    completed meanwhile (the caller then aborts its own)."""
    async with conn.transaction():
        await conn.execute(COMPLETION_LOCK_SHARED_XACT_SQL, dataset_id)
        row = await conn.fetchrow(OPEN_MULTIPART_SQL, dataset_id, file_id, upload_id)
    return row is not None


FETCH_UPLOAD_FILE_SQL = """
SELECT f.id AS file_id, f.dataset_id, f.filename, f.content_type, f.size_bytes, f.s3_key,
       f.multipart_upload_id, f.part_size_bytes, f.multipart_state,
       d.team_id, d.status AS dataset_status
FROM dataset_files f JOIN datasets d ON d.id = f.dataset_id
WHERE f.dataset_id = $1 AND f.id = $2
"""


async def fetch_upload_file(conn: Conn, dataset_id: int, file_id: int) -> asyncpg.Record | None:
    """One declared file with its dataset's owner and state, for the part routes."""
    return await conn.fetchrow(FETCH_UPLOAD_FILE_SQL, dataset_id, file_id)


FETCH_DATASET_STATUS_SQL = "SELECT status FROM datasets WHERE id = $1"


async def fetch_dataset_status(conn: Conn, dataset_id: int) -> str | None:
    status = await conn.fetchval(FETCH_DATASET_STATUS_SQL, dataset_id)
    return None if status is None else str(status)


FETCH_OPEN_MULTIPART_SQL = """
SELECT id AS file_id, filename, size_bytes, s3_key, multipart_upload_id, part_size_bytes
FROM dataset_files
WHERE dataset_id = $1 AND multipart_state = 'uploading'
ORDER BY id
"""


async def open_multipart_files(
    conn: Conn, dataset_id: int
) -> tuple[str | None, list[asyncpg.Record]]:
    """The dataset's status (None when absent) and its files whose multipart upload is open.
    Read under `completion_lock`, so two `complete` calls never join the same parts at once."""
    status = await conn.fetchval(FETCH_DATASET_STATUS_SQL, dataset_id)
    if status is None:
        return None, []
    return str(status), list(await conn.fetch(FETCH_OPEN_MULTIPART_SQL, dataset_id))


SET_MULTIPART_STATES_SQL = """
UPDATE dataset_files f SET multipart_state = u.state
FROM unnest($1::bigint[], $2::text[]) AS u (file_id, state)
WHERE f.id = u.file_id
"""


async def set_multipart_states(conn: Conn, states: Sequence[tuple[int, str]]) -> None:
    """(file_id, multipart_state) pairs, one UPDATE per chunk of `FILE_ROWS_PER_UPDATE`."""
    for first in range(0, len(states), constants.FILE_ROWS_PER_UPDATE):
        chunk = states[first : first + constants.FILE_ROWS_PER_UPDATE]
        await conn.execute(
            SET_MULTIPART_STATES_SQL, [f for f, _ in chunk], [state for _, state in chunk]
        )


FETCH_OPEN_PART_SIZES_SQL = """
SELECT id AS file_id, part_size_bytes
FROM dataset_files
WHERE dataset_id = $1 AND multipart_state IN ('planned', 'uploading')
"""


async def fetch_open_part_sizes(conn: Conn, dataset_id: int) -> dict[int, int]:
    """file_id -> part_size_bytes for the dataset's files still taking parts."""
    rows = await conn.fetch(FETCH_OPEN_PART_SIZES_SQL, dataset_id)
    return {int(r["file_id"]): int(r["part_size_bytes"]) for r in rows}


# ---------------------------------------------------------------- abandoned uploads


FIND_ABANDONED_SQL = """
SELECT id FROM datasets
WHERE status = 'uploading' AND created_at < now() - $1::interval
ORDER BY id
LIMIT $2
"""
FETCH_STORED_FILES_SQL = """
SELECT id AS file_id, s3_key, multipart_upload_id, multipart_state
FROM dataset_files WHERE dataset_id = $1 ORDER BY id
"""
ABORT_OPEN_MULTIPART_SQL = """
UPDATE dataset_files SET multipart_state = 'aborted'
WHERE dataset_id = $1 AND multipart_state = 'uploading'
"""
ABANDON_DATASET_SQL = """
UPDATE datasets SET status = 'abandoned', updated_at = now()
WHERE id = $1 AND status = 'uploading'
"""


async def find_abandoned(conn: Conn, *, older_than_s: float, limit: int) -> list[int]:
    rows = await conn.fetch(FIND_ABANDONED_SQL, timedelta(seconds=older_than_s), limit)
    return [int(r["id"]) for r in rows]


async def fetch_stored_files(conn: Conn, dataset_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(FETCH_STORED_FILES_SQL, dataset_id))


LOCK_UPLOADING_SQL = "SELECT id FROM datasets WHERE id = $1 AND status = 'uploading' FOR UPDATE"


async def lock_uploading_dataset(conn: asyncpg.Connection, dataset_id: int) -> bool:
    """Inside a transaction: hold the dataset while it is still uploading (a concurrent
    `complete` waits); False when it no longer is."""
    return await conn.fetchval(LOCK_UPLOADING_SQL, dataset_id) is not None


async def abandon_dataset(conn: asyncpg.Connection, dataset_id: int) -> None:
    """Inside the same transaction: mark it abandoned, its open multipart uploads aborted."""
    await conn.execute(ABANDON_DATASET_SQL, dataset_id)
    await conn.execute(ABORT_OPEN_MULTIPART_SQL, dataset_id)


# ---------------------------------------------------------------- the organisers' view

WORKER_BEATS_CHANNEL = "luna_worker_beats"
NOTIFY_WORKER_BEAT_SQL = f"SELECT pg_notify('{WORKER_BEATS_CHANNEL}', $1)"


async def notify_worker_beat(conn: Conn, payload: str) -> None:
    await conn.execute(NOTIFY_WORKER_BEAT_SQL, payload)


# Every team's usage, counted as TEAM_USAGE_SQL counts one team's (without its lock).
TEAMS_USAGE_SQL = """
SELECT t.id AS team_id, t.name AS team,
       t.quota_datasets_per_day, t.quota_bytes_stored, t.quota_files_per_dataset,
       t.quota_bytes_per_file,
       count(d.id) AS datasets,
       count(d.id) FILTER (WHERE d.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC')
                                                 AT TIME ZONE 'UTC') AS datasets_today,
       coalesce(sum(d.bytes_total) FILTER (
           WHERE d.status <> 'uploading' OR d.created_at > now() - $1::interval
       ), 0)::bigint AS bytes_stored
FROM teams t
LEFT JOIN datasets d ON d.team_id = t.id AND d.status NOT IN ('failed', 'abandoned')
GROUP BY t.id
ORDER BY t.name
"""


async def teams_usage(conn: Conn, *, upload_urls_live_s: float) -> list[asyncpg.Record]:
    return list(await conn.fetch(TEAMS_USAGE_SQL, timedelta(seconds=upload_urls_live_s)))


# ---------------------------------------------------------------- what was validated is kept


FETCH_KEYS_SQL = "SELECT id AS file_id, s3_key FROM dataset_files WHERE dataset_id = $1"
RECORD_ETAGS_SQL = """
UPDATE dataset_files f SET etag = u.etag
FROM unnest($1::bigint[], $2::text[]) AS u (file_id, etag)
WHERE f.id = u.file_id
"""


async def fetch_keys(conn: Conn, dataset_id: int) -> dict[str, int]:
    """s3_key -> file_id of every declared file."""
    return {r["s3_key"]: int(r["file_id"]) for r in await conn.fetch(FETCH_KEYS_SQL, dataset_id)}


MARK_OBJECTS_RECORDED_SQL = "UPDATE datasets SET objects_recorded_at = now() WHERE id = $1"


async def record_etags(
    conn: Conn, dataset_id: int, etags: Sequence[tuple[int, str | None]]
) -> None:
    """(file_id, etag) pairs of the stored objects (a file left out stays NULL: absent), one
    UPDATE per chunk of `FILE_ROWS_PER_UPDATE`, then the dataset marked as recorded."""
    for first in range(0, len(etags), constants.FILE_ROWS_PER_UPDATE):
        chunk = etags[first : first + constants.FILE_ROWS_PER_UPDATE]
        await conn.execute(RECORD_ETAGS_SQL, [f for f, _ in chunk], [e for _, e in chunk])
    await conn.execute(MARK_OBJECTS_RECORDED_SQL, dataset_id)


FETCH_OBJECTS_RECORDED_SQL = "SELECT objects_recorded_at FROM datasets WHERE id = $1"


async def objects_recorded(conn: Conn, dataset_id: int) -> bool:
    """Whether `upload/complete` recorded the dataset's ETags (then a NULL etag means the
    object was absent at that moment)."""
    return await conn.fetchval(FETCH_OBJECTS_RECORDED_SQL, dataset_id) is not None


FETCH_RECORDED_ETAGS_SQL = """
SELECT filename, s3_key, etag FROM dataset_files WHERE dataset_id = $1 ORDER BY id
"""


async def fetch_recorded_etags(conn: Conn, dataset_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(FETCH_RECORDED_ETAGS_SQL, dataset_id))
