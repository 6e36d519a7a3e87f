"""Rigshift in the browser: `make run` (or `streamlit run app.py`). The views live in ui/."""
from ui import memory_guard, server_guard
from ui.main import main

server_guard.install()  # a visitor's "Clear cache" message clears their own session, not everyone's caches
memory_guard.install()  # a closed tab's session, uploads and freed heap go back to the server after the reconnect time
main()
memory_guard.freeze_imports()  # the import-time heap out of Streamlit's full collection after every run
