"""A local 3-node Redis Cluster on loopback: three redis-server --cluster-enabled plus redis-cli --cluster create."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from processor.devkit.stack import free_port, redis_server_binary


@contextmanager
def redis_cluster(workdir: Path) -> Iterator[str]:
    server = redis_server_binary()
    cli = shutil.which("redis-cli") or str(server.with_name("redis-cli"))
    ports = [free_port() for _ in range(3)]
    processes = []
    try:
        for port in ports:
            # The bus defaults to port + 10000, past 65535 for high ephemeral ports: name it.
            processes.append(
                subprocess.Popen(
                    [
                        str(server),
                        "--port",
                        str(port),
                        "--cluster-port",
                        str(free_port()),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(workdir),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda p=port: redis.Redis(port=p).ping())
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait(lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in ports))
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for process in processes:
            process.kill()
            process.wait(10)


def _wait(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise TimeoutError("redis cluster did not come up")


def cluster_client(url: str) -> RedisCluster:
    return RedisCluster.from_url(url)
