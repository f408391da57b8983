"""Atomic file writes: every file the engine writes (workbooks, CSV exports, the meeting pack) is written beside its
target and renamed over it, so the target holds either the old file or the whole new one, even after a kill.

The rename would replace a file its owner marked read-only and give the new file the temp file's mode (0600): a
read-only target is refused instead, and the new file gets the old one's mode and owner. A failure to write (a
read-only folder, a full disk) is a SnopError that says so in words, with nothing left behind."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from snop_xl.errors import SnopError

#: errno -> what it means for the user, in words (str(OSError) starts with a bare "[Errno N]")
_REASONS = {
    errno.ENOSPC: "the disk is full; free some space and try again",
    errno.EDQUOT: "the disk quota is used up; free some space and try again",
    errno.EACCES: "permission denied; check the file's and the folder's permissions",
    errno.EPERM: "permission denied; check the file's and the folder's permissions",
    errno.EROFS: "the folder is on a read-only drive; use a writable folder",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file; give a file name",
    errno.ENAMETOOLONG: "the name is too long",
}


class WriteError(SnopError):
    """A file was not written; `reason` says why in words, for a caller that words the message its own way."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def os_error_reason(exc: OSError) -> str:
    """What an OSError means, in words, without the "[Errno N]" of its str()."""
    if exc.errno is None:  # raised with a message of ours, e.g. FileNotFoundError("x: no such workbook")
        return str(exc)
    return _REASONS.get(exc.errno) or exc.strerror or type(exc).__name__


def os_error_message(exc: OSError) -> str:
    """An OSError as one sentence naming the file: '<file>: <reason>'."""
    if exc.errno is None or not exc.filename:
        return os_error_reason(exc)
    return f"{exc.filename}: {os_error_reason(exc)}"


def read_only_reason(path: Path) -> str | None:
    """Why the existing file `path` must not be replaced, or None. Its owner marked it read-only (no write bit at
    all: chmod 444, Windows' Read-only box; root could write it anyway, the mode says what the owner meant), it
    sits on a read-only drive, or we may not write it."""
    if not stat.S_IMODE(path.stat().st_mode) & 0o222:
        return (f"is marked read-only (Windows: Properties, untick Read-only; Linux/macOS: chmod u+w {path.name}), "
                "or write to another file")
    if hasattr(os, "statvfs") and os.statvfs(path.parent).f_flag & os.ST_RDONLY:
        return "is on a read-only drive: copy it to a writable folder"
    if not os.access(path, os.W_OK):
        return "is not writable for you: ask its owner for write access, or write to another file"
    return None


def check_writable(target: Path) -> None:
    """Refuse to replace a folder or a read-only file; the rename of an atomic write would do both silently."""
    if target.is_dir():
        raise SnopError(f"{target} is a folder, not a file: give the name of the file to write")
    reason = read_only_reason(target) if target.exists() else None
    if reason:
        raise SnopError(f"{target.name} was not changed: it {reason}")


def keep_mode(original: Path, new: Path) -> None:
    """Give `new` the mode, owner and group of `original` (a shared book stays shared); a new file gets the
    mode a plain create would give (0666 less the umask), not the temp file's 0600."""
    if not original.exists():
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(new, 0o666 & ~mask)
        return
    st = original.stat()
    os.chmod(new, stat.S_IMODE(st.st_mode))
    if hasattr(os, "chown"):
        for uid in (st.st_uid, -1):  # the owner only root may give; the group any member may
            try:
                os.chown(new, uid, st.st_gid)
                return
            except OSError:
                pass


def write_atomically(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` to a temp file in `target`'s folder, flushed to disk, then renamed over `target`."""
    target = Path(target)
    check_writable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the pid in the name lets the next command prove a leftover abandoned (snop_xl.io.leftovers)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(f"{target.name} was not written: cannot create a file in {target.parent}: "
                         f"{os_error_reason(exc)}", f"cannot create a file in {target.parent}: "
                         f"{os_error_reason(exc)}") from None
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        keep_mode(target, Path(tmp))
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(f"{target.name} was not written ({os_error_reason(exc)}); "
                             f"{'the file is unchanged' if target.exists() else 'nothing was left behind'}",
                             os_error_reason(exc)) from None
        raise
    return target
