"""Test-wide settings: the app and the CLI keep their library database in a throwaway folder,
never in the developer's own data folder (``~/.local/share/rigshift``)."""
from __future__ import annotations

import os
import tempfile

if not os.environ.get("RIGSHIFT_DB_URL") and not os.environ.get("RIGSHIFT_DATA_DIR"):
    os.environ["RIGSHIFT_DATA_DIR"] = tempfile.mkdtemp(prefix="rigshift-test-data-")

if os.path.basename(os.environ.get("RIGSHIFT_DATA_DIR", "")).startswith("rigshift-test-data-"):
    import atexit
    import shutil

    atexit.register(shutil.rmtree, os.environ["RIGSHIFT_DATA_DIR"], True)
