"""The AsyncAPI documents open as web pages without a network: the viewer is local."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import asyncapi_view as view
from schemas.export import OUT_DIR


def test_a_page_loads_nothing_from_the_network() -> None:
    html = view.page(OUT_DIR / "asyncapi" / "gate.json")
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(sources) == ["asyncapi-react.css", "asyncapi-react.js"]
    assert '<meta charset="utf-8">' in html and 'charset="utf-8" src="asyncapi-react.js"' in html
    assert "plans.decided.v1" in html and "PlanDecided" in html  # the document itself, inline


def test_the_pages_and_the_pinned_viewer_are_written_beside_each_other(tmp_path: Path) -> None:
    pages = view.write_pages(tmp_path / "pages")  # fetches the viewer once into the cache
    assert sorted(p.name for p in pages) == ["gate.html", "parser.html", "planner.html"]
    bundle = (tmp_path / "pages" / "asyncapi-react.js").read_text(encoding="utf-8")
    assert "AsyncApiStandalone" in bundle
    assert (tmp_path / "pages" / "asyncapi-react.css").stat().st_size > 1000


def test_a_viewer_that_does_not_match_the_pin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "TARBALL_SHA256", "0" * 64)
    with pytest.raises(view.ViewerUnavailable, match="not the pinned"):
        view.assets(tmp_path)
    assert not (tmp_path / "asyncapi").exists() or not any((tmp_path / "asyncapi").rglob("*.js"))
