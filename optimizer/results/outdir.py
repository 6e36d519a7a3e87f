"""Output folders written whole or not at all.

``write_folder(out_dir, files)`` writes ``{relative name: bytes or text}`` into a temporary sibling
folder (``.NAME.tmp-PID-RANDOM``, same file system), flushes every file to disk, then puts the
folder in place with one rename: ``renameat2(RENAME_EXCHANGE)`` swaps it with the previous folder
atomically where Linux offers it, else the previous folder is renamed aside first. A full disk,
an exception or a kill -9 midway leaves the previous folder untouched (plus, at worst, a hidden
temporary sibling that the next write to the same folder removes when its process is gone).

The previous folder is replaced whole (no stale file of an earlier run or version stays beside the
new ones). It may hold only files a Rigshift command writes (OUTPUT_NAMES, plus the names being
written): a folder holding anything else (``--out .``, ``--out ~/Documents``, a note of the user's)
is refused with OSError EEXIST naming it, and left untouched; so is a scenario folder (scenario.toml or
rigs.csv) that the new files are not a scenario to replace (``solve S --out S``).

``safe_relative(name)``: a file name from stored data (a library version) confined to its folder:
no absolute path, no ``..``, no drive or backslash; ValueError otherwise.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Mapping

_RENAME_EXCHANGE = 2  # linux/fs.h
# Every file a Rigshift command writes into an output folder (solve, backtest, sample, risk, frontier,
# stress, replay, report, library load): a folder holding only these may be replaced whole.
OUTPUT_NAMES = frozenset({
    "allocation.csv", "sites.csv", "jurisdictions.csv", "summary.json",
    "backtest.json", "backtest_jurisdictions.csv", "samples.csv", "bans.csv", "hashprice.csv",
    "risk.csv", "risk.json", "frontier.csv", "frontier_sites.csv", "frontier_jurisdictions.csv", "frontier.json",
    "stress.csv", "stress_moves.csv", "stress.json", "report.html", "report.pdf", "plan.xlsx",
    "rigs.csv", "origins.csv", "fleet.csv", "lanes.csv", "market.csv", "scenario.toml", "README.md",
    "resale.csv", "replay.csv", "replay.json", "schedule.csv", "monthly.csv",
})
# A folder holding one of these is a scenario: replaced only by a scenario (``library load``).
SCENARIO_MARKS = ("scenario.toml", "rigs.csv")
# Sub-folders a command writes inside its output folder (``frontier``: one plan per risk weight).
OUTPUT_SUBFOLDER = re.compile(r"weight_\d+(\.\d+)?")


def _ours(entry: Path) -> bool:
    """A file or sub-folder of an output folder that a Rigshift command wrote (may be replaced)."""
    if entry.is_symlink():
        return False
    if entry.is_file():
        return entry.name in OUTPUT_NAMES
    if entry.is_dir() and OUTPUT_SUBFOLDER.fullmatch(entry.name):
        return all(p.is_file() and not p.is_symlink() and p.name in OUTPUT_NAMES for p in entry.iterdir())
    return False


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
    if target.is_dir():
        scenario_files = sorted(n for n in SCENARIO_MARKS if (target / n).is_file() and n not in tops)
        if scenario_files:  # e.g. `solve myscenario --out myscenario`: never replace a scenario with results
            raise FileExistsError(errno.EEXIST, f"holds a scenario ({', '.join(scenario_files)}); results are not "
                                  "written over a scenario folder, so give a new folder", str(target))
        for entry in sorted(target.iterdir()):
            ours = entry.name in tops or _ours(entry)
            if not ours:
                raise FileExistsError(errno.EEXIST, f"holds '{entry.name}', which no Rigshift command writes; the "
                                      "folder is replaced whole, so give a new folder (or move that out)", str(target))
    tmp = parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
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
