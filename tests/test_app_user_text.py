"""The app shows one user's text to another as text (issue 22): names, library entries and link
values never act as Markdown or HTML in messages, captions and headings, and a malformed link
value is bad input with a message, never a traceback (AppTest)."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TINY = ROOT / "tests" / "fixtures" / "tiny"
CHINA = ROOT / "datasets" / "china-2021"

LINK = "[Session expired: sign in again](http://evil.example/login)"
IMAGE = "![pixel](http://evil.example/track.png)"

# Markdown that acts: a link or image whose brackets are not escaped, bold, raw HTML.
ACTIVE = re.compile(r"(?<!\\)\]\((?!\\)|(?<!\\)!(?<!\\)\[|(?<!\\)\*\*evil|<img|(?<!\\)<b>")


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _markdown_texts(at: AppTest) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "success", "error", "warning", "info", "title", "header", "subheader"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def _assert_inert(at: AppTest) -> None:
    bad = [t for t in _markdown_texts(at) if ACTIVE.search(t)]
    assert not bad, bad


def test_names_and_library_entries_never_act_as_markdown(db):
    files = {p.name: p.read_bytes() for p in TINY.iterdir() if p.is_file()}
    files["sites.csv"] = files["sites.csv"].replace(b"Texas West,", f'"{LINK}",'.encode())
    files["origins.csv"] = files["origins.csv"].replace(b"Sichuan,China", f"Sichuan,{IMAGE}".encode())
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    at.file_uploader(key="upload").set_value(("**evil**.zip", _zip(files), "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(_markdown_texts(at))
    assert "evil" in shown and "pixel" in shown  # the names are on the page, as text
    _assert_inert(at)

    at.text_input(key="ws_user").set_value("<b>mallory</b>").run()
    at.text_input(key="ws_save_name").set_value(LINK).run()
    at.button(key="ws_save").click().run()
    assert not at.exception
    assert any("Session expired" in s.value for s in at.success)
    _assert_inert(at)

    # a problem naming the user's text: an unknown origin in fleet.csv
    bad = dict(files)
    bad["fleet.csv"] = bad["fleet.csv"].replace(b"Xinjiang,Whatsminer", f'"{LINK}",Whatsminer'.encode(), 1)
    at.file_uploader(key="upload").set_value(("bad.zip", _zip(bad), "application/zip")).run()
    assert not at.exception
    assert any("Session expired" in e.value for e in at.error)
    _assert_inert(at)


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
@pytest.mark.parametrize("value", ["[" * 1000 + "]" * 1000, "x" * 100_000])
def test_a_malformed_link_value_is_bad_input_with_a_message(db, value):
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params["dataset"] = "china-2021"
    at.query_params["market.btc_price_usd"] = value
    at.run()
    assert not at.exception, [e.value[:200] for e in at.exception]
    errors = "\n".join(e.value for e in at.error)
    assert "link could not be opened" in errors and "BTC price" in errors  # the setting named by its label
    assert len(errors) < 2000


def test_a_pinned_plans_name_in_a_tooltip_is_text(db):
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    at.text_input(key="pin_name").set_value(LINK).run()
    at.button(key="pin").click().run()
    at.slider(key="ctl_policy_risk_aversion").set_value(2.0).run()
    assert not at.exception
    tips = [m.proto.help for m in at.metric if m.proto.help]
    assert any("Session expired" in t for t in tips)
    bad = [t for t in tips if ACTIVE.search(t)]
    assert not bad, bad
