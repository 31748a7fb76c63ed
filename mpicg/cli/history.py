"""The history of a fit, one row per iteration, kept from the optimizer's progress records.

The optimizer logs every iteration on the ``mpicg`` logger (rank 0 only), with the numbers in
``record.mpicg_progress``. :class:`HistoryFile` is a logging handler that appends them to a
CSV file, which ``mpicg report`` plots. On resume the rows after the progress file's
iteration are dropped first (:func:`history_until`), so the history stays the one of the
uninterrupted fit.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path

__all__ = ["COLUMNS", "HistoryFile", "history_until", "read_history"]

COLUMNS = ("iteration", "fun", "gnorm", "step", "nfev", "njev", "rounds", "seconds_per_round")


class HistoryFile(logging.Handler):
    """Append each progress record of the ``mpicg`` logger to a CSV file.

    Parameters
    ----------
    path : str or path
        The CSV file; a header row is written first when it is empty or missing.
    on_first_row : callable, optional
        Called once, before the first row is written: the first progress record comes
        after the fit's start check, so this is where a fit begins to touch its output.
    """

    def __init__(self, path: str | os.PathLike, on_first_row=None):
        super().__init__(level=logging.INFO)
        self.path = Path(path)
        self.on_first_row = on_first_row

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's numbers as a row (records without them are ignored).

        A row that cannot be written raises (the fit fails, and says why): a history with
        holes would not be the fit's.
        """
        numbers = getattr(record, "mpicg_progress", None)
        if numbers is None:
            return
        if self.on_first_row is not None:
            begin, self.on_first_row = self.on_first_row, None
            begin()
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.write_text(",".join(COLUMNS) + "\n")
        row = ",".join(repr(numbers[c]) if isinstance(numbers[c], float) else str(numbers[c])
                       for c in COLUMNS)
        # Open, append, close: a reader (mpicg attach) sees whole rows, and a killed job
        # leaves every row it wrote.
        with self.path.open("a") as f:
            f.write(row + "\n")


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """The columns of a history file (an incomplete last row is skipped).

    Returns
    -------
    dict
        Column name -> list of values (``iteration`` and the counts as ints).
    """
    columns: dict[str, list[float]] = {c: [] for c in COLUMNS}
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                values = {c: float(row[c]) for c in COLUMNS}
            except (TypeError, ValueError, KeyError):
                continue  # a row still being written
            for c in COLUMNS:
                v = values[c]
                columns[c].append(int(v) if c in ("iteration", "nfev", "njev", "rounds")
                                  and math.isfinite(v) else v)
    return columns


def history_until(path: str | os.PathLike, last_iteration: int) -> list[str]:
    """The lines of a history up to ``last_iteration`` (a resume starts again from there).

    Returns the header and the rows of iterations ``<= last_iteration`` (an incomplete last
    row is dropped); just the header when the file does not exist.
    """
    path = Path(path)
    header = ",".join(COLUMNS)
    if not path.exists():
        return [header]
    lines = path.read_text().splitlines()
    kept = [header]
    for line in lines[1:]:
        first = line.split(",", 1)[0]
        if first.isdigit() and int(first) <= last_iteration and \
                len(line.split(",")) == len(COLUMNS):
            kept.append(line)
    return kept
