"""The web console in a real Chromium: a team member uploads the example dataset by file input
and sees it ACCEPTED; another team uploads the broken one and reads, filters and downloads its
findings; the organiser sees both teams and the service; a third team sees neither, and then
an expired session. The store is moto S3 on another port, so every PUT is a cross-origin request
the bucket's CORS rule must allow. As `make run` (everything embedded) the organiser sees the
example accepted, and /docs renders with every outside request blocked."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from luna.db import queries
from luna.examples import write_example_dataset

# Bounds a hang, not a speed: the example dataset validates in seconds.
VERDICT_TIMEOUT_MS = 60_000


async def _open(browser: Any, base: str, shots: Path) -> Any:
    context = await browser.new_context(
        accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(base + "/")
    return page


async def _log_in(page: Any, account: Any) -> None:
    await page.fill("#username", account.username)
    await page.fill("#password", account.password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#app-view", state="visible")


async def _submit(page: Any, folder: Path) -> str:
    await page.set_input_files("#folder-input", str(folder))
    await page.wait_for_selector("#preflight p")
    page.preflight = await page.text_content("#preflight")  # type: ignore[attr-defined]
    await page.click("#upload-button")
    await page.wait_for_function(
        "document.querySelector('#verdict').textContent.length > 0", timeout=VERDICT_TIMEOUT_MS
    )
    return await page.text_content("#verdict")


async def _dataset_rows(page: Any) -> list[list[str]]:
    await page.click("#refresh-datasets")
    await page.wait_for_timeout(300)
    rows = await page.query_selector_all("#datasets tbody tr")
    return [
        [(await c.text_content()) or "" for c in await r.query_selector_all("td")] for r in rows
    ]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


async def test_teams_submit_and_read_reports_and_the_organiser_sees_everyone(
    browser, make_client, add_account, db, tmp_path: Path, shots: Path
) -> None:
    client = await make_client(luna_validators=2)
    base = str(client.make_url("")).rstrip("/")
    organiser = await add_account("olga", team="organisers", admin=True)
    alice = await add_account("alice", team="red")
    bob = await add_account("bob", team="blue")
    carol = await add_account("carol", team="green")
    good = write_example_dataset(tmp_path / "example", images=6).directory
    broken = write_example_dataset(tmp_path / "broken", images=6, broken=True).directory

    page = await _open(browser, base, shots)
    await page.screenshot(path=shots / "login.png")
    await _log_in(page, alice)
    await page.set_input_files("#folder-input", str(good))
    preflight = await page.wait_for_selector("#preflight p")
    assert "no problems found" in (await preflight.text_content() or "")
    await page.click("#upload-button")
    await page.wait_for_function(
        "document.querySelector('#verdict').textContent.length > 0", timeout=VERDICT_TIMEOUT_MS
    )
    assert (await page.text_content("#verdict") or "").startswith("ACCEPTED")
    assert await page.eval_on_selector("#total-progress", "p => p.value") == 1
    await page.screenshot(path=shots / "accepted.png", full_page=True)
    assert not page.errors

    page = await _open(browser, base, shots)
    await _log_in(page, bob)
    verdict = await _submit(page, broken)
    assert verdict.startswith("REJECTED"), verdict
    # The browser saw the manifest's mistakes before anything was uploaded.
    assert "manifest.bad_label (row" in page.preflight
    assert "manifest.unlisted_image" in page.preflight
    await page.wait_for_selector("#findings tbody tr")
    findings = await page.query_selector_all("#findings tbody tr")
    assert findings
    # Filter by one rule: every row left is of that rule.
    rules = await page.eval_on_selector_all("#rule-filter option", "os => os.map(o => o.value)")
    manifest_rule = next(r for r in rules if r.startswith("manifest."))
    await page.select_option("#rule-filter", manifest_rule)
    cells = await page.eval_on_selector_all(
        "#findings tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert cells and all(c[1] == manifest_rule for c in cells)
    assert all(c[2] == "manifest.csv" and c[3].isdigit() for c in cells)  # file and row
    await page.select_option("#severity-filter", "warning")
    await page.select_option("#rule-filter", "")
    shown = await page.eval_on_selector_all("#findings tbody tr", "rows => rows.length")
    total = len(findings)
    assert shown < total
    await page.select_option("#severity-filter", "")
    await page.screenshot(path=shots / "rejected.png", full_page=True)
    async with page.expect_download() as download_info:
        await page.click("#download-csv")
    download = await download_info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and set(rows[0]) == {"rule", "severity", "file", "row", "message"}
    async with page.expect_download() as download_info:
        await page.click("#download-json")
    report = (await download_info.value).suggested_filename
    assert report.endswith(".json")
    assert not page.errors

    page = await _open(browser, base, shots)
    await _log_in(page, organiser)
    await page.wait_for_selector("#organiser-view", state="visible")
    teams = {row[1] for row in await _dataset_rows(page)}
    assert teams == {"red", "blue"}
    await page.wait_for_function("document.querySelectorAll('#quotas tbody tr').length >= 4")
    await page.wait_for_function("document.querySelectorAll('#workers tbody tr td').length >= 5")
    assert (await page.text_content("#queue-length")) == "0"
    await page.screenshot(path=shots / "organiser.png", full_page=True)

    page = await _open(browser, base, shots)
    await _log_in(page, carol)
    assert await _dataset_rows(page) == []
    assert await page.is_hidden("#organiser-view")

    # A team at its daily quota is told when it resets.
    async with db.acquire() as conn:
        await queries.set_team_quota(
            conn,
            "green",
            datasets_per_day=0,
            bytes_stored=None,
            files_per_dataset=None,
            bytes_per_file=None,
        )
    await page.set_input_files("#folder-input", str(good))
    await page.wait_for_selector("#preflight p")
    await page.click("#upload-button")
    message = await page.wait_for_selector("#message:not([hidden])")
    assert "quota resets at" in (await message.text_content() or "")

    # A token the server no longer takes, as after its expiry: the page says what to do.
    await page.evaluate("state.token = state.token.slice(0, -4) + 'AAAA'")
    await page.click("#refresh-datasets")
    await page.wait_for_selector("#login-view", state="visible")
    assert "expired" in (await page.text_content("#message") or "")


async def test_as_make_run_the_organiser_drops_the_example_and_sees_it_accepted(
    browser, make_settings, aiohttp_client, db, run_id, tmp_path: Path
) -> None:
    """Every backend embedded, as `make run` starts luna: the first organiser's password from
    its file, the uploads PUT to luna's own store (same origin), files above the threshold in
    parts through the page. Then /docs renders with every outside request blocked."""
    import secrets
    import shutil

    from conftest import EMBEDDED_ROOT, free_port

    from luna.http.app import create_app

    data_dir = EMBEDDED_ROOT / f"{run_id}-browser-{secrets.token_hex(2)}"
    port = free_port()
    settings = make_settings(
        database_url=None,
        minio_endpoint=None,
        amqp_url=None,
        jwt_secret_key=None,
        luna_data_dir=data_dir,
        luna_port=port,
        luna_public_url=f"http://127.0.0.1:{port}",
        luna_first_organiser="organiser",
        luna_validators=2,
        luna_multipart_threshold_bytes=100_000,
    )
    try:
        client = await aiohttp_client(
            create_app(settings, mode="serve"), server_kwargs={"port": port}
        )
        password = (data_dir / "organiser-password").read_text().strip()
        example = write_example_dataset(tmp_path / "example", images=6).directory
        sizes = [p.stat().st_size for p in example.rglob("*") if p.is_file()]
        assert any(size > 100_000 for size in sizes), "some file must go in parts"

        page = await _open(browser, str(client.make_url("")).rstrip("/"), tmp_path)
        part_puts: list[str] = []
        page.on(
            "request",
            lambda r: part_puts.append(r.url) if r.method == "PUT" and "part=" in r.url else None,
        )
        await page.fill("#username", "organiser")
        await page.fill("#password", password)
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#organiser-view", state="visible")
        verdict = await _submit(page, example)
        assert verdict.startswith("ACCEPTED"), verdict
        assert part_puts, "the large files went in parts"
        assert not page.errors

        # The store refusing a file (here every PUT, even with a fresh URL): the page says
        # which file and what to do.
        async def refuse(route: Any) -> None:
            await route.fulfill(
                status=403,
                content_type="application/xml",
                body="<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )

        await page.route("**/store/**", refuse)
        await page.set_input_files("#folder-input", str(example))
        await page.wait_for_selector("#preflight p")
        await page.click("#upload-button")
        message = await page.wait_for_selector("#message:not([hidden])")
        text = await message.text_content() or ""
        assert "The store refused" in text and "Request has expired" in text, text
        assert "Start the upload again" in text
        await page.unroute("**/store/**")
        await page.screenshot(path=tmp_path / "make-run.png", full_page=True)
        await _docs_render_offline(browser, str(client.make_url("")).rstrip("/"), tmp_path)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _docs_render_offline(browser: Any, base: str, shots: Path) -> None:
    """/docs in a browser that may reach nothing but luna."""
    context = await browser.new_context()
    outside: list[str] = []

    async def only_luna(route: Any) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_luna)
    page = await context.new_page()
    await page.goto(base + "/docs")
    title = await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "luna" in (await title.text_content() or "")
    await page.get_by_text("/api/v1/upload/start").first.wait_for()
    await page.screenshot(path=shots / "docs.png")
    assert outside == []
