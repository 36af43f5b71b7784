"""A bad environment for the embedded Apache Kafka gives one clear line, falls back where that makes
sense, and leaves nothing running: fake `java` and `mvn` on PATH stand in for each fault."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from processor.devkit.stack import EmbeddedStack, apache_kafka
from processor.errors import KafkaUnavailable, StackError


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """A PATH of our own (plus the basics the scripts need) and an empty jar cache."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return folder


JAVA_17 = 'if [ "$1" = "-version" ]; then echo \'openjdk version "17.0.15" 2025-04-15\' >&2; exit 0; fi'


def test_no_java(fake_bin, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_bin))  # not even /usr/bin
    with pytest.raises(KafkaUnavailable, match="no Java runtime: install one"):
        apache_kafka.java_binary()


def test_java_too_old(fake_bin):
    _script(fake_bin, "java", "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2")
    with pytest.raises(KafkaUnavailable, match=r"is Java 11; Apache Kafka .* needs Java 17\+"):
        apache_kafka.java_binary()
    _script(fake_bin, "java", "echo 'java version \"1.8.0_292\"' >&2")
    with pytest.raises(KafkaUnavailable, match="is Java 8"):
        apache_kafka.java_binary()


def test_no_maven_and_no_cache(fake_bin, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_bin))  # Debian's mvn is in /usr/bin
    with pytest.raises(KafkaUnavailable, match=r"no Maven to resolve Apache Kafka .*: apt-get install maven"):
        apache_kafka.resolve_jars()


def test_maven_central_unreachable(fake_bin):
    _script(fake_bin, "mvn", "echo '[ERROR] Could not transfer artifact: Connection refused'; exit 1")
    with pytest.raises(
        KafkaUnavailable, match=r"Maven could not resolve .* \(is Maven Central reachable\?\).*Connection refused"
    ):
        apache_kafka.resolve_jars()
    assert not apache_kafka.cache_dir(apache_kafka.version()).exists(), "a failed resolution leaves no cache"


def test_a_corrupt_jar_cache_is_resolved_again(fake_bin, tmp_path):
    libs = apache_kafka.cache_dir(apache_kafka.version()) / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.1.1.jar").write_bytes(b"not a zip")
    (libs.parent / "complete").write_text("kafka_2.13-4.1.1.jar\n")
    calls = tmp_path / "mvn-called"
    # a Maven that "resolves" one good jar
    _script(
        fake_bin,
        "mvn",
        f'touch {calls}; for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${{a#-DoutputDirectory=}}";; '
        "esac; done; python3 -c \"import zipfile,sys; zipfile.ZipFile(sys.argv[1],'w').writestr('x','y')\" "
        '"$out/kafka_2.13-4.1.1.jar"',
    )
    assert apache_kafka.resolve_jars() == libs
    assert calls.exists(), "the corrupt cache was used instead of being resolved again"
    assert (libs.parent / "complete").read_text().split() == ["kafka_2.13-4.1.1.jar"]


def test_two_processes_resolving_at_once_run_maven_once_and_both_get_the_jars(fake_bin, tmp_path):
    """Parallel test workers (or two stacks) on a new machine: the second waits for the first's jars."""
    calls = tmp_path / "mvn-calls"
    _script(  # a slow Maven that counts its calls and "resolves" one good jar
        fake_bin,
        "mvn",
        f'echo x >> {calls}; sleep 1; for a in "$@"; do case "$a" in -DoutputDirectory=*) '
        'out="${a#-DoutputDirectory=}";; esac; done; '
        "python3 -c \"import zipfile,sys; zipfile.ZipFile(sys.argv[1],'w').writestr('x','y')\" "
        '"$out/kafka_2.13-4.1.1.jar"',
    )
    resolve = "from processor.devkit.stack import apache_kafka; print(apache_kafka.resolve_jars())"
    runs = [subprocess.Popen([sys.executable, "-c", resolve], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    libs = apache_kafka.cache_dir(apache_kafka.version()) / "libs"
    assert outputs == [str(libs), str(libs)] and (libs / "kafka_2.13-4.1.1.jar").is_file()
    assert calls.read_text().split() == ["x"], "Maven ran once"


def _whole_cache() -> None:
    libs = apache_kafka.cache_dir(apache_kafka.version()) / "libs"
    libs.mkdir(parents=True)
    import zipfile

    with zipfile.ZipFile(libs / "kafka_2.13-4.1.1.jar", "w") as jar:
        jar.writestr("x", "y")
    (libs.parent / "complete").write_text("kafka_2.13-4.1.1.jar\n")


def test_a_jvm_that_exits_during_start_is_one_line_and_leaves_nothing(fake_bin, tmp_path):
    _whole_cache()
    # formats fine, then the broker exits at once (as with a port taken)
    _script(
        fake_bin, "java", JAVA_17 + '\ncase "$*" in *StorageTool*) exit 0;; esac\necho "Address already in use"; exit 1'
    )
    stack = EmbeddedStack(tmp_path / "stack", broker="kafka")
    with pytest.raises(StackError, match=r"Apache Kafka exited with 1 while starting; see .*kafka-server.log"):
        stack.start()
    assert not any(Path(f"/proc/{s.pid}").exists() for s in stack.state.services), "something was left running"


def test_auto_falls_back_to_tansu_saying_why_and_kafka_refuses(fake_bin, tmp_path, capfd):
    _script(fake_bin, "java", "echo 'openjdk version \"11.0.2\"' >&2")
    with EmbeddedStack(tmp_path / "auto", redis=False) as stack:
        assert stack.state.broker == "tansu"
    # (the stack's own lines: a client thread of an earlier test may log to the same stderr meanwhile)
    said = [line for line in capfd.readouterr().err.strip().splitlines() if line.startswith("srguard stack:")]
    assert said == [
        f"srguard stack: Apache Kafka unavailable ({fake_bin}/java is Java 11; Apache Kafka "
        f"{apache_kafka.version()} needs Java 17+); using tansu instead"
    ]
    with pytest.raises(StackError, match=r"Apache Kafka cannot start: .* is Java 11"):
        EmbeddedStack(tmp_path / "strict", redis=False, broker="kafka").start()
    with pytest.raises(StackError, match="broker 'kafak' is not one of auto, kafka, tansu"):
        EmbeddedStack(broker="kafak")
    assert os.environ["PATH"].startswith(str(fake_bin))


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch):
    """kafka-storage reads "-t -abc..." as a missing argument: the stack fell back to tansu once in 64 starts."""
    dash_first = uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64 of 0xF8... begins with "-"
    plain = uuid.UUID(bytes=bytes(16))
    drawn = iter([dash_first, dash_first, plain])
    monkeypatch.setattr(apache_kafka.uuid, "uuid4", lambda: next(drawn))
    assert apache_kafka.cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
