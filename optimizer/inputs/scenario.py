"""A scenario: the validated tables plus settings. Loading, overriding and writing it back."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import io
import lzma
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import tomli_w

from optimizer.inputs import coords, names, spreadsheet
from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.notes import InputWarning
from optimizer.inputs.check import check
from optimizer.inputs.settings import TOML_FILE, Settings, build_settings, locate_key, read_toml

# Upload limits for zipped scenarios (also enforced when reading a folder's files).
MAX_ZIP_MEMBERS = 20
MAX_ZIP_ENTRIES = MAX_ZIP_MEMBERS * 10  # entries of any name (folders, stray files) in one zip
MAX_ZIP_BYTES = 100 * 1024 * 1024  # the zip file itself
MAX_ZIP_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 1000  # unpacked size / packed size of one member: beyond it, a zip bomb


@dataclass(frozen=True, eq=False)
class Scenario:
    """Validated input tables and settings. Frozen: what-ifs make new scenarios cheaply."""

    rigs: pd.DataFrame
    origins: pd.DataFrame
    fleet: pd.DataFrame
    sites: pd.DataFrame
    lanes: pd.DataFrame
    settings: Settings
    name: str = "scenario"
    market: pd.DataFrame | None = None  # market.csv (SPEC section 6); empty when the scenario has none
    # What the loader read in a way the user should know (name variants unified, coordinates converted,
    # plausibility warnings on the tables; optimizer/inputs/plausibility.py).
    warnings: tuple[InputWarning, ...] = ()
    # SPEC section 8: resale.csv, state.csv, bans.csv (known stops); empty when the scenario has none
    resale: pd.DataFrame | None = None
    state: pd.DataFrame | None = None
    bans: pd.DataFrame | None = None
    duty: pd.DataFrame | None = None  # duty.csv: import duty by (jurisdiction, made_in); empty when absent
    availability: pd.DataFrame | None = None  # availability.csv (seasonal uptime, issue 21); empty when absent
    power: pd.DataFrame | None = None  # power.csv (a power price path, issue 21); empty when absent

    def __post_init__(self) -> None:
        if self.market is None:
            object.__setattr__(self, "market", empty_table(T.MARKET))
        for name in T.SECTION8_TABLES:
            if getattr(self, name) is None:
                object.__setattr__(self, name, empty_table(T.TABLES[name]))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Scenario":
        """A copy with ``{"section.key": value}`` applied on top of the current settings; no file is read."""
        settings = build_settings(None, overrides, base=self.settings)
        out = dataclasses.replace(self, settings=settings)
        problems, _ = check(out, {key: "--set" for key in overrides}, only=("exclusions", "market", "availability", "power"))
        if problems:
            raise ScenarioError(problems)
        out = dataclasses.replace(out, settings=names.canonical_settings(settings, self.sites))
        if "_tables_digest" in self.__dict__:  # the same tables: their digest carries over
            out.__dict__["_tables_digest"] = self.__dict__["_tables_digest"]
        return out

    def with_tables(self, **frames: pd.DataFrame) -> "Scenario":
        """A copy with some tables replaced by (possibly user-edited) frames, validated again."""
        current = {name: getattr(self, name) for name in T.TABLES}
        current.update(frames)
        notes: list[InputWarning] = []
        tables = validate_frames(current, notes=notes)
        impossible, found = _table_review(tables)
        out = dataclasses.replace(self, **tables, warnings=tuple(notes + found))
        problems, _ = check(out)  # an edit may drop an excluded site or break market.csv's months
        if impossible or problems:
            raise ScenarioError(impossible + problems)
        return dataclasses.replace(out, settings=names.canonical_settings(self.settings, tables["sites"]))

    def fingerprint_frames(self) -> tuple[pd.DataFrame, ...]:
        """The tables that make the fingerprint, in order: absent optional files of section 8 are left out,
        so older scenarios keep the fingerprint they had."""
        return tuple(getattr(self, name) for name in T.TABLES
                     if not (name in T.SECTION8_TABLES and not len(getattr(self, name))))

    def tables_digest(self) -> "hashlib._Hash":
        """``tables_digest(self.fingerprint_frames())`` (a fresh copy of the SHA-256 object), computed once per
        object and carried to the what-ifs of ``with_overrides``, which keep the same tables: a served what-if
        hashes only its settings (issue 23). Not pickled (a copy computes it again)."""
        memo = self.__dict__.get("_tables_digest")
        if memo is None:
            memo = tables_digest(self.fingerprint_frames())
            self.__dict__["_tables_digest"] = memo
        return memo.copy()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_tables_digest", None)  # a hashlib object does not pickle; the copy recomputes it
        return state

    def fingerprint(self) -> str:
        """Stable hash of the tables and settings, for caches."""
        h = self.tables_digest()
        h.update(repr(self.settings).encode())
        return h.hexdigest()[:16]

    def table_csv(self, name: str) -> str:
        return T.to_csv_text(getattr(self, name))

    def toml_text(self) -> str:
        return tomli_w.dumps(self.settings.to_dict())

    def write(self, folder: str | Path) -> Path:
        """Write the scenario as a folder the CLI and the app load back to the same plan."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            (folder / name).write_bytes(data)
        return folder

    def files(self) -> dict[str, bytes]:
        out = {T.TABLES[name].file: self.table_csv(name).encode() for name in T.TABLES
               if (name != "market" and name not in T.SECTION8_TABLES) or len(getattr(self, name))}  # no market.csv: the settings give the path
        out[TOML_FILE] = self.toml_text().encode()
        return out

    def to_zip(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in self.files().items():
                zf.writestr(name, data)
        return buf.getvalue()


def tables_digest(frames: Iterable[pd.DataFrame]) -> "hashlib._Hash":
    """A SHA-256 object fed with the tables' values, in order (the ``_row`` numbers and the index left out):
    the identity of a scenario's data for caches (``Scenario.fingerprint``, the Planner's economics)."""
    h = hashlib.sha256()
    for frame in frames:
        h.update(pd.util.hash_pandas_object(frame.drop(columns=["_row"], errors="ignore"), index=False).values.tobytes())
    return h


def empty_table(spec: T.TableSpec) -> pd.DataFrame:
    """An optional table the scenario does not have: its columns, no rows."""
    frame = pd.DataFrame({c.name: pd.Series(dtype=object if c.kind == "text" else float) for c in spec.columns})
    frame["_row"] = pd.Series(dtype=int)
    return frame


def validate_frames(
    raw: Mapping[str, pd.DataFrame | None], *, strings: bool = False, skip: set[str] = frozenset(),
    notes: list[InputWarning] | None = None,
) -> dict[str, pd.DataFrame]:
    """Validate all tables (string frames if ``strings``, else typed/edited frames); raise all problems at once.

    Tables named in ``skip`` could not be read at all (already reported): they are left out,
    and cross-file checks wait until every table is readable.
    """
    problems: list[Problem] = []
    typed: dict[str, pd.DataFrame] = {}
    for name, spec in T.TABLES.items():
        if name in skip:
            continue
        frame = raw.get(name)
        if frame is None:
            if spec.required:
                problems.append(Problem(spec.file, None, None, "is missing", "a scenario folder needs rigs.csv, origins.csv, fleet.csv and sites.csv"))
            else:
                typed[name] = empty_table(spec)
            continue
        if not strings:
            frame = T.frame_to_strings(frame, spec)
        frame, early = _read_habits(frame, spec, notes)
        checked, found = T.validate_table(frame, spec)
        taken = {(p.row, p.column) for p in early}  # a converted-or-refused cell is reported once
        problems.extend(early + [p for p in found if (p.row, p.column) not in taken])
        if checked is not None:
            typed[name] = checked
    if problems or skip:
        raise ScenarioError(_with_percent_hints(problems))
    typed, problems, unified = names.unify(typed)
    if problems:
        raise ScenarioError(problems)
    if notes is not None:
        notes.extend(InputWarning(u.file, u.row, u.column, u.typed, str(u).split(": ", 1)[1], u.read_as, None, "name")
                     for u in unified)
    problems = T.check_references(typed)
    if problems:
        raise ScenarioError(problems)
    return typed


def _with_percent_hints(problems: list[Problem]) -> list[Problem]:
    from optimizer.inputs.plausibility import percent_hint

    return [percent_hint(p) for p in problems]


def _read_habits(frame: pd.DataFrame, spec: T.TableSpec, notes: list[InputWarning] | None) -> tuple[pd.DataFrame, list[Problem]]:
    """Before the table's own checks: names exported as 'formula-safe' lose their apostrophe, and
    coordinates in degrees-minutes-seconds or with N/S/E/W are converted (or refused with a hint)."""
    frame = frame.copy()
    markers: list[Problem] = []
    for col in spec.columns:
        if col.kind == "text" and col.name in frame.columns:
            cells = [spreadsheet.unneutralise(c) if isinstance(c, str) else c for c in frame[col.name].tolist()]
            frame[col.name] = cells
            for r, c in zip(frame["_row"].tolist(), cells):
                if isinstance(c, str) and spreadsheet.is_error_marker(c):
                    markers.append(Problem(spec.file, int(r), col.name, f"'{c.strip()}' is not a name",
                                           spreadsheet.error_hint(c)))
    problems, converted = coords.convert_frame(frame, spec.file)
    problems = markers + problems
    if notes is not None:
        for row, column, cell, value in converted:
            notes.append(InputWarning(spec.file, row, column, cell, f"'{cell}' is read as {value:g} (decimal degrees, "
                                      "south and west negative)", "decimal degrees", None, "coordinate"))
    return frame, problems


def _locate_toml(problems: list[Problem], toml_text: str | None) -> list[Problem]:
    """Give scenario.toml problems the line of their key, so the user can find them."""
    if not toml_text:
        return problems
    out = []
    for p in problems:
        if p.file == TOML_FILE and p.row is None and p.column:
            line = locate_key(toml_text, p.column)
            if line is not None:
                p = dataclasses.replace(p, row=line)
        out.append(p)
    return out


def scenario_from_files(files: Mapping[str, bytes], overrides: Mapping[str, Any] | None = None, name: str = "scenario") -> Scenario:
    """A scenario from file contents keyed by file name (a folder, an upload or a zip)."""
    problems: list[Problem] = []
    raw: dict[str, pd.DataFrame | None] = {}
    unreadable: set[str] = set()
    for key, spec in T.TABLES.items():
        data = files.get(spec.file)
        if data is None:
            raw[key] = None
            continue
        frame, found = T.read_csv(data, spec)
        problems.extend(found)
        if frame is None:
            unreadable.add(key)
        raw[key] = frame
    doc: dict[str, Any] = {}
    toml_text = None
    if TOML_FILE in files:
        toml_text, found = T.decode(files[TOML_FILE], TOML_FILE)
        problems.extend(found)
        if toml_text is not None:
            try:
                doc = read_toml(toml_text)
            except ScenarioError as exc:
                problems.extend(exc.problems)
    settings = None
    try:
        settings = build_settings(doc, overrides)
    except ScenarioError as exc:
        problems.extend(_with_percent_hints(_locate_toml(exc.problems, toml_text)))
    # Files that failed to decode or parse were reported above; still validate the others.
    typed = None
    notes: list[InputWarning] = []
    try:
        typed = validate_frames(raw, strings=True, skip=unreadable, notes=notes)
    except ScenarioError as exc:
        problems.extend(exc.problems)
    scn = None
    if typed is not None and settings is not None:
        if T.MARKET.file in files and not len(typed["market"]):
            problems.append(Problem(T.MARKET.file, None, None, "has no data rows",
                                    "give the hashprice of every month of the horizon, or remove the file"))
        impossible, found = _table_review(typed)
        scn = Scenario(settings=settings, name=name, warnings=tuple(notes + found), **typed)
        checked, _ = check(scn, {key: "--set" for key in (overrides or {})})
        problems.extend(impossible + _locate_toml(checked, toml_text))
    if problems:
        raise ScenarioError(_dedupe(problems))
    assert scn is not None and settings is not None
    return dataclasses.replace(scn, settings=names.canonical_settings(settings, scn.sites))


def _table_review(tables: Mapping[str, pd.DataFrame]) -> tuple[list[Problem], list[InputWarning]]:
    """Unit-slip checks on the tables alone (optimizer/inputs/plausibility.py): (impossible values, warnings)."""
    import types

    from optimizer.inputs.plausibility import table_review

    return table_review(types.SimpleNamespace(**tables))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def read_folder(path: str | Path) -> dict[str, bytes]:
    folder = Path(path)
    try:
        if not folder.exists():
            raise ScenarioError(Problem(str(folder), None, None, "does not exist"))
        if not folder.is_dir():
            if zipfile.is_zipfile(folder):
                if folder.stat().st_size > MAX_ZIP_BYTES:
                    raise ScenarioError(Problem(str(folder), None, None, f"is larger than {MAX_ZIP_BYTES // 2**20} MB"))
                return read_zip(folder.read_bytes(), str(folder))
            raise ScenarioError(Problem(str(folder), None, None, "is not a folder or a zip file"))
        files: dict[str, bytes] = {}
        for name in [spec.file for spec in T.TABLES.values()] + [TOML_FILE]:
            p = folder / name
            if p.is_file():
                if p.stat().st_size > T.MAX_FILE_BYTES:
                    raise ScenarioError(Problem(name, None, None, f"is larger than {T.MAX_FILE_BYTES // 2**20} MB"))
                files[name] = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(Problem(str(folder), None, None, f"cannot be read: {exc.strerror or exc}")) from None
    return files


def _missing_file_hints(problems: list[Problem], present: list[str]) -> list[Problem]:
    """For a missing scenario file, point at a near-miss in the folder (Rigs.csv, rigs.xlsx, rig.csv)."""
    out = []
    for p in problems:
        if p.row is None and p.column is None and p.message == "is missing":
            stem = p.file.rsplit(".", 1)[0]
            near = [n for n in present if n.lower() == p.file.lower() or n.lower().rsplit(".", 1)[0] == stem]
            near = near or difflib.get_close_matches(p.file, present, n=1, cutoff=0.75)
            if near:
                hint = f"found '{near[0]}': rename it to {p.file}"
                if near[0].lower().endswith((".xlsx", ".xls", ".ods", ".numbers")):
                    hint = f"found '{near[0]}': save it as CSV UTF-8 (comma delimited) named {p.file}"
                p = dataclasses.replace(p, hint=hint)
        out.append(p)
    return out


def read_zip(data: bytes, label: str = "upload.zip") -> dict[str, bytes]:
    """The scenario files inside a zip: only known names, taken by their base name; nothing is extracted to disk.

    Limits: the zip itself at most MAX_ZIP_BYTES, at most MAX_ZIP_ENTRIES entries, each scenario
    file at most tables.MAX_FILE_BYTES unpacked and MAX_ZIP_RATIO times its packed size (zip bombs),
    all of them at most MAX_ZIP_UNPACKED_BYTES. Sizes are counted as read, not taken from headers.
    """
    known = {spec.file for spec in T.TABLES.values()} | {TOML_FILE}
    if len(data) > MAX_ZIP_BYTES:
        raise ScenarioError(Problem(label, None, None, f"is {len(data) / 1e6:.0f} MB; the limit is {MAX_ZIP_BYTES / 1e6:.0f} MB"))
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ScenarioError(Problem(label, None, None, "is not a valid zip file",
                                    "zip the scenario folder (rigs.csv, origins.csv, fleet.csv, sites.csv, ...)")) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ScenarioError(Problem(label, None, None, f"holds {len(infos)} entries; the limit is {MAX_ZIP_ENTRIES}",
                                        f"a scenario has at most {len(known)} files"))
        files: dict[str, bytes] = {}
        others: list[str] = []
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            base = name.rsplit("/", 1)[-1]
            if "__MACOSX" in name or base.startswith("._"):
                continue
            if base not in known:
                others.append(base)
                continue
            if base in files:
                raise ScenarioError(Problem(label, None, None, f"holds {base} twice", "zip one scenario folder"))
            if len(files) >= MAX_ZIP_MEMBERS:
                raise ScenarioError(Problem(label, None, None, f"holds more than {MAX_ZIP_MEMBERS} scenario files"))
            where = f"{label}:{base}"
            if info.file_size > T.MAX_FILE_BYTES:
                raise ScenarioError(Problem(where, None, None, f"unpacks to {info.file_size / 1e6:.0f} MB; the limit is {T.MAX_FILE_BYTES / 1e6:.0f} MB"))
            if info.compress_size and info.file_size > MAX_ZIP_RATIO * info.compress_size and info.file_size > 1_000_000:
                raise ScenarioError(Problem(where, None, None, f"is compressed {info.file_size // info.compress_size:,}-fold: refused as a zip bomb"))
            try:
                with zf.open(info) as member:
                    content = member.read(T.MAX_FILE_BYTES + 1)  # never trust the header's size alone
            except NotImplementedError:  # before RuntimeError, its base class
                raise ScenarioError(Problem(where, None, None, "uses a compression method the tool cannot read",
                                            "zip it with the standard 'deflate' method")) from None
            except RuntimeError:  # encrypted
                raise ScenarioError(Problem(where, None, None, "is encrypted", "zip the folder without a password")) from None
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise ScenarioError(Problem(where, None, None, f"is damaged in the zip: {exc}")) from None
            if len(content) > T.MAX_FILE_BYTES:
                raise ScenarioError(Problem(where, None, None, "unpacks to too much data"))
            total += len(content)
            if total > MAX_ZIP_UNPACKED_BYTES:
                raise ScenarioError(Problem(label, None, None, f"unpacks to more than {MAX_ZIP_UNPACKED_BYTES / 1e6:.0f} MB"))
            files[base] = content
    if not files:
        found = f" (it holds {', '.join(sorted(set(others))[:5])})" if others else ""
        raise ScenarioError(Problem(label, None, None, "holds no scenario files" + found, "expected rigs.csv, origins.csv, fleet.csv, sites.csv (lanes.csv, market.csv, scenario.toml optional)"))
    return files


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario folder (or a zip of one). Raises ScenarioError listing every problem."""
    files = read_folder(path)
    try:
        return scenario_from_files(files, overrides, name=Path(path).name.removesuffix(".zip"))
    except ScenarioError as exc:
        folder = Path(path)
        if folder.is_dir():
            try:
                present = sorted(p.name for p in folder.iterdir() if p.is_file())
            except OSError:
                present = []
            raise ScenarioError(_missing_file_hints(exc.problems, present)) from None
        raise


def allowed_sites(scn: Scenario) -> np.ndarray:
    """Sites that may receive rigs: not in an excluded jurisdiction, not excluded by name."""
    pol = scn.settings.policy
    return ~(scn.sites["jurisdiction"].isin(set(pol.exclude_jurisdictions))
             | scn.sites["site"].isin(set(pol.exclude_sites))).to_numpy()
