"""A settled job of any size, committed through luna's own data layer (what a validator
commits), without uploading or inspecting a byte: status tests need the shape, not the pixels."""

from __future__ import annotations

import asyncpg

from luna import constants
from luna.db import queries
from luna.validation.report import Finding, Results
from luna.validation.ruleset import Rule


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
        dataset_id, keys = await queries.create_dataset(
            conn, team_id=team_id, user_id=user_id, name=name, description=None, files=declared
        )
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
