"""The documentation site builds with MkDocs in strict mode (every warning an error: a broken link,
a page missing from the navigation, an unknown anchor), and the README keeps what a newcomer reads first."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=project, capture_output=True, text=True, timeout=300)


def test_the_docs_site_builds_strict(tmp_path):
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index", "cli", "model", "inputs", "risk", "development"):
        assert (tmp_path / "site" / page / "index.html").is_file() or (tmp_path / "site" / f"{page}.html").is_file() \
            or (tmp_path / "site" / "index.html").is_file() and page == "index"


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "cli.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [the missing page](no-such-page.md).\n", encoding="utf-8")
    done = build(copy, tmp_path / "site")
    assert done.returncode != 0 and "no-such-page.md" in done.stdout + done.stderr


def test_readme_starts_with_the_two_commands_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = [line.strip() for line in text.splitlines() if line.strip()][1:3]
    assert first[0].startswith("make run") and first[1].startswith("make test")
    assert len(text.splitlines()) < 200
    for link in ("docs/cli.md", "docs/model.md", "docs/inputs.md", "docs/development.md"):
        assert f"]({link})" in text and (ROOT / link).is_file()
