"""Light-curve files: time, flux and sigma columns from text, ``.npy``, ``.npz`` or FITS.

* Text: whitespace- or comma-separated numbers; ``#`` starts a comment. Column names come
  from a first line that is not numbers (``time,flux,sigma``) or, failing that, from the last
  comment line before the data when it has one word per column (``# time flux sigma``).
* ``.npy``: a 2-D array (columns by index) or a structured array (columns by name).
* ``.npz``: one 1-D array per column, by key.
* FITS (``.fits``, ``.fit``, ``.fts``, optionally gzipped): the first table extension, columns
  by name (case-insensitive); needs ``astropy``.

Rows can be selected by the range of any named column (``keep``). Rows with a non-finite
time, flux or sigma (gaps) are dropped, and how many is reported. Kepler, K2 and TESS
light-curve files, with their quality flags and time systems, are read by :mod:`.missions`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["in_range", "not_a_file", "read_light_curve"]

_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")


def _text_table(path: Path, complain) -> tuple[list[str] | None, np.ndarray, np.ndarray]:
    """Column names (or None), the numbers of a text table and each row's line number."""
    try:
        # utf-8-sig: a spreadsheet's CSV may begin with a byte-order mark
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise complain(f"{path.name} is not a text file (nor .npy, .npz or FITS)") from None
    comment, names, body = None, None, []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if not body:
                comment = stripped.lstrip("#").strip()
            continue
        if not body and names is None:
            fields = stripped.replace(",", " ").split()
            try:
                [float(f) for f in fields]
            except ValueError:
                names = fields
                continue
        body.append((number, stripped.split("#", 1)[0]))
    if not body:
        raise complain(f"{path.name} holds no rows of numbers")
    delimiter = "," if "," in body[0][1] else None
    try:
        table = np.loadtxt(io.StringIO("\n".join(text for _, text in body)),
                           delimiter=delimiter, ndmin=2)
    except ValueError as e:
        # Say which line of the file: loadtxt counts only the lines it was given.
        width = None
        for number, text in body:
            try:
                row = [float(f) for f in (text.split(delimiter) if delimiter else text.split())]
            except ValueError:
                raise complain(f"{path.name}, line {number}: not a row of numbers: "
                               f"{text[:60]!r}") from None
            if width is not None and len(row) != width:
                raise complain(f"{path.name}, line {number}: {len(row)} columns where the "
                               f"rows above have {width}: {text[:60]!r}") from None
            width = len(row)
        raise complain(f"{path.name}: {e}") from None
    if names is None and comment is not None:
        words = comment.replace(",", " ").split()
        if len(words) == table.shape[1]:
            names = words
    return names, table, np.array([number for number, _ in body])


def not_a_file(path: Path) -> str:
    """What a path that is not a regular file is, for messages."""
    if path.is_dir():
        return "is a directory, not a file"
    if path.exists():
        return "is not a regular file (a device or a pipe)"
    return "does not exist"


def _column(names, table, key, source: str, complain) -> np.ndarray:
    """One column, by name (in ``names``) or by index."""
    return table[:, _column_index(names, table, key, source, complain)]


def _column_index(names, table, key, source: str, complain) -> int:
    """The index of one column, by name (in ``names``, any case) or by index."""
    if isinstance(key, str):
        if names is None:
            raise complain(f"{source} has no column names; give the columns as indices "
                           f"from 0 (e.g. [0, 1, 2]), not {key!r}")
        matches = [i for i, n in enumerate(names) if n == key]
        if not matches:
            matches = [i for i, n in enumerate(names) if n.lower() == key.lower()]
            if len(matches) > 1:
                raise complain(f"{key!r} matches several columns of {source} in other cases "
                               f"({[names[i] for i in matches]}): give one's exact name")
        if not matches:
            raise complain(f"{key!r} is not a column of {source}; its columns are {names}")
        index = matches[0]
    else:
        index = key
    if index >= table.shape[1]:
        raise complain(f"column index {index} is out of range: {source} has "
                       f"{table.shape[1]} columns (indices from 0)")
    return int(index)


def _fits_table(path: Path, complain) -> tuple[list[str], np.ndarray]:
    try:
        from astropy.io import fits
    except ImportError:
        raise complain(f"{path.name} is a FITS file; reading it needs astropy "
                       "(pip install astropy)") from None
    with fits.open(path) as hdus:
        tables = [h for h in hdus if isinstance(h, fits.BinTableHDU | fits.TableHDU)]
        if not tables:
            raise complain(f"{path.name} has no table extension")
        data = tables[0].data
        names = list(data.columns.names)
        return names, np.column_stack([np.asarray(data[n], dtype=float).ravel()
                                       if np.asarray(data[n]).ndim == 1 else
                                       np.full(len(data), np.nan) for n in names])


def in_range(values: np.ndarray, bounds: dict) -> np.ndarray:
    """Whether each value lies in ``[bounds['min'], bounds['max']]`` (either may be absent)."""
    inside = np.ones(np.shape(values), dtype=bool)
    if "min" in bounds:
        inside &= values >= bounds["min"]
    if "max" in bounds:
        inside &= values <= bounds["max"]
    return inside


def read_light_curve(path, columns, sigma: float | None = None, complain=InputError,
                     complain_column=None, keep: dict | None = None,
                     complain_keep=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read time, flux and sigma from a file.

    Parameters
    ----------
    path : str or path
        The file (its suffix chooses the format: ``.npy``, ``.npz``, FITS, else text).
    columns : list
        Time, flux and, unless ``sigma`` is given, sigma: column names or indices from 0.
    sigma : float, optional
        One uncertainty for every point.
    complain, complain_column, complain_keep : callable
        ``complain(message) -> exception`` for problems with the file, with its columns and
        with ``keep`` (default: ``complain``); a job file passes ones that name its keys
        and lines.
    keep : dict, optional
        ``{column: {"min": ..., "max": ...}}``: keep only the rows whose value of each named
        column lies in the closed range (either bound optional).

    Returns
    -------
    times, flux, sigma : ndarray
        float64 arrays, rows with non-finite values dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise complain(f"data file {str(path)!r} {not_a_file(path)}")
    name = path.name.lower()
    lines = None  # each row's line in a text file
    try:
        if name.endswith(".npz"):
            with np.load(path) as archive:
                names = list(archive.files)
                arrays = [np.asarray(archive[k], dtype=float).ravel() for k in names]
            if len({a.size for a in arrays}) > 1:
                raise complain(f"{path.name}: its arrays {names} differ in length; each "
                               "column must be a 1-D array of the same length")
            table = np.column_stack(arrays) if arrays else np.empty((0, 0))
        elif name.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            if array.dtype.names:
                names = list(array.dtype.names)
                table = np.column_stack([np.asarray(array[n], dtype=float) for n in names])
            elif array.ndim == 2:
                names, table = None, np.asarray(array, dtype=float)
            else:
                raise complain(f"{path.name} holds an array of shape {array.shape}; a "
                               "light curve is 2-D, one column per quantity")
        elif name.endswith(_FITS_SUFFIXES):
            names, table = _fits_table(path, complain)
        else:
            names, table, lines = _text_table(path, complain)
    except InputError:
        raise  # already says what is wrong, and where
    except (OSError, ValueError) as e:
        raise complain(f"{path.name} cannot be read: {e}") from None
    source, bad = path.name, complain_column or complain
    used = columns[:2] if sigma is not None else columns[:3]
    indices = [_column_index(names, table, key, source, bad) for key in used]
    if len(set(indices)) < len(indices):
        raise bad(f"{list(used)} name the same column of {source} twice (as names in any "
                  "case, or a name and its index): time, flux and sigma must be different "
                  "columns")
    times = _column(names, table, columns[0], source, bad)
    flux = _column(names, table, columns[1], source, bad)
    errors = (np.full(times.size, float(sigma)) if sigma is not None
              else _column(names, table, columns[2], source, bad))
    if sigma is None and np.any(errors <= 0):  # (NaN rows are dropped below)
        i = int(np.flatnonzero(errors <= 0)[0])
        where = f"line {lines[i]}" if lines is not None else f"row {i + 1}"
        raise bad(f"{path.name}, {where}: sigma must be > 0; got {float(errors[i])!r} "
                  f"({int(np.sum(errors <= 0))} rows with sigma <= 0)")
    selected = np.ones(times.size, dtype=bool)
    for key, bounds in (keep or {}).items():
        selected &= in_range(_column(names, table, key, source, complain_keep or bad), bounds)
    times, flux, errors = times[selected], flux[selected], errors[selected]
    if not selected.any():
        raise (complain_keep or complain)(f"{path.name}: no row is left by keep = {keep}")
    good = np.isfinite(times) & np.isfinite(flux) & np.isfinite(errors)
    if not good.all():
        warnings.warn(f"{path.name}: dropped {int((~good).sum())} of {good.size} rows with a "
                      "non-finite time, flux or sigma", stacklevel=2)
    if not good.any():
        raise complain(f"{path.name} has no row with finite time, flux and sigma")
    return times[good].copy(), flux[good].copy(), errors[good].copy()
