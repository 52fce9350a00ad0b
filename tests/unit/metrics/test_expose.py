"""The text file, written atomically, and the loopback endpoint, scraped over HTTP."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from drorch.config.model import MetricsSettings
from drorch.errors import ConfigError
from drorch.metrics import Publisher, render, write_textfile
from drorch.metrics.expose import split_listen
from tests.unit.metrics.conftest import parse


def gauge(value: float) -> list[Metric]:
    return [GaugeMetricFamily("drorch_test_value", "A test value.", value=value)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(publisher: Publisher) -> requests.Response:
    assert publisher.address is not None
    host, port = publisher.address
    return requests.get(f"http://{host}:{port}/metrics", timeout=5)


@pytest.fixture
def served() -> Iterator[Publisher]:
    publisher = Publisher(MetricsSettings(listen=f"127.0.0.1:{free_port()}"))
    yield publisher
    publisher.close()


def test_textfile_is_replaced_whole_and_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "drorch.prom"
    path.write_text("old content\n", encoding="utf-8")
    os.chmod(path, 0o600)
    write_textfile(path, render(gauge(7)))
    assert parse(path.read_bytes()) == {"drorch_test_value": {(): 7}}
    assert path.stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path) == ["drorch.prom"]  # no temporary file left behind


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    taken = tmp_path / "drorch.prom"
    taken.mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError):
        write_textfile(taken, render(gauge(1)))
    assert os.listdir(tmp_path) == ["drorch.prom"]
    assert taken.is_dir()


def test_publish_writes_the_configured_textfile(tmp_path: Path) -> None:
    path = tmp_path / "drorch.prom"
    publisher = Publisher(MetricsSettings(textfile=path))
    assert publisher.address is None  # no listen: no server
    publisher.publish(gauge(1))
    publisher.publish(gauge(2))
    assert parse(path.read_bytes()) == {"drorch_test_value": {(): 2}}
    publisher.close()


def test_the_endpoint_serves_the_latest_published(served: Publisher) -> None:
    assert scrape(served).text == ""  # nothing published yet
    served.publish(gauge(1))
    assert parse(scrape(served).text) == {"drorch_test_value": {(): 1}}
    served.publish(gauge(2))
    done = scrape(served)
    assert done.status_code == 200 and done.headers["Content-Type"].startswith("text/plain")
    assert parse(done.text) == {"drorch_test_value": {(): 2}}


def test_close_stops_the_endpoint(served: Publisher) -> None:
    address = served.address
    served.close()
    assert served.address is None
    assert address is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address[0]}:{address[1]}/metrics", timeout=5)
    served.close()  # twice is harmless


def test_a_taken_port_is_a_config_error_naming_the_field() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            Publisher(MetricsSettings(listen=f"127.0.0.1:{port}"))
    [issue] = caught.value.issues
    assert issue.field == "metrics.listen"
    assert f"127.0.0.1:{port}" in issue.message and "in use" in issue.message


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9480", ("127.0.0.1", 9480)),
        ("[::1]:9480", ("::1", 9480)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_split_listen(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize("path", ["/", "/index.html", "/favicon.ico", "/metrics/", "/metricsx"])
def test_the_endpoint_serves_only_metrics(served: Publisher, path: str) -> None:
    served.publish(gauge(3))
    assert served.address is not None
    host, port = served.address
    done = requests.get(f"http://{host}:{port}{path}", timeout=5)
    assert done.status_code == 404
    assert done.text == "not found: drorch serves its metrics at /metrics\n"
    assert parse(scrape(served).text) == {"drorch_test_value": {(): 3}}  # still there


def test_a_textfile_that_cannot_be_written_is_one_log_line_until_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon publishes every minute: a missing folder is one clear line (no
    traceback, nothing raised), not one per minute; the endpoint stays current; and the
    recovery is said once too."""
    folder = tmp_path / "gone"
    path = folder / "drorch.prom"
    publisher = Publisher(MetricsSettings(textfile=path, listen=f"127.0.0.1:{free_port()}"))
    caplog.set_level("INFO", logger="drorch.metrics.expose")
    caplog.clear()
    try:
        for value in (1, 2, 3):
            publisher.publish(gauge(value))
        assert parse(scrape(publisher).text) == {"drorch_test_value": {(): 3}}
        folder.mkdir()
        publisher.publish(gauge(4))
        publisher.publish(gauge(5))
    finally:
        publisher.close()
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        (
            "ERROR",
            f"cannot write the metrics text file {path}: No such file or directory; "
            "trying again at each publication, logged again only if the reason changes",
            None,
        ),
        ("INFO", f"the metrics text file {path} is written again", None),
    ]
    assert parse(path.read_bytes()) == {"drorch_test_value": {(): 5}}
