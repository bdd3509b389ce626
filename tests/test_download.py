"""Dataset download (RecBole's hosted datasets) against a local HTTP server on 127.0.0.1.

A complete download is verified and unpacked into ``data_path/<dataset>``; a truncated transfer,
a bad archive, an unknown name or no network is a one-line :class:`DataError` that leaves no
dataset folder (nor any temporary file) behind. RecBole's own ``create_dataset`` downloads a
missing dataset through the same code, without its ``torch.distributed.barrier`` crash.
"""

from __future__ import annotations

import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from recbole.data import create_dataset

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec.config import build_config
from recbole_easrec.data import download
from recbole_easrec.errors import DataError
from tests.conftest import tiny_config, write_cycle_dataset


def archive_bytes(tmp_path: Path, stem: str = "Tiny_Set") -> bytes:
    """A zip like RecBole's: atomic files named after the archive (``Tiny_Set.inter``)."""
    source = write_cycle_dataset(tmp_path / "source") / "tiny" / "tiny.inter"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr(f"{stem}.inter", source.read_bytes())
    return buffer.getvalue()


def damaged(data: bytes) -> bytes:
    """``data`` with one byte of the first member's compressed content flipped (CRC mismatch)."""
    corrupt = bytearray(data)
    corrupt[60] ^= 0xFF
    return bytes(corrupt)


class Routes(BaseHTTPRequestHandler):
    """Serves ``self.server.routes``: path → (body, bytes announced in Content-Length)."""

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, announced = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, tuple[bytes, int]]]]:
    """(base URL, routes) of a server on 127.0.0.1; tests fill the routes."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.routes
    httpd.shutdown()
    httpd.server_close()


def assert_nothing_left(data_path: Path) -> None:
    """A failed download leaves no folder behind, not even an empty one (issue 30, item 8)."""
    assert not data_path.exists()


def test_download_verifies_unpacks_and_renames(server, tmp_path):
    base, routes = server
    data = archive_bytes(tmp_path)
    routes["/Tiny_Set.zip"] = (data, len(data))
    folder = download.download_dataset("tiny", tmp_path / "data", url=f"{base}/Tiny_Set.zip")
    assert folder == tmp_path / "data" / "tiny"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["tiny"]  # no temporary left
    expected = (tmp_path / "source" / "tiny" / "tiny.inter").read_bytes()
    assert (folder / "tiny.inter").read_bytes() == expected
    settings = tiny_config(tmp_path / "data")
    dataset = create_dataset(build_config("SASRec", "tiny", config_dict=settings))
    assert dataset.user_num - 1 == 60


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("truncated", "cut short"),
        ("not_zip", "not a valid zip archive"),
        ("crc", "damaged"),
        ("no_inter", "holds no tiny.inter"),
        ("missing", "HTTP 404"),
    ],
)
def test_bad_download_is_one_line_and_leaves_nothing(server, tmp_path, case, message):
    base, routes = server
    data = archive_bytes(tmp_path)
    bodies = {
        "truncated": (data[: len(data) // 2], len(data)),
        "not_zip": (b"<html>not an archive</html>", 27),
        "crc": (damaged(data), len(data)),
        "no_inter": (archive_bytes(tmp_path, stem="Other"), len(archive_bytes(tmp_path, "Other"))),
    }
    if case in bodies:
        routes["/Tiny_Set.zip"] = bodies[case]
    with pytest.raises(DataError, match=message) as caught:
        download.download_dataset("tiny", tmp_path / "data", url=f"{base}/Tiny_Set.zip")
    assert "\n" not in str(caught.value)
    assert_nothing_left(tmp_path / "data")


def test_offline_is_one_line(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataError, match="cannot download .*internet connection") as caught:
        download.download_dataset("tiny", tmp_path / "data", url=f"http://127.0.0.1:{port}/x.zip")
    assert "\n" not in str(caught.value)
    assert_nothing_left(tmp_path / "data")


def test_unknown_dataset_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="RecBole hosts no dataset of that name"):
        download.download_dataset("no-such-dataset", tmp_path / "data")
    assert download.dataset_url("ml-1m").endswith(".zip")  # from RecBole's url.yaml


def test_existing_folder_is_left_as_it_is(tmp_path):
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    marker = tmp_path / "data" / "tiny" / "mine.txt"
    marker.write_text("kept")
    assert download.download_dataset("tiny", tmp_path / "data", url="http://127.0.0.1:9/x.zip")
    assert marker.read_text() == "kept"


def test_recbole_create_dataset_downloads_without_barrier(server, tmp_path, monkeypatch):
    """RecBole's own path (``Dataset._download``) in a single process: no distributed crash."""
    base, routes = server
    data = archive_bytes(tmp_path)
    routes["/Tiny_Set.zip"] = (data, len(data))
    monkeypatch.setattr(download, "recbole_urls", lambda: {"tiny": f"{base}/Tiny_Set.zip"})
    settings = tiny_config(tmp_path / "data")
    dataset = create_dataset(build_config("SASRec", "tiny", config_dict=settings))
    assert (tmp_path / "data" / "tiny" / "tiny.inter").is_file()
    assert dataset.inter_num == 60 * 12


def test_command_line(server, tmp_path, capsys):
    base, routes = server
    data = archive_bytes(tmp_path)
    routes["/Tiny_Set.zip"] = (data[:100], len(data))
    url = f"{base}/Tiny_Set.zip"
    assert (
        download.main(["--dataset=tiny", f"--data_path={tmp_path / 'data'}", f"--url={url}"]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    routes["/Tiny_Set.zip"] = (data, len(data))
    assert (
        download.main(["--dataset=tiny", f"--data_path={tmp_path / 'data'}", f"--url={url}"]) == 0
    )
    assert (tmp_path / "data" / "tiny" / "tiny.inter").is_file()


def test_our_run_downloads_a_missing_hosted_dataset_first(server, tmp_path, monkeypatch, capsys):
    """``run_recbole_easrec.py --dataset=NAME`` on a missing hosted dataset: downloaded, then run."""
    from recbole_easrec.cli import main

    base, routes = server
    data = archive_bytes(tmp_path)
    routes["/Tiny_Set.zip"] = (data, len(data))
    monkeypatch.setattr(download, "recbole_urls", lambda: {"tiny": f"{base}/Tiny_Set.zip"})
    settings = tiny_config(tmp_path / "data", tmp_path / "run", epochs=1)
    argv = ["--model=LinRec", "--dataset=tiny", *(f"--{k}={v}" for k, v in settings.items())]
    assert main(argv) == 0
    assert (tmp_path / "data" / "tiny" / "tiny.inter").is_file()
    assert (tmp_path / "run" / "result.json").is_file()


def test_our_run_offline_names_the_missing_file_and_the_failed_download(
    tmp_path, monkeypatch, capsys
):
    from recbole_easrec.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(
        download, "recbole_urls", lambda: {"tiny": f"http://127.0.0.1:{port}/x.zip"}
    )
    argv = ["--model=LinRec", "--dataset=tiny", f"--data_path={tmp_path / 'data'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: dataset 'tiny' is not in") and "internet connection" in err
    assert_nothing_left(tmp_path / "data")
    # switched off: the plain missing-file error, no download attempted
    assert main([*argv, "--download_missing=False"]) == 2
    assert "not found: expected" in capsys.readouterr().err
