"""A real validation stores every file's report: the status shows them with their total, and
GET /validation/{id}/files pages through them, on real and embedded backends."""

from __future__ import annotations

from support import login, upload, wait_for_status

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
MANIFEST = b"filename,patient_id,label\na.png,p001,No Finding\n"


async def test_validated_files_are_in_the_status_and_the_files_route(start_service):
    service = await start_service(luna_validators=1)
    client = service.client
    headers = await login(client, await service.add_account("alice", team="red"))
    files = {"manifest.csv": MANIFEST, "a.png": PNG}
    dataset_id = await upload(client, headers, files, declared=None)
    status = await wait_for_status(client, dataset_id, headers)
    results = status["validation_results"]
    assert results["files_total"] == 2 and results["files_truncated"] is False
    assert {f["filename"] for f in results["files"]} == set(files)

    first = await client.get(f"/api/v1/validation/{dataset_id}/files?limit=1", headers=headers)
    assert first.status == 200
    page = await first.json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next_cursor"]
    second = await (
        await client.get(
            f"/api/v1/validation/{dataset_id}/files?limit=1&cursor={page['next_cursor']}",
            headers=headers,
        )
    ).json()
    listed = page["items"] + second["items"]
    assert sorted(listed, key=lambda f: f["filename"]) == sorted(
        results["files"], key=lambda f: f["filename"]
    )
    png = next(f for f in listed if f["filename"] == "a.png")
    assert png["size_bytes"] == len(PNG) and png["format"] == "png"
