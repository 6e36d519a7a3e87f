"""Test-wide settings: the app and the CLI keep their library database in a throwaway folder,
never in the developer's own data folder (``~/.local/share/rigshift``)."""
from __future__ import annotations

import os
import tempfile

import pytest

if not os.environ.get("RIGSHIFT_DB_URL") and not os.environ.get("RIGSHIFT_DATA_DIR"):
    os.environ["RIGSHIFT_DATA_DIR"] = tempfile.mkdtemp(prefix="rigshift-test-data-")

if os.path.basename(os.environ.get("RIGSHIFT_DATA_DIR", "")).startswith("rigshift-test-data-"):
    import atexit
    import shutil

    atexit.register(shutil.rmtree, os.environ["RIGSHIFT_DATA_DIR"], True)

# The solvers every solver-parametrised test runs over, declared once (SPEC section 1: solver.name),
# and the solve paths: (solver.name, solver.backend) pairs, PuLP for both solvers plus HiGHS direct.
SOLVERS = ("highs", "cbc")
SOLVER_PATHS = (("highs", "pulp"), ("highs", "direct"), ("cbc", "pulp"))


def path_id(path: tuple[str, str]) -> str:
    """The test id of a solve path: 'highs-pulp'."""
    return "-".join(path)


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A fresh SQLite library for the app under test (RIGSHIFT_DB_URL); returns its URL."""
    url = f"sqlite:///{tmp_path / 'library.db'}"
    monkeypatch.setenv("RIGSHIFT_DB_URL", url)
    return url
