"""The AsyncAPI documents as web pages that open without a network (`make asyncapi-view`).

FastStream renders a document with the AsyncAPI React component, which its page loads from
unpkg. Here the component comes from the npm registry once, pinned by version and SHA-256, into
the cache; FastStream's own page template is pointed at the local copy, so the pages in
`.run/asyncapi/` open from disk on an air-gapped machine (carry the cache there once).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from faststream.specification.asyncapi.site import get_asyncapi_html

from schemas.export import OUT_DIR
from services.common.cache import cache_dir

PACKAGE = "@asyncapi/react-component"
VERSION = "3.2.1"
TARBALL_SHA256 = "c7b5fa24dd8395383fcde3fe53d1bc9a66f02e39c86999845e486084504d512c"
# Files of the package the page needs: the standalone bundle (with the parser) and its styles.
ASSETS = {
    "asyncapi-react.js": "package/browser/standalone/index.js",
    "asyncapi-react.css": "package/styles/default.min.css",
}
_REMOTE_ICON = re.compile(r'\s*<link rel="icon"[^>]*https?://[^>]*>')


class ViewerUnavailable(RuntimeError):
    """The component is not in the cache and cannot be fetched: what to do instead."""


@dataclass(frozen=True)
class _Document:
    """What FastStream's page template reads from a specification: its title and JSON."""

    title: str
    text: str

    def to_json(self) -> str:
        return self.text


def assets(cache: Path | None = None) -> Path:
    """The cached component files, fetched with `npm pack` and checked against the pin."""
    folder = (cache or cache_dir()) / "asyncapi" / f"react-component-{VERSION}"
    if all((folder / name).exists() for name in ASSETS):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise ViewerUnavailable(
            f"npm is needed once to fetch {PACKAGE}@{VERSION} into {folder}; install Node.js, "
            "or copy that folder from a machine that has it"
        )
    with tempfile.TemporaryDirectory(prefix="qm-asyncapi-") as work:
        print(f"fetching {PACKAGE}@{VERSION} from the npm registry (once)…", file=sys.stderr)
        done = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", work, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise ViewerUnavailable(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()}")
        digest = hashlib.sha256(tarballs[0].read_bytes()).hexdigest()
        if digest != TARBALL_SHA256:
            raise ViewerUnavailable(
                f"{tarballs[0].name} has SHA-256 {digest}, not the pinned {TARBALL_SHA256}; "
                "refusing to use it"
            )
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0]) as archive:
            for name, member in ASSETS.items():
                source = archive.extractfile(member)
                if source is None:
                    raise ViewerUnavailable(f"{member} is missing from {tarballs[0].name}")
                (folder / name).write_bytes(source.read())
    return folder


def page(document: Path) -> str:
    """FastStream's page for one exported document, reading the component beside it."""
    title = document.stem
    html = get_asyncapi_html(
        _Document(f"Quartermaster {title}", document.read_text()),  # type: ignore[arg-type]
        asyncapi_js_url="asyncapi-react.js",
        asyncapi_css_url="asyncapi-react.css",
        try_it_out_path=None,
    )
    # From disk there is no Content-Type: say the page and the bundle are UTF-8, or the bundle
    # is read as Latin-1 and does not parse.
    html = html.replace("<head>", '<head>\n        <meta charset="utf-8">', 1)
    html = html.replace(
        '<script src="asyncapi-react.js">', '<script charset="utf-8" src="asyncapi-react.js">'
    )
    return _REMOTE_ICON.sub("", html)


def write_pages(out: Path, cache: Path | None = None) -> list[Path]:
    """One page per exported document in `out`, with the component copied beside them."""
    folder = assets(cache)
    out.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(folder / name, out / name)
    written = []
    for document in sorted((OUT_DIR / "asyncapi").glob("*.json")):
        target = out / f"{document.stem}.html"
        target.write_text(page(document))
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    """`python -m lab.asyncapi_view [DIR]` (default .run/asyncapi)."""
    out = Path(argv[0]) if argv else Path(".run") / "asyncapi"
    try:
        pages = write_pages(out)
    except ViewerUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for written in pages:
        print(f"file://{written.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
