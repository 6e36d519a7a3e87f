"""Coordinates as people type them: 31°51′N, 102°22'W, 51.72N, "46 48 36", -71 12 36.

Converted to decimal degrees (south and west negative), or refused with a hint that gives
the decimal-degree value and the sign rule. Plain decimal numbers are left to the table parser.
"""
from __future__ import annotations

import math
import re

_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_DEG = "°º˚"
_MIN = "'′’‘`"
_SEC = "\"″”“"
_ALLOWED = re.compile(r"^[\s\d.,+\-" + _DEG + _MIN + _SEC + r"NSEWnsew]+$")
AXES = {"lat": ("N", "S", 90.0, "latitude"), "lon": ("E", "W", 180.0, "longitude")}
SIGN_RULE = "decimal degrees, south and west negative"


def looks_like_coordinate(cell: str) -> bool:
    return bool(cell) and not _PLAIN.match(cell) and bool(_ALLOWED.match(cell)) and any(ch.isdigit() for ch in cell)


def parse(cell: str, axis: str) -> tuple[float | None, str | None, str | None]:
    """(decimal degrees, error, hint) for a degrees-minutes-seconds or lettered cell; (None, None, None)
    when the cell is not in such a form (a plain number, or something else for the number parser)."""
    text = cell.strip()
    if not looks_like_coordinate(text):
        return None, None, None
    pos, neg, limit, word = AXES[axis]
    letters = [ch.upper() for ch in text if ch.isalpha()]
    body = text
    sign = 1.0
    if letters:
        if len(letters) > 1:
            return None, f"'{cell}' has more than one compass letter", _hint(None, word)
        letter = letters[0]
        if letter not in (pos, neg):
            other = "longitude" if axis == "lat" else "latitude"
            return None, f"'{cell}' is marked {letter}, which is a {other} direction", \
                f"is this the {other}? a {word} is marked {pos} or {neg} ({SIGN_RULE})"
        stripped = text.strip()
        if not (stripped[0].upper() == letter or stripped[-1].upper() == letter):
            return None, f"'{cell}': the letter {letter} must come first or last", _hint(None, word)
        body = text.replace(text[[ch.upper() for ch in text].index(letter)], " ", 1)
        sign = -1.0 if letter == neg else 1.0
    body = body.strip().replace("−", "-")
    minus = body.startswith("-")
    if minus or body.startswith("+"):
        body = body[1:]
    if "-" in body or "+" in body:
        return None, f"'{cell}' is not a coordinate", _hint(None, word)
    if minus and letters:
        return None, f"'{cell}' has both a minus sign and the letter {letters[0]}", \
            f"write it once, as {SIGN_RULE}, e.g. {'-' if letters[0] == neg else ''}{_value_text(body) or '12.5'}"
    parts = _NUMBER.findall(body)
    if not 1 <= len(parts) <= 3:
        return None, f"'{cell}' is not a coordinate", _hint(None, word)
    # Numbers must be separated by unit marks or spaces only, in order degrees, minutes, seconds.
    rest = _NUMBER.sub("#", body)
    if re.sub(r"[\s" + _DEG + _MIN + _SEC + r"]", "", rest) != "#" * len(parts):
        return None, f"'{cell}' is not a coordinate", _hint(None, word)
    try:
        nums = [float(p.replace(",", ".")) for p in parts]
    except ValueError:
        return None, f"'{cell}' is not a coordinate", _hint(None, word)
    if any(not float(n).is_integer() for n in nums[:-1]):
        return None, f"'{cell}': only the last of degrees, minutes, seconds may have decimals", _hint(None, word)
    if len(nums) > 1 and not all(0 <= n < 60 for n in nums[1:]):
        return None, f"'{cell}': minutes and seconds must be below 60", _hint(None, word)
    value = nums[0] + (nums[1] / 60 if len(nums) > 1 else 0) + (nums[2] / 3600 if len(nums) > 2 else 0)
    value = round(value * sign * (-1.0 if minus else 1.0), 6)
    if not math.isfinite(value) or abs(value) > limit:
        return None, f"'{cell}' is {value:g} degrees, outside -{limit:g}..{limit:g}", _hint(None, word)
    return value, None, None


def _value_text(body: str) -> str | None:
    parts = _NUMBER.findall(body)
    if not parts:
        return None
    try:
        nums = [float(p.replace(",", ".")) for p in parts[:3]]
    except ValueError:
        return None
    value = nums[0] + sum(n / 60 ** (i + 1) for i, n in enumerate(nums[1:]))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _hint(value: float | None, word: str) -> str:
    example = "31.85 or -102.3667" if word == "latitude" or word == "longitude" else "12.5"
    return f"write the {word} in {SIGN_RULE} (e.g. {example}); 31°51′N is 31.85 and 102°22′W is -102.3667"


def convert_frame(frame, file: str, columns=("lat", "lon")):
    """Convert lettered / DMS cells of a string frame in place. Returns (problems, conversions).

    conversions: list of (row, column, cell, value). Problems are ``errors.Problem``.
    """
    from optimizer.inputs.errors import Problem

    problems, converted = [], []
    for col in columns:
        if col not in frame.columns:
            continue
        cells = frame[col].tolist()
        changed = False
        for i, (r, cell) in enumerate(zip(frame["_row"], cells)):
            if not isinstance(cell, str):
                continue
            value, error, hint = parse(cell, col)
            if error:
                problems.append(Problem(file, int(r), col, error, hint))
            elif value is not None:
                cells[i] = repr(value)
                converted.append((int(r), col, cell, value))
                changed = True
        if changed:
            frame[col] = cells
    return problems, converted
