"""Engine messages in the app's words: setting keys become the labels of their controls, and the scenario.toml
instructions (which the CLI user needs) become what to do on screen. The engine keeps its own wording for the CLI.
"""
from __future__ import annotations

import re

from optimizer.inputs.labels import setting_label
from optimizer.inputs.settings import SETTINGS

_CONFIRM = re.compile(r" \(if (.+?) is right, confirm it in scenario\.toml: \[checks\] confirm = \[[^\]]*\]\)")
_KEYS = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(SETTINGS, key=len, reverse=True)) + r")\b")


def plain(text: str) -> str:
    """``text`` with every settings key (``policy.allow_sell``) replaced by its label ("Allow selling rigs now", in
    quotes) and the scenario.toml confirm instruction replaced by what the app does with the value."""
    text = _CONFIRM.sub(r" (if \1 is right, nothing to do: the plan uses it as given)", text)
    return _KEYS.sub(lambda m: f"\"{setting_label(m.group(1))}\"", text)
