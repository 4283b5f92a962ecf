"""Reading the command line's tables: delimiters, headers, text columns, formats, errors."""

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastem._tables import UsageError, add_input_arguments, read_input, read_table


def table(tmp_path, text, name="data.csv", **kwargs):
    """read_table on ``text`` written to ``name``: (X, names, notes)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    notes = []
    X, names = read_table(path, note=notes.append, **kwargs)
    return X, names, notes


def refused(tmp_path, text, *words, name="data.csv", **kwargs):
    with pytest.raises(UsageError) as info:
        table(tmp_path, text, name, **kwargs)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message
    return message


# -- delimiters ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "a,b,c\n1,2,3\n4,5,6\n",
    "a;b;c\n1;2;3\n4;5;6\n",
    "a\tb\tc\n1\t2\t3\n4\t5\t6\n",
    "a|b|c\n1|2|3\n4|5|6\n",
    "a b c\n1 2 3\n4 5 6\n",
    "  a    b   c\n  1    2   3\n  4    5   6\n",     # aligned: runs of spaces
    "a, b, c\n1, 2, 3\n4, 5, 6\n",                  # a space after each comma
    "a,b,c\r\n1,2,3\r\n4,5,6\r\n",                  # Windows line ends
    "a,b,c\n\n1,2,3\n\n4,5,6",                      # blank lines, no final newline
])
def test_the_delimiter_is_detected(tmp_path, text):
    X, names, notes = table(tmp_path, text)
    assert names == ["a", "b", "c"] and notes == []
    np.testing.assert_array_equal(X, [[1, 2, 3], [4, 5, 6]])


def test_one_column_whose_header_has_a_space(tmp_path):
    X, names, _ = table(tmp_path, "waiting time\n79\n54\n74\n")
    assert names == ["waiting time"] and X.tolist() == [[79], [54], [74]]


def test_a_semicolon_file_with_commas_inside_quotes(tmp_path):
    X, names, _ = table(tmp_path, '"x;y";"b,c"\n1;2\n3;4\n')
    assert names == ["x;y", "b,c"] and X.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("delimiter", ["tab", "TAB", "\\t", "\t"])
def test_delimiter_option_takes_tab_by_name(tmp_path, delimiter):
    X, names, _ = table(tmp_path, "a\tb,c\n1\t2\n", delimiter=delimiter)
    assert names == ["a", "b,c"] and X.tolist() == [[1, 2]]


def test_delimiter_option_overrides_detection(tmp_path):
    text = "a;b,c\n1;2,5\n3;4,5\n"      # detected as commas; semicolons on request
    X, names, notes = table(tmp_path, text)
    assert names == ["c"] and X.tolist() == [[5], [5]] and "'a;b'" in notes[0]
    X, names, notes = table(tmp_path, text, delimiter=";")
    assert names == ["a"] and X.tolist() == [[1], [3]] and "'b,c'" in notes[0]
    X, names, _ = table(tmp_path, "a b\n1 2\n", delimiter="whitespace")
    assert names == ["a", "b"]
    refused(tmp_path, "a,b\n1,2\n", "--delimiter takes one character", delimiter="::")


def test_extensions_tsv_and_txt(tmp_path):
    X, names, _ = table(tmp_path, "a b\tc\n1\t2\n", name="data.tsv")
    assert names == ["a b", "c"] and X.tolist() == [[1, 2]]
    X, names, _ = table(tmp_path, "1.5  2.5\n3.5  4.5\n", name="data.txt")
    assert names == ["0", "1"] and X.tolist() == [[1.5, 2.5], [3.5, 4.5]]
    X, names, _ = table(tmp_path, "a\tb\n1\t\n3\t4\n", name="data.txt")   # tab: empty cell
    assert names == ["a", "b"] and np.isnan(X[0, 1]) and X[1].tolist() == [3, 4]


def test_a_delimiter_that_cannot_be_told_is_a_clear_error(tmp_path):
    refused(tmp_path, "1,2\n3,4,5,6\n7,8,9\n1,2,3,4,5,6,7\n5\n", "cannot tell how the columns "
            "are separated", "--delimiter")


# -- headers -------------------------------------------------------------------------------
@pytest.mark.parametrize("first, names, n_rows, n_missing", [
    ("1.5,2.5", ["0", "1"], 3, 0),
    ("NA,2.5", ["0", "1"], 3, 1),
    ("null,NULL", ["0", "1"], 3, 2),
    (",2.5", ["0", "1"], 3, 1),
    ("nan,inf", ["0", "1"], 3, 1),
    ("x,NA", ["x", "NA"], 2, 0),
    ('"a, 1","b"', ["a, 1", "b"], 2, 0),
    ("\ufeffa,b", ["a", "b"], 2, 0),
    ("\ufeff1,2", ["0", "1"], 3, 0),
    (",b", ["0", "b"], 2, 0),                      # a blank name: the column's index
])
def test_first_row_is_data_unless_it_has_a_word(tmp_path, first, names, n_rows, n_missing):
    X, got, _ = table(tmp_path, f"{first}\n1,2\n3,4\n")
    assert got == names and X.shape == (n_rows, 2) and np.isnan(X).sum() == n_missing


def test_header_option_overrides_the_guess(tmp_path):
    X, names, _ = table(tmp_path, "1,2\n3,4\n", header=True)
    assert names == ["1", "2"] and X.tolist() == [[3, 4]]
    refused(tmp_path, "a,b\n1,2\n", "row 1, column '0': 'a' is not a number", header=False)


def test_missing_markers_are_nan_in_any_case(tmp_path):
    X, _, _ = table(tmp_path, "a,b\n1, NA \nnull,Null\nNaN,nan\n , 7\n")
    assert np.isnan(X).sum() == 6 and X[0, 0] == 1 and X[3, 1] == 7


# -- text columns and --columns ------------------------------------------------------------
CITIES = "id;city;x;y\n1;Paris;1,5;2\n2;Lyon;3;4\n3;;5;6\n"


def test_text_columns_are_skipped_with_a_note(tmp_path):
    X, names, notes = table(tmp_path, "name,x,code,y\nann,1,a1,2\nbob,3,b2,4\n")
    assert names == ["x", "y"] and X.tolist() == [[1, 2], [3, 4]]
    assert notes == ["data.csv: skipped columns without numbers: 'name', 'code' "
                     "(choose columns with --columns)".replace("data.csv",
                                                               str(tmp_path / "data.csv"))]
    X, names, notes = table(tmp_path, "a,b,c\n1,,x\n2,,y\n")      # empty column: skipped
    assert names == ["a"] and "'b', 'c'" in notes[0]


def test_a_chosen_text_column_is_an_error_naming_column_and_row(tmp_path):
    refused(tmp_path, CITIES, "row 1, column 'city': 'Paris' is not a number",
            columns="y,city")
    refused(tmp_path, CITIES, "row 1, column 'x': '1,5' is not a number", columns="x")


def test_a_column_of_numbers_with_a_word_is_an_error(tmp_path):
    body = "".join(f"{i},{i * 2}\n" for i in range(20))
    refused(tmp_path, f"a,b\n{body}5,oops\n", "row 21, column 'b': 'oops' is not a number")


def test_columns_by_name_or_index_selected_before_parsing(tmp_path):
    text = "id,x,notes,y\nA,1,?,2\nB,3,#,4\n"
    for spec in ["y,x", "3,1", "y,1", " y , x "]:
        X, names, notes = table(tmp_path, text, columns=spec)
        assert names == ["y", "x"] and X.tolist() == [[2, 1], [4, 3]] and notes == []
    refused(tmp_path, text, "no column 'z'; the columns are id, x, notes, y", columns="x,z")
    refused(tmp_path, text, "no column '4'", columns="4")
    refused(tmp_path, text, "names column 'x' twice", columns="x,1")
    X, names, _ = table(tmp_path, "a,b\n1,\n2,\n", columns="b")   # chosen: kept, all NaN
    assert names == ["b"] and np.isnan(X).all()


def test_the_same_numbers_by_every_path(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3) * 10.0 ** rng.randint(-5, 6, size=(200, 3))
    plain = "".join(",".join(map(repr, row)) + "\n" for row in X.tolist())
    quoted = "".join(",".join(f'"{v!r}"' for v in row) + "\n" for row in X.tolist())
    tabs = plain.replace(",", "\t")
    holes = X.copy()
    holes[::7, 1] = np.nan
    missing = "".join(",".join("" if np.isnan(v) else repr(v) for v in row) + "\n"
                      for row in holes.tolist())
    for text, expected in [(plain, X), (quoted, X), (tabs, X), (missing, holes),
                           (plain.replace(",", " , "), X), ("a,b,c\n" + missing, holes)]:
        got, names, _ = table(tmp_path, text)
        np.testing.assert_array_equal(got, expected)
        assert len(names) == 3


# -- standard input ------------------------------------------------------------------------
def stdin(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_standard_input_text_and_npy(monkeypatch):
    stdin(monkeypatch, "\ufeffa;b\n1;2\n3;4\n".encode())
    X, names = read_table("-")
    assert names == ["a", "b"] and X.tolist() == [[1, 2], [3, 4]]
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6.0).reshape(3, 2))
    stdin(monkeypatch, buffer.getvalue())
    X, names = read_table("-", columns="1")
    assert names == ["1"] and X.tolist() == [[1], [3], [5]]
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(UsageError, match="no standard input"):
        read_table("-")


# -- .npy ----------------------------------------------------------------------------------
def test_npy_one_and_two_dimensional(tmp_path):
    np.save(tmp_path / "one.npy", np.array([3, 1, 2], dtype=np.int32))
    X, names = read_table(tmp_path / "one.npy")
    assert names == ["0"] and X.dtype == np.float64 and X.tolist() == [[3], [1], [2]]
    np.save(tmp_path / "two.npy", np.arange(12.0, dtype=np.float32).reshape(4, 3))
    X, names = read_table(tmp_path / "two.npy", columns="2,0")
    assert names == ["2", "0"] and X[1].tolist() == [5, 3]
    np.save(tmp_path / "three.npy", np.zeros((2, 2, 2)))
    with pytest.raises(UsageError, match="need a 2-D numeric array, got 3-D"):
        read_table(tmp_path / "three.npy")


def test_npy_record_array_fields_are_columns(tmp_path):
    records = np.array([(1.5, "a", 3), (2.5, "b", 4)],
                       dtype=[("x", "f8"), ("label", "U3"), ("n", "i4")])
    np.save(tmp_path / "rec.npy", records)
    notes = []
    X, names = read_table(tmp_path / "rec.npy", note=notes.append)
    assert names == ["x", "n"] and X.tolist() == [[1.5, 3], [2.5, 4]]
    assert "'label'" in notes[0]
    X, names = read_table(tmp_path / "rec.npy", columns="n")
    assert names == ["n"] and X.tolist() == [[3], [4]]
    with pytest.raises(UsageError, match="column 'label' holds <U3, not numbers"):
        read_table(tmp_path / "rec.npy", columns="x,label")


# -- Parquet -------------------------------------------------------------------------------
def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)      # import pyarrow: ImportError
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(UsageError, match="reading Parquet needs pyarrow: pip install pyarrow"):
        read_table(tmp_path / "t.parquet")


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    t = pa.table({"x": [1.5, None, 3.5], "name": ["a", "b", "c"], "n": [1, 2, None],
                  "ok": [True, False, True]})
    pq.write_table(t, tmp_path / "t.parquet")
    notes = []
    X, names = read_table(tmp_path / "t.parquet", note=notes.append)
    assert names == ["x", "n", "ok"] and "'name'" in notes[0]
    np.testing.assert_array_equal(X, [[1.5, 1, 1], [np.nan, 2, 0], [3.5, np.nan, 1]])
    X, names = read_table(tmp_path / "t.parquet", columns="n,0")
    assert names == ["n", "x"] and X[0].tolist() == [1, 1.5]
    with pytest.raises(UsageError, match="column 'name' holds string, not numbers"):
        read_table(tmp_path / "t.parquet", columns="name")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 and then nothing")
    with pytest.raises(UsageError, match="bad.parquet: not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet")


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("data, words", [
    ("x,y\n1,2\n3,4,5\n", ["row 2 has 3 fields, expected 2"]),
    ("x,y,z\n1,2\n3,4\n", ["row 1 has 2 fields, expected 3, as many as the header"]),
    ("", ["the file is empty"]),
    ("\n\n , \n", ["the file is empty"]),
    ("a,b\n", ["no data rows after the header"]),
    ("name,city\nann,Paris\n", ["no column of numbers (columns 'name', 'city')"]),
    (b"\x00\x01\x02binary\xff\xfe", ["not UTF-8 text (byte 0xff at offset 9)"]),
    (b"a,b\n1,\x002\n", ["a binary file, not a text table"]),
    ("caf\u00e9,b\n1,2\n".encode("latin-1"), ["not UTF-8 text (byte 0xe9 at offset 3)"]),
    (b"PK\x03\x04rest of a zip", ["a zip archive (.npz, .xlsx, ...)"]),
    (b"\x93NUMPYgarbage", ["not a readable .npy array"]),
])
def test_bad_files_are_one_line_errors(tmp_path, data, words):
    refused(tmp_path, data, *words)


def test_no_such_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(UsageError, match="no such file"):
        read_table(tmp_path)                                  # a directory


# -- the options, as every subcommand adds them --------------------------------------------
def options(*argv, optional=True):
    parser = argparse.ArgumentParser()
    add_input_arguments(parser, optional=optional)
    return parser.parse_args(argv)


def test_add_input_arguments_and_read_input(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("1|2|3\n4|5|6\n")
    X, names, source = read_input(options(str(path), "--columns", "3,1", "--delimiter", "|",
                                          "--header"))     # names first, then indices
    assert names == ["3", "1"] and X.tolist() == [[6, 4]] and source == str(path)
    args = options(str(path), "--no-header")
    assert args.header is False and args.delimiter is None and args.columns is None
    X, names, _ = read_input(args)
    assert names == ["0", "1", "2"] and X.shape == (2, 3)
    X, names, source = read_input(options("--columns", "waiting"))
    assert names == ["waiting"] and X.shape == (272, 1)
    assert source == "bundled Old Faithful data"
    stdin(monkeypatch, b"1\n2\n")
    X, names, source = read_input(options("-"))
    assert source == "standard input" and X.tolist() == [[1], [2]]
    with pytest.raises(SystemExit):          # without optional=True the file is required
        options(optional=False)


# -- nothing but UsageError, whatever the bytes --------------------------------------------
cells = st.one_of(st.floats(allow_nan=True).map(repr), st.sampled_from(
    ["", "NA", "null", "x", '"1,5"', '"', "1e", " ", "nan", "\ufeff", "-", "1_0"]),
    st.text(max_size=4))
rows = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=200),
                      st.tuples(rows, st.sampled_from([",", ";", "\t", " ", "|"]))
                      .map(lambda r: "\n".join(r[1].join(row) for row in r[0]).encode())),
       name=st.sampled_from(["t.csv", "t.tsv", "t.txt", "t.npy", "t.parquet", "t"]),
       columns=st.sampled_from([None, "0", "1,0", "x"]),
       header=st.sampled_from([None, True, False]))
def test_any_input_reads_or_is_a_usage_error(data, name, columns, header):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            X, names = read_table(path, columns=columns, header=header, note=lambda m: None)
        except UsageError as exc:
            assert "\n" not in str(exc)
        else:
            assert X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == len(names) > 0
