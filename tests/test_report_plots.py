"""What the report draws: eclipses found on the model, folds on the declared period,
parameters per iteration; and `mpicg models`, and fetching files from a package index."""

from __future__ import annotations

import hashlib
import json
import tarfile
import textwrap

import numpy as np
import pytest

from mpicg.cli import main
from mpicg.cli.catalogue import describe_models
from mpicg.cli.fetch import FetchError, Release, fetch_member
from mpicg.cli.history import read_history
from mpicg.cli.plots import eclipse_windows
from mpicg.models import (
    Baseline,
    BatmanTransit,
    EclipsingBinary,
    Integrated,
    ProximityBinary,
    TransitModel,
)

GRID = np.linspace(-0.25, 0.75, 4000, endpoint=False)


def _values(model, **given):
    full = dict(model.defaults, **given)
    return np.array([full[n] for n in model.parameter_names])


@pytest.mark.parametrize(("proximity", "reflection"), [(False, 0.0), (True, 0.008)])
def test_eclipse_windows_find_both_eclipses_not_the_phase_curve(proximity, reflection):
    model = ProximityBinary(resolution=8) if proximity else EclipsingBinary(resolution=8)
    extra = {"ellipsoidal": 0.003, "reflection2": reflection} if proximity else {}
    values = _values(model, period=1.0, t0=0.0, incl=80.0, r1=0.15, r2=0.12, sbratio=0.5,
                     **extra)
    windows = eclipse_windows(GRID, model(values, GRID))
    centres = sorted(c for c, _ in windows)
    assert len(windows) == 2
    assert centres[0] == pytest.approx(0.0, abs=1e-3)
    assert centres[1] == pytest.approx(0.5, abs=1e-3)
    # eclipse half-width in phase: asin(sqrt((r1+r2)^2 - cos^2 i) / sin i) / (2 pi) = 0.0342
    for _, width in windows:
        assert 0.0342 < width < 2.0 * 0.0342


def test_a_transit_has_one_window_and_a_flat_model_none():
    model = TransitModel(period=1.0, resolution=6)
    windows = eclipse_windows(GRID, model(np.array([0.0, 0.1, 5.0, 90.0]), GRID))
    assert len(windows) == 1
    assert windows[0][0] == pytest.approx(0.0, abs=1e-3)
    assert eclipse_windows(GRID, np.ones(GRID.size)) == []


def test_models_declare_their_period_and_epoch_through_the_wrappers():
    binary = Baseline(Integrated(EclipsingBinary(), 0.02, 3))
    assert binary.ephemeris(dict(binary.defaults, period=2.5, t0=0.3)) == (2.5, 0.3)
    batman = BatmanTransit()
    assert (batman.period_parameter, batman.epoch_parameter) == ("per", "t0")
    assert batman.ephemeris(dict(batman.defaults, per=1.3, t0=5.0)) == (1.3, 5.0)
    transit = TransitModel(period=4.0)
    assert transit.ephemeris(dict(transit.defaults, t0=1.0)) == (4.0, 1.0)


def test_mpicg_models_lists_parameters_units_and_defaults(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == describe_models().strip()
    for name in ("eclipsing_binary", "transit", "batman"):
        assert f'[model] name = "{name}"' in out
    assert "options = { proximity = true }" in out
    assert "reflection2" in out
    assert "incl                 89  deg   [0, 90]       orbital inclination" in out
    assert "reports fold on: period = per, epoch = t0" in out
    assert "supersample = N" in out


def test_the_report_of_a_fit_with_a_baseline(tmp_path):
    model = EclipsingBinary(resolution=8)
    times = np.linspace(0.0, 5.0, 800)
    truth = _values(model, period=2.5, t0=0.3, incl=86.0, r1=0.12, r2=0.09, sbratio=0.5)
    flux = 1.003 * model(truth, times) + np.random.default_rng(4).normal(0, 5e-4, times.size)
    np.savetxt(tmp_path / "lc.csv", np.column_stack([times, flux, np.full(times.size, 5e-4)]),
               delimiter=",", header="time,flux,sigma", comments="")
    (tmp_path / "job.toml").write_text(textwrap.dedent("""\
        [model]
        name = "eclipsing_binary"
        options = { resolution = 8 }
        [data]
        file = "lc.csv"
        time_label = "BJD_TDB - 2450000"
        [parameters]
        period = 2.5
        t0 = 0.3
        incl = 86.0
        r1 = 0.12
        r2 = 0.09
        sbratio = 0.5
        [fit]
        parameters = ["r1", "level"]
        gtol = 0.1
        [output]
        directory = "out"
    """))
    assert main(["fit", str(tmp_path / "job.toml")]) == 0
    history = read_history(tmp_path / "out" / "history.csv")
    solution = json.loads((tmp_path / "out" / "solution.json").read_text())
    assert history["r1"][-1] == solution["fitted_values"]["r1"]
    assert history["level"][0] == 1.0
    assert main(["report", str(tmp_path / "out")]) == 0
    for name in ("fit.png", "lightcurve.png", "convergence.png", "parameters.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 20_000, name


# ---- fetching from an index ----------------------------------------------------------------

def _local_index(tmp_path, content: bytes):
    """A PEP 503 index in a directory holding one sdist with one member."""
    member = tmp_path / "pkg-1.0" / "data" / "lc.dat"
    member.parent.mkdir(parents=True)
    member.write_bytes(content)
    sdist = tmp_path / "files" / "pkg-1.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as t:
        t.add(member, arcname="pkg-1.0/data/lc.dat")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    page = tmp_path / "simple" / "pkg" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<html><body><a href="{sdist.as_uri()}#sha256={digest}">'
                    "pkg-1.0.tar.gz</a></body></html>")
    return (tmp_path / "simple").as_uri(), Release("pkg", "1.0", "pkg-1.0.tar.gz", digest)


def test_fetch_a_member_from_an_index_then_from_the_cache(tmp_path, monkeypatch):
    index, release = _local_index(tmp_path, b"1 2 3\n")
    monkeypatch.setenv("PIP_INDEX_URL", index)
    member_sha = hashlib.sha256(b"1 2 3\n").hexdigest()
    cache = tmp_path / "cache"
    path = fetch_member(release, "pkg-1.0/data/lc.dat", member_sha, cache)
    assert path.read_bytes() == b"1 2 3\n"
    (tmp_path / "files" / "pkg-1.0.tar.gz").unlink()  # the cache serves it now
    assert fetch_member(release, "pkg-1.0/data/lc.dat", member_sha, cache) == path


def test_a_member_with_another_hash_is_refused(tmp_path, monkeypatch):
    index, release = _local_index(tmp_path, b"1 2 3\n")
    monkeypatch.setenv("PIP_INDEX_URL", index)
    with pytest.raises(FetchError, match=r"has SHA-256 .*, expected 0000"):
        fetch_member(release, "pkg-1.0/data/lc.dat", "0000", tmp_path / "cache")
    with pytest.raises(FetchError, match=r"holds no pkg-1\.0/data/none"):
        fetch_member(release, "pkg-1.0/data/none", "0000", tmp_path / "cache")


def test_history_rows_are_written_at_once_and_completed_by_the_callback(tmp_path):
    import logging

    from mpicg.cli.history import COLUMNS, HistoryFile

    path = tmp_path / "history.csv"
    history = HistoryFile(path, ["incl", "fun"], start=[85.0, 1.0])

    def log(iteration):
        numbers = dict.fromkeys(COLUMNS, 0.5) | {"iteration": iteration, "nfev": 3,
                                                 "njev": 1, "rounds": 1}
        record = logging.LogRecord("mpicg", logging.INFO, "", 0, "", (), None)
        record.mpicg_progress = numbers
        history.emit(record)

    log(0)
    log(1)
    # Logged, not yet seen by the callback: the row is there already (a progress file may
    # be written now, and the job killed).
    assert np.isnan(read_history(path)["incl"][1])
    history.parameters_at([85.5, 2.0])
    log(2)  # the fit stopped before its callback: the row stays, with nan
    rows = read_history(path)
    assert rows["iteration"] == [0, 1, 2]
    assert rows["incl"][:2] == [85.0, 85.5]
    assert rows["parameter fun"][:2] == [1.0, 2.0]  # a name that is a column already
    assert np.isnan(rows["incl"][2])
    assert path.read_text().count("\n") == 4
