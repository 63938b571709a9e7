"""The verdict as a team member reads it."""

from __future__ import annotations

from luna.client.report import render_status

STATUS = {
    "dataset_id": 17,
    "status": "completed",
    "validation_results": {
        "verdict": "rejected",
        "ruleset": "luna2025-xray-v1",
        "summary": {"errors": 23, "warnings": 1},
        "findings": [
            {
                "rule": "manifest.bad_label",
                "severity": "error",
                "file": "manifest.csv",
                "row": 3,
                "message": "row 3: label 'X' is not in the vocabulary",
            },
            {
                "rule": "manifest.bad_label",
                "severity": "error",
                "file": "manifest.csv",
                "row": 12,
                "message": "row 12: label 'Y' is not in the vocabulary",
            },
            {
                "rule": "image.not_grayscale",
                "severity": "warning",
                "file": "images/a.png",
                "row": None,
                "message": "a colour image",
            },
        ],
        "findings_total": {"manifest.bad_label": 22, "image.not_grayscale": 1},
        "stats": {"images": 40, "patients": 12, "bytes": 3 * 1024**2},
    },
}


def test_findings_are_grouped_by_rule_with_how_many_more_and_where():
    text = render_status(STATUS, server_url="https://luna.example/")
    lines = text.splitlines()
    assert lines[0] == (
        "dataset 17: REJECTED by ruleset luna2025-xray-v1 "
        "(23 errors, 1 warning; 40 images; 12 patients; 3.0 MiB)"
    )
    assert lines[2].split() == ["RULE", "SEVERITY", "FILE", "ROW", "MESSAGE"]
    assert lines[3].split()[:4] == ["manifest.bad_label", "error", "manifest.csv", "3"]
    assert lines[4].split()[:2] == ["manifest.csv", "12"]  # rule shown once per group
    assert "... and 20 more" in lines[5]
    assert lines[6].split()[:3] == ["image.not_grayscale", "warning", "images/a.png"]
    assert "GET https://luna.example/api/v1/validation/17/findings?rule=RULE" in text


def test_a_failed_job_says_it_is_not_the_teams_fault():
    text = render_status(
        {"dataset_id": 3, "status": "failed", "error_message": "storage unreachable"},
        server_url="http://x",
    )
    assert "validation could not run: storage unreachable" in text
    assert "not in your dataset" in text
