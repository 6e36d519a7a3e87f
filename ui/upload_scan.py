"""An uploaded zip measured against the session budget before it is unpacked (issue 22).

``optimizer.read_zip`` unpacks every scenario file of a zip into memory (up to 50 MB each) and
``budget.check_files`` then counts their rows. A legal 4.3 MB zip of 160,000 sites unpacks to
tens of MB before that count refuses it. ``precheck_zip(data, label)`` streams each scenario
table of the zip in 1 MB pieces, counting line breaks and unpacked bytes, and stops at the first
piece that crosses a limit (``budget.limits()``: sites, rows per table, MB in all): at most one
piece of the file is ever held, whatever its size.

Counting line breaks can only overstate the rows (a quoted name holding a line break counts
twice), as ``budget._rows`` does. A zip this code cannot read (damaged, encrypted, another
compression method) is let through: ``read_zip`` says what is wrong with it, naming the file.

No streamlit import: the upload handler in ``ui/main.py`` calls it; tests call it directly.
"""
from __future__ import annotations

import io
import lzma
import zipfile
import zlib

import optimizer
from optimizer.inputs import tables as T

from ui import budget

PIECE_BYTES = 1 << 20  # read a member this much at a time


def _over(label: str, base: str, rows: int, lim: dict[str, float]) -> optimizer.Problem | None:
    where = f"{label}:{base}"
    if base == "sites.csv" and rows > lim["sites"]:
        return optimizer.Problem(where, None, None, f"has more than {lim['sites']:,.0f} sites (counting stopped at "
                                 f"{rows:,}); this server takes at most {lim['sites']:,.0f} per scenario "
                                 f"({budget.ENV_MAX_SITES})", "keep the candidate sites that can matter (the CLI has "
                                 "no limit)")
    if base != "sites.csv" and rows > lim["rows"]:
        return optimizer.Problem(where, None, None, f"has more than {lim['rows']:,.0f} rows (counting stopped at "
                                 f"{rows:,}); this server takes at most {lim['rows']:,.0f} per table "
                                 f"({budget.ENV_MAX_ROWS})", "aggregate the rows, or run the scenario with the CLI")
    return None


def precheck_zip(data: bytes, label: str = "upload.zip") -> None:
    """ScenarioError (one problem, naming ``label:file``) as soon as a scenario table in the zip
    ``data`` is over the session's site or row budget, or its tables unpack to more than the MB
    budget; returns None otherwise (including for a zip it cannot read: ``read_zip`` reports those)."""
    lim = budget.limits()
    known = {spec.file for spec in T.TABLES.values() if spec.file.endswith(".csv")}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return
    total = 0
    with zf:
        for info in zf.infolist()[:200]:
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if info.is_dir() or base not in known or "__MACOSX" in info.filename:
                continue
            rows, size, last = -1, 0, b"\n"  # the header line is not a row
            problem = None
            try:
                with zf.open(info) as member:
                    while problem is None and (piece := member.read(PIECE_BYTES)):
                        rows += piece.count(b"\n")
                        size += len(piece)
                        total += len(piece)
                        last = piece[-1:]
                        problem = _over(label, base, rows, lim)
                        if problem is None and total > lim["mb"] * 1e6:
                            problem = optimizer.Problem(
                                label, None, None, f"unpacks to more than {lim['mb']:g} MB of scenario files; this "
                                f"server takes at most {lim['mb']:g} MB per upload ({budget.ENV_MAX_UPLOAD_MB})",
                                "split the scenario, or run it with the CLI (python -m optimizer solve)")
            except (NotImplementedError, RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error,
                    lzma.LZMAError):
                return  # read_zip names what is wrong with this member
            if problem is None and size and last != b"\n":
                rows += 1
                problem = _over(label, base, rows, lim)
            if problem is not None:
                raise optimizer.ScenarioError([problem])
