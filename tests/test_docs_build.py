"""The documentation site builds with ``mkdocs build --strict``, offline, and says what it should.

Strict mode turns every broken link, missing anchor, page left out of the nav and
docstring the API reference cannot render into a failure.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed (it comes with the dev extra: pip install -e '.[dev]')",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module's tests."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner, not a warning of ours
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_every_docs_page_is_built(site: Path) -> None:
    pages = [p.stem for p in (ROOT / "docs").glob("*.md")]
    for page in pages:
        built = site / "index.html" if page == "index" else site / page / "index.html"
        assert built.is_file(), f"docs/{page}.md was not built"


def test_site_fetches_nothing_at_page_load(site: Path) -> None:
    """No web fonts or CDN scripts: the site reads the same with no network."""
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, page
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not external, f"{html} loads {external}"


def test_api_reference_renders_the_docstrings(site: Path) -> None:
    text = (site / "api" / "index.html").read_text(encoding="utf-8")
    for anchor in (
        "augment_ft.pipeline.api.augment",
        "augment_ft.pipeline.pipeline.Pipeline",
        "augment_ft.core.config.RunConfig",
        "augment_ft.backends.scripted.ScriptedBackend",
        "augment_ft.outputs.formats.validate_file",
        "augment_ft.core.errors.AugmentError",
    ):
        assert f'id="{anchor}"' in text, anchor
    assert "One call from documents (or paths) to examples and a report" in text
    assert not re.search(r":(?:func|class|attr|data|meth):<code>", text), "raw Sphinx role"


def test_changelog_page_includes_the_changelog(site: Path) -> None:
    text = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    first_entry = next(
        line.removeprefix("- ").replace("`", "")[:40]
        for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("- ")
    )
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    assert len(first_entry) == 40 and " ".join(first_entry.split()) in words
    assert "--8&lt;--" not in text and "--8<--" not in text
