"""Where trials live: Optuna's journal file (default, inside the study folder) or a database URL.

Optuna's own heartbeat works only for RDB storages, so a study marks liveness itself, the same way on
every storage: a running trial refreshes its `heartbeat` user attribute; one whose heartbeat is
older than STALE_AFTER_S (or any running trial when this process holds the study folder's lock and
the storage is the folder's own journal) was interrupted and is failed, then run again.
"""
from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from common.cli import UsageError
from common.mask import mask_secrets

HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")


def storage_kind(url: str) -> str:
    """'journal' or 'rdb'; UsageError naming --storage for anything else."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme in RDB_SCHEMES:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(url)
        except ArgumentError:
            raise UsageError(f"--storage: {mask_secrets(url)!r} is not a valid database URL") from None
        return "rdb"
    if scheme in ("", "file") and url.endswith((".journal", ".log", ".jsonl")):
        return "journal"
    raise UsageError(
        f"--storage: {mask_secrets(url)!r} is not allowed; expected postgresql://..., mysql://..., sqlite:///... "
        "or a journal file path ending in .journal"
    )


def make_storage(url: str):
    """An Optuna storage for `url` (a database URL or a journal file path)."""
    if storage_kind(url) == "rdb":
        engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        return RDBStorage(url, engine_kwargs=engine_kwargs)
    path = Path(url.removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


class FolderLock:
    """An exclusive, non-blocking flock on the study folder: held, no other local run is using it."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.handle = None

    def acquire(self) -> bool:
        self.handle = open(self.path, "a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            self.handle.close()
            self.handle = None
            return False

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class Heartbeat:
    """Refreshes a running trial's `heartbeat` user attribute from a background thread (a context manager)."""

    def __init__(self, trial: optuna.Trial, every: float = HEARTBEAT_S):
        self.trial, self.every = trial, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # the trial finished meanwhile, or the storage blinked: the next beat retries
                pass

    def __enter__(self):
        self.trial.set_user_attr("heartbeat", time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def is_stale(trial, now: float, all_running_stale: bool) -> bool:
    if trial.state != TrialState.RUNNING:
        return False
    if all_running_stale:
        return True
    beat = trial.user_attrs.get("heartbeat")
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - (beat if beat is not None else started) > STALE_AFTER_S


def fail_stale_trials(study: optuna.Study, all_running_stale: bool) -> list[int]:
    """Tell interrupted trials FAIL (not `permanent`, so their points are run again); their numbers."""
    now, failed = time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(trial, now, all_running_stale):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
        except (ValueError, RuntimeError):
            pass  # another worker finished or failed it first
    return failed
