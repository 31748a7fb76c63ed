"""Tests that run inside an MPI job (mpirun -n K python -m pytest --with-mpi tests/mpi).

tests/test_mpi_jobs.py starts this file under mpirun -n 1, 2, 3 and 4.
"""

import os

import numpy as np
import pytest
import scipy.optimize
from mpi4py import MPI

import mpicg
from mpicg.errors import is_copy
from mpicg.parallel.mpi import MPIEvaluator

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

X0 = np.array([0.015, 4.9, 0.35, 0.0])


def transit_like(x, t):
    depth, t0, width, slope = x
    return 1.0 - depth * np.exp(-0.5 * ((t - t0) / width) ** 2) + slope * np.sin(t)


def make_problem(n_times=1003, block_size=37, model=transit_like):
    # 1003 times in blocks of 37: neither divides evenly over 2, 3 or 4 ranks.
    rng = np.random.default_rng(42)
    t = rng.uniform(0, 10, n_times)  # unsorted on purpose: Problem sorts
    flux = transit_like(np.array([0.02, 5.0, 0.3, 0.001]), t) + rng.normal(0, 1e-3, n_times)
    return mpicg.Problem(model, t, flux, np.full(n_times, 1e-3), block_size=block_size)


def same_everywhere(value) -> bool:
    return len(set(comm.allgather(value))) == 1


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("jac", [None, "2-point", "3-point"])
def test_same_bits_as_serial(jac):
    problem = make_problem()
    par = mpicg.fit(problem, X0, jac=jac, maxiter=25)
    ser = mpicg.fit(problem, X0, jac=jac, maxiter=25, comm=MPI.COMM_SELF)
    assert ser.n_ranks == 1
    assert par.n_ranks == size
    assert par.x.tobytes() == ser.x.tobytes()
    assert float(par.fun).hex() == float(ser.fun).hex()
    assert (par.nit, par.nfev, par.njev, par.status) == (ser.nit, ser.nfev, ser.njev,
                                                         ser.status)
    assert par.nit > 3
    assert same_everywhere(par.x.tobytes() + float(par.fun).hex().encode())


@pytest.mark.mpi(min_size=1)
def test_problem_on_rank0_only_is_scattered():
    full = make_problem()
    par = mpicg.fit(full if rank == 0 else None, X0, maxiter=10)
    ser = mpicg.fit(full, X0, maxiter=10, comm=MPI.COMM_SELF)
    assert par.x.tobytes() == ser.x.tobytes()
    assert same_everywhere(par.x.tobytes())


@pytest.mark.mpi(min_size=1)
def test_one_round_per_gradient_and_per_trial(monkeypatch):
    batches = []
    original = MPIEvaluator.evaluate

    def spy(self, points):
        batches.append(len(points))
        return original(self, points)

    monkeypatch.setattr(MPIEvaluator, "evaluate", spy)
    problem = make_problem()
    res = mpicg.fit(problem, X0, maxiter=15)
    n = X0.size
    assert res.rank_rounds == [res.rounds] * size  # every rank took part in every round
    if size > 1:
        assert len(batches) == res.rounds if rank == 0 else batches == []
    if rank == 0 and size > 1:
        assert sum(batches) == res.nfev
        # Moré–Thuente trials and the initial point: f and gradient in one batch of n+1.
        # A batch of n is a gradient where f was already known; 1 is a lone f (zoom).
        assert set(batches) <= {n + 1, n, 1}
        if set(batches) == {n + 1}:
            assert res.rounds == res.njev


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("x0", [[-1.2, 1.0], [0.5, -0.3, 1.1, 2.0, -1.0]], ids=["2d", "5d"])
def test_plain_callable_matches_scipy(x0):
    calls = [0]

    def rosen(x):
        calls[0] += 1
        return scipy.optimize.rosen(x)

    ours = mpicg.fmin_cg(rosen, np.array(x0), full_output=1, retall=1, disp=0)
    ref = scipy.optimize.fmin_cg(scipy.optimize.rosen, np.array(x0), full_output=1, retall=1,
                                 disp=0)
    assert ours[0].tobytes() == ref[0].tobytes()
    assert ours[1:5] == ref[1:5]
    assert len(ours[5]) == len(ref[5])
    # The finite-difference points were shared out over the ranks (the parameter axis).
    per_rank = comm.allgather(calls[0])
    assert sum(per_rank) == ref[2]
    if size > 1:
        assert per_rank[1] > 0


@pytest.mark.mpi(min_size=1)
def test_minimize_accepts_a_problem():
    problem = make_problem()
    a = mpicg.minimize(problem, X0, options={"maxiter": 10})
    b = mpicg.fit(problem, X0, maxiter=10)
    assert a.x.tobytes() == b.x.tobytes()
    assert a.nfev == b.nfev


@pytest.mark.mpi(min_size=1)
@pytest.mark.parametrize("entry", ["minimize", "fmin_cg"])
def test_the_drop_ins_take_a_problem_given_on_rank0_only(entry):
    # The other ranks once took the plain-callable path (they saw None, not a Problem) and
    # waited in other collectives than rank 0's: the job hung.
    problem = make_problem()
    mine = problem if rank == 0 else None
    if entry == "minimize":
        res = mpicg.minimize(mine, X0, options={"maxiter": 5})
        x, nfev = res.x, res.nfev
    else:
        x, _, nfev, _, _ = mpicg.fmin_cg(mine, X0, maxiter=5, full_output=True, disp=False)
    ser = mpicg.fit(problem, X0, maxiter=5, comm=MPI.COMM_SELF)
    assert x.tobytes() == ser.x.tobytes()
    assert nfev == ser.nfev
    assert same_everywhere(x.tobytes())


def _sum_of_squares(x):
    return float(np.sum((x - 1.0) ** 2))


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize(("first", "last", "match"), [
    ("problem", "plain", r"`fun` on this rank is a callable and rank 0's is a Problem"),
    ("plain", "problem", r"`fun` on this rank is a Problem .* and rank 0's is a callable"),
    ("plain", "none", r"`fun` is None on this rank and rank 0's is a callable: only a "
                      r"Problem .* is sent"),
    ("plain", "pair", r"`fun` on this rank is a callable with `jac`=True .* and rank 0's "
                      r"is a callable:")])
def test_an_objective_of_another_kind_on_one_rank_is_bad_input(first, last, match):
    # A rank whose objective would take another path than rank 0's (blocks of a Problem,
    # points of a callable) is named, on every rank, instead of a hang.
    def pair(x):
        return _sum_of_squares(x), 2.0 * (x - 1.0)

    objectives = {"problem": make_problem(), "plain": _sum_of_squares, "none": None,
                  "pair": pair}
    kind = first if rank == 0 else last if rank == size - 1 else first
    options = {"jac": True} if kind == "pair" else {}
    with pytest.raises(mpicg.InputError,
                       match=rf"bad input on rank {size - 1} .*" + match) as info:
        mpicg.minimize(objectives[kind], X0, options={"maxiter": 2}, **options)
    assert is_copy(info.value) == (rank != 0)
    assert mpicg.minimize(_sum_of_squares, X0, options={"maxiter": 2}).nit >= 1


@pytest.mark.mpi(min_size=1)
def test_an_inf_from_the_model_is_named_where_it_came_from():
    # A gradient's NaN from inf - inf once ended the fit with scipy's "NaN result
    # encountered." alone, with nothing to say that the model gave inf, or where.
    def infinite_on_the_last_rank(x, t):
        flux = transit_like(x, t)
        if rank == size - 1:
            flux[0] = np.inf
        return flux

    res = mpicg.fit(make_problem(model=infinite_on_the_last_rank), X0, maxiter=3)
    # The gradient is NaN (inf - inf) or infinite (the line search then fails, or goes on
    # to a NaN at an absurd point, named after the inf), by which cells the rank computes.
    assert res.status in (2, 3)
    assert res.message.startswith(f"{res.message.split(' (')[0]} (a term was infinite on "
                                  f"rank {size - 1}, for observations ")
    assert ("the model gave ±inf there, or a value too far from the data to square"
            in res.message)
    assert same_everywhere(res.message)


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize(("bad", "match"), [
    ({"bounds": [(1.0, 0.0)] * 4}, "An upper bound is less than the corresponding lower"),
    ({"method": "Nelder-Mead"}, "`method` must be 'CG'"),
    ({"options": {"workers": 0}}, "`workers` must be a map-like callable")])
def test_minimize_arguments_bad_on_rank0_only_are_raised_on_every_rank(bad, match):
    # They were checked before the collective run: rank 0 raised alone, and the others
    # ran on into the run (a pipeline's next fit returned its result for this one).
    problem = make_problem() if rank == 0 else None
    with pytest.raises(ValueError, match=match) as info:
        mpicg.minimize(problem, X0 if rank == 0 else None, **(bad if rank == 0 else {}))
    assert is_copy(info.value) == (rank != 0)
    res = mpicg.minimize(problem, X0 if rank == 0 else None, options={"maxiter": 2})
    assert same_everywhere(res.x.tobytes())


@pytest.mark.mpi(min_size=1)
def test_minimize_warns_of_what_cg_ignores_on_rank0_only(recwarn):
    mpicg.minimize(_sum_of_squares, X0, hess=lambda x: None, bounds=[(None, None)] * 4,
                   options={"bogus": 1, "maxiter": 50})
    said = sorted(str(w.message) for w in recwarn)
    if rank == 0:
        assert said == ["Method CG cannot handle bounds.",
                        "Method CG does not use Hessian information (hess).",
                        "Unknown solver options: bogus"]
    else:
        assert said == []


@pytest.mark.mpi(min_size=2)
def test_args_that_differ_on_one_rank_are_bad_input():
    # Each rank's objective took its own args: the fit paired the values of different
    # functions, and ended without a word (status 2).
    def shifted(x, shift):
        return float(np.sum((x - shift) ** 2))

    shift = 2.0 if rank == size - 1 else 1.0
    with pytest.raises(mpicg.InputError, match=rf"bad input on rank {size - 1} .*`args` on "
                                               r"this rank \(tuple\[2.0\]\) differs from "
                                               r"rank 0's \(tuple\[1.0\]\)"):
        mpicg.minimize(shifted, X0, args=(shift,))
    # (numbers count by value: 1 and 1.0 agree, in containers too)
    res = mpicg.minimize(shifted, X0, args=(1 if rank == 0 else 1.0,))
    assert res.success
    assert same_everywhere(res.x.tobytes())

    def shifted_by(x, settings):
        return shifted(x, settings["shift"][0])

    settings = {"shift": (np.int64(1),)} if rank == 0 else {"shift": (1.0,)}
    res = mpicg.minimize(shifted_by, X0, args=(settings,))
    assert res.success


@pytest.mark.mpi(min_size=1)
def test_args_with_a_problem_are_bad_input():
    with pytest.raises(mpicg.InputError, match=r"`args` go to an objective callable"):
        mpicg.minimize(make_problem(), X0, args=(1.0,))


@pytest.mark.mpi(min_size=1)
def test_an_infinite_line_search_trial_alone_is_not_blamed_for_the_stop():
    # The first line search tries b = -577, where this model gives inf; the search backs
    # off, and the fit ends 20 iterations later at the noise floor (precision loss). The
    # inf was named in its message, as if it had caused the stop.
    t = np.linspace(0.0, 10.0, 400)

    def exponential(x, times):
        a, b = x
        with np.errstate(over="ignore"):
            return a * np.exp(b * times) if abs(b) < 50 else np.full(times.shape, np.inf)

    flux = exponential([1.0, 0.1], t) + np.random.default_rng(2).normal(0.0, 0.01, t.size)
    res = mpicg.fit(mpicg.Problem(exponential, t, flux, np.full(t.size, 0.01)), [0.5, 0.5],
                    gtol=1e-9)
    assert res.status == 2
    assert np.all(np.isfinite(res.jac))
    assert res.message == "Desired error not necessarily achieved due to precision loss."


@pytest.mark.mpi(min_size=1)
def test_disp_prints_on_rank0_only(capsys, recwarn):
    mpicg.fit(make_problem(), X0, maxiter=3, disp=True)
    out = capsys.readouterr().out
    maxiter_warnings = [w for w in recwarn if issubclass(w.category, mpicg.OptimizeWarning)]
    if rank == 0:
        assert "Iterations: 3" in out
        # scipy warns rather than prints when a run does not succeed; rank 0 only
        assert [str(w.message) for w in maxiter_warnings] == [
            "Maximum number of iterations has been exceeded."]
    else:
        assert out == ""
        assert maxiter_warnings == []


@pytest.mark.mpi(min_size=1)
def test_callback_stop_iteration():
    seen = []

    def callback(intermediate_result):
        seen.append(intermediate_result.fun)
        if len(seen) == 2:
            raise StopIteration

    res = mpicg.fit(make_problem(), X0, callback=callback)
    assert (res.nit, res.status, res.success) == (2, 99, False)
    assert same_everywhere((res.nit, res.status))


@pytest.mark.mpi(min_size=2)
def test_model_error_names_the_rank_and_the_next_fit_works():
    bad_rank = size - 1

    def flaky(x, t):
        if comm.Get_rank() == bad_rank and x[0] > 0.0150001:
            raise ZeroDivisionError("injected")
        return transit_like(x, t)

    problem = make_problem(model=flaky)
    # The same error on every rank (a pipeline that catches it goes on everywhere alike);
    # rank 0 reports it, the other ranks' copies are quiet.
    with pytest.raises(mpicg.RemoteEvaluationError, match=f"rank {bad_rank} ") as info:
        mpicg.fit(problem, X0)
    assert info.value.ranks == [bad_rank]
    assert "ZeroDivisionError: injected" in info.value.tracebacks[bad_rank]
    assert is_copy(info.value) == (rank != 0)
    # The protocol ended cleanly on every rank: the communicator is usable again.
    res = mpicg.fit(make_problem(), X0, maxiter=2)
    assert res.nit == 2


@pytest.mark.mpi(min_size=1)
def test_bad_argument_raised_on_every_rank_reported_by_rank0():
    problem = make_problem()
    # rank 0's own ValueError; an InputError (a ValueError) with its message elsewhere
    with pytest.raises(ValueError, match=r"`x0` must be finite") as info:
        mpicg.fit(problem, [np.nan, 5.0, 0.3, 0.0])
    assert is_copy(info.value) == (rank != 0)
    with pytest.raises(ValueError, match=r"c1=0.5, c2=0.4") as info:
        mpicg.fit(problem, X0, c1=0.5)
    assert is_copy(info.value) == (rank != 0)
    assert mpicg.fit(problem, X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=2)
def test_bad_data_on_one_rank_is_bad_input_on_every_rank():
    # Rank 1 holds other data than rank 0: the fits would pair different light curves.
    problem = make_problem() if rank != 1 else make_problem(n_times=1000)
    with pytest.raises(mpicg.InputError, match=r"bad input on rank 1 .*every rank must "
                                               r"hold the same problem") as info:
        mpicg.fit(problem, X0)
    assert is_copy(info.value) == (rank != 0)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=2)
def test_model_system_exit_and_keyboard_interrupt_go_through_the_protocol():
    for leave in (SystemExit(0), KeyboardInterrupt()):
        def leaving(x, t, leave=leave):
            if rank == size - 1 and x[0] > 0.0150001:
                raise leave
            return transit_like(x, t)

        with pytest.raises(mpicg.RemoteEvaluationError,
                           match=f"(?s)rank {size - 1} .*{type(leave).__name__}") as info:
            mpicg.fit(make_problem(model=leaving), X0)
        assert info.value.ranks == [size - 1]
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=1)
def test_callback_error_on_rank0_is_raised_on_every_rank():
    # A pipeline that catches the callback's error goes on alike on every rank: the other
    # ranks raise a quiet copy of it.
    def callback(xk):
        raise KeyError("callback broke")

    with pytest.raises(KeyError, match="callback broke") as info:
        mpicg.fit(make_problem(), X0, callback=callback)
    assert is_copy(info.value) == (rank != 0)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


class _CodeError(Exception):
    """An error whose __init__ takes other arguments than it passes on: it pickles, but
    does not unpickle."""

    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")
        self.code = code


@pytest.mark.mpi(min_size=1)
def test_a_callback_error_that_does_not_unpickle_is_still_copied():
    def callback(xk):
        raise _CodeError(7, "callback broke")

    with pytest.raises(_CodeError, match="code 7: callback broke") as info:
        mpicg.fit(make_problem(), X0, callback=callback)
    assert info.value.code == 7
    assert is_copy(info.value) == (rank != 0)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=1)
def test_callback_error_that_does_not_pickle_stops_the_others_with_fit_aborted():
    import threading

    def callback(xk):
        raise ValueError("callback broke", threading.Lock())  # (a lock does not pickle)

    expected = ValueError if rank == 0 else mpicg.FitAborted
    with pytest.raises(expected):
        mpicg.fit(make_problem(), X0, callback=callback)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=1)
def test_handshake_says_on_every_rank_whether_any_rank_failed():
    from mpicg.parallel.handshake import handshake

    # Nobody failed: no verdict follows. One rank failed (each in turn, rank 0 included):
    # every rank learns it from the handshake itself.
    answers = [handshake(comm, "in a test")]
    for failing in range(size):
        answers.append(handshake(comm, "in a test", failed=lambda f=failing: rank == f))
    assert answers == [False] + [True] * size
    assert same_everywhere(tuple(answers))


@pytest.mark.mpi(min_size=2)
def test_verdict_after_a_step_that_failed_on_the_last_rank_only():
    from mpicg.parallel import collective_verdict
    from mpicg.parallel.signals import FitInterrupted, catch_signals, note_signal

    error = ValueError("bad thing") if rank == size - 1 else None
    with pytest.raises(mpicg.InputError, match=rf"bad input on rank {size - 1} .*bad thing"):
        collective_verdict(error, "in a test", input_types=(ValueError,))
    # A signal noted on the last rank only stops every rank at the next verdict.
    with catch_signals():
        if rank == size - 1:
            note_signal(15)
        with pytest.raises(FitInterrupted):
            collective_verdict(None, "in a test")
    collective_verdict(None, "in a test")  # and with nothing to report, every rank goes on


def _closure_model():
    offset = 0.0
    return lambda x, t: transit_like(x, t) + offset  # a local lambda: it does not pickle


@pytest.mark.mpi(min_size=2)
def test_a_problem_that_does_not_pickle_given_on_rank0_only_is_bad_input_everywhere():
    # Rank 0 must send it to the ranks that passed None; pickling inside the broadcast
    # raised on rank 0 alone and left the others waiting there for the handshake timeout.
    problem = make_problem(model=_closure_model()) if rank == 0 else None
    with pytest.raises(mpicg.InputError, match=r"ranks 1.* passed None .*does not pickle"):
        mpicg.fit(problem, X0, maxiter=1)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=3)
def test_a_communicator_freed_after_unequal_fits_leaves_no_count_behind():
    # Sub-communicators with different numbers of fits (ranks 0 and 1 two, the others one,
    # serially at 3 ranks), freed: MPI gives a later communicator the same handle (MPICH
    # does), and its ranks start their fits' count again.
    sub = comm.Split(int(rank < 2), rank)
    for _ in range(1 + int(rank < 2)):
        mpicg.fit(make_problem(), X0, maxiter=1, comm=sub)
    sub.Free()
    for _ in range(2):
        sub = comm.Split(0, rank)
        assert mpicg.fit(make_problem(), X0, maxiter=1, comm=sub).nit == 1
        sub.Free()


@pytest.mark.mpi(min_size=1)
def test_a_signal_stops_every_rank_with_rank0s_signal_and_progress_file(tmp_path_factory):
    import signal

    from mpicg.parallel.signals import FitInterrupted

    path = comm.bcast(str(tmp_path_factory.mktemp("signal") / "p.json"), root=0)

    calls = []

    def callback(xk):  # (rank 0 runs the callbacks)
        calls.append(1)
        if len(calls) == 1:  # once: a second signal stops at once
            signal.raise_signal(signal.SIGUSR1)

    with pytest.raises(FitInterrupted) as info:
        mpicg.fit(make_problem(), X0, progress_file=path, callback=callback)
    assert str(info.value) == f"stopped by SIGUSR1; resume from {path}"
    assert info.value.signum == signal.SIGUSR1
    assert is_copy(info.value) == (rank != 0)


@pytest.mark.mpi(min_size=2)
def test_a_progress_file_given_on_rank0_only_still_stops_every_rank_with_it(tmp_path_factory):
    # The other ranks once caught no signals (their progress_file was None) and died by
    # the batch system's SIGTERM; now every rank stops with exit code 75 and the file.
    import signal

    from mpicg.parallel.signals import FitInterrupted

    path = comm.bcast(str(tmp_path_factory.mktemp("signal") / "p.json"), root=0)
    pids = comm.allgather(os.getpid())
    calls = []

    def callback(xk):  # (rank 0 runs the callbacks) the signal to every rank, as mpirun
        calls.append(1)
        if len(calls) == 1:
            for pid in pids:
                os.kill(pid, signal.SIGTERM)

    with pytest.raises(FitInterrupted) as info:
        mpicg.fit(make_problem(), X0, progress_file=path if rank == 0 else None,
                  callback=callback)
    assert str(info.value) == f"stopped by SIGTERM; resume from {path}"


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("others", ["their own problem", "None"])
@pytest.mark.parametrize(("name", "given"), [("x0", {"x0": X0 + 0.001}),
                                             ("sharing", {"sharing": "points"}),
                                             ("gtol", {"gtol": -1.0})])
def test_arguments_that_differ_on_one_rank_are_bad_input(name, given, others):
    # Only rank 0's arguments are used: another rank's that differ (a script whose ranks
    # went their own ways) were once ignored without a word. The ranks between, passing
    # their own problem or None, must not be left in the broadcast of rank 0's problem.
    options = {"x0": X0, "maxiter": 2}
    if rank == size - 1:
        options.update(given)
    problem = make_problem() if rank in (0, size - 1) or others != "None" else None
    with pytest.raises(mpicg.InputError, match=rf"bad input on rank {size - 1} .*`{name}` on "
                                               "this rank .* differs from rank 0's"):
        mpicg.fit(problem, **options)
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1


@pytest.mark.mpi(min_size=2)
def test_a_rank_that_passes_no_problem_takes_rank0s_arguments_too():
    # (rank 0 may compute x0 from its data, which the others do not read)
    mine = (make_problem(), X0, 1e-3) if rank == 0 else (None, None, 1e-2)
    res = mpicg.fit(mine[0], mine[1], gtol=mine[2], maxiter=3, sharing="auto")
    ser = mpicg.fit(make_problem(), X0, gtol=1e-3, maxiter=3, comm=MPI.COMM_SELF)
    assert res.x.tobytes() == ser.x.tobytes()


@pytest.mark.mpi(min_size=2)
def test_equal_numbers_of_other_types_agree():
    gtol = 1e-3 if rank == 0 else np.float64(1e-3)
    maxiter = 3 if rank == 0 else np.int64(3)
    x0 = X0 if rank == 0 else X0.tolist()
    res = mpicg.fit(make_problem(), x0, gtol=gtol, maxiter=maxiter)
    assert res.nit == 3
    assert mpicg.fit(make_problem(), X0, maxiter=1).nit == 1
