"""Hostile input and exports: CSV formula injection, zip uploads, nothing from a user executed."""
from __future__ import annotations

import ast
import csv
import io
import os
import struct
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from rigshift_testkit import ROOT, files_with, run_cli, tiny_files, tiny_text  # noqa: E402

import optimizer  # noqa: E402
from optimizer import ScenarioError  # noqa: E402
from optimizer.inputs import scenario as scenario_module  # noqa: E402
from optimizer.inputs.tables import safe_text_cell, to_csv_text  # noqa: E402

HOSTILE = ["=1+1", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1", "\r=1", "=HYPERLINK(\"http://x\")",
           "\uff1d1+1"]
HARMLESS = ["Texas West", "Sichuan", "", "a=b", "1+1", "x-y", "-5", "+3.5", "-1e-3", "5"]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ----------------------------------------------------------------------------- CSV injection


def test_safe_text_cell():
    for value in HOSTILE:
        assert safe_text_cell(value) == "'" + value
    for value in HARMLESS:
        assert safe_text_cell(value) == value, value


def test_to_csv_text_neutralises_text_and_keeps_numbers():
    frame = pd.DataFrame({
        "name": HOSTILE + ["ok", "-7"],
        "value": [-1.5, 2.0, -3e9, 0.0, 4.25, -0.001, 7.0, 8.0, -9.5, 10.0],
        "count": np.arange(-5, 5),
        "mixed": ["=x", 1.5, -2.0, None, "+y", "z", 3, "@a", "b", np.nan],
    })
    frame["_row"] = range(2, 12)
    rows = read_csv(to_csv_text(frame))
    assert list(rows[0]) == ["name", "value", "count", "mixed"]  # the internal _row column is not exported
    for row, original in zip(rows, HOSTILE):
        assert row["name"] == "'" + original.replace("\r", "\n")  # a bare CR would split the row in a spreadsheet
    assert rows[-1]["name"] == "-7"  # a number written as text stays a number
    assert [float(r["value"]) for r in rows] == frame["value"].tolist()
    assert [r["value"] for r in rows][:3] == ["-1.5", "2.0", "-3000000000.0"]
    assert [int(r["count"]) for r in rows] == list(range(-5, 5))
    assert [r["mixed"] for r in rows] == ["'=x", "1.5", "-2.0", "", "'+y", "z", "3", "'@a", "b", ""]
    # Only the listed text columns are touched when a list is given.
    only = read_csv(to_csv_text(frame[["name", "mixed"]], text_columns=["mixed"]))
    assert only[0]["name"] == "=1+1" and only[0]["mixed"] == "'=x"
    assert len(only) == len(frame) and only[5]["name"] == "\n=1"  # a carriage return never splits a row


def _hostile_result() -> optimizer.Result:
    """A real plan whose names were replaced by hostile ones (the validator would refuse them as input)."""
    scn = optimizer.scenario_from_files(tiny_files())
    res = optimizer.solve(scn)
    rename = {"Sichuan": "=cmd|'/C calc'!A0", "Xinjiang": "+Xinjiang", "Texas West": "@Texas", "Ekibastuz": "-Eki",
              "Kazakhstan": "\t=KZ", "Antminer S9": "=S9", "Texas": "=TX"}
    for frame in (res.allocation, res.sites, res.jurisdictions):
        for col in ("origin", "model", "site", "jurisdiction"):
            if col in frame.columns:
                frame[col] = frame[col].replace(rename)
    res.allocation.loc[0, "value_usd"] = -1234.5  # a negative number must stay a number
    return res


def test_result_files_neutralise_every_text_column():
    res = _hostile_result()
    files = res.files()
    alloc = read_csv(files["allocation.csv"])
    assert {r["origin"] for r in alloc} <= {"'=cmd|'/C calc'!A0", "'+Xinjiang"}
    assert all(not r[c].startswith(("=", "+", "-", "@", "\t")) for r in alloc for c in ("origin", "model", "site",
                                                                                         "jurisdiction"))
    assert any(r["model"] == "'=S9" for r in alloc)
    assert alloc[0]["value_usd"] == "-1234.5"
    for r in alloc:
        for c in ("rigs", "mw", "hashrate_ths", "value_usd"):
            float(r[c])  # every number is a plain number
    sites = read_csv(files["sites.csv"])
    assert {r["site"] for r in sites} >= {"'@Texas", "'-Eki"}
    assert {r["jurisdiction"] for r in sites} >= {"'\t=KZ", "'=TX"}
    juris = read_csv(files["jurisdictions.csv"])
    assert {r["jurisdiction"] for r in juris} >= {"'\t=KZ", "'=TX"}
    assert all(float(r["capacity_mw"]) >= 0 for r in sites)


def test_written_files_match_files(tmp_path):
    res = _hostile_result()
    res.write(tmp_path)
    for name, text in res.files().items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text


def test_scenario_export_neutralises_extra_columns_and_round_trips():
    rigs = tiny_text("rigs.csv").replace("resale_usd\n", "resale_usd,note\n").replace("3200\n", "3200,=WEBSERVICE(1)\n") \
        .replace("2600\n", "2600,-5\n").replace(",90\n", ",90,@here\n")
    scn = optimizer.scenario_from_files(files_with(rigs_csv=rigs))
    rows = read_csv(scn.table_csv("rigs"))
    assert [r["note"] for r in rows] == ["'=WEBSERVICE(1)", "-5", "'@here"]
    assert [r["resale_usd"] for r in rows] == ["3200.0", "2600.0", "90.0"]
    again = optimizer.scenario_from_files(scn.files())
    assert optimizer.solve(again).summary["objective_usd"] == pytest.approx(
        optimizer.solve(scn).summary["objective_usd"], rel=1e-12)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_formula_like_names_load_and_export_neutralised(prefix):
    # Issue 10: a site called "@Home Hosting" is a name; what a spreadsheet would run is neutralised on export only.
    sites = tiny_text("sites.csv").replace("Quebec Hydro,Quebec", f"{prefix}Quebec Hydro,{prefix}Quebec")
    scn = optimizer.scenario_from_files(files_with(sites_csv=sites))
    assert f"{prefix}Quebec Hydro" in set(scn.sites["site"])
    rows = read_csv(scn.table_csv("sites"))
    assert f"'{prefix}Quebec Hydro" in [r["site"] for r in rows]
    again = optimizer.scenario_from_files(scn.files())  # the apostrophe is dropped again on reading
    assert list(again.sites["site"]) == list(scn.sites["site"])


# ----------------------------------------------------------------------------- zip uploads


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_problem(data: bytes) -> str:
    with pytest.raises(ScenarioError) as err:
        optimizer.read_zip(data, "upload.zip")
    assert all(p.file.startswith("upload.zip") for p in err.value.problems)
    return str(err.value)


def test_zipped_folder_loads_like_the_folder():
    data = make_zip({f"my scenario/{k}": v for k, v in tiny_files().items()} | {"my scenario/README.md": b"hi",
                                                                              "__MACOSX/my scenario/._rigs.csv": b"\0"})
    files = optimizer.read_zip(data)
    assert files == tiny_files()
    flat = optimizer.read_zip(make_zip(tiny_files()))
    assert flat == tiny_files()


def test_path_traversal_names_are_never_extracted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    members = {f"../../../../{tmp_path.name}/escaped/{k}": v for k, v in tiny_files().items()}
    members["/etc/passwd"] = b"root:x:0:0"
    members["../../evil.sh"] = b"#!/bin/sh\nrm -rf /\n"
    members["C:\\Windows\\evil.bat"] = b"format c:"
    files = optimizer.read_zip(make_zip(members))
    assert set(files) == set(tiny_files())  # only the scenario's own file names, by base name
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
    scn = optimizer.scenario_from_files(files)
    assert len(scn.sites) == 4


def test_zip_bomb_is_refused_before_it_is_unpacked():
    bomb = make_zip({"rigs.csv": b"0" * (60 * 1024 * 1024)} | {k: v for k, v in tiny_files().items() if k != "rigs.csv"})
    assert len(bomb) < 200_000
    assert "unpacks to" in zip_problem(bomb)
    ratio_bomb = make_zip({"sites.csv": b"a" * (5 * 1024 * 1024)})
    assert "zip bomb" in zip_problem(ratio_bomb)


def test_zip_lying_about_its_sizes_is_refused():
    data = bytearray(make_zip({"rigs.csv": b"model,hashrate_ths,power_w,resale_usd\n" + b"A,1,1,1\n" * 100000}))
    # Claim a tiny uncompressed size in the central directory and the local header.
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 10)
    struct.pack_into("<I", data, 22, 10)
    text = zip_problem(bytes(data))
    assert "damaged" in text or "unpacks" in text


def test_too_many_entries():
    members = {f"junk/{i}.txt": b"x" for i in range(250)}
    assert "the limit is 200" in zip_problem(make_zip(members))


def test_two_scenarios_in_one_zip():
    data = make_zip({f"a/{k}": v for k, v in tiny_files().items()} | {f"b/{k}": v for k, v in tiny_files().items()})
    assert "twice" in zip_problem(data)


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40, os.urandom(2000),
                                  b"PK\x05\x06" + b"\0" * 18])
def test_not_a_zip(data):
    text = zip_problem(data)
    assert "not a valid zip file" in text or "holds no scenario files" in text


def test_zip_without_scenario_files_says_what_it_holds():
    text = zip_problem(make_zip({"payload.exe": b"MZ", "notes.txt": b"x"}))
    assert "holds no scenario files" in text and "payload.exe" in text


def test_corrupted_member_is_reported_not_raised():
    data = bytearray(make_zip(tiny_files()))
    start = data.find(b"PK\x03\x04") + 30 + len("rigs.csv") if data[30:38] == b"rigs.csv" else None
    # Flip bytes inside the first member's compressed data.
    first_name_len = struct.unpack_from("<H", data, 26)[0]
    start = 30 + first_name_len
    for i in range(start + 2, start + 12):
        data[i] ^= 0xFF
    assert "damaged" in zip_problem(bytes(data))


def test_encrypted_member_is_reported():
    data = bytearray(make_zip(tiny_files()))
    # Set the 'encrypted' flag bit in every local header and central directory entry.
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos != -1:
            flags = struct.unpack_from("<H", data, pos + offset)[0]
            struct.pack_into("<H", data, pos + offset, flags | 0x1)
            pos = data.find(sig, pos + 4)
    assert "encrypted" in zip_problem(bytes(data))


def test_unsupported_compression_is_reported():
    data = bytearray(make_zip(tiny_files()))
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        pos = data.find(sig)
        while pos != -1:
            struct.pack_into("<H", data, pos + offset, 99)  # AES / unknown method
            pos = data.find(sig, pos + 4)
    text = zip_problem(bytes(data))
    assert "compression method" in text or "not a valid zip" in text


def test_oversized_zip_file_is_refused(monkeypatch):
    monkeypatch.setattr(scenario_module, "MAX_ZIP_BYTES", 1000)
    assert "the limit is" in zip_problem(make_zip(tiny_files()) + b"\0" * 2000)


def test_cli_reads_a_zip_and_refuses_a_bad_one(tmp_path):
    good = tmp_path / "tiny.zip"
    good.write_bytes(make_zip({f"tiny/{k}": v for k, v in tiny_files().items()}))
    proc = run_cli("validate", str(good))
    assert proc.returncode == 0 and "valid (3 models, 2 origins, 8,500 rigs" in proc.stdout, proc
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip({"rigs.csv": b"0" * (60 * 1024 * 1024)}))
    proc = run_cli("validate", str(bad))
    assert proc.returncode == 2 and "unpacks to" in proc.stderr and "Traceback" not in proc.stderr, proc


# ----------------------------------------------------------------------------- nothing from a user executed

FORBIDDEN_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("marshal", "loads"), ("marshal", "load"),
    ("shelve", "open"), ("dill", "load"), ("dill", "loads"), ("joblib", "load"), ("pd", "read_pickle"),
    ("pandas", "read_pickle"), ("yaml", "load"), ("yaml", "unsafe_load"), ("np", "load"), ("numpy", "load"),
    ("os", "system"), ("os", "popen"), ("torch", "load"),
}
FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__", "input"}


def python_sources() -> list[Path]:
    paths = sorted((ROOT / "optimizer").rglob("*.py"))
    paths += [ROOT / "app.py"] if (ROOT / "app.py").exists() else []
    paths += sorted((ROOT / "ui").rglob("*.py")) if (ROOT / "ui").exists() else []
    return paths


def test_no_code_path_unpickles_or_evaluates_anything():
    offences = []
    for path in python_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_NAMES:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {f.id}()")
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in FORBIDDEN_CALLS:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {f.value.id}.{f.attr}()")
            elif isinstance(f, ast.Attribute) and f.attr == "eval" and not (isinstance(f.value, ast.Name)
                                                                            and f.value.id in ("pd", "pandas")):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} .eval()")
            for kw in node.keywords:
                if kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} shell=True")
                if kw.arg == "allow_pickle" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} allow_pickle=True")
        # unsafe_allow_html with user text would be an injection: only constant strings may use it.
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "unsafe_allow_html" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                        if node.args and not isinstance(node.args[0], ast.Constant):
                            offences.append(f"{path.relative_to(ROOT)}:{node.lineno} unsafe_allow_html with computed text")
    assert python_sources(), "no sources found"
    assert offences == []


def test_zip_reading_writes_nothing_to_disk(tmp_path, monkeypatch):
    """read_zip works on bytes: no extract/extractall, no temp files."""
    source = (ROOT / "optimizer" / "inputs" / "scenario.py").read_text()
    assert "extractall" not in source and ".extract(" not in source
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    optimizer.read_zip(make_zip(tiny_files()))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not (ROOT / "app.py").exists(), reason="the app is not in this checkout")
def test_streamlit_caps_upload_size():
    config = ROOT / ".streamlit" / "config.toml"
    assert config.exists(), "the app needs .streamlit/config.toml with server.maxUploadSize"
    server = tomllib.loads(config.read_text()).get("server", {})
    assert "maxUploadSize" in server, "server.maxUploadSize must be set (Streamlit's default is 200 MB)"
    limit_mb = server["maxUploadSize"]
    assert 1 <= limit_mb <= scenario_module.MAX_ZIP_BYTES / 2**20
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
