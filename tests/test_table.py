"""read_table and friends: every row kept, group labels verbatim, errors citing the file and its line."""

import pytest

from bnsl_bayes.table import numeric_columns, read_table, require_columns


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_group_labels_are_kept_verbatim(tmp_path):
    # pandas' default missing-value words (NA, null, NaN, n/a) and zero-padded numbers are names here
    labels = ["NA", "null", "NaN", "n/a", "01", "1", " a"]
    path = write(tmp_path, "model,n,loss\n" + "".join(f"{g},{i + 1},2\n" for i, g in enumerate(labels)))
    df = read_table(path, text_columns=["model"])
    assert df["model"].tolist() == labels
    assert df["n"].tolist() == list(range(1, len(labels) + 1))  # other columns are parsed as usual


def test_an_empty_group_cell_is_missing(tmp_path):
    df = read_table(write(tmp_path, "model,n,loss\na,1,2\n,2,3\n"), text_columns=["model"])
    assert df["model"].isna().tolist() == [False, True]


def test_missing_values_in_number_columns_are_still_missing(tmp_path):
    df = read_table(write(tmp_path, "n,loss\n1,NA\n2,nan\n3,\n"))
    assert df["loss"].isna().all() and len(df) == 3


def test_duplicate_headers_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"data.csv: duplicate column name\(s\) 'loss', 'n'"):
        read_table(write(tmp_path, "n,loss,n,loss,x\n1,2,3,4,5\n"))


def test_line_numbers_after_a_quoted_cell_spanning_lines(tmp_path):
    text = 'note,n,loss\n"two\nlines",1,2\n\n"three\nmore\nlines",2,1.5\nok,4,abc\n'
    df = read_table(write(tmp_path, text))
    assert df.index.tolist() == [2, 5, 8] and df.index.name == "line"
    assert df["note"].tolist() == ["two\nlines", "three\nmore\nlines", "ok"]
    with pytest.raises(ValueError, match=r"column 'loss': non-numeric value 'abc' at row 2 \(line 8\)"):
        numeric_columns(df, ["n", "loss"], "data.csv")


def test_crlf_line_endings_count_lines_right(tmp_path):
    df = read_table(write(tmp_path, 'n,loss\r\n1,2\r\n\r\n2,"x\r\ny"\r\n4,abc\r\n'))
    assert df.index.tolist() == [2, 4, 6]


def test_no_row_is_dropped_or_shifted(tmp_path):
    df = read_table(write(tmp_path, "n,loss\n1,2\n,\nnan,nan\n4\n\n   \n8,1\n"))
    assert df.index.tolist() == [2, 3, 4, 5, 8]  # only the lines with nothing on them are gone
    # a row with more cells than the header: pandas would make its first cell a row label
    with pytest.raises(ValueError, match=r"data.csv: line 3 has 3 cells but the header names 2 columns"):
        read_table(write(tmp_path, "n,loss\n1,2\n2,1.5,9\n"))


def test_non_utf8_names_file_offset_and_line(tmp_path):
    path = write(tmp_path, "n,loss\n1,2\n2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"data.csv is not UTF-8 text: byte b'\\xe9' at offset 16 \(line 3\)"):
        read_table(path)


def test_a_utf8_bom_is_not_part_of_the_first_header(tmp_path):
    df = read_table(write(tmp_path, "\ufeffn,loss\n1,2\n".encode("utf-8")))
    require_columns(df, ["n", "loss"], "data.csv")

