"""Output folders written whole or not at all.

``write_folder(out_dir, files)`` writes ``{relative name: bytes or text}`` into a temporary sibling
folder (``.NAME.tmp-PID-RANDOM``, same file system), flushes every file to disk, then puts the
folder in place with one rename: ``renameat2(RENAME_EXCHANGE)`` swaps it with the previous folder
atomically where Linux offers it, else the previous folder is renamed aside first. A full disk,
an exception or a kill -9 midway leaves the previous folder untouched (plus, at worst, a hidden
temporary sibling that the next write to the same folder removes when its process is gone).

The previous folder's other files (another command's outputs, e.g. ``report`` after ``solve``
into the same folder) are carried into the new one by hard link, so nothing the user had there is
lost; a folder that holds sub-folders this write does not produce is refused (OSError EEXIST)
rather than replaced, so ``--out .`` never swaps a project away.

``safe_relative(name)``: a file name from stored data (a library version) confined to its folder:
no absolute path, no ``..``, no drive or backslash; ValueError otherwise.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Mapping

_RENAME_EXCHANGE = 2  # linux/fs.h


def safe_relative(name: str) -> PurePosixPath:
    """``name`` as a relative path inside its folder; ValueError for ``../x``, ``/abs``, ``C:\\x``, empty parts."""
    text = str(name)
    if not text or "\\" in text or "\x00" in text or (len(text) > 1 and text[1] == ":"):
        raise ValueError(f"'{text}' is not a plain relative file name")
    path = PurePosixPath(text)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise ValueError(f"'{text}' points outside its folder")
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False  # file system without exchange: fall back
    raise OSError(err, os.strerror(err), str(b))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(target: Path) -> None:
    """Temporary siblings of ``target`` left by writers that were killed (their process is gone); a
    previous folder set aside by a writer killed between its two renames is put back."""
    for p in sorted(target.parent.glob(f".{target.name}.tmp-*")):
        try:
            pid = int(p.name.rsplit(".tmp-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        if p.name.endswith("-old") and not target.exists():
            os.rename(p, target)
        else:
            shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_folder(out_dir: str | Path, files: Mapping[str, bytes | str]) -> Path:
    """Write ``files`` (relative name -> bytes, or text written as UTF-8) as the folder ``out_dir``,
    whole or not at all (see the module docstring); returns the folder. Raises OSError (the
    previous folder is then as it was) and ValueError for a name outside the folder."""
    target = Path(out_dir)
    names = {str(safe_relative(n)): data for n, data in files.items()}
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(target))
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    tops = {PurePosixPath(n).parts[0] for n in names}
    carried: list[Path] = []
    if target.is_dir():
        for entry in target.iterdir():
            if entry.name in tops:
                continue
            if entry.is_dir() and not entry.is_symlink():
                raise FileExistsError(errno.EEXIST, f"holds the folder '{entry.name}' this write does not produce; "
                                      "give a new folder or one a previous run wrote", str(target))
            carried.append(entry)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for entry in carried:  # the previous folder's other files: hard links (copies across devices)
            try:
                os.link(entry, tmp / entry.name, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry, tmp / entry.name, follow_symlinks=False)
        for name, data in names.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            with open(path, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if not target.exists():
            os.rename(tmp, target)
        elif _exchange(tmp, target):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous folder
        else:
            aside = parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-old"
            os.rename(target, aside)
            os.rename(tmp, target)
            shutil.rmtree(aside, ignore_errors=True)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
