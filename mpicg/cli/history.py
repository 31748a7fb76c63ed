"""The history of a fit, one row per iteration, kept from the optimizer's progress records.

The optimizer logs every iteration on the ``mpicg`` logger (rank 0 only), with the numbers in
``record.mpicg_progress``. :class:`HistoryFile` is a logging handler that appends them to a
CSV file, with the value of each fitted parameter, which ``mpicg report`` plots and
``mpicg attach`` follows. On resume the rows after the progress file's iteration are dropped
first, so the history stays the one of the uninterrupted fit.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["COLUMNS", "HistoryFile", "parameter_column", "read_history", "truncate_history"]

COLUMNS = ("iteration", "fun", "gnorm", "step", "nfev", "njev", "rounds", "seconds_per_round")
_COUNTS = ("iteration", "nfev", "njev", "rounds")


def parameter_column(name: str) -> str:
    """The history column of a fitted parameter: its name, unless that is a column already."""
    return f"parameter {name}" if name in COLUMNS else name


class HistoryFile(logging.Handler):
    """Append each progress record of the ``mpicg`` logger to a CSV file.

    Parameters
    ----------
    path : str or path
        The CSV file; created with a header row when it does not exist.
    parameters : sequence of str, optional
        Names of the fitted parameters, in the optimizer's order: each gets a column with
        its value at every iteration.
    """

    def __init__(self, path: str | os.PathLike, parameters: Sequence[str] = ()):
        super().__init__(level=logging.INFO)
        self.path = Path(path)
        self.parameters = list(parameters)
        if not self.path.exists() or self.path.stat().st_size == 0:
            header = [*COLUMNS, *map(parameter_column, self.parameters)]
            self.path.write_text(",".join(header) + "\n")

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's numbers as a row (records without them are ignored)."""
        numbers = getattr(record, "mpicg_progress", None)
        if numbers is None:
            return
        fields = [repr(numbers[c]) if isinstance(numbers[c], float) else str(numbers[c])
                  for c in COLUMNS]
        x = numbers.get("x", ())
        if self.parameters and len(x) == len(self.parameters):
            fields += [repr(float(v)) for v in x]
        # Open, append, close: a reader (mpicg attach) sees whole rows, and a killed job
        # leaves every row it wrote.
        with self.path.open("a") as f:
            f.write(",".join(fields) + "\n")


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """The columns of a history file (an incomplete last row is skipped).

    Returns
    -------
    dict
        Column name -> list of values (``iteration`` and the counts as ints), the columns of
        :data:`COLUMNS` first, then one per fitted parameter (see :func:`parameter_column`).
    """
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        names = list(reader.fieldnames or [])
        extra = [n for n in names if n not in COLUMNS]
        columns: dict[str, list[float]] = {c: [] for c in (*COLUMNS, *extra)}
        for row in reader:
            try:
                values = {c: float(row[c]) for c in columns}
            except (TypeError, ValueError, KeyError):
                continue  # a row still being written
            for c, v in values.items():
                columns[c].append(int(v) if c in _COUNTS and math.isfinite(v) else v)
    return columns


def truncate_history(path: str | os.PathLike, last_iteration: int) -> None:
    """Drop the rows after ``last_iteration`` (a resume starts again from there)."""
    path = Path(path)
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = lines[:1]
    for line in lines[1:]:
        first = line.split(",", 1)[0]
        if first.isdigit() and int(first) <= last_iteration:
            kept.append(line)
    path.write_text("\n".join(kept) + "\n")
