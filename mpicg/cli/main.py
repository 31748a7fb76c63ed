"""The ``mpicg`` command (also ``python -m mpicg``); run it under ``mpirun``/``srun``.

Subcommands::

    mpicg demo                       fit a synthetic eclipsing binary (the quick start)
    mpicg example wasp4|hd23642      fetch a real light curve and fit it (TESS, K2)
    mpicg models                     the built-in models, their parameters and units
    mpicg fit JOB.toml               fit what a job file describes (see mpicg.cli.jobfile)
    mpicg fit JOB.toml --detach      ... in the background (then: mpicg attach OUTPUT_DIR)
    mpicg phoebe BUNDLE --solver L   run a saved PHOEBE bundle's optimizer.cg solver
    mpicg resume PROGRESS_FILE       continue an interrupted fit, exactly
    mpicg report SOLUTION            text summary and PNG plots of a fit
    mpicg attach OUTPUT_DIR          follow a detached fit; show its solution when done
    mpicg stop OUTPUT_DIR            stop a running fit cleanly (progress file, exit 75)
    mpicg submit JOB.toml --scheduler slurm|pbs    write (and submit) a batch script

Exit codes (every rank exits with the same one): 0 a solution was written and the fit
converged (its diagnosis says converged, or converged within the noise); 4 a solution was
written but the fit did not converge (the diagnosis, printed, says why); 1 a failure (a
model error, a dead or missing rank, a failed write or fetch); 2 bad input (one message
names it); 75 a signal stopped the fit (after writing its progress file, if it had begun):
resume it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import warnings

from ..errors import (
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    FitAborted,
    InputError,
    RankError,
    is_copy,
)
from ..optimize import LOG
from ..parallel import EXIT_INTERRUPTED, FitInterrupted, catch_signals, is_root, launch_size
from .fetch import FetchError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Usage, help and errors printed by rank 0 only; every rank exits with the same code.

    Every rank of a launch parses the same command line, so every rank fails alike (exit
    code 2) and prints alike: rank 0's copy is enough. (Subcommands' parsers are of this
    class too: argparse makes them of their parent's.)
    """

    def _print_message(self, message, file=None):  # argparse's one place of printing
        if is_root():
            super()._print_message(message, file)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mpicg",
        description="Conjugate-gradient fits of expensive models, spread over MPI ranks. "
                    "Run under mpirun/srun to use several ranks.",
        epilog=f"Exit codes: {EXIT_OK} converged (solution written), {EXIT_NOT_CONVERGED} "
               f"not converged (solution written), {EXIT_FAILURE} failure, {EXIT_INPUT} bad "
               f"input, {EXIT_INTERRUPTED} stopped by a signal (resume it).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="fit a synthetic eclipsing-binary light curve")
    demo.add_argument("--output", default="mpicg-demo",
                      help="output directory (default: mpicg-demo)")
    demo.add_argument("--n-times", type=_at_least(1), default=5000,
                      help="observations (default 5000)")
    demo.add_argument("--resolution", type=_at_least(1), default=16,
                      help="model quadrature nodes; cost per time grows with it (default 16)")
    demo.add_argument("--seed", type=_at_least(0), default=1, help="noise seed (default 1)")

    example = sub.add_parser("example", help="fetch a real light curve (TESS: WASP-4b; "
                             "K2: HD 23642) and fit it")
    example.add_argument("name", choices=("wasp4", "hd23642"))
    example.add_argument("--output", default=None,
                         help="output directory (default: mpicg-NAME)")
    example.add_argument("--cache", default=None,
                         help="where fetched files are kept (default: $MPICG_CACHE or "
                              "~/.cache/mpicg)")

    sub.add_parser("models", help="list the built-in models with their parameters")

    fit = sub.add_parser("fit", help="fit what a job file describes")
    fit.add_argument("job", metavar="JOB.toml", help="the job file")
    fit.add_argument("--resume-if-stopped", action="store_true",
                     help="continue from the output directory's progress file when an "
                          "earlier run of this job was stopped before its solution "
                          "(what batch scripts use)")
    fit.add_argument("--detach", action="store_true",
                     help="start the fit in the background and return at once")
    fit.add_argument("-n", "--ranks", type=_at_least(1), default=None,
                     help="with --detach: MPI ranks to start (default: all cores)")

    phoebe = sub.add_parser(
        "phoebe", help="run a saved PHOEBE bundle's optimizer.cg solver",
        description="Fit what a saved PHOEBE bundle's optimizer.cg solver says, with mpicg: "
                    "fit_parameters, initial_values, priors (the bundle's distributions), "
                    "priors_combine, compute, maxiter, gtol, norm, progress_every_niters, "
                    "expose_lnprobabilities, continue_from. Writes mpicg's solution and "
                    "OUTPUT/solution.ps, which PHOEBE imports (b.import_solution).")
    phoebe.add_argument("bundle", metavar="BUNDLE", help="the bundle file (b.save(...))")
    phoebe.add_argument("--solver", default=None,
                        help="the optimizer.cg solver's label (default: the only one)")
    phoebe.add_argument("--dataset", default=None,
                        help="the lc dataset (default: the only enabled one with data)")
    phoebe.add_argument("--output", default=None,
                        help="output directory (default: BUNDLE-SOLVER-out beside it)")
    phoebe.add_argument("--solution", default="latest",
                        help="label of the PHOEBE solution written (default: latest)")
    phoebe.add_argument("--save-bundle", default=None, metavar="FILE",
                        help="also save the bundle with the solution adopted to FILE")
    phoebe.add_argument("--step", action="append", default=[], metavar="TWIG=SIZE[:relative]",
                        help="finite-difference step of a fitted parameter (absolute, or "
                             "relative with ':relative'); repeat for each")
    phoebe.add_argument("--fd-scheme", choices=("forward", "central"), default=None,
                        help="finite differences (default: forward)")
    phoebe.add_argument("--gtol", type=float, default=None, help="override the solver's gtol")
    phoebe.add_argument("--maxiter", type=_at_least(1), default=None,
                        help="override the solver's maxiter")
    phoebe.add_argument("--scale", default=None, metavar="auto|none|S",
                        help="mpicg's scaling of the fit variables (default auto: gtol in "
                             "units of each parameter's sigma; none: PHOEBE's meaning)")
    phoebe.add_argument("--no-uncertainties", dest="uncertainties", action="store_false",
                        default=None, help="skip the covariance at the solution")
    phoebe.add_argument("--progress-every-niters", type=int, default=None,
                        help="override the solver's progress_every_niters")
    phoebe.add_argument("--detach", action="store_true",
                        help="start the fit in the background and return at once")
    phoebe.add_argument("-n", "--ranks", type=_at_least(1), default=None,
                        help="with --detach: MPI ranks to start (default: all cores)")

    resume = sub.add_parser("resume", help="continue a fit from its progress file")
    resume.add_argument("progress_file", metavar="PROGRESS_FILE")
    resume.add_argument("--maxiter", type=_at_least(1), default=None,
                        help="at most this many iterations in all (default: the stopped "
                             "fit's; raise it to continue a fit that reached its maxiter)")

    report = sub.add_parser("report", help="text summary and plots of a solution")
    report.add_argument("solution", metavar="SOLUTION",
                        help="solution.json, or the output directory holding it")
    report.add_argument("--output", default=None,
                        help="where to write (default: next to the solution)")

    attach = sub.add_parser("attach", help="follow a detached fit")
    attach.add_argument("output_dir", metavar="OUTPUT_DIR")
    attach.add_argument("--no-follow", action="store_true",
                        help="show the progress so far and return")

    stop = sub.add_parser("stop", help="stop a running fit cleanly (progress file, exit 75)")
    stop.add_argument("output_dir", metavar="OUTPUT_DIR")
    stop.add_argument("--timeout", type=float, default=600.0,
                      help="seconds to wait for the fit to stop (default 600)")

    submit = sub.add_parser("submit", help="write and submit a batch script for a job")
    submit.add_argument("job", metavar="JOB.toml")
    submit.add_argument("--scheduler", choices=("slurm", "pbs"), required=True)
    submit.add_argument("-n", "--ranks", type=_at_least(1), default=64,
                        help="MPI ranks (default 64)")
    submit.add_argument("--time", default="24:00:00",
                        help="wall-time limit, HH:MM:SS (default 24:00:00)")
    submit.add_argument("--name", default=None, help="job name (default: the job file's)")
    submit.add_argument("--max-resubmits", type=_at_least(0), default=10,
                        help="times the script resubmits itself after the wall time "
                             "(default 10)")
    submit.add_argument("--dry-run", action="store_true",
                        help="write the script, do not submit it")
    return parser


def _at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (its error names the option's value)."""
    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {value}")
        return value

    integer.__name__ = "integer"  # (argparse names the type in some messages)
    return integer


def _exit_code(solution, command: str) -> int:
    """0 for a converged fit, :data:`~mpicg.errors.EXIT_NOT_CONVERGED` otherwise.

    Every rank holds the same solution, so every rank returns the same code; rank 0 says
    why on stderr.
    """
    if solution.converged:
        return EXIT_OK
    if is_root():
        print(f"mpicg {command}: the fit did not converge (exit code {EXIT_NOT_CONVERGED}): "
              f"{solution.diagnosis.reason if solution.diagnosis else 'no diagnosis'}",
              file=sys.stderr, flush=True)
    return EXIT_NOT_CONVERGED


def _run(args, parser) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return _exit_code(run_demo(args.output, n_times=args.n_times,
                                   resolution=args.resolution, seed=args.seed), "demo")
    if args.command == "example":
        from .examples import run_example

        run_example(args.name, args.output, args.cache)
        return 0
    if args.command == "models":
        from .catalogue import describe_models

        print(describe_models())
        return 0
    if args.command == "fit":
        if args.detach:
            from .detach import detach

            return detach(args.job, args.ranks, args.resume_if_stopped)
        from .fit import fit_command

        return _exit_code(fit_command(args.job, resume_if_stopped=args.resume_if_stopped),
                          "fit")
    if args.command == "phoebe":
        from .phoebe import phoebe_command

        outcome = phoebe_command(args, parser)  # an exit code (detached) or the solution
        return outcome if isinstance(outcome, int) else _exit_code(outcome, "phoebe")
    if args.command == "resume":
        from .fit import resume_command

        return _exit_code(resume_command(args.progress_file, maxiter=args.maxiter), "resume")
    if args.command == "report":
        from .report import write_report

        write_report(args.solution, args.output)
        return 0
    if args.command == "attach":
        from .detach import attach

        return attach(args.output_dir, follow=not args.no_follow)
    if args.command == "stop":
        from .detach import stop

        return stop(args.output_dir, timeout=args.timeout)
    if args.command == "submit":
        from .submit import submit

        return submit(args.job, args.scheduler, ranks=args.ranks, time_limit=args.time,
                      name=args.name, max_resubmits=args.max_resubmits,
                      dry_run=args.dry_run)
    return EXIT_INPUT  # pragma: no cover - argparse rejects unknown commands


def _error(command: str, error: BaseException) -> None:
    """Print an error once: rank 0's (or this process's), never another rank's copy."""
    if not is_copy(error):
        print(f"mpicg {command}: error: {error}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _progress_lines(show: bool):
    """Print the optimizer's progress lines (only rank 0 runs it), and nothing else's.

    Only mpicg's own logger is configured: a root handler at INFO would also print every
    INFO record of the model's libraries (PHOEBE logs three lines per model call). The
    logger is restored afterwards (``main`` may run inside another program, or a test).
    """
    if not show:
        yield
        return
    handler = _ProgressLines()
    level, propagate = LOG.level, LOG.propagate
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False  # a root handler, if any, would print it twice
    try:
        yield
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)
        LOG.propagate = propagate


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Warnings as ``mpicg COMMAND: warning: ...`` lines (not Python's file:line form).

    The file and line of a warning are mpicg's own, which say nothing to a user of the
    command; the previous format is restored afterwards.
    """
    previous = warnings.formatwarning

    def line(message, category, filename, lineno, line=None):
        return f"mpicg {command}: warning: {message}\n"

    warnings.formatwarning = line
    try:
        yield
    finally:
        warnings.formatwarning = previous


class _ProgressLines(logging.StreamHandler):
    """Progress lines to whatever ``sys.stdout`` is when they are written."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("  %(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass  # always sys.stdout (tests and detach replace it)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the subcommand; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    root = is_root()
    if not root:
        warnings.simplefilter("ignore")  # the same warnings as rank 0's, once is enough
    single = ("report", "attach", "submit", "stop", "models")
    if args.command in single and (launch_size() or 1) > 1:
        if not root:
            return EXIT_INPUT
        parser.error(f"`mpicg {args.command}` runs on one process; start it without mpirun")
    detach = getattr(args, "detach", False)
    if detach and (launch_size() or 1) > 1:
        # (the detached mpirun would inherit this launch's environment and fail to start)
        if not root:
            return EXIT_INPUT
        parser.error(f"`mpicg {args.command} --detach` starts its own mpirun; run it "
                     "without mpirun, with the ranks as -n N")
    if args.command in ("fit", "phoebe") and args.ranks is not None and not detach:
        if not root:
            return EXIT_INPUT
        parser.error(f"-n/--ranks goes with --detach; to run `mpicg {args.command}` on N "
                     f"ranks now, start it as mpirun -n N mpicg {args.command} ...")
    # A fit notes SIGTERM, SIGUSR1 and SIGINT from the start (while it reads its data, too):
    # it stops at the next safe point with exit code 75, which batch scripts resubmit.
    with catch_signals(enabled=args.command in ("fit", "resume", "demo", "phoebe")
                       and not detach):
        try:
            with _progress_lines(show=root), _warnings_as_lines(args.command):
                return _run(args, parser)
        except InputError as e:
            _error(args.command, e)
            return EXIT_INPUT
        except FitInterrupted as e:
            if not is_copy(e):
                name = signal.Signals(e.signum).name
                if e.progress_file:
                    print(f"mpicg {args.command}: stopped by {name} after writing "
                          f"{e.progress_file}; continue with: mpicg resume "
                          f"{e.progress_file}", file=sys.stderr, flush=True)
                else:
                    print(f"mpicg {args.command}: stopped by {name} before the fit began; "
                          "nothing was written: run it again", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        except (RankError, FetchError) as e:
            _error(args.command, e)
            return EXIT_FAILURE
        except FitAborted as e:  # rank 0 reports its own failure
            return int(e.code)
        except OSError as e:  # a file mpicg had to write (the output directory, mostly)
            where = f" {e.filename!r}" if e.filename else ""
            _error(args.command, RuntimeError(f"cannot write{where}: {e.strerror or e}"))
            return EXIT_FAILURE
