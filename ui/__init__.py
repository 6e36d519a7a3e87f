"""Rigshift's browser app: views over the engine's Python API (``optimizer``).

``app.py`` calls :func:`ui.main.main`; nothing here is imported by the engine.
"""
