"""A job's [data]: several files, magnitudes, row selection, segments, normalisation; and the
[model] keys that work with any model (supersample, baseline), each mistake named with its
key and line."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

from mpicg.cli import main
from mpicg.cli.fit import read_job_inputs
from mpicg.cli.jobfile import load_job
from mpicg.cli.observations import read_observations
from mpicg.errors import InputError
from mpicg.models import TransitModel

JOB = """\
[model]
name = "transit"
options = {{ period = 1.0, resolution = 6 }}
{model}
[data]
{data}
[parameters]
t0 = 0.25
rp = 0.1
a = 5.0
[fit]
parameters = {fitted}
gtol = 1e-3
[output]
directory = "out"
"""


def _table(path, t0, t1, n=200, level=1.0, name="flux", extra=None):
    times = np.linspace(t0, t1, n)
    model = TransitModel(period=1.0, resolution=6)
    flux = level * model(np.array([0.25, 0.1, 5.0, 90.0]), times)
    columns = {"time": times, name: flux, "sigma": np.full(n, 1e-3), **(extra or {})}
    np.savetxt(path, np.column_stack(list(columns.values())), delimiter=",",
               header=",".join(columns), comments="", fmt="%.17g")
    return times, flux


def _job(tmp_path, data: str, model: str = "", fitted='["rp"]'):
    path = tmp_path / "job.toml"
    path.write_text(JOB.format(data=textwrap.dedent(data), model=textwrap.dedent(model),
                               fitted=fitted))
    return path


def _line_of(path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1)
                if fragment in line)


def test_two_files_two_levels_fitted_from_the_job_file(tmp_path):
    _table(tmp_path / "a.csv", 0.0, 2.0, level=1.0)
    _table(tmp_path / "b.csv", 3.0, 5.0, level=1.02)
    path = _job(tmp_path, 'files = ["a.csv", "b.csv"]', fitted='["level_1", "level_2"]')
    inputs = read_job_inputs(load_job(path))
    assert inputs.model.parameter_names[-2:] == ("level_1", "level_2")
    assert inputs.observations.segments.names == ("a.csv", "b.csv")
    assert main(["fit", str(path)]) == 0
    solution = json.loads((tmp_path / "out" / "solution.json").read_text())
    assert solution["fitted_values"]["level_1"] == pytest.approx(1.0, abs=1e-6)
    assert solution["fitted_values"]["level_2"] == pytest.approx(1.02, abs=1e-6)
    header = (tmp_path / "out" / "history.csv").read_text().splitlines()[0]
    assert header.endswith(",level_1,level_2")


def test_magnitudes_become_normalised_flux_with_propagated_sigma(tmp_path):
    times = np.linspace(0.0, 1.0, 50)
    mag = 0.05 * np.sin(times)
    mag[7] = 9.0  # an outlier that keep removes
    flag = np.zeros(50)
    flag[7] = -1
    np.savetxt(tmp_path / "lc.dat", np.column_stack([times, mag, np.full(50, 0.002), flag]),
               header="BJD mag e_mag Flag")
    path = _job(tmp_path, """\
        file = "lc.dat"
        columns = ["BJD", "mag", "e_mag"]
        magnitudes = true
        keep = { Flag = { min = 0 } }
        time_label = "BJD_TDB - 2450000"
    """)
    obs = read_observations(load_job(path))
    good = flag == 0
    flux = 10 ** (-0.4 * mag[good])
    median = np.median(flux)
    np.testing.assert_allclose(obs.flux, flux / median, rtol=1e-14)
    np.testing.assert_allclose(obs.sigma, 0.4 * math.log(10) * 0.002 * flux / median,
                               rtol=1e-14)
    assert obs.time_label == "BJD_TDB - 2450000"
    assert obs.exposure_times == (0.0,)


def test_gaps_cut_segments_and_each_is_normalised(tmp_path):
    _table(tmp_path / "a.csv", 0.0, 2.0, level=1000.0)
    _table(tmp_path / "b.csv", 2.8, 4.0, level=1200.0)
    path = _job(tmp_path, """\
        files = ["a.csv", "b.csv"]
        segments = "gap"
        segment_gap = 0.2
        normalise = true
        exposure_time = 0.01
    """)
    obs = read_observations(load_job(path))
    assert len(obs.segments) == 2
    assert obs.exposure_times == (0.01, 0.01)
    for k in range(2):
        rows = obs.segments.index(obs.times) == k
        assert np.median(obs.flux[rows]) == pytest.approx(1.0, abs=1e-12)
    path = _job(tmp_path, """\
        files = ["a.csv", "b.csv"]
        segments = "single"
    """)
    obs = read_observations(load_job(path))
    assert len(obs.segments) == 1
    assert np.max(obs.flux) > 1100  # a table of flux is used as it is


def _error(path) -> str:
    job = load_job(path)
    with pytest.raises(InputError) as err:
        read_job_inputs(job)
    return str(err.value)


@pytest.mark.parametrize(("data", "model", "fitted", "fragment", "expected"), [
    ('file = "a.csv"\nfiles = ["a.csv"]', "", '["rp"]', "files =",
     "[data] files: give the light curve as file = '...' or files = ['...', ...]"),
    ('file = "a.csv"\nflux_column = "SAP_FLUX"', "", '["rp"]', "flux_column",
     "[data] flux_column: is for Kepler, K2 and TESS light-curve files; a.csv is read as a "
     "table"),
    ('file = "a.csv"\nquality_bitmask = "soft"', "", '["rp"]', "quality_bitmask",
     "[data] quality_bitmask: must be one of ['none', 'default', 'hard', 'hardest'] or an "
     "integer >= 0; got 'soft'"),
    ('file = "a.csv"\nkeep = { flag = 0 }', "", '["rp"]', "keep",
     "[data] keep: must be a table of column = { min = ..., max = ... }"),
    ('file = "a.csv"\nkeep = { flag = { min = 0 } }', "", '["rp"]', "keep",
     "[data] keep: 'flag' is not a column of a.csv"),
    ('file = "a.csv"\nsegments = "quarter"', "", '["rp"]', "segments",
     "[data] segments: must be one of ['file', 'gap', 'single']; got 'quarter'"),
    ('file = "a.csv"\nexposure_time = -1.0', "", '["rp"]', "exposure_time",
     "[data] exposure_time: must be a number of days >= 0; got -1.0"),
    ('file = "a.csv"', "supersample = 0", '["rp"]', "supersample",
     "[model] supersample: must be an integer >= 1; got 0"),
    ('file = "a.csv"', "supersample = 5", '["rp"]', "supersample",
     "[model] supersample: integrating over the exposure needs its length"),
    ('file = "a.csv"', 'baseline = "polynomial"', '["rp"]', "baseline",
     "[model] baseline: must be one of ['level', 'trend', 'none']"),
    ('files = ["a.csv", "a2.csv"]', "", '["rp", "level_3"]', "parameters = [",
     "[fit] parameters: 'level_3' is not a parameter of the model"),
    ('file = "a.csv"', 'baseline = "none"', '["level"]', "parameters = [",
     "[fit] parameters: 'level' is not a parameter of the model"),
    ('files = ["a.csv", "overlap.csv"]', "", '["rp"]', "files =",
     "[data] files: a.csv and overlap.csv overlap in time"),
])
def test_each_mistake_names_its_key_and_line(tmp_path, data, model, fitted, fragment,
                                             expected):
    _table(tmp_path / "a.csv", 0.0, 2.0)
    _table(tmp_path / "a2.csv", 3.0, 4.0)
    _table(tmp_path / "overlap.csv", 1.0, 3.0)
    path = _job(tmp_path, data, model, fitted)
    try:
        message = _error(path)
    except InputError as e:  # found while reading the job file itself
        message = str(e)
    else:
        pass
    line = _line_of(path, fragment)
    assert message.startswith(f"{path}, line {line}: "), message
    assert expected in message, message


def test_a_mission_key_for_a_mission_file_and_columns_refused(tmp_path):
    fits = pytest.importorskip("astropy.io.fits")
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "Kepler"
    n = 30
    columns = [fits.Column(name=name, format="D", array=array) for name, array in (
        ("TIME", np.arange(n) * 0.0204336), ("PDCSAP_FLUX", np.full(n, 500.0)),
        ("PDCSAP_FLUX_ERR", np.full(n, 1.0)), ("SAP_QUALITY", np.zeros(n)))]
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    table.header.update({"BJDREFI": 2454833, "BJDREFF": 0.0, "TIMEDEL": 0.0204336})
    fits.HDUList([primary, table]).writeto(tmp_path / "kplr.fits")
    path = _job(tmp_path, 'file = "kplr.fits"\ncolumns = ["TIME", "PDCSAP_FLUX", "X"]')
    assert "[data] columns: kplr.fits is a Kepler light-curve file: choose its flux with " \
           "flux_column" in _error(path)
    path = _job(tmp_path, 'file = "kplr.fits"')
    with pytest.warns(UserWarning, match=r"exposures of 29\.4 min are fitted with an "
                                         r"instantaneous model"):
        inputs = read_job_inputs(load_job(path))
    assert np.all(inputs.flux == 1.0)  # normalised by default
    path = _job(tmp_path, 'file = "kplr.fits"', "supersample = 3")
    inputs = read_job_inputs(load_job(path))
    assert inputs.observations.exposure_times == (0.0204336,)
    assert inputs.model.model.model.supersample == 3  # Baseline(Integrated(model))
