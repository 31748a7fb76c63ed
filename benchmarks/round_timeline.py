"""Where a round's time goes, rank by rank: a timeline of every round of one fit.

    python benchmarks/round_timeline.py [--kind flat|eclipse|fixed|transit] [--ranks 16]
                                        [--rounds]

Runs one fit under ``mpirun -n N`` (``python`` when N = 1) and notes, on every rank, when
each round's message left rank 0 and arrived, when each rank's sums left and when rank 0
had them all (``time.perf_counter``: one clock for every process of a machine), by
wrapping the channel's methods; rank 0 also times its sharing's bookkeeping (``record``)
and planning (``layout``). Printed: the fit's wall time per round, each rank's model and
waiting seconds per round, the time outside the rounds (the fit's start to the first
message, which holds the set-up's collective verdicts; the first round, which holds the
probe; the last sums to the fit's return), and medians over the rounds after the 10
learning rounds of

* message out to arrival (median over ranks, and the latest rank);
* a rank's compute (median and slowest rank), from arrival to its sums leaving;
* the last rank's sums leaving to rank 0 having them all;
* rank 0's own share and its wait for the others;
* rank 0's gap: from having all sums to the next message (assembly, the optimizer's step,
  bookkeeping; the serial run does most of it too);
* the round, from one message to the next.

Per round (``--rounds``) it also prints what rank 0 told the ranks with each message: the
slowest rank's predicted compute, and when the next message should come (both 0 while
unknown).

``--rounds`` prints these per round as well (slow rounds and what made them slow). The
models: ``flat``, ``eclipse`` and ``fixed`` sleep their costs (benchmarks/simulation.py,
20 iterations); ``transit`` computes (benchmarks/scaling.py's transit fit).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

LEARNING = 10  # rounds left out of the medians (the cost model learns then)


def record_timeline() -> dict:
    """Wrap the channel and sharing methods so that they note their times (this rank)."""
    from mpicg.parallel import balance, channel

    notes: dict = {k: [] for k in ("send", "recv", "sums", "collect_in", "collect_out",
                                   "layout_sent", "predicted", "record", "layout")}
    Channel = channel.Channel
    send, receive, send_sums, collect = (Channel.send, Channel.receive, Channel.send_sums,
                                         Channel.collect)

    def timed_send(self, header, body=None, deadline=None):
        if header[0] == 1:  # EVAL
            notes["send"].append(time.perf_counter())
            notes["layout_sent"].append(int(header[3]) > 0)
            notes["predicted"].append((float(header[4]), float(header[5])))
        return send(self, header, body, deadline)

    def timed_receive(self, expected):
        result = receive(self, expected)
        notes["recv"].append(time.perf_counter())
        return result

    def timed_send_sums(self, sums, expected=None):
        notes["sums"].append(time.perf_counter())
        return send_sums(self, sums, expected)

    def timed_collect(self, *args, **kwargs):
        notes["collect_in"].append(time.perf_counter())
        result = collect(self, *args, **kwargs)
        notes["collect_out"].append(time.perf_counter())
        return result

    Channel.send, Channel.receive = timed_send, timed_receive
    Channel.send_sums, Channel.collect = timed_send_sums, timed_collect
    record, layout = balance.Sharing.record, balance.MeasuredSharing.layout

    def timed_record(self, *args):
        t0 = time.perf_counter()
        result = record(self, *args)
        notes["record"].append(time.perf_counter() - t0)
        return result

    def timed_layout(self, m):
        t0 = time.perf_counter()
        result = layout(self, m)
        notes["layout"].append(time.perf_counter() - t0)
        return result

    balance.Sharing.record, balance.MeasuredSharing.layout = timed_record, timed_layout
    return notes


def child(kind: str, per_round: bool) -> None:
    import mpicg

    notes = record_timeline()
    if kind == "transit":
        import scaling

        model, times, flux, sigma = scaling.make_data(2000, 20)
        problem, x0 = mpicg.Problem(model, times, flux, sigma), scaling.X0
        options = {"gtol": scaling.GTOL}
    else:
        import simulation

        problem, x0 = simulation.make_problem(kind, "auto"), simulation.X0
        options = {"maxiter": 20, "gtol": 1e-12}
    notes["fit"] = [time.perf_counter()]
    res = mpicg.fit(problem, x0, **options)
    notes["fit"].append(time.perf_counter())
    everyone = [notes]
    if (mpicg.parallel.launch_size() or 1) > 1:
        from mpi4py import MPI

        everyone = MPI.COMM_WORLD.gather(notes, root=0)
    if mpicg.parallel.is_root():
        report(kind, res, everyone, per_round)


def report(kind: str, res, everyone: list[dict], per_round: bool) -> None:
    R, n = res.rounds, len(everyone)
    model = np.array(res.time_model) / R * 1e3
    waiting = np.array(res.time_waiting) / R * 1e3
    rest = slice(1, None)
    print(f"{kind}, N = {n}: {res.wall_time:.3f} s, {R} rounds, "
          f"{res.wall_time / R * 1e3:.2f} ms per round (set-up included); imbalance "
          f"{res.imbalance_before:.2f} -> {res.imbalance_after:.2f}, {res.rebalances} "
          "rebalancings")
    print("  ms per round, model: rank 0 " + f"{model[0]:.2f}" + (
        f", others median {np.median(model[rest]):.2f}, slowest {model.max():.2f}"
        if n > 1 else ""))
    print("  ms per round, waiting: rank 0 " + f"{waiting[0]:.2f}" + (
        f", others median {np.median(waiting[rest]):.2f}" if n > 1 else ""))
    if n == 1:
        return
    root = everyone[0]
    sent = np.array(root["send"][:R])
    inn, out = np.array(root["collect_in"][:R]), np.array(root["collect_out"][:R])
    arrived = np.array([w["recv"][:R] for w in everyone[1:]])
    left = np.array([w["sums"][:R] for w in everyone[1:]])
    latency = arrived - sent
    compute = left - arrived
    back = out - left.max(axis=0)
    gap = np.concatenate([sent[1:] - out[:-1], [np.nan]])
    rounds = np.concatenate([np.diff(sent), [np.nan]])
    after = slice(LEARNING, R - 1)
    start, end = root["fit"]
    print(f"  ms outside the rounds: fit start -> first message {(sent[0] - start) * 1e3:.1f}"
          f", first round {rounds[0] * 1e3:.1f}, last sums in -> fit returned "
          f"{(end - out[-1]) * 1e3:.1f}")

    def med(values):
        return float(np.nanmedian(values[..., after])) * 1e3

    print(f"  medians over rounds {LEARNING + 1}-{R - 1} (ms): message out -> in "
          f"{med(np.median(latency, 0)):.3f} (latest rank {med(latency.max(0)):.3f}); "
          f"compute {med(np.median(compute, 0)):.3f} (slowest rank {med(compute.max(0)):.3f});"
          f" last sums -> rank 0 has all {med(back):.3f}; rank 0's own share "
          f"{med(inn - sent):.3f}, its wait for the others {med(out - inn):.3f}, its gap to "
          f"the next message {med(gap):.3f}; round {med(rounds):.3f} (mean "
          f"{np.nanmean(rounds[after]) * 1e3:.3f})")
    if per_round:
        def row(name, values, scale=1e3):
            print(f"  {name:<22s}" + " ".join(f"{v * scale:6.1f}" for v in values))

        row("round", rounds)
        row("slowest compute", compute.max(0))
        row("latest arrival", latency.max(0))
        row("rank 0 wait", out - inn)
        row("rank 0 gap", gap)
        predicted = np.array(root["predicted"][:R]).reshape(-1, 2)
        row("predicted compute", predicted[:, 0])
        row("predicted next message", predicted[:, 1])
        row("bookkeeping (record)", np.array(root["record"][:R]))
        row("planning (layout)", np.array(root["layout"][:R]))
        print("  new layout sent in rounds: "
              + " ".join(str(i + 1) for i, s in enumerate(root["layout_sent"][:R]) if s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", default="flat", choices=["flat", "eclipse", "fixed",
                                                           "transit"])
    parser.add_argument("--ranks", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", action="store_true", help="print every round too")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.kind, args.rounds)
        return
    from mpicg.parallel import find_mpirun

    me = [sys.executable, str(Path(__file__).resolve()), "--child", "--kind", args.kind]
    if args.rounds:
        me.append("--rounds")
    cmd = me if args.ranks == 1 else [find_mpirun() or "mpirun", "-n", str(args.ranks), *me]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    sys.exit(subprocess.run(cmd, env=env, timeout=600).returncode)


if __name__ == "__main__":
    main()
