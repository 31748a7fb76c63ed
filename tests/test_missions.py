"""Kepler, K2 and TESS light-curve files: quality masks, time systems, several files per job.

The row counts of altaipony's example files after the default mask are checked against a
reference computed here, independently: astropy reads the quality column and the bitmask is
written out as lightkurve documents it (1130799 for Kepler and K2, 17087 for TESS).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from _fetched import ALTAIPONY_FILES, altaipony_file

from mpicg.cli.jobfile import load_job
from mpicg.cli.missions import QUALITY_MASKS, is_mission_file, read_mission_file
from mpicg.cli.observations import read_observations
from mpicg.errors import InputError

fits = pytest.importorskip("astropy.io.fits")

# lightkurve's documented quality_bitmask values (lightkurve/utils.py docstrings).
KEPLER_DEFAULT, KEPLER_HARD, KEPLER_HARDEST = 1130799, 1664431, 2096639
TESS_DEFAULT, TESS_HARD, TESS_HARDEST = 17087, 24319, 65535

# (file, mission, season, quality column, rows kept by the default mask, ... and finite
# PDCSAP flux): the counts as lightkurve's read() and remove_nans() give them.
ALTAIPONY_CASES = [
    ("kplr010002792-2009259160929_llc.fits", "Kepler", "Q2", "SAP_QUALITY", 4075, 4070),
    ("kplr010002792-2010174085026_llc.fits", "Kepler", "Q5", "SAP_QUALITY", 4492, 4486),
    ("ktwo211117077-c04_llc.fits", "K2", "C4", "SAP_QUALITY", 3294, 3282),
    ("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits", "TESS", "S1", "QUALITY",
     18101, 18101),
]


def test_the_masks_are_the_documented_bitmasks():
    assert QUALITY_MASKS["Kepler"] == {"none": 0, "default": KEPLER_DEFAULT,
                                       "hard": KEPLER_HARD, "hardest": KEPLER_HARDEST}
    assert QUALITY_MASKS["K2"] == QUALITY_MASKS["Kepler"]
    assert QUALITY_MASKS["TESS"] == {"none": 0, "default": TESS_DEFAULT, "hard": TESS_HARD,
                                     "hardest": TESS_HARDEST}


def _reference_counts(path, quality_column: str, bitmask: int, flux: str = "PDCSAP_FLUX"):
    """Rows kept by ``bitmask``, and those with finite time, flux and error too."""
    with fits.open(path) as hdus:
        data = hdus["LIGHTCURVE"].data
        keep = (np.asarray(data[quality_column]).astype(np.int64) & bitmask) == 0
        finite = (np.isfinite(data["TIME"]) & np.isfinite(data[flux])
                  & np.isfinite(data[flux + "_ERR"]))
        return int(keep.sum()), int((keep & finite).sum()), len(data)


@pytest.mark.parametrize(("name", "mission", "season", "column", "by_mask", "finite"),
                         ALTAIPONY_CASES, ids=[c[2] for c in ALTAIPONY_CASES])
def test_default_mask_row_counts_equal_an_independent_reference(name, mission, season, column,
                                                                by_mask, finite):
    path = altaipony_file(name)
    bitmask = TESS_DEFAULT if mission == "TESS" else KEPLER_DEFAULT
    reference_mask, reference_kept, rows = _reference_counts(path, column, bitmask)
    assert (reference_mask, reference_kept) == (by_mask, finite)  # lightkurve's counts
    lc = read_mission_file(path)
    assert (lc.mission, lc.season) == (mission, season)
    assert lc.counts["rows"] == rows
    assert lc.counts["kept_by_mask"] == reference_mask
    assert lc.counts["masked"] == rows - reference_mask
    assert lc.counts["kept"] == lc.times.size == reference_kept
    assert np.all(np.isfinite(lc.flux))
    assert np.all(lc.sigma > 0)
    assert lc.time_reference == (2457000.0 if mission == "TESS" else 2454833.0)
    assert lc.cadence == pytest.approx(120.0 / 86400 if mission == "TESS" else 0.0204336,
                                       rel=1e-4)


@pytest.mark.parametrize("quality", ["hard", "hardest", "none", 1 + 2 + 4096])
@pytest.mark.parametrize("flux", ["PDCSAP_FLUX", "SAP_FLUX"])
def test_other_masks_and_flux_columns(quality, flux):
    name, _, _, column, _, _ = ALTAIPONY_CASES[2]  # K2: the most quality bits set
    path = altaipony_file(name)
    bitmask = {"hard": KEPLER_HARD, "hardest": KEPLER_HARDEST, "none": 0}.get(quality, quality)
    by_mask, kept, _ = _reference_counts(path, column, bitmask, flux)
    lc = read_mission_file(path, flux_column=flux, quality=quality)
    assert (lc.counts["kept_by_mask"], lc.times.size) == (by_mask, kept)
    assert lc.flux_column == flux


def test_quarters_of_kepler_and_a_tess_sector_in_one_job(tmp_path):
    names = list(ALTAIPONY_FILES)
    paths = [altaipony_file(n) for n in (names[0], names[1], names[3])]
    (tmp_path / "job.toml").write_text(textwrap.dedent(f"""\
        [model]
        name = "transit"
        [data]
        files = {[str(p) for p in paths]!r}
        [fit]
        parameters = ["rp"]
    """).replace("'", '"'))
    obs = read_observations(load_job(tmp_path / "job.toml"))
    singles = [read_mission_file(p) for p in paths]
    assert obs.times.size == sum(s.times.size for s in singles)
    assert len(obs.segments) == 3
    # TESS counts from BJD 2457000, Kepler from 2454833: all on the first file's reference.
    tess = obs.times[obs.times > 2000]
    np.testing.assert_array_equal(np.sort(tess), np.sort(singles[2].times + 2167.0))
    assert obs.time_label == "BJD_TDB - 2454833"
    assert np.all(np.diff(obs.times) > 0)
    # each file normalised by its own median, its own exposure time
    for k, single in enumerate(singles):
        rows = obs.segments.index(obs.times) == k
        assert np.median(obs.flux[rows]) == pytest.approx(1.0, abs=1e-12)
        assert obs.exposure_times[k] == single.cadence


# ---- synthetic files: the rules, without the network ---------------------------------------

def _mission_file(path, telescope="TESS", mission=None, quality=(), times=None, flux=None,
                  time_pixel=None, **header):
    n = len(quality)
    times = np.arange(n, dtype=float) * 0.1 + 100.0 if times is None else np.asarray(times)
    flux = np.full(n, 1000.0) if flux is None else np.asarray(flux, dtype=float)
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = telescope
    if mission:
        primary.header["MISSION"] = mission
    quality_name = "QUALITY" if telescope == "TESS" else "SAP_QUALITY"
    columns = [fits.Column(name="TIME", format="D", array=times),
               fits.Column(name="SAP_FLUX", format="E", array=flux * 1.1),
               fits.Column(name="SAP_FLUX_ERR", format="E", array=np.full(n, 2.0)),
               fits.Column(name="PDCSAP_FLUX", format="E", array=flux),
               fits.Column(name="PDCSAP_FLUX_ERR", format="E", array=np.full(n, 1.0)),
               fits.Column(name=quality_name, format="J", array=np.asarray(quality))]
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    table.header.update({"TIMESYS": "TDB", "BJDREFI": 2457000 if telescope == "TESS"
                         else 2454833, "BJDREFF": 0.0, "TIMEUNIT": "d", "TIMEDEL": 0.1,
                         **header})
    if time_pixel is not None:
        table.header["TIMEPIXR"] = time_pixel
    fits.HDUList([primary, table]).writeto(path)
    return path


@pytest.mark.parametrize(("telescope", "mission", "bits_dropped", "bits_kept"), [
    ("TESS", None, [1, 8, 16, 128, 512, 16384], [64, 256, 1024, 8192]),
    ("Kepler", "K2", [1, 8, 32, 256, 65536, 1048576], [16, 128, 2048, 524288]),
    ("Kepler", "Kepler", [2, 4, 16384], [64, 4096, 131072]),
])
def test_the_default_mask_reads_the_bits_as_the_mission_means_them(tmp_path, telescope,
                                                                   mission, bits_dropped,
                                                                   bits_kept):
    quality = [0, *bits_dropped, *bits_kept, bits_kept[0] | bits_dropped[0]]
    path = _mission_file(tmp_path / "lc.fits", telescope, mission, quality)
    assert is_mission_file(path)
    lc = read_mission_file(path)
    assert lc.times.size == 1 + len(bits_kept)
    assert lc.counts["masked"] == len(bits_dropped) + 1
    lc = read_mission_file(path, quality="none")
    assert lc.times.size == len(quality)


def test_gaps_are_dropped_and_counted_and_stamps_move_to_mid_exposure(tmp_path):
    flux = [1000.0, np.nan, 1000.0, 1000.0]
    path = _mission_file(tmp_path / "lc.fits", quality=[0, 0, 8, 0], flux=flux,
                         times=[1.0, 1.1, np.nan, 1.3], time_pixel=0.0)
    lc = read_mission_file(path)
    assert lc.counts == {"rows": 4, "masked": 1, "kept_by_mask": 3, "not_finite": 1,
                         "removed_by_keep": 0, "kept": 2}
    # TIMEPIXR = 0: stamps at the start of each exposure, moved by half a cadence.
    np.testing.assert_allclose(lc.times, [1.05, 1.35])


def test_keep_selects_by_any_column(tmp_path):
    path = _mission_file(tmp_path / "lc.fits", quality=[0] * 10)
    lc = read_mission_file(path, keep={"TIME": {"min": 100.25, "max": 100.65}})
    np.testing.assert_allclose(lc.times, [100.3, 100.4, 100.5, 100.6])
    assert lc.counts["removed_by_keep"] == 6


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"flux_column": "KSPSAP_FLUX"}, "'KSPSAP_FLUX' is not a column of lc.fits"),
    ({"quality": "soft"}, r"`quality_bitmask` must be one of \['none', 'default', 'hard', "
                          r"'hardest'\] or an integer >= 0; got 'soft'"),
    ({"quality": -1}, "got -1"),
    ({"keep": {"SAP_BKG": {"min": 0}}}, "keep: 'SAP_BKG' is not a column"),
])
def test_mistakes_name_the_value(tmp_path, kwargs, match):
    path = _mission_file(tmp_path / "lc.fits", quality=[0, 0])
    with pytest.raises(InputError, match=match):
        read_mission_file(path, **kwargs)


def test_a_file_of_another_telescope_is_not_a_mission_file(tmp_path):
    path = _mission_file(tmp_path / "lc.fits", telescope="Spitzer", quality=[0])
    assert not is_mission_file(path)
    with pytest.raises(InputError, match="not a Kepler, K2 or TESS light-curve file"):
        read_mission_file(path)


def test_no_cadence_left(tmp_path):
    path = _mission_file(tmp_path / "lc.fits", quality=[8, 8])
    with pytest.raises(InputError, match="no cadence left"):
        read_mission_file(path)
