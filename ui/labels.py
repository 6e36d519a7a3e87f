"""Human labels for settings keys and table columns, as the screen shows them.

They come from the engine's declarations (``optimizer.inputs.settings.SETTINGS``, the ``label`` of
each column in ``optimizer.inputs.tables``), so the screen never shows a raw key such as
``policy.allow_sell`` or a column name such as ``capacity_mw``.
"""
from __future__ import annotations

from typing import Any

from optimizer.inputs.tables import TABLES

# Fallbacks only: the labels and help shown are optimizer.inputs.settings.SETTINGS's (their single declaration).
SETTING_LABELS: dict[str, str] = {}

COLUMN_LABELS: dict[tuple[str, str], str] = {}  # fallbacks only: optimizer.inputs.tables declares the labels


def _declared_label(obj: Any) -> str | None:
    label = getattr(obj, "label", None)
    return label if isinstance(label, str) and label.strip() else None


def column_label(table: str, column: str) -> str:
    """The label of a column of a scenario table ("sites", "capacity_mw" -> "Capacity (MW)")."""
    spec = TABLES.get(table)
    if spec is not None:
        for col in spec.columns:
            if col.name == column and _declared_label(col):
                label = _declared_label(col)  # type: ignore[assignment]
                return label[:1].upper() + label[1:]
    return COLUMN_LABELS.get((table, column), column.replace("_", " "))


def _declared_setting(key: str) -> Any:
    from optimizer.inputs import settings as declared

    table = getattr(declared, "SETTINGS", None)
    return table.get(key) if isinstance(table, dict) else None


def setting_label(key: str) -> str:
    """The label of a scenario.toml key ("policy.allow_sell" -> "Allow selling rigs now"), as declared."""
    return _declared_label(_declared_setting(key)) or SETTING_LABELS.get(key) or key.split(".")[-1].replace("_", " ")


def setting_help(key: str) -> str:
    """A control's help text: the setting's declared meaning."""
    meaning = str(getattr(_declared_setting(key), "meaning", "") or "")
    return (meaning[:1].upper() + meaning[1:] + ".") if meaning else ""


def table_of_file(file: str) -> str | None:
    """"sites.csv" -> "sites"."""
    return next((name for name, spec in TABLES.items() if spec.file == file), None)
