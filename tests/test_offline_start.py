"""The headless server makes no outside call at start (issue 24): Streamlit asks checkip.amazonaws.com for an
"External URL" unless the address to print is set (.streamlit/config.toml, browser.serverAddress)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_start_banner_asks_no_outside_address(monkeypatch, capsys):
    from streamlit import config, net_util
    from streamlit.web import bootstrap

    calls: list[str] = []
    monkeypatch.setattr(net_util, "get_external_ip", lambda: calls.append("external") or None)
    monkeypatch.chdir(ROOT)  # the project's .streamlit/config.toml
    try:
        config.get_config_options(force_reparse=True, options_from_flags={"server.headless": True})
        assert config.get_option("browser.serverAddress") == "localhost"
        bootstrap._print_url(False)
    finally:
        config.get_config_options(force_reparse=True)
    assert calls == []
    assert "localhost" in capsys.readouterr().out
