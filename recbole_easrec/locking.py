"""One run per folder: a lock file, ``<folder>/run.lock``, that holds the holder's pid.

The lock is an advisory ``flock`` on that file, so the operating system releases it when the holder
dies (even by SIGKILL): a lock file left behind by a dead process is stale and simply taken over.
A second run into a folder that a live run holds is refused with a one-line :class:`RunLockError`.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType

from recbole_easrec.errors import UserError

LOCK_FILE = "run.lock"


class RunLockError(UserError):
    """The run folder is in use by another live run."""


class RunLock:
    """Exclusive hold of a run folder for the duration of a ``with`` block.

    Usage: ``with RunLock(run_dir): ...``. The folder is created if needed. Entering raises
    :class:`RunLockError` if another live process (or another ``RunLock`` of this process) holds it.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock (or raise :class:`RunLockError`); returns ``self``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_holder(fd)
                os.close(fd)
                raise RunLockError(
                    f"{self.folder} is in use by another run ({holder}, lock file {self.path});"
                    " wait for it to finish or pass another --output_dir"
                ) from None
            if same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file between our open and our flock: retry
        write_holder(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and let go of the lock; safe to call twice."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not one unlinked since it was opened)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def read_holder(fd: int) -> str:
    """``pid N on HOST`` as written by the holder, or ``pid unknown``."""
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    if len(text) >= 2 and text[0].isdigit():
        return f"pid {text[0]} on {text[1]}"
    return "pid unknown"


def write_holder(fd: int) -> None:
    """Replace the lock file's content by ``<pid> <host>``."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
