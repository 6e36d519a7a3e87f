"""Rigshift in the browser: `make run` (or `streamlit run app.py`). The views live in ui/."""
from ui import server_guard
from ui.main import main

server_guard.install()  # a visitor's "Clear cache" message clears their own session, not everyone's caches
main()
