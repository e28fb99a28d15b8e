"""Two workers sharing one study on a real PostgreSQL server, started in a temporary folder."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pandas as pd
import pytest

from tests._study import cli, completed_points, study_here, tiny


def _pg_bin(name):
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]'")
    as_user = []
    root = tempfile.mkdtemp(prefix="spectrum-pg-", dir="/tmp")
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), _free_port()
    # a throwaway server: nothing is synced to disk (what the test asks of it is sharing, not durability)
    subprocess.run([*as_user, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
                    f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgresql_finish_the_grid_without_duplicates(postgres_url, tmp_path, capsys):
    args = ["--space", "segments", "--match", "none", "--out", str(tmp_path / "run"), "--storage", postgres_url,
            *tiny(2)]
    with study_here():  # two worker processes, started from this one
        assert cli(*args, "--workers", "2") == 0, capsys.readouterr().err
    first = pd.read_csv(tmp_path / "run" / "trials.csv")
    points = completed_points(first)
    assert len(points) == len(set(points)) == 3 * 2
    # a worker that drew a point another was running stored it PRUNED as a duplicate, untrained
    others = first[first.state != "COMPLETE"]
    assert others.empty or others["duplicate_of"].notna().all(), others
    assert cli(*args, "--workers", "1") == 0, capsys.readouterr().err  # resuming from the server, here,
    assert len(pd.read_csv(tmp_path / "run" / "trials.csv")) == len(first)  # trains nothing new
