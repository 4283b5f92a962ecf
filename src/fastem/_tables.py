"""Reading the command line's data: tables of numbers with named columns.

Text tables (CSV, TSV, whitespace; a file or ``-`` for standard input), ``.npy`` arrays
and, with pyarrow, Parquet files. Every subcommand adds the same options with
``add_input_arguments(parser)`` and reads with ``read_input(args)``; any problem with
the input is a ``UsageError``, which the command line reports in one line.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import warnings
import zipfile
from collections import Counter
from operator import itemgetter, methodcaller
from pathlib import Path

import numpy as np


class UsageError(Exception):
    """A problem with the user's files or options: reported in one line."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))    # a name may hold a newline


_MISSING = frozenset(("", "na", "nan", "null"))     # compared stripped and lower-cased
_NPY_MAGIC, _PARQUET_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PAR1", b"PK\x03\x04"
_CANDIDATES = (",", "\t", ";", "|", None)           # None: runs of spaces or tabs
_SAMPLE_CHARS = 65536
_SNIFF_CHARS = 4096
_SHOWN_NAMES = 20
_WORDS_SAMPLE = 1000                   # cells that decide a column is words


def _note(message):
    print(f"fastem: note: {message}", file=sys.stderr)


# -- the command line's options ------------------------------------------------------------
def add_input_arguments(parser, *, optional=False):
    """Add the data file and the options that say how to read it to an argparse parser.

    With ``optional=True`` the file may be left out: ``read_input`` then returns the
    bundled Old Faithful data.
    """
    default = " (default: the bundled Old Faithful data)" if optional else ""
    parser.add_argument("file", nargs="?" if optional else None,
                        help=".csv, .tsv, .txt, .npy or .parquet; - reads standard "
                             "input" + default)
    group = parser.add_argument_group("reading the data")
    group.add_argument("--columns", help="columns to use, by name or 0-based index: a,b or "
                                         "0,2 (default: every numeric column)")
    group.add_argument("--delimiter", help="the column separator: , ; | tab or whitespace "
                                           "(default: detected)")
    group.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                       help="the first row names the columns (default: it does when it "
                            "holds a word, not only numbers and NA/null/empty cells)")


def read_input(args):
    """(X, column names, a description of the source) from add_input_arguments' options."""
    if args.file is None:
        from .datasets import load_faithful

        X, names = load_faithful(return_columns=True)
        X, names = select_columns(X, list(names), args.columns)
        return X, names, "bundled Old Faithful data"
    X, names = read_table(args.file, columns=args.columns, delimiter=args.delimiter,
                          header=args.header)
    return X, names, "standard input" if args.file == "-" else str(args.file)


# -- reading -------------------------------------------------------------------------------
def read_table(path, *, columns=None, delimiter=None, header=None, note=_note):
    """(X, column names) from a text table, a .npy array or a Parquet file.

    Parameters
    ----------
    path : str or Path
        The file; ``"-"`` reads standard input (text, or the bytes of a .npy or Parquet
        file).
    columns : str, optional
        Names or 0-based indices, e.g. ``"waiting"`` or ``"0,2"``: only these columns are
        read, and each must hold numbers. By default every numeric column is read and the
        others are skipped with a note.
    delimiter : str, optional
        One character, ``"tab"`` or ``"whitespace"``; by default ``.tsv`` means tab,
        ``.txt`` tab or whitespace, and otherwise the delimiter is detected.
    header : bool, optional
        Whether the first row of a text table names the columns; by default it does
        when it holds a cell that is neither a number nor a missing value.
    note : callable
        Receives a one-line message about skipped columns.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns), float64
        Missing values (empty, NA, NaN, null, any case) are NaN.
    names : list of str

    Raises
    ------
    UsageError
        For any problem with the file, in one line.
    """
    stdin = str(path) == "-"
    source = "standard input" if stdin else str(path)
    if not stdin and not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    suffix = "" if stdin else Path(path).suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, source, columns, note)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, source, columns, note)
    data = _read_bytes(path, source)
    if data.startswith(_NPY_MAGIC):
        return _read_npy(io.BytesIO(data), source, columns, note)
    if data.startswith(_PARQUET_MAGIC):
        return _read_parquet(data, source, columns, note)
    if data.startswith(_ZIP_MAGIC):
        raise UsageError(f"{source}: a zip archive (.npz, .xlsx, ...), not a table: write "
                         "a CSV, or one array with numpy.save")
    text = _decode(data, source)
    sep = _delimiter(text, source, delimiter, suffix)
    return _read_text(text, source, sep, columns, header, note)


def _read_bytes(path, source):
    if str(path) == "-":
        stream = sys.stdin
        if stream is None:
            raise UsageError("no standard input to read")
        try:
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        except OSError as exc:
            raise UsageError(f"cannot read standard input ({exc})") from None
        return data.encode("utf-8") if isinstance(data, str) else data
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source} ({exc.strerror or exc})") from None


def _decode(data, source):
    try:
        text = data.decode("utf-8-sig")                 # -sig: drop a BOM
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text (byte {data[exc.start]:#04x} at offset "
                         f"{exc.start}); fastem reads CSV/TSV text, .npy and .parquet") from None
    if "\x00" in text:
        raise UsageError(f"{source}: a binary file, not a text table; fastem reads CSV/TSV "
                         "text, .npy and .parquet")
    return text


def _rows(text, sep):
    """The non-blank rows of ``text`` split at ``sep`` (None: runs of whitespace)."""
    if sep is None:
        return [row for row in map(str.split, text.splitlines()) if row]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    return [row for row in reader if any(map(str.strip, row))]


def _grid(text, sep):
    """The non-blank rows: (the first row's cells or None, every row's length, a function
    that lists column j's cells from row ``start`` on)."""
    head, _, body = text.partition("\n")
    head = head.rstrip("\r")
    blank = f"{sep} \t\r\n\f\v"
    if sep is None or '"' in body or "\r" in head or not head.strip(blank):
        rows = _rows(text, sep)
        return (rows[0] if rows else None, list(map(len, rows)),
                lambda j, start: list(map(itemgetter(j), rows[start:])))
    # no quotes after the first line: str methods split several times faster than the
    # csv module (300k rows in a fraction of a second)
    first = next(csv.reader([head], delimiter=sep))
    lines = [line for line in body.splitlines() if line.strip(blank)]
    seps = list(map(methodcaller("count", sep), lines))
    if lines and not min(seps) == max(seps) == len(first) - 1:
        return first, [len(first), *(n + 1 for n in seps)], None
    flat = sep.join(lines).split(sep) if lines else []
    width = len(first)
    return (first, [width] * (len(lines) + 1),
            lambda j, start: flat[j::width] if start else [first[j], *flat[j::width]])


def _delimiter(text, source, delimiter, suffix):
    if delimiter is not None:
        named = {"tab": "\t", "\\t": "\t", "whitespace": None, "space": None, " ": None}
        sep = named.get(delimiter.lower(), delimiter)
        if sep is not None and (len(sep) != 1 or sep in "\"\r\n"):
            raise UsageError(f"--delimiter takes one character, 'tab' or 'whitespace', "
                             f"not {delimiter!r}")
        return sep
    if suffix == ".tsv":
        return "\t"
    candidates = ("\t", None) if suffix == ".txt" else _CANDIDATES
    return _detect(text, source, candidates)


def _consistency(sample, sep):
    """(the most common number of fields, the fraction of rows that have it)."""
    try:
        counts = Counter(map(len, _rows(sample, sep)))
    except csv.Error:
        return 1, 0.0
    if not counts:
        return 1, 1.0
    width, rows = counts.most_common(1)[0]
    return width, rows / sum(counts.values())


def _detect(text, source, candidates):
    """The delimiter: csv.Sniffer's when the sample bears it out, else the candidate that
    splits most sample rows into the same number (> 1) of fields."""
    sample = text[:_SAMPLE_CHARS]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rindex("\n")]          # no half row
    chars = "".join(c for c in candidates if c is not None) + (" " if None in candidates
                                                                else "")
    try:    # on a short sample: the Sniffer's regular expressions are quadratic in a line
        sniffed = csv.Sniffer().sniff(sample[:_SNIFF_CHARS], delimiters=chars).delimiter
        sniffed = None if sniffed == " " else sniffed
        width, share = _consistency(sample, sniffed)
        if width > 1 and share >= 0.9:
            return sniffed
    except csv.Error:
        pass
    scored = [(_consistency(sample, c), c) for c in candidates]
    viable = [(share, c) for (width, share), c in scored if width > 1]
    if not viable:
        return candidates[0]                            # one column
    share, best = max(viable, key=itemgetter(0))        # ties: the earlier candidate
    if share < 0.5:
        raise UsageError(f"{source}: cannot tell how the columns are separated (tried "
                         f"{_shown(candidates)}): pass --delimiter")
    return best


def _shown(candidates):
    return " ".join({"\t": "tab", None: "whitespace"}.get(c, c) for c in candidates)


def _is_value(cell):
    """A number or a missing value."""
    if cell.strip().lower() in _MISSING:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _loadtxt(text, sep, header):
    """Every column, by numpy's C parser, when the first line is not blank and every
    other cell is a number (it refuses missing values, words and ragged rows); else
    None. Otherwise the reading is the same as by the Python path."""
    head = text.partition("\n")[0]
    if not head.strip() or head.count('"') % 2:
        return None, None
    try:
        first = head.split() if sep is None else next(csv.reader([head.rstrip("\r")],
                                                               delimiter=sep))
        if header is None:
            header = not all(map(_is_value, first))
        with warnings.catch_warnings():     # "input contained no data": handled below
            warnings.simplefilter("ignore")
            X = np.loadtxt(io.StringIO(text, newline=""), delimiter=sep,
                           skiprows=int(header), comments=None,
                           quotechar=None if sep is None else '"', ndmin=2)
    except (ValueError, OverflowError, csv.Error):
        return None, None
    if X.shape[1] != len(first) or not len(X) or np.isnan(X).all(axis=0).any():
        return None, None             # the Python path says what is wrong, or skips
    return X, first


def _read_text(text, source, sep, columns, header, note):
    X, first = _loadtxt(text, sep, header)
    if X is not None:
        names = _names(first, header if header is not None
                       else not all(map(_is_value, first)))
        return select_columns(X, names, columns)
    try:
        first, lengths, column = _grid(text, sep)
    except csv.Error as exc:
        raise UsageError(f"{source}: cannot read as CSV ({exc})") from None
    if first is None:
        raise UsageError(f"{source}: the file is empty")
    if header is None:
        header = not all(map(_is_value, first))
    skip = 1 if header else 0
    if len(lengths) == skip:
        raise UsageError(f"{source}: no data rows after the header")
    names = _names(first, header)
    width = len(names)
    if min(lengths) != max(lengths):
        i = next(i for i, n in enumerate(lengths[skip:]) if n != width)
        expected = f"{width}, as many as the header has names" if header else width
        raise UsageError(f"{source}: row {i + 1} has {lengths[skip + i]} fields, "
                         f"expected {expected}")
    chosen = _resolve(columns, names)
    picked, skipped = [], []
    for j in chosen if chosen is not None else range(width):
        values, problem = _parse(column(j, skip))
        if problem is not None:
            row, cell, mostly_numbers = problem
            if chosen is not None or mostly_numbers:
                raise UsageError(f"{source}: row {row + 1}, column {names[j]!r}: "
                                 f"{cell.strip()!r} is not a number")
            skipped.append(names[j])
        elif chosen is None and np.isnan(values).all():
            skipped.append(names[j])
        else:
            picked.append((names[j], values))
    if skipped:
        note(f"{source}: skipped column{'s' if len(skipped) > 1 else ''} without numbers: "
             f"{_listed(skipped)} (choose columns with --columns)")
    if not picked:
        raise UsageError(f"{source}: no column of numbers (columns {_listed(names)}); "
                         "check --delimiter")
    return np.column_stack([v for _, v in picked]), [n for n, _ in picked]


def _names(first, header):
    """The column names: the first row's cells (blank ones by index), or indices."""
    if header:
        return [" ".join(c.split()) or str(j) for j, c in enumerate(first)]
    return [str(j) for j in range(len(first))]


def _parse(cells):
    """(float64 values, None), or (None, (first bad row, its cell, at least half numbers?)).

    A column whose first cells hold words and no number is taken for a column of words
    without reading the rest.
    """
    try:
        return np.array(cells, dtype=np.float64), None
    except ValueError:
        pass
    head = [c for c in cells[:_WORDS_SAMPLE] if c.strip().lower() not in _MISSING]
    if head and not any(map(_is_value, head)):
        return None, (cells.index(head[0]), head[0], False)
    marked = ["nan" if c.strip().lower() in _MISSING else c for c in cells]
    try:
        return np.array(marked, dtype=np.float64), None
    except ValueError:
        pass
    present = [i for i, c in enumerate(marked) if c != "nan"]
    bad = [i for i in present if not _is_value(marked[i])]
    return None, (bad[0], cells[bad[0]], len(present) - len(bad) >= len(bad))


def _listed(names):
    shown = ", ".join(map(repr, names[:_SHOWN_NAMES]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN_NAMES else "")


def _resolve(spec, names):
    """Indices of the columns named in ``spec`` (names or 0-based indices), or None."""
    if not spec:
        return None
    chosen = []
    for item in spec.split(","):
        item = item.strip()
        if item in names:
            j = names.index(item)
        elif item.isdigit() and int(item) < len(names):
            j = int(item)
        else:
            shown = ", ".join(names[:_SHOWN_NAMES])
            more = f", ... ({len(names)} in all)" if len(names) > _SHOWN_NAMES else ""
            raise UsageError(f"no column {item!r}; the columns are {shown}{more}")
        if j in chosen:
            raise UsageError(f"--columns names column {names[j]!r} twice")
        chosen.append(j)
    return chosen


def select_columns(X, names, spec):
    """Columns chosen by name or 0-based index, e.g. 'waiting' or '0,2'."""
    chosen = _resolve(spec, names)
    if chosen is None:
        return X, names
    return X[:, chosen], [names[j] for j in chosen]


# -- binary formats ------------------------------------------------------------------------
def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_npy(file, source, columns, note):
    try:
        X = np.load(file, allow_pickle=False)
    except (ValueError, TypeError, OSError, EOFError, MemoryError,
            zipfile.BadZipFile) as exc:     # BadZipFile: a .npy that starts as a zip does
        raise UsageError(f"{source}: not a readable .npy array ({_one_line(exc)})") from None
    if not isinstance(X, np.ndarray):       # np.load opened a .npz archive
        X.close()
        raise UsageError(f"{source}: a .npz archive, not a .npy array (write one array "
                         "with numpy.save)")
    if X.dtype.names is not None:
        return _read_fields(X, source, columns, note)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise UsageError(f"{source}: need a 2-D numeric array, got {X.ndim}-D {X.dtype}")
    X, names = select_columns(X, [str(j) for j in range(X.shape[1])], columns)
    return X.astype(np.float64), names


def _pick(names, numeric, kinds, source, columns, note):
    """The names of the columns to read: the chosen ones, each numeric, or else every
    numeric one (with a note about the others)."""
    chosen = _resolve(columns, names)
    if chosen is not None:
        for j in chosen:
            if not numeric[j]:
                raise UsageError(f"{source}: column {names[j]!r} holds {kinds[j]}, "
                                 "not numbers")
        return [names[j] for j in chosen]
    skipped = [n for n, ok in zip(names, numeric) if not ok]
    if skipped:
        note(f"{source}: skipped column{'s' if len(skipped) > 1 else ''} without numbers: "
             f"{_listed(skipped)} (choose columns with --columns)")
    picked = [n for n, ok in zip(names, numeric) if ok]
    if not picked:
        raise UsageError(f"{source}: no column of numbers (columns {_listed(names)})")
    return picked


def _read_fields(X, source, columns, note):
    """A record array's numeric fields, as columns named after them."""
    if X.ndim != 1:
        raise UsageError(f"{source}: need a 1-D record array, got {X.ndim}-D")
    names = list(X.dtype.names)
    kinds = [X.dtype.fields[n][0] for n in names]
    numeric = [k.kind in "biuf" and k.shape == () for k in kinds]
    picked = _pick(names, numeric, kinds, source, columns, note)
    return np.column_stack([X[n].astype(np.float64) for n in picked]), picked


def _read_parquet(file, source, columns, note):
    """A Parquet file (a path, or its bytes) by pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"{source}: reading Parquet needs pyarrow: pip install pyarrow") \
            from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(file) if isinstance(file, bytes)
                                 else str(file))
        schema = parquet.schema_arrow
        names = list(schema.names)
        kinds = [schema.field(j).type for j in range(len(names))]
        numeric = [pa.types.is_integer(t) or pa.types.is_floating(t)
                   or pa.types.is_boolean(t) or pa.types.is_decimal(t) for t in kinds]
        picked = _pick(names, numeric, kinds, source, columns, note)
        table = parquet.read(columns=picked)
        X = np.column_stack([table.column(k).cast(pa.float64()).to_numpy()
                             for k in range(len(picked))])
    except UsageError:
        raise
    except Exception as exc:        # pyarrow's errors share no base class but Exception
        raise UsageError(f"{source}: not a readable Parquet file ({_one_line(exc)})") \
            from None
    return X.astype(np.float64, copy=False).reshape(len(X), -1), picked
