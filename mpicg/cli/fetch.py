"""Files inside packages on the Python package index, fetched once into a cache.

The examples' light curves (and the readers' test files) ship inside other projects'
source distributions and wheels on PyPI, under their own licences, so mpicg fetches them
rather than redistributing them. :func:`fetch_member` gets one file out of one release:

1. a cached copy whose SHA-256 is the expected one is used as it is;
2. else the release file (a pinned name and SHA-256) is downloaded from the index's simple
   API (PEP 691 JSON, PEP 503 HTML as a fallback) at ``$PIP_INDEX_URL`` or PyPI; nothing
   of the package is run, and a file whose hash differs is refused;
3. if that fails, ``pip download --no-deps`` is tried (it honours pip's own configuration:
   mirrors, proxies, certificates; for a source distribution it also prepares its metadata,
   which needs the package's build requirements from the index);
4. the member is extracted from the archive and checked against its own SHA-256.

The cache is ``$MPICG_CACHE``, else ``$XDG_CACHE_HOME/mpicg``, else ``~/.cache/mpicg``.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FetchError", "Release", "cache_directory", "fetch_member", "fetch_release"]

_TIMEOUT = 60.0  # seconds per request
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class FetchError(RuntimeError):
    """A file could not be fetched (no network, an index without it, a wrong hash)."""


@dataclass(frozen=True)
class Release:
    """One file of a release on the package index.

    Attributes
    ----------
    package : str
        The project name (``"pytransit"``).
    version : str
        Its version (``"2.10.1"``).
    filename : str
        The release file (``"pytransit-2.10.1.tar.gz"``).
    sha256 : str
        Its SHA-256, hex.
    licence : str
        The licence its files are under (said when they are used).
    """

    package: str
    version: str
    filename: str
    sha256: str
    licence: str = ""

    @property
    def is_wheel(self) -> bool:
        """Whether the file is a wheel (else a source distribution)."""
        return self.filename.endswith(".whl")


def cache_directory() -> Path:
    """Where fetched files are kept (see the module doc)."""
    if os.environ.get("MPICG_CACHE"):
        return Path(os.environ["MPICG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mpicg"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Links(html.parser.HTMLParser):
    """The ``<a href>`` links of a PEP 503 simple page, by file name."""

    def __init__(self):
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data):
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None


def _index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def _from_simple_api(release: Release, target: Path) -> None:
    """Download ``release`` from the index's simple API into ``target``."""
    project = urllib.parse.quote(release.package.lower().replace("_", "-"))
    page_url = f"{_index_url()}/{project}/"
    # A file:// index is a directory tree whose pages are index.html files (as pip reads it).
    opened = page_url + "index.html" if page_url.startswith("file:") else page_url
    request = urllib.request.Request(opened, headers={
        "Accept": f"{_SIMPLE_JSON}, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        kind = response.headers.get("Content-Type", "")
        body = response.read()
    if _SIMPLE_JSON in kind:
        files = {f["filename"]: f["url"] for f in json.loads(body)["files"]}
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        files = parser.links
    if release.filename not in files:
        raise FetchError(f"{page_url} does not list {release.filename}")
    url = urllib.parse.urljoin(page_url, files[release.filename]).split("#", 1)[0]
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, target.open("wb") as f:
        shutil.copyfileobj(response, f)


def _from_pip(release: Release, target: Path) -> None:
    """Download ``release`` with ``pip download --no-deps`` into ``target``."""
    with tempfile.TemporaryDirectory(prefix="mpicg-fetch-") as work:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "-d", work,
                   "--only-binary" if release.is_wheel else "--no-binary", ":all:",
                   f"{release.package}=={release.version}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                              check=False)
        found = Path(work) / release.filename
        if done.returncode != 0 or not found.is_file():
            raise FetchError(f"pip download failed ({done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[-600:]}")
        shutil.move(str(found), target)


def fetch_release(release: Release, cache: Path | None = None) -> Path:
    """The release file, from the cache or the index (see the module doc).

    Parameters
    ----------
    release : Release
        What to fetch.
    cache : path, optional
        The cache directory (default: :func:`cache_directory`).

    Returns
    -------
    Path
        The file, its SHA-256 checked.

    Raises
    ------
    FetchError
        Neither the index's simple API nor pip gave the file with the expected hash.
    """
    directory = Path(cache) if cache is not None else cache_directory()
    path = directory / "releases" / release.filename
    if path.is_file() and _sha256(path) == release.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    for name, method in (("the index's simple API", _from_simple_api), ("pip", _from_pip)):
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            method(release, partial)
            digest = _sha256(partial)
            if digest != release.sha256:
                raise FetchError(f"SHA-256 {digest}, expected {release.sha256}")
            os.replace(partial, path)
            return path
        except (OSError, ValueError, KeyError, urllib.error.URLError, FetchError,
                subprocess.SubprocessError) as e:
            reasons.append(f"{name}: {e}")
        finally:
            partial.unlink(missing_ok=True)
    raise FetchError(f"cannot fetch {release.filename} ({release.package} "
                     f"{release.version}) from {_index_url()}: " + "; ".join(reasons))


def fetch_member(release: Release, member: str, sha256: str,
                 cache: Path | None = None) -> Path:
    """One file out of a release, extracted into the cache.

    Parameters
    ----------
    release : Release
        The release whose archive holds it.
    member : str
        Its path inside the archive.
    sha256 : str
        Its SHA-256, hex.
    cache : path, optional
        The cache directory (default: :func:`cache_directory`).

    Returns
    -------
    Path
        The extracted file, its hash checked.

    Raises
    ------
    FetchError
        The release cannot be fetched, does not hold ``member``, or holds another file.
    """
    directory = Path(cache) if cache is not None else cache_directory()
    path = directory / f"{release.package}-{release.version}" / Path(member).name
    if path.is_file() and _sha256(path) == sha256:
        return path
    archive = fetch_release(release, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        if release.is_wheel:
            with zipfile.ZipFile(archive) as z, z.open(member) as source, \
                    partial.open("wb") as f:
                shutil.copyfileobj(source, f)
        else:
            with tarfile.open(archive) as t:
                source = t.extractfile(member)
                if source is None:
                    raise KeyError(member)
                with source, partial.open("wb") as f:
                    shutil.copyfileobj(source, f)
        digest = _sha256(partial)
        if digest != sha256:
            raise FetchError(f"{member} in {release.filename} has SHA-256 {digest}, "
                             f"expected {sha256}")
        os.replace(partial, path)
    except KeyError:
        raise FetchError(f"{release.filename} holds no {member}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path
