"""Reading a user's table (CSV or Parquet): the one place the command line reads tables.

Every row is kept, every cell of a group column is kept as written, and a problem is named
with the file and the line a user can go to.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd


def read_table(path, text_columns=()) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; a missing, empty or unreadable file is a ValueError.

    text_columns (group columns) are read from a CSV verbatim, as text: they name curves. Read as
    numbers, the runs '01' and '1' would merge into one curve; read with pandas' missing-value
    words, a curve called 'NA' or 'null' would lose its name. Only an empty cell is missing.
    Rows of a CSV are labelled by their line in the file (index name 'line'): every error message
    downstream (numeric_columns, the core's validation, a group's rows in fit-many) cites it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except ImportError:
            raise ValueError("reading Parquet needs pyarrow: pip install 'bnsl-bayes[parquet]'") from None
        except Exception as e:  # pyarrow's own error types; the message is what the user needs
            raise ValueError(f"{path} is not a readable Parquet file ({e})") from None
        refuse_duplicate_columns(list(df.columns), path)
    else:
        df = _read_csv(path, text_columns)
    if df.empty:
        raise ValueError(f"{path} has no data rows")
    return df


def refuse_duplicate_columns(names, path) -> None:
    # pandas renames a second 'loss' to 'loss.1' without a word: which one is the data is a guess.
    seen = set()
    dups = sorted({str(n) for n in names if n in seen or seen.add(n)})
    if dups:
        raise ValueError(f"{path}: duplicate column name(s) {', '.join(map(repr, dups))}; rename them")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path} is not UTF-8 text: byte {data[e.start:e.start + 1]!r} at offset {e.start} "
                         f"(line {line}); save it as UTF-8") from None
    return text.removeprefix("\ufeff")  # the BOM of Excel's 'CSV UTF-8' is not part of the first name


def _read_csv(path: Path, text_columns) -> pd.DataFrame:
    text = _decode(path)
    # The csv module reads the records too, for what pandas does not give: the line each record
    # starts on (a quoted cell can span lines) and the cells exactly as written.
    reader = csv.reader(io.StringIO(text, newline=""))
    records, lines, lines_read = [], [], 0
    try:
        for record in reader:
            lines.append(lines_read + 1)
            records.append(record)
            lines_read = reader.line_num
    except csv.Error as e:
        raise ValueError(f"{path} is not a well-formed CSV (line {reader.line_num}: {e})") from None
    if not records:
        raise ValueError(f"{path} is empty")
    header, body, lines = records[0], records[1:], np.array(lines[1:], dtype=int)
    refuse_duplicate_columns(header, path)
    for record, line in zip(body, lines):
        if len(record) > len(header):
            # pandas would take the surplus cells as row labels and shift the rest: refuse, naming it
            raise ValueError(f"{path}: line {line} has {len(record)} cells but the header names {len(header)} "
                             "columns")
    try:
        # Blank lines are kept while reading, so that rows and records pair up; dropped below.
        df = pd.read_csv(io.StringIO(text), skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"{path} is not a well-formed CSV ({e})") from None
    if len(df) != len(body):  # not expected: both read the same text in the same dialect
        raise ValueError(f"{path} is not a well-formed CSV (its rows could not be matched to its lines)")
    for col in text_columns:
        if col in header:  # a missing column is named by require_columns
            j = header.index(col)
            df[col] = pd.Series([r[j] if j < len(r) and r[j] != "" else None for r in body], index=df.index,
                                dtype=str)
    # Only lines with nothing on them are blank. A row of empty or NaN cells ("nan,nan", ",") is
    # kept, so that validation names it instead of it vanishing.
    blank = np.array([not r or (len(r) == 1 and not r[0].strip()) for r in body], dtype=bool)
    return df.set_axis(pd.Index(lines, name="line"))[~blank]


def require_columns(df, columns, path) -> None:
    for col in columns:
        if col not in df.columns:
            # repr: a stray space in a header (" loss") is the usual cause, and must be visible
            raise ValueError(f"{path}: no column {col!r} (columns: {', '.join(repr(str(c)) for c in df.columns)})")


def numeric_columns(df, columns, path, strict: bool = True):
    """Parse text cells of these columns as numbers, naming the first cell that is not one.

    pandas reads a column with one stray word as all text; the core would then reject its first
    cell, however valid. Here the actual culprit is found. Values are otherwise left alone
    (positivity, finiteness and the like are checked by the core's validation).
    strict=False (fit-many, where a bad row fails only its own curve): cells that parse become
    numbers, the others are left as they are for the per-curve validation to name.
    """
    path = Path(path)
    lines = df.index if df.index.name == "line" else None  # file line of each row (read_table, CSV only)
    df = df.copy()
    for col in columns:
        parsed = pd.to_numeric(df[col], errors="coerce")
        if not strict:
            unparsed = parsed.isna() & df[col].notna()
            df[col] = parsed.astype(object).where(~unparsed, df[col]) if unparsed.any() else parsed
            continue
        bad = parsed.isna()  # empty cells and text that is not a number
        if bad.any():
            i = int(bad.to_numpy().argmax())
            value = df[col].iloc[i]
            what = "empty or NaN cell" if pd.isna(value) else f"non-numeric value {value!r}"
            line = f" (line {lines[i]})" if lines is not None else ""
            raise ValueError(f"{path.name}: column {col!r}: {what} at row {i}{line}")
        df[col] = parsed
    return df
