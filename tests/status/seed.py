"""A settled job of any size, committed through luna's own data layer (what a validator
commits), without uploading or inspecting a byte: status tests need the shape, not the pixels."""

from __future__ import annotations

import asyncpg

from luna import constants
from luna.db import queries
from luna.validation.report import Finding, Results
from luna.validation.ruleset import RULESET, SEVERITY, Rule


async def settled_dataset(
    db: asyncpg.Pool,
    *,
    team_id: int,
    user_id: int,
    files: int,
    findings: dict[str, int],
    name: str = "large",
) -> int:
    """A completed dataset of `files` PNGs with `findings[rule]` findings of each rule."""
    declared = [
        queries.NewFile(f"images/img{i:06d}.png", "image/png", 1000 + i, None) for i in range(files)
    ]
    async with db.acquire() as conn:
        async with conn.transaction():
            dataset_id = await queries.insert_dataset(
                conn, team_id=team_id, user_id=user_id, name=name, description=None, files=declared
            )
        stored = await queries.copy_declared_files(conn, dataset_id, declared)
        keys = {f.filename: (s.file_id, s.s3_key) for f, s in zip(declared, stored, strict=True)}
        await queries.queue_dataset(conn, dataset_id)
        await queries.claim_job(conn, dataset_id, worker="seed")
    facts = [
        {
            "filename": f.filename,
            "size_bytes": f.size_bytes,
            "sha256": f"{i:064x}",
            "format": "png",
            "width": 512,
            "height": 512,
        }
        for i, f in enumerate(declared)
    ]
    found = [
        Finding.of(
            Rule(rule), file=f"images/img{n % max(files, 1):06d}.png", message=f"{rule} #{n}"
        )
        for rule, count in findings.items()
        for n in range(count)
    ]
    found.sort(key=Finding.sort_key)
    results = Results(findings=found, stats={"images": files}, files=facts)
    rows = [
        queries.FileReportRow(
            file_id=keys[f["filename"]][0],
            present=True,
            size_bytes=f["size_bytes"],
            sha256=f["sha256"],
            format="png",
            width=512,
            height=512,
        )
        for f in facts
    ]
    async with db.acquire() as conn:
        committed = await queries.complete_job(
            conn,
            dataset_id,
            results=results.stored(findings_per_rule=constants.FINDINGS_PER_RULE_IN_STATUS),
            findings=[(f.rule, f.severity, f.file, f.row, f.message) for f in found],
            log_message="validation finished",
            files=rows,
        )
    assert committed
    return dataset_id


async def large_settled_dataset(
    db: asyncpg.Pool, *, team_id: int, user_id: int, files: int, findings: dict[str, int]
) -> int:
    """The same shape as `settled_dataset`, written in a few set-based statements, for sizes
    (100,000 files, 1,000,000 findings) that building Python objects would make slow."""
    per_rule = constants.FINDINGS_PER_RULE_IN_STATUS
    shown = [
        Finding.of(Rule(rule), file=f"images/img{n:06d}.png", message=f"{rule} #{n}").as_dict()
        for rule, count in findings.items()
        for n in range(min(count, per_rule))
    ]
    errors = sum(n for rule, n in findings.items() if SEVERITY[rule] == "error")
    results = {
        "verdict": "rejected" if errors else "accepted",
        "ruleset": RULESET,
        "summary": {"errors": errors, "warnings": sum(findings.values()) - errors},
        "findings": shown,
        "findings_total": findings,
        "findings_truncated": any(n > per_rule for n in findings.values()),
        "stats": {"images": files},
        "files_total": files,
    }
    async with db.acquire() as conn, conn.transaction():
        dataset_id = await conn.fetchval(
            "INSERT INTO datasets (team_id, user_id, name, files_count, bytes_total, status) "
            "VALUES ($1, $2, 'large', $3::int, $3::bigint * 1000, 'validated') RETURNING id",
            team_id,
            user_id,
            files,
        )
        await conn.execute(
            "INSERT INTO dataset_files (dataset_id, filename, content_type, size_bytes, s3_key) "
            "SELECT $1, name, 'image/png', 1000, 'datasets/' || $1::bigint || '/' || name "
            "FROM (SELECT 'images/img' || lpad(n::text, 6, '0') || '.png' AS name "
            "      FROM generate_series(0, $2::int - 1) n) f",
            dataset_id,
            files,
        )
        await conn.execute(
            "INSERT INTO validation_jobs (id, status, files_total, files_done, results, "
            "started_at, completed_at) VALUES ($1, 'completed', $2, $2, $3, now(), now())",
            dataset_id,
            files,
            results,
        )
        await conn.execute(
            "INSERT INTO file_reports (job_id, file_id, present, size_bytes, sha256, format, "
            "width, height) SELECT $1, id, true, 1000, md5(filename) || md5(filename), 'png', "
            "512, 512 FROM dataset_files WHERE dataset_id = $1",
            dataset_id,
        )
        seq = 0
        for rule, count in findings.items():
            await conn.execute(
                "INSERT INTO findings (job_id, seq, rule, severity, file, message) "
                "SELECT $1, $2::int + n, $3::text, $4, 'images/img' || lpad((n % $6::int)::text, 6, '0') || "
                "'.png', $3::text || ' #' || n FROM generate_series(1, $5::int) n",
                dataset_id,
                seq,
                rule,
                SEVERITY[rule],
                count,
                max(files, 1),
            )
            seq += count
        await conn.execute(
            "INSERT INTO validation_logs (job_id, level, message) "
            "VALUES ($1, 'INFO', 'validation finished')",
            dataset_id,
        )
    return int(dataset_id)
