"""The Redis layer against a real redis-server started here: TLS (`rediss://`, a self-signed certificate
made by openssl), an ACL user with a password, a unix socket; a wrong password and an unreachable
server at start; failures reach callers as `RedisUnavailable` only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from gateway.redisbatch import CommandBatch
from gateway.redisconn import RedisUnavailable, check, connect, where
from tests.conftest import ROOT, GatewayProcess, base_policy, free_port

PASSWORD = "s3cret-acl-password"


@dataclass(frozen=True)
class Server:
    port: int
    tls_port: int
    socket: Path
    ca: Path

    def url(self, user: str = "alice", password: str = PASSWORD) -> str:
        return f"redis://{user}:{password}@127.0.0.1:{self.port}/0"

    def tls_url(self) -> str:
        return f"rediss://alice:{PASSWORD}@127.0.0.1:{self.tls_port}/0?ssl_ca_certs={self.ca}"

    def unix_url(self) -> str:
        return f"unix://alice:{PASSWORD}@{self.socket}?db=0"

    def clients(self) -> int:
        admin = redis.Redis(port=self.port, username="alice", password=PASSWORD)
        try:
            return int(admin.info("clients")["connected_clients"])
        finally:
            admin.close()


def _certificate(workdir: Path) -> Path:
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("redis-server and openssl are needed")
    workdir = tmp_path_factory.mktemp("redis-tls")
    cert = _certificate(workdir)
    found = Server(free_port(), free_port(), workdir / "redis.sock", cert)
    args = ["redis-server", "--port", str(found.port), "--tls-port", str(found.tls_port), "--tls-cert-file", str(cert),
            "--tls-key-file", str(workdir / "key.pem"), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
            "--unixsocket", str(found.socket), "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--user", "default", "off", "--user", "alice", "on", f">{PASSWORD}", "~*", "&*",
            "+@all"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            if "tls" in output.lower():
                pytest.skip(f"this redis-server has no TLS: {output[-300:]}")
            pytest.fail(f"redis-server exited: {output[-2000:]}")
        try:
            found.clients()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield found
    process.terminate()
    process.wait(10)


async def _round_trip(url: str) -> None:
    client = connect(url, max_connections=4, timeout_s=2.0)
    batch = CommandBatch(client)
    try:
        await client.set("redisconn:k", "v")  # a command
        async with client.pipeline(transaction=True) as pipe:  # a pipeline
            pipe.incr("redisconn:n").expire("redisconn:n", 60)
            assert (await pipe.execute())[1] is True
        assert await batch.call("GET", "redisconn:k") == b"v"  # the request path's batches
        assert await check(client, url) is None
    finally:
        await batch.aclose()
        await client.aclose()


async def test_tls_with_an_acl_user(server: Server) -> None:
    await _round_trip(server.tls_url())


async def test_unix_socket_with_an_acl_user(server: Server) -> None:
    await _round_trip(server.unix_url())


async def test_plain_tcp_with_an_acl_user(server: Server) -> None:
    await _round_trip(server.url())


async def test_tls_without_the_ca_is_refused_as_unavailable(server: Server) -> None:
    client = connect(server.tls_url().partition("?")[0], max_connections=2, timeout_s=2.0)
    with pytest.raises(RedisUnavailable):
        await client.get("redisconn:k")
    await client.aclose()


async def test_a_wrong_password_is_a_credentials_error_and_leaks_no_connection(server: Server) -> None:
    before = server.clients()
    url = server.url(password="wrong-password")
    client = connect(url, max_connections=4, timeout_s=2.0)
    batch = CommandBatch(client)
    for _ in range(20):
        with pytest.raises(RedisUnavailable) as caught:
            await batch.call("GET", "redisconn:k")
        assert caught.value.refused_credentials and "wrong-password" not in str(caught.value)
    problem = await check(client, url)
    assert problem is not None and "refused the user or password" in problem and "wrong-password" not in problem
    await batch.aclose()
    await client.aclose()
    assert server.clients() <= before + 1


async def test_an_unreachable_server_is_one_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = connect(url, max_connections=1, timeout_s=0.5)
    problem = await check(client, url)
    await client.aclose()
    assert problem is not None and "is unreachable" in problem and "\n" not in problem


def test_where_hides_the_credentials() -> None:
    assert where("rediss://alice:pw@h:6380/0?ssl_ca_certs=/ca.pem") == "rediss://h:6380/0?ssl_ca_certs=/ca.pem"
    assert where("unix://alice:pw@/run/redis.sock?db=0") == "unix:///run/redis.sock?db=0"


def test_serve_with_a_wrong_password_says_so_in_one_line_and_is_not_ready(
        server: Server, gateway_factory: Callable[..., GatewayProcess]) -> None:
    policy = base_policy("http://127.0.0.1:9")
    policy["redis"] = {"url_env": "TURNOUT_REDIS_URL"}
    gw = gateway_factory(policy, env={"TURNOUT_REDIS_URL": server.url(password="wrong-password")})
    assert httpx.get(gw.base_url + "/readyz", timeout=10).status_code == 503
    line = f"Redis at redis://127.0.0.1:{server.port}/0 refused the user or password"
    logs = gw.wait_for_log(line)
    assert "Traceback" not in logs and "wrong-password" not in logs


def test_serve_with_an_unusable_url_stops_with_one_line(tmp_path: Path) -> None:
    policy = base_policy("http://127.0.0.1:9")
    policy["redis"] = {"url_env": "TURNOUT_REDIS_URL"}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    env = {"PATH": "/usr/bin:/bin", "TURNOUT_REDIS_URL": "redis://alice:pw@127.0.0.1:port/0"}
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--policy", str(path), "--port",
                           str(free_port()), "--no-simulator"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("turnout: the Redis URL redis://127.0.0.1:port/0 cannot be used")
    assert "pw@" not in done.stderr
