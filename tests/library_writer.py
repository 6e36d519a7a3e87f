"""A concurrent library writer for tests/test_workspace.py, in a module light enough to start
in a fresh (spawned) process quickly: it imports only the workspace package."""
from __future__ import annotations


def write(url: str, owner: str, shared: str, n: int) -> str | None:
    """Open the library (racing other writers to create its schema), save n versions of a shared
    name, n private names and n saves into one 'team' entry; return the schema revision seen."""
    from workspace import db
    from workspace.repository import Library

    lib = Library(url)
    for i in range(n):
        payload = f"{owner}:{i}".encode()
        lib.save(owner, shared, {"x.csv": payload}, saved_by=owner)
        lib.save(owner, f"{owner}-{i}", {"x.csv": payload}, saved_by=owner)
        lib.save("team", shared, {"x.csv": payload}, saved_by=owner)
        lib.autosave(f"ws-{owner}", owner, {"step": i})
    return db.current_revision(lib.engine)
