"""Progress files: exact resume after a kill at any iteration, any rank count; clear errors."""

import json
import warnings

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
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # defaults here say nothing; the file's options count
        res = mpicg.fit(problem(), None, resume=path)
    assert res.x.tobytes() == reference.x.tobytes()
    assert res.nfev == reference.nfev
    # Options given that differ from the file's are ignored, with a word (once silent).
    with pytest.warns(UserWarning, match=r"a resumed fit keeps the options it started with; "
                                         r"ignored gtol=0.1 \(the file's: 0.0001\), c2=0.3 "
                                         r"\(the file's: 0.4\) \(only maxiter may change\)"):
        again = mpicg.fit(problem(), None, resume=path, gtol=0.1, c2=0.3)
    assert again.x.tobytes() == reference.x.tobytes()


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
    # Checked before the fit, not at the first write (which may come hours later):
    ({"progress_every_niters": 10, "progress_file": "/no-such-dir-mpicg/p.json"},
     "its directory '/no-such-dir-mpicg' does not exist"),
    ({"progress_every_niters": 10, "progress_file": 42}, "must be a file's path; got 42"),
    ({"progress_every_niters": 10, "progress_file": "/tmp"}, "'/tmp' is a directory"),
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


# ---- what a progress file must hold, and what a resume may change ---------------------------

def _rechecksummed(path, change):
    """The progress file with `change(payload)` applied and its checksum made to match."""
    from mpicg.fitting.checkpoint import _digest

    document = json.loads(path.read_text())
    change(document["payload"])
    document["sha256"] = _digest(document["payload"])
    return json.dumps(document)


@pytest.mark.parametrize(("change", "match"), [
    (lambda p: p["state"].update(k=-5), r"the iteration k = -5 must be an integer >= 0"),
    (lambda p: p["state"].update(k=2.5), r"the iteration k = 2.5"),
    (lambda p: p["state"]["x"].__setitem__(1, float("nan").hex()), r"x must be finite"),
    (lambda p: p["state"]["g"].pop(), r"g must be a 1-D array of the same length as x"),
    (lambda p: p["state"].update(f=float("inf").hex()), r"f = inf"),
    (lambda p: p["counters"].update(nfev=-1), r"the counters .* integers >= 0"),
    (lambda p: p["options"]["gtol"].update(float=(-1.0).hex()), r"the options .*`gtol` must be"),
    (lambda p: p["options"]["maxiter"].update(value=0), r"the options .*`maxiter` must be"),
])
def test_a_rechecksummed_file_with_a_bad_state_is_refused(tmp_path, change, match):
    path = tmp_path / "p.json"
    interrupted_fit(path, 3)
    (tmp_path / "bad.json").write_text(_rechecksummed(path, change))
    with pytest.raises(mpicg.InputError, match=r"is not a valid CG state: " + match):
        mpicg.fit(problem(), None, resume=tmp_path / "bad.json")


def test_the_fingerprint_covers_the_priors_and_the_fixed_values(tmp_path):
    from mpicg.models import TransitModel
    from mpicg.priors import Gaussian, Uniform

    model = TransitModel(period=3.0, resolution=6)
    t = np.linspace(-0.2, 0.2, 151)
    flux = model(np.array([0.0, 0.1, 10.0, 88.5]), t)
    common = {"fit_parameters": ["rp"], "initial_values": {"rp": 0.09}, "gtol": 1e-3,
              "progress_every_niters": 1, "progress_file": tmp_path / "p.json"}

    def stopped(priors):
        seen = []

        def callback(xk):
            seen.append(xk)
            if len(seen) == 1:
                raise FitInterruptedError

        with pytest.raises(FitInterruptedError):
            mpicg.optimizer_cg(model, t, flux, np.full(t.size, 3e-4), priors=priors,
                               callback=callback, **common)

    stopped({"rp": Uniform(0.0, 0.5)})
    resume_options = {k: v for k, v in common.items()
                      if k not in ("progress_file", "progress_every_niters")}
    with pytest.raises(mpicg.InputError, match="belongs to another problem"):
        mpicg.optimizer_cg(model, t, flux, np.full(t.size, 3e-4),
                           priors={"rp": Gaussian(0.1, 0.01)}, resume=tmp_path / "p.json",
                           **resume_options)
    other = TransitModel(period=3.5, resolution=6)  # another fixed value
    with pytest.raises(mpicg.InputError, match="belongs to another problem"):
        mpicg.optimizer_cg(other, t, flux, np.full(t.size, 3e-4),
                           priors={"rp": Uniform(0.0, 0.5)}, resume=tmp_path / "p.json",
                           **resume_options)
    same = mpicg.optimizer_cg(model, t, flux, np.full(t.size, 3e-4),
                              priors={"rp": Uniform(0.0, 0.5)}, resume=tmp_path / "p.json",
                              **resume_options)
    assert same.nit >= 1


def test_resume_may_raise_maxiter_and_ends_as_the_longer_uninterrupted_fit(tmp_path):
    path = tmp_path / "p.json"
    short = mpicg.fit(problem(), X0, maxiter=4, progress_every_niters=1, progress_file=path)
    assert (short.nit, short.status) == (4, 1)
    again = mpicg.fit(problem(), None, resume=path)  # the stored maxiter: nothing to do
    assert (again.nit, again.status) == (4, 1)
    longer = mpicg.fit(problem(), None, resume=path, maxiter=9)
    reference = mpicg.fit(problem(), X0, maxiter=9)
    assert longer.x.tobytes() == reference.x.tobytes()
    assert (longer.nit, longer.nfev, longer.status) == (reference.nit, reference.nfev,
                                                        reference.status)


def test_a_resumed_named_fit_records_the_options_it_used(tmp_path):
    from mpicg.models import TransitModel

    model = TransitModel(period=3.0, resolution=6)
    t = np.linspace(-0.2, 0.2, 151)
    flux = model(np.array([0.0, 0.1, 10.0, 88.5]), t)
    sigma = np.full(t.size, 3e-4)
    seen = []

    def callback(xk):
        seen.append(xk)
        if len(seen) == 1:
            raise FitInterruptedError

    with pytest.raises(FitInterruptedError):
        mpicg.optimizer_cg(model, t, flux, sigma, fit_parameters=["rp", "inc"],
                           initial_values={"rp": 0.09, "inc": 88.0}, gtol=0.5,
                           fd_scheme="central", steps={"inc": mpicg.Step(1e-3)},
                           progress_every_niters=1, progress_file=tmp_path / "p.json",
                           callback=callback, c2=0.3)
    # Resumed with other options than the stored ones: the stored ones are used, and said.
    with pytest.warns(UserWarning, match=r"keeps the options it started with; ignored "
                                         r"gtol=10.0 \(the file's: 0.5\)"):
        sol = mpicg.optimizer_cg(model, t, flux, sigma, fit_parameters=["rp", "inc"],
                                 initial_values={"rp": 0.09, "inc": 88.0}, gtol=10.0,
                                 resume=tmp_path / "p.json", maxiter=50)
    assert sol.options["gtol"] == 0.5
    assert sol.options["c2"] == 0.3
    assert sol.options["maxiter"] == 50  # the one option a resume may change
    assert sol.options["fd_scheme"] == "central"
    assert sol.options["steps"]["inc"] == {"size": 1e-3, "kind": "absolute"}
    assert sol.options["resumed_from"] == str(tmp_path / "p.json")


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    import os

    from mpicg.fitting import _files

    target = tmp_path / "solution.json"
    target.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        _files.write_atomically(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solution.json"]
    _files.write_atomically(target, "new")
    assert target.read_text() == "new"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_files._UMASK


def test_a_callbacks_halt_wins_over_a_signal_in_the_same_iteration(tmp_path):
    # Found by a reviewer: the signal's stop replaced the callback's, and the resumed fit
    # went on past the iteration the callback had ended.
    import os
    import signal

    calls = []

    def callback(intermediate_result):
        calls.append(intermediate_result.x)
        if len(calls) == 2:  # noted by the fit, acted on at the end of the next iteration
            os.kill(os.getpid(), signal.SIGTERM)
        if len(calls) == 3:
            raise StopIteration

    res = mpicg.fit(problem(), X0, progress_every_niters=1,
                    progress_file=tmp_path / "p.json", callback=callback)
    assert (res.nit, res.status) == (3, 99)


class _PlainDip:
    """A user's model as a plain class (no dataclass, Python's default repr)."""

    def __init__(self, width, table=None):
        self.width = width
        self.table = np.zeros(3) if table is None else table
        self._calls = 0  # state that changes as the model runs

    def __call__(self, x, t):
        self._calls += 1
        return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / self.width) ** 2)


def _fingerprint(model):
    from mpicg.fitting.fingerprint import problem_fingerprint

    t = np.linspace(0.0, 10.0, 50)
    return problem_fingerprint(mpicg.Problem(model, t, np.ones(t.size), np.ones(t.size)), 2)


def test_the_fingerprint_of_a_plain_class_model_is_its_settings_not_its_address():
    # Its repr holds a memory address, different in every run: a resumed fit was refused.
    first, second = _PlainDip(0.3), _PlainDip(0.3)
    second(np.array([0.1, 5.0]), np.zeros(2))  # private state moved on: the same model
    assert _fingerprint(first) == _fingerprint(second)
    assert _fingerprint(first) != _fingerprint(_PlainDip(0.31))
    assert _fingerprint(first) != _fingerprint(_PlainDip(0.3, table=np.ones(3)))


def test_the_fingerprint_covers_a_wrappers_settings():
    from mpicg.models import TransitModel
    from mpicg.models.exposure import Integrated

    inner = TransitModel(period=3.0, resolution=6)
    base = _fingerprint(Integrated(inner, exposure_time=0.02, supersample=5))
    assert base == _fingerprint(Integrated(TransitModel(period=3.0, resolution=6),
                                           exposure_time=0.02, supersample=5))
    assert base != _fingerprint(Integrated(inner, exposure_time=0.02, supersample=2))
    assert base != _fingerprint(Integrated(inner, exposure_time=0.2, supersample=5))
    assert base != _fingerprint(Integrated(TransitModel(period=3.1, resolution=6),
                                           exposure_time=0.02, supersample=5))


class _Slotted:
    __slots__ = ("_calls", "width")

    def __init__(self, width):
        self.width, self._calls = width, 0

    def __call__(self, x, t):
        return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / self.width) ** 2)


class _HexRepr(_PlainDip):
    def __repr__(self):
        return f"<HexRepr 0x{id(self):x}>"


class _BadRepr(_PlainDip):
    def __repr__(self):
        raise RuntimeError("no repr")


class _SelfReferring(_PlainDip):
    def __init__(self, width):
        super().__init__(width)
        self.impl = self.fast

    def fast(self, x, t):
        return self(x, t)


def test_a_closure_counts_by_its_name_and_a_long_list_by_its_items():
    # A closure's values may be per-process state (a scratch directory): left out, so that
    # a resume is not refused. A long list of numbers counts as an array, of other things
    # item by item.
    assert _fingerprint(_closure(0.3)) == _fingerprint(_closure(0.31))
    assert (_fingerprint(_PlainDip(0.3, table=["1"] * 65))
            != _fingerprint(_PlainDip(0.3, table=[1.0] * 65)))
    assert (_fingerprint(_PlainDip(0.3, table=[2**60] * 65))
            != _fingerprint(_PlainDip(0.3, table=[2**60 + 1] * 65)))


def _closure(width):
    def dip(x, t):
        return 1.0 - x[0] * np.exp(-0.5 * ((t - x[1]) / width) ** 2)

    return dip


@pytest.mark.parametrize("make", [
    lambda w: _PlainDip(w).__call__,  # a bound method counts its object's settings
    _SelfReferring,  # one that holds its own bound method (once a RecursionError)
    _Slotted,  # __slots__ count as attributes
    _HexRepr,  # a repr that shows an address counts as Python's default does
    lambda w: _PlainDip(w, table=list(np.linspace(0, w, 100_000))),  # fast, by value
], ids=["bound-method", "self-referring", "slots", "hex-repr", "long-list"])
def test_the_fingerprint_tells_settings_apart_and_not_addresses(make):
    assert _fingerprint(make(0.3)) == _fingerprint(make(0.3))
    assert _fingerprint(make(0.3)) != _fingerprint(make(0.31))


def test_a_model_whose_description_fails_counts_by_its_type():
    assert _fingerprint(_BadRepr(0.3)) == _fingerprint(_BadRepr(0.3))
