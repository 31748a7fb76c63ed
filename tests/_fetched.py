"""Third-party files the tests need, fetched from the package index (skipped without it).

altaipony's wheel (MIT) holds Kepler, K2 and TESS light-curve files; pytransit's and ellc's
source distributions (GPL) hold the examples' light curves. None is committed: each is
fetched once into the cache (``$MPICG_CACHE`` or ``~/.cache/mpicg``) and checked by SHA-256.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpicg.cli.fetch import FetchError, Release, fetch_member

ALTAIPONY = Release("altaipony", "2.1.2", "altaipony-2.1.2-py3-none-any.whl",
                    "a5e49fdadba2935af2421e8a41ec544e712b81f356dd27f01c43c116ada13605", "MIT")

#: altaipony's example light curves: name -> SHA-256.
ALTAIPONY_FILES = {
    "kplr010002792-2009259160929_llc.fits":
        "65ec2b64d904b3f241c92d216509748d4fded02a8ee9dc397ce11ed7aa72af80",
    "kplr010002792-2010174085026_llc.fits":
        "a0bfd85d5403e761d7d761717f6476d802d3865b2c77196f804a7bfe38c37c36",
    "ktwo211117077-c04_llc.fits":
        "236eaa4c669987e5f2b3f696690b947434a159b2cfca75a933a546e7f269a7af",
    "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits":
        "8f026f87bfaf4e79496e124dd6a9a36b5ff06ed597c0b3bff5387fa240681695",
}


def altaipony_file(name: str) -> Path:
    """One of altaipony's example files, or skip the test saying why."""
    try:
        return fetch_member(ALTAIPONY, f"altaipony/examples/{name}", ALTAIPONY_FILES[name])
    except FetchError as e:
        pytest.skip(f"the package index cannot be reached for altaipony 2.1.2: {e}")
