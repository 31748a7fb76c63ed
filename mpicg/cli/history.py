"""The history of a fit, one row per iteration, kept from the optimizer's progress records.

The optimizer logs every iteration on the ``mpicg`` logger (rank 0 only), with the numbers in
``record.mpicg_progress``. :class:`HistoryFile` is a logging handler that appends them to a
CSV file, with the value of each fitted parameter, which ``mpicg report`` plots. On resume
the rows after the progress file's iteration are dropped first (:func:`history_until`), so
the history stays the one of the uninterrupted fit.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["COLUMNS", "HistoryFile", "history_until", "parameter_column", "read_history"]

COLUMNS = ("iteration", "fun", "gnorm", "step", "nfev", "njev", "rounds", "seconds_per_round")
_COUNTS = ("iteration", "nfev", "njev", "rounds")


def parameter_column(name: str) -> str:
    """The history column of a fitted parameter: its name, unless that is a column already."""
    return f"parameter {name}" if name in COLUMNS else name


class HistoryFile(logging.Handler):
    """Append each progress record of the ``mpicg`` logger to a CSV file.

    With ``parameters``, each row also holds the fitted parameters' values at that
    iteration. The optimizer logs an iteration before the fit's callback sees its parameters
    (in their own units, whatever variables CG runs on), and a progress file may be written
    in between: so the row is written at once with ``nan`` for the parameters, and written
    again, in its place, when :meth:`parameters_at` gets them. A fit killed in between keeps
    the row, with ``nan``. The start's row (iteration 0) takes ``start``.

    Parameters
    ----------
    path : str or path
        The CSV file; a header row is written first when it is empty or missing.
    parameters : sequence of str, optional
        Names of the fitted parameters, in the fit's order: one column each.
    start : sequence of float, optional
        Their values at the start.
    on_first_row : callable, optional
        Called once, before the first row is written: the first progress record comes
        after the fit's start check, so this is where a fit begins to touch its output
        (nothing is created before).

    A row that cannot be written raises (the fit fails, and says why): a history with holes
    would not be the fit's.
    """

    def __init__(self, path: str | os.PathLike, parameters: Sequence[str] = (),
                 start: Sequence[float] | None = None, on_first_row=None):
        super().__init__(level=logging.INFO)
        self.path = Path(path)
        self.parameters = list(parameters)
        self.start = None if start is None else [float(v) for v in start]
        self.on_first_row = on_first_row
        self._pending: tuple[int, list[str]] | None = None  # (offset, fields) of the last row

    def header(self) -> str:
        """The header row (no newline)."""
        return ",".join([*COLUMNS, *map(parameter_column, self.parameters)])

    def _write(self, fields: list[str], at: int | None = None) -> int:
        """Append a row (or rewrite the last one, from byte ``at``); its offset."""
        # Open, write, close: a reader (mpicg attach) sees whole rows, and a killed job
        # leaves every row it wrote.
        with self.path.open("r+b") as f:
            offset = f.seek(0, os.SEEK_END) if at is None else at
            f.seek(offset)
            f.truncate()
            f.write((",".join(fields) + "\n").encode())
        return offset

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's numbers as a row (records without them are ignored)."""
        numbers = getattr(record, "mpicg_progress", None)
        if numbers is None:
            return
        if self.on_first_row is not None:
            begin, self.on_first_row = self.on_first_row, None
            begin()
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.write_text(self.header() + "\n")
        fields = [repr(numbers[c]) if isinstance(numbers[c], float) else str(numbers[c])
                  for c in COLUMNS]
        self._pending = None
        if not self.parameters:
            self._write(fields)
        elif numbers["iteration"] == 0 and self.start is not None:
            self._write(fields + [repr(v) for v in self.start])
        else:
            offset = self._write(fields + ["nan"] * len(self.parameters))
            self._pending = (offset, fields)

    def parameters_at(self, x) -> None:
        """The fit's callback: the parameters of the iteration just logged."""
        if self._pending is not None:
            offset, fields = self._pending
            self._write(fields + [repr(float(v)) for v in x], at=offset)
            self._pending = None


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


def history_until(path: str | os.PathLike, last_iteration: int, header: str) -> list[str]:
    """The lines of a history up to ``last_iteration`` (a resume starts again from there).

    Returns ``header`` and the file's complete rows of iterations ``<= last_iteration``
    (just the header when the file does not exist, or has other columns).
    """
    path = Path(path)
    if not path.exists():
        return [header]
    lines = path.read_text().splitlines()
    if not lines or lines[0] != header:
        return [header]
    kept = [header]
    width = len(header.split(","))
    for line in lines[1:]:
        first = line.split(",", 1)[0]
        if first.isdigit() and int(first) <= last_iteration and len(line.split(",")) == width:
            kept.append(line)
    return kept
