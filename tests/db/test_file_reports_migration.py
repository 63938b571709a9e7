"""0005 moves the files of jobs settled before it out of `results` into file_reports, and
stores the per-rule totals and capped findings that commits now store; down puts them back."""

from __future__ import annotations

import asyncpg
import orjson
from db.test_migrate import empty_database  # noqa: F401  (the fixture)

from luna.db.migrate import migrate

OLD_RESULTS = {
    "verdict": "rejected",
    "ruleset": "luna2025-xray-v1",
    "summary": {"errors": 25, "warnings": 0},
    "stats": {"images": 2},
    "files": [
        {
            "filename": "a.png",
            "size_bytes": 10,
            "sha256": "ab" * 32,
            "format": "png",
            "width": 512,
            "height": 600,
        },
        {
            "filename": "b.png",
            "size_bytes": 11,
            "sha256": None,
            "format": None,
            "width": None,
            "height": None,
        },
    ],
}


async def test_settled_jobs_move_their_files_out_and_back(empty_database):  # noqa: F811
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn, to=4)
        team = await conn.fetchval("INSERT INTO teams (name) VALUES ('red') RETURNING id")
        user = await conn.fetchval(
            "INSERT INTO users (username, password_hash, team_id) VALUES ('a', 'x', $1) "
            "RETURNING id",
            team,
        )
        dataset = await conn.fetchval(
            "INSERT INTO datasets (team_id, user_id, name, files_count, bytes_total, status) "
            "VALUES ($1, $2, 'd', 3, 21, 'validated') RETURNING id",
            team,
            user,
        )
        await conn.execute(
            "INSERT INTO dataset_files (dataset_id, filename, content_type, size_bytes, s3_key) "
            "SELECT $1, n, 'image/png', 10, n FROM unnest(ARRAY['a.png', 'b.png', 'c.png']) n",
            dataset,
        )
        await conn.execute(
            "INSERT INTO validation_jobs (id, status, files_total, files_done, results) "
            "VALUES ($1, 'completed', 3, 3, $2::jsonb)",
            dataset,
            orjson.dumps(OLD_RESULTS).decode(),
        )
        await conn.execute(
            "INSERT INTO findings (job_id, seq, rule, severity, file, message) "
            "SELECT $1, n, CASE WHEN n <= 24 THEN 'image.corrupt' ELSE 'upload.missing' END, "
            "'error', 'a.png', 'm' || n FROM generate_series(1, 25) n",
            dataset,
        )

        await migrate(conn)
        results = orjson.loads(
            await conn.fetchval("SELECT results::text FROM validation_jobs WHERE id = $1", dataset)
        )
        assert "files" not in results
        assert results["files_total"] == 2
        assert results["findings_total"] == {"image.corrupt": 24, "upload.missing": 1}
        assert results["findings_truncated"] is True
        assert len(results["findings"]) == 21
        assert results["findings"][0] == {
            "rule": "image.corrupt",
            "severity": "error",
            "file": "a.png",
            "row": None,
            "message": "m1",
        }
        rows = await conn.fetch(
            "SELECT f.filename, r.size_bytes, r.width FROM file_reports r "
            "JOIN dataset_files f ON f.id = r.file_id WHERE r.present ORDER BY f.filename"
        )
        assert [tuple(r) for r in rows] == [("a.png", 10, 512), ("b.png", 11, None)]

        await migrate(conn, to=4)
        back = orjson.loads(
            await conn.fetchval("SELECT results::text FROM validation_jobs WHERE id = $1", dataset)
        )
        assert back == OLD_RESULTS
    finally:
        await conn.close()
