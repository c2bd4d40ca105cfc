"""A PostgreSQL cluster of the test's own, on a free port, that a test may stop and start.

Never the machine's shared server (others' tests use it): ``initdb`` + ``pg_ctl`` in a
temporary folder. The binaries come from ``pg_config --bindir`` (or PATH). Missing
binaries skip the test with a loud reason, and fail it under ``CI=true``. As root,
the cluster runs as the ``postgres`` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.ports import free_port as _free_port


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        folder = Path(found.stdout.strip())
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


class PrivatePostgres:
    def __init__(self, bindir: Path, folder: Path, port: int, as_user: list[str]) -> None:
        self.bindir, self.folder, self.port, self._as = bindir, folder, port, as_user
        self.data = folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                  "-U", "postgres", "--no-sync", "-E", "UTF8")  # fmt: skip

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")  # fmt: skip
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "-t", "30", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _bindir()
    if bindir is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found: the restart test needs them"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip("!!! " + reason)
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="callcenter-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = None
        if runuser is None or account is None:
            pytest.skip("!!! running as root without a postgres user: cannot run initdb")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = [runuser, "-u", "postgres", "--"]
    cluster = PrivatePostgres(bindir, folder, _free_port(), as_user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with suppress(RuntimeError):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
