"""Progress files: exact resume after a kill at any iteration, any rank count; clear errors."""

import json

import numpy as np
import pytest
from _mpirun import run_script

import mpicg
from mpicg.fitting.checkpoint import load_checkpoint


def model(x, t):
    return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / x[2]) ** 2)


def problem(shift=0.0):
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 10, 500))
    flux = model(np.array([0.02, 5.0 + shift, 0.3]), t) + rng.normal(0, 1e-3, t.size)
    return mpicg.Problem(model, t, flux, np.full(t.size, 1e-3))


X0 = [0.015, 4.9, 0.35]


class FitInterruptedError(Exception):
    pass


def interrupted_fit(path, stop, **kw):
    """A fit that dies (an exception from its callback) after `stop` iterations."""
    seen = []

    def callback(xk):
        seen.append(xk)
        if len(seen) == stop:
            raise FitInterruptedError

    with pytest.raises(FitInterruptedError):
        mpicg.fit(problem(), X0, progress_every_niters=1, progress_file=path,
                  callback=callback, **kw)


@pytest.fixture(scope="module")
def uninterrupted():
    return mpicg.fit(problem(), X0, return_all=True)


@pytest.mark.parametrize("stop", [1, 2, 5, 9, 15])
def test_resume_gives_the_uninterrupted_bits(tmp_path, uninterrupted, stop):
    path = tmp_path / "progress.json"
    interrupted_fit(path, stop, return_all=True)
    assert load_checkpoint(path).state.k == stop
    res = mpicg.fit(problem(), None, resume=path, return_all=True)
    assert res.x.tobytes() == uninterrupted.x.tobytes()
    assert float(res.fun).hex() == float(uninterrupted.fun).hex()
    assert (res.nit, res.nfev, res.njev) == (uninterrupted.nit, uninterrupted.nfev,
                                             uninterrupted.njev)
    assert [v.tobytes() for v in res.allvecs] == [v.tobytes() for v in uninterrupted.allvecs]
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind


def test_stored_options_win_on_resume(tmp_path):
    path = tmp_path / "p.json"
    interrupted_fit(path, 2, jac="3-point", gtol=1e-4)
    reference = mpicg.fit(problem(), X0, jac="3-point", gtol=1e-4)
    res = mpicg.fit(problem(), None, resume=path)  # defaults here; the file's options count
    assert res.x.tobytes() == reference.x.tobytes()
    assert res.nfev == reference.nfev


def test_missing_truncated_corrupted_foreign(tmp_path):
    path = tmp_path / "p.json"
    interrupted_fit(path, 3)
    with pytest.raises(mpicg.InputError, match="does not exist"):
        mpicg.fit(problem(), None, resume=tmp_path / "nope.json")
    text = path.read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(mpicg.InputError, match="truncated"):
        mpicg.fit(problem(), None, resume=tmp_path / "cut.json")
    document = json.loads(text)
    document["payload"]["state"]["k"] += 1  # a flipped value, checksum unchanged
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(mpicg.InputError, match="corrupted"):
        mpicg.fit(problem(), None, resume=tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(mpicg.InputError, match="not an mpicg progress file"):
        mpicg.fit(problem(), None, resume=tmp_path / "other.json")
    with pytest.raises(mpicg.InputError, match="belongs to another problem"):
        mpicg.fit(problem(shift=0.01), None, resume=path)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"progress_every_niters": 2}, "`progress_file` must name a file"),
    ({"progress_every_niters": -1, "progress_file": "x"}, "integer >= 0; got -1"),
    ({"progress_every_niters": 1.5, "progress_file": "x"}, "integer >= 0; got 1.5"),
])
def test_bad_progress_options(kwargs, match):
    with pytest.raises(mpicg.InputError, match=match):
        mpicg.fit(problem(), X0, **kwargs)


def _result(job):
    lines = [line for line in job.output.splitlines() if line.startswith("RESULT")]
    assert len(lines) == 1, job.output[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def reference_line(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "p.json"
    job = run_script(1, "progress_fit.py", path, "fresh", timeout=120)
    assert job.returncode == 0, job.output[-3000:]
    return _result(job)


# Rank 0 is killed in the iteration after these (of 14): early, mid, late.
@pytest.mark.parametrize(("kill_after", "ranks_before", "ranks_after"),
                         [(1, 2, 3), (2, 3, 1), (5, 2, 4), (8, 4, 2)])
def test_sigkill_then_resume_with_other_rank_count(tmp_path, reference_line, kill_after,
                                                   ranks_before, ranks_after):
    path = tmp_path / "progress.json"
    killed = run_script(ranks_before, "progress_fit.py", path, "fresh", kill_after,
                        timeout=60)
    assert not killed.timed_out
    assert killed.returncode != 0
    assert "RESULT" not in killed.output
    assert path.exists(), killed.output[-2000:]
    resumed = run_script(ranks_after, "progress_fit.py", path, "resume", timeout=60)
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert _result(resumed) == reference_line
