"""Rigshift in the browser: `make run` (or `streamlit run app.py`). The views live in ui/."""
from ui.main import main

main()
