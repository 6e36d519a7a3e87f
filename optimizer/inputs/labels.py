"""Human labels for settings keys and table columns, as the app and the report show them.

They come from the declarations (``optimizer.inputs.settings.SETTINGS``, the ``label`` of each
column in ``optimizer.inputs.tables.TABLES``), so no screen or report shows a raw key such as
``policy.allow_sell`` or a column name such as ``capacity_mw``. A key or column nothing declares
(not expected: a test checks every declaration has a label) falls back to its name in words.
"""
from __future__ import annotations

from typing import Any

from optimizer.inputs.settings import SETTINGS
from optimizer.inputs.tables import TABLES


def _declared_label(obj: Any) -> str | None:
    label = getattr(obj, "label", None)
    return label if isinstance(label, str) and label.strip() else None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def column_label(table: str, column: str) -> str:
    """The label of a column of a scenario table ("sites", "capacity_mw" -> "Capacity (MW)")."""
    spec = TABLES.get(table)
    for col in spec.columns if spec is not None else ():
        if col.name == column and _declared_label(col):
            return _capitalised(_declared_label(col))  # type: ignore[arg-type]
    return column.replace("_", " ")


def setting_label(key: str) -> str:
    """The label of a scenario.toml key ("policy.allow_sell" -> "Allow selling rigs now"), as declared."""
    return _declared_label(SETTINGS.get(key)) or key.split(".")[-1].replace("_", " ")


def setting_help(key: str) -> str:
    """A control's help text: the setting's declared meaning, as a sentence ("" when none is declared)."""
    meaning = str(getattr(SETTINGS.get(key), "meaning", "") or "")
    return (_capitalised(meaning) + ".") if meaning else ""


def is_percent(key: str) -> bool:
    """Whether the setting is shown in percent (its label says "%"); its value is a fraction."""
    return "%" in setting_label(key)


def table_of_file(file: str) -> str | None:
    """"sites.csv" -> "sites"."""
    return next((name for name, spec in TABLES.items() if spec.file == file), None)
