"""The settings and column tables of docs/inputs.md, generated from the declarations; and the check of a
dataset's schema.csv against them.

    python -m optimizer.cli.docs            # print both tables (markdown, between their markers)
    python -m optimizer.cli.docs --write docs/inputs.md   # replace the tables in place

A test asserts docs/inputs.md holds exactly this text and every dataset's schema.csv agrees with
``optimizer.inputs.settings.SETTINGS`` and ``optimizer.inputs.tables.TABLES`` on type, unit and default.
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from optimizer.inputs.settings import SETTINGS, Setting
from optimizer.inputs.tables import PLAUSIBLE, TABLES, Column, TableSpec

# How a declared kind is named in the docs and in schema.csv.
SETTING_TYPE_NAMES = {"float": "float", "float?": "float", "int": "integer", "bool": "bool", "str": "text",
                      "str?": "text", "strlist": "list", "intlist": "list",
                      "floatlist": "list"}
BEGIN, END = "<!-- BEGIN GENERATED {name}: python -m optimizer.cli.docs -->", "<!-- END GENERATED {name} -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def setting_default_text(s: Setting) -> str:
    """The default as TOML would write it; "(absent)" for keys that are absent unless given."""
    v = s.default
    if v is None:
        return "(absent)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "[" + ", ".join(repr(x) for x in v) + "]"
    return repr(v)


def settings_table() -> str:
    lines = ["| key | type | unit | default | rule | meaning |", "|---|---|---|---|---|---|"]
    for s in SETTINGS.values():
        lines.append(f"| `{s.key}` | {SETTING_TYPE_NAMES[s.kind]} | {_cell(s.unit)} | {_cell(setting_default_text(s))} "
                     f"| {_cell(s.rule)} | {_cell(s.meaning)} |")
    return "\n".join(lines)


def column_default_text(c: Column) -> str:
    if c.required:
        return "required"
    return f"{c.default:g}" if isinstance(c.default, (int, float)) else "(empty)"


def _plausible(spec: TableSpec, c: Column) -> str:
    limits = PLAUSIBLE.get((spec.file, c.name))
    return "" if limits is None else f"{limits[0]:g} to {limits[1]:g}"


def columns_table() -> str:
    lines = ["| file | column | type | unit | default | rule | plausible range | meaning |",
             "|---|---|---|---|---|---|---|---|"]
    for spec in TABLES.values():
        file = spec.file if spec.required else f"{spec.file} (optional)"
        for i, c in enumerate(spec.columns):
            rule = c.demand or ("non-empty" if c.kind == "text" else "")
            lines.append(f"| {file if i == 0 else ''} | `{c.name}` | {c.kind} | {_cell(c.unit)} | {column_default_text(c)} "
                         f"| {_cell(rule)} | {_plausible(spec, c)} | {_cell(c.description)} |")
    return "\n".join(lines)


GENERATED = {"settings": settings_table, "columns": columns_table}


def block(name: str) -> str:
    return f"{BEGIN.format(name=name)}\n{GENERATED[name]()}\n{END.format(name=name)}"


def replace_blocks(text: str) -> str:
    """``text`` with every generated block brought up to date (markers must already be there)."""
    for name in GENERATED:
        pattern = re.compile(re.escape(BEGIN.format(name=name)) + r".*?" + re.escape(END.format(name=name)), re.S)
        if not pattern.search(text):
            raise ValueError(f"no generated block '{name}' in the text")
        text = pattern.sub(lambda _m, n=name: block(n), text)
    return text


def _same_default(declared: Any, written: str) -> bool:
    written = written.strip()
    if declared is None:
        return written in ("", "(absent)")
    if isinstance(declared, bool):
        return written.lower() == str(declared).lower()
    if isinstance(declared, tuple):
        return written.replace(" ", "") == "[" + ",".join(repr(x) for x in declared) + "]"
    if isinstance(declared, str):
        return written.strip('"') == declared
    try:
        return float(written) == float(declared)
    except ValueError:
        return False


def schema_mismatches(schema_csv: str, folder: Path | None = None) -> list[str]:
    """Where a dataset's schema.csv disagrees with the declarations (type, unit, default), and the
    columns it leaves out: the required columns, and with ``folder`` every column of every scenario
    file there. Rows for extra columns and other files are the dataset's own."""
    rows = list(csv.DictReader(io.StringIO(schema_csv)))
    problems: list[str] = []
    listed = {(r["file"], r["column"]) for r in rows}
    for spec in TABLES.values():
        present = folder is not None and (folder / spec.file).is_file()
        names = [c.name for c in spec.columns if c.required and spec.required]
        if present:
            with open(folder / spec.file, newline="", encoding="utf-8-sig") as fh:
                names = [h.strip() for h in next(csv.reader(fh), []) if h.strip()]
        for name in names:
            if (spec.file, name) not in listed:
                problems.append(f"{spec.file},{name}: missing from schema.csv")
    by_file = {spec.file: spec for spec in TABLES.values()}
    for r in rows:
        file, name = r["file"], r["column"]
        if file == "scenario.toml":
            s = SETTINGS.get(name)
            if s is None:
                problems.append(f"scenario.toml,{name}: no such setting")
                continue
            want = (SETTING_TYPE_NAMES[s.kind], s.unit, s.default)
        elif file in by_file and any(c.name == name for c in by_file[file].columns):
            c = by_file[file].column(name)
            want = (c.kind, c.unit, c.default)
        else:
            continue
        if r["type"] != want[0]:
            problems.append(f"{file},{name}: type '{r['type']}', declared '{want[0]}'")
        if r["unit"] != want[1]:
            problems.append(f"{file},{name}: unit '{r['unit']}', declared '{want[1]}'")
        if not _same_default(want[2], r["default"]):
            problems.append(f"{file},{name}: default '{r['default']}', declared {want[2]!r}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m optimizer.cli.docs", description=__doc__.split("\n")[0])
    p.add_argument("--write", metavar="PAGE", help="update the generated tables in this page in place (docs/inputs.md)")
    args = p.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_blocks(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    sys.stdout.write("\n\n".join(block(name) for name in GENERATED) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
