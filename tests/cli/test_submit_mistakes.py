"""`luna submit` pointed at the wrong place: one line that says how to fix it, exit code 2
("could not finish"), never a traceback and never someone else's error page."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli.embedded import ROOT, plain_env

ERROR_PAGE = ("<!DOCTYPE html>\n<html><head><title>Not here</title></head>\n<body>\n" * 20).encode()


def submit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "luna", "submit", *args],
        cwd=ROOT,
        env=plain_env(LUNA_USERNAME="ada", LUNA_PASSWORD="pw", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    from luna.examples import write_example_dataset

    return write_example_dataset(tmp_path / "example", images=2).directory


@pytest.fixture
def not_luna() -> Iterator[str]:
    """A web server that is not luna: every request gets a long HTML error page."""

    class Pages(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(404, "Not Found")
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(ERROR_PAGE)))
            self.end_headers()
            self.wfile.write(ERROR_PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_without_http_gets_one_line_saying_to_add_it(dataset):
    result = submit("--server", "127.0.0.1:8611", str(dataset))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "luna submit: --server '127.0.0.1:8611': add http:// (or https://) in front of it: "
        "http://127.0.0.1:8611\n"
    )


def test_luna_server_without_http_is_named_as_the_setting_to_fix(dataset):
    result = submit(str(dataset), LUNA_SERVER="localhost:8000")
    assert result.returncode == 2
    assert result.stderr.startswith("luna submit: LUNA_SERVER 'localhost:8000': add http://")


def test_a_server_that_is_not_luna_is_said_in_one_line_without_its_page(dataset, not_luna):
    result = submit("--server", not_luna, str(dataset))
    assert result.returncode == 2
    assert "<html" not in result.stderr.lower()
    assert result.stderr.splitlines()[-1] == (
        f"luna submit: {not_luna} answered with an HTML page (Not Found), not luna's "
        "problem+json: is it luna's address (--server or LUNA_SERVER)? (HTTP 404)"
    )
