"""Where grids come from: the `Grid` of pasted cells, read from a CSV file, a sheet of another workbook or a sheet of
the open book, with blanks normalised, trailing empty rows and columns trimmed and oversized pastes refused.

A CSV's encoding (UTF-8/UTF-16/Windows-1252) and delimiter (, ; tab |) are detected; a workbook is opened safely
(`io.safe_open`) and read as last calculated, never recalculated. Every cell keeps its place, so a problem names it.
"""

from __future__ import annotations

import codecs
import dataclasses
import csv
import io
import mmap
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snop_xl import contract as C
from snop_xl.errors import Problem, SnopError, ValidationError
from snop_xl.io.base import BookIO
from snop_xl.io.openpyxl_book import open_values
from snop_xl.io.parse import is_blank
from snop_xl.io.safe_open import DEFAULT_LIMITS, check_csv_file
from snop_xl.paste.cells import looks_numeric, month_cell

MAX_ROWS, MAX_COLS = 20_000, 400  # a paste is small; anything bigger is a wrong file
TABLE_MAX_ROWS = 1_100_000  # an ERP extract of transaction lines (a year of billing lines) is not


@dataclass
class Grid:
    """Pasted cells as a list of rows, and where they sit, so every problem can name its cell."""

    sheet: str  # what Problems call the sheet: a sheet name, "[file.xlsx]Sheet" or "file.csv"
    rows: list[list[Any]]
    first_row: int = 1
    first_col: int = 1
    description: str = ""
    #: the same cells column by column, where a large extract was read that way (`columnar_csv`): per column the
    #: code of each row's cell and the distinct cells (None for blank; `Cells` where split from the file's bytes,
    #: indexed alike), so a reader decides each distinct cell once
    columns: list[tuple[np.ndarray, Any]] | None = None

    def cell(self, r: int, c: int) -> str:
        return f"{C.column_letter(self.first_col + c)}{self.first_row + r}"

    def get(self, r: int, c: int) -> Any:
        if self.columns is not None:
            if 0 <= r < len(self.rows) and 0 <= c < len(self.columns):
                codes, uniques = self.columns[c]
                return uniques[codes[r]]
            return None
        row = self.rows[r] if 0 <= r < len(self.rows) else []
        return row[c] if 0 <= c < len(row) else None

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _trim(rows: list[list[Any]], sheet: str, max_rows: int = MAX_ROWS) -> list[list[Any]]:
    """Normalise blanks to None and drop empty trailing rows/columns; refuse a paste too large to be what it
    should (`max_rows`: a budget is small, an ERP extract of lines is not)."""
    out = [[None if is_blank(v) else v for v in row] for row in rows]
    while out and all(v is None for v in out[-1]):
        out.pop()
    if len(out) > max_rows:
        raise ValidationError([Problem(sheet, f"A{max_rows + 1}", f"the paste has {len(out):,} rows",
                                       expected=f"at most {max_rows:,} rows")])
    width = max((max((i + 1 for i, v in enumerate(r) if v is not None), default=0) for r in out), default=0)
    if width > MAX_COLS:
        raise ValidationError([Problem(sheet, f"{C.column_letter(MAX_COLS + 1)}1",
                                       f"the paste has {width} columns", expected=f"at most {MAX_COLS} columns")])
    return [r[:width] + [None] * (width - len(r)) for r in out]


class _Rows:
    """The rows of a column-wise grid, built when asked for (a reader looking at the header, a message), so that a
    million lines are never held as a million lists."""

    def __init__(self, columns: list[tuple[np.ndarray, np.ndarray]], n: int):
        self.columns, self.n = columns, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, r):
        if isinstance(r, slice):
            return [self[i] for i in range(*r.indices(self.n))]
        if r < 0:
            r += self.n
        if not 0 <= r < self.n:
            raise IndexError(r)
        return [uniques[codes[r]] for codes, uniques in self.columns]

    def __iter__(self):
        return (self[r] for r in range(self.n))


def columnar_csv(source: str | bytes | mmap.mmap, delimiter: str, sheet: str, max_rows: int) -> Grid | None:
    """The cells of a CSV (`source`: its text, or its bytes where they are UTF-8, a BOM allowed) read column by
    column, exactly as `csv.reader` and `_trim` read them: split with numpy where no cell is quoted
    (`_plain_cells`), else by pandas' C reader (`_quoted_cells`); None where this reading could differ (a NUL, a
    cell over the csv module's 128 KB, a lone carriage return ...), and the caller reads the careful way."""
    if isinstance(source, str):
        if "\x00" in source:
            return None
        cells = _quoted_cells(source, delimiter) if '"' in source else _plain_cells(source.encode("utf-8"), delimiter)
    else:  # bytes, or the file mapped (`find`, not `in`, which reads a mapping byte by byte)
        if source.find(b"\x00") >= 0:
            return None
        bom = len(codecs.BOM_UTF8) if source[:len(codecs.BOM_UTF8)] == codecs.BOM_UTF8 else 0
        cells = _quoted_cells(bytes(source).decode("utf-8-sig"), delimiter) if source.find(b'"') >= 0 else \
            _plain_cells(source, delimiter, bom)
    if cells is None:
        return None
    columns: list[tuple[np.ndarray, np.ndarray]] = []
    blanks = [blank for _, _, blank in cells]
    blank_rows = np.ones(len(cells[0][0]) if cells else 0, dtype=bool)
    for codes, uniques, blank in cells:
        if not isinstance(uniques, Cells):  # a Cells knows its blanks
            uniques[blank] = None
        if blank.sum() > 1:  # every blank cell one code, as every blank is one None to the careful reading
            same = np.arange(len(uniques), dtype=codes.dtype)
            same[blank] = np.flatnonzero(blank)[0]
            codes = same[codes]
        if blank.any():
            blank_rows &= blank[codes]
        else:
            blank_rows[:] = False
        columns.append((codes, uniques))
    n = int(np.flatnonzero(~blank_rows)[-1]) + 1 if (~blank_rows).any() else 0
    if n > max_rows:
        raise ValidationError([Problem(sheet, f"A{max_rows + 1}", f"the paste has {n:,} rows",
                                       expected=f"at most {max_rows:,} rows")])
    used = [c for c, (codes, _) in enumerate(columns) if n and _any_filled(codes[:n], ~blanks[c])]
    keep = used[-1] + 1 if used else 0
    if keep > MAX_COLS:
        raise ValidationError([Problem(sheet, f"{C.column_letter(MAX_COLS + 1)}1",
                                       f"the paste has {keep} columns", expected=f"at most {MAX_COLS} columns")])
    columns = [(codes[:n], uniques) for codes, uniques in columns[:keep]]
    return Grid(sheet, _Rows(columns, n) if keep else [], columns=columns if keep else None)  # type: ignore[arg-type]


def _quoted_cells(text: str, delimiter: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """Per column the code of each line's cell, the distinct cells (text) and which of them are blank (`is_blank`),
    read by pandas' C reader, which knows quoting; None where it could read a line otherwise than `csv.reader`."""
    sample = list(csv.reader(text[:200_000].splitlines()[:200], delimiter=delimiter))
    width = max((len(r) for r in sample), default=0) + 1  # one spare column: a longer line later is an error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a ParserWarning: a line pandas would read otherwise than csv
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(width), dtype=object,
                                na_filter=False, keep_default_na=False, skip_blank_lines=False, engine="c",
                                index_col=False)
    except (pd.errors.ParserError, ValueError, csv.Error, Warning):
        return None
    if len(frame.columns) != width or frame.iloc[:, -1].ne("").any():
        return None
    out = []
    for c in range(width - 1):
        codes, uniques = pd.factorize(frame.iloc[:, c].to_numpy(dtype=object), use_na_sentinel=False)
        uniques = np.asarray(uniques, dtype=object)
        if max(map(len, uniques), default=0) > csv.field_size_limit():
            return None  # csv.reader refuses such a cell, with its line
        out.append((codes, uniques, np.fromiter((not u.strip() for u in uniques), dtype=bool, count=len(uniques))))
    return out


_SAMPLE = 16_384  # lines whose distinct cells tell a column of amounts from one of customers
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2 ** 64 - 1], dtype=np.uint64)
_NOT_BLANK = np.array([0x21 <= b < 0x7F for b in range(256)])  # a cell starting with one of these holds something


def _plain_cells(raw: bytes | mmap.mmap, delimiter: str,
                 skip: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """`_quoted_cells` for a CSV without quotes, whose cells are what lies between delimiters and line ends:
    split with numpy on the UTF-8 bytes (`raw` after its first `skip`, a BOM; never copied whole) and told apart
    by their 8-byte words, so that only a distinct cell becomes a Python string (a million lines are seven million
    cells, but a few thousand distinct ones in most columns). None where `csv.reader` reads it otherwise (a
    carriage return that ends no line) or refuses it (a cell over 128 KB)."""
    size = len(raw) - skip
    buf = raw if size >= 8 else bytes(raw).ljust(skip + 8, b"\0")  # a word (8 bytes) can be read from every byte
    whole = np.frombuffer(buf, dtype=np.uint8, offset=skip)
    body = whole[:size]
    crlf = raw.find(b"\r") >= 0
    if crlf:
        returns = np.flatnonzero(body == 13)
        if returns[-1] + 1 == size or (body[returns + 1] != 10).any():
            return None  # a carriage return that ends no line
    ends, line_end = _cell_ends(body, ord(delimiter))  # where each cell ends, and whether it ends its line
    if not (size and raw[-1:] == b"\n"):  # the last line ends with the text
        ends, line_end = np.append(ends, size).astype(ends.dtype), np.append(line_end, True)
    words = np.ndarray((len(whole) - 7,), dtype="<u8", buffer=buf, offset=skip, strides=(1,))  # 8 bytes at each
    width = int(line_end.argmax()) + 1  # the first line's cells
    lines = len(ends) // width
    if lines * width == len(ends) and line_end[width - 1::width].all() and np.count_nonzero(line_end) == lines:
        # every line as wide (an extract mostly is): the ends as a matrix, a row per line and a column per column
        by_line, firsts, count = ends.reshape(lines, width), None, None
        del line_end
    else:
        last = np.flatnonzero(line_end)  # each line's last cell
        firsts = np.concatenate(([0], last[:-1] + 1))
        count = last - firsts + 1  # cells per line
        by_line, width = None, int(count.max())
        del last, line_end
    if width > MAX_COLS + 1:
        return None  # the careful reading says how wide the paste is

    distinct: dict[int, int] = {}  # of a long extract's columns: the distinct cells among its first lines
    if by_line is not None and lines > 4 * _SAMPLE:
        head = by_line[:_SAMPLE]
        starts = [np.concatenate(([0], head[:-1, width - 1] + 1))] + [head[:, c] + 1 for c in range(width - 1)]
        distinct = {c: _distinct_in(words, starts[c], head[:, c]) for c in range(width)}

    def column(c: int) -> tuple[np.ndarray, Cells, np.ndarray] | None:  # a cell starts after the one before it ends
        rows = np.flatnonzero(count > c) if count is not None and count.min() <= c else None  # lines with this cell
        if by_line is not None:
            end = by_line[:, c]
            if c:
                start = by_line[:, c - 1] + 1
            else:  # the first cell of a line starts after the line before it ends
                start = np.empty_like(end)
                start[0], start[1:] = 0, by_line[:-1, width - 1] + 1
        else:
            at = firsts + c if rows is None else firsts[rows] + c
            end, start = ends[at], ends[at - 1] + 1
            start[at == 0] = 0
        length = end - start
        if crlf:  # a line's last cell ends before its \r
            length -= (length > 0) & (whole[np.maximum(end - 1, 0)] == 13)
        if length.max() > csv.field_size_limit():
            return None
        key, first = _distinct_cells(words, start, length, distinct.get(c, 0) > _SAMPLE // 2)
        key = key.astype(np.int32)  # a line's cell in 4 bytes, not 8: a million lines of codes are held
        start, length = start[first], length[first]
        if rows is not None:  # the lines without this cell: blank, one more distinct cell (an empty one)
            full = np.full(len(count), len(first), dtype=key.dtype)
            full[rows] = key
            key, start, length = full, np.append(start, 0).astype(start.dtype), np.append(length, 0)
        picked, offset = _gather(whole, start, length)
        blank = (length == 0) | ~_NOT_BLANK[whole[np.minimum(start, len(whole) - 1)]]
        blank[blank] = [not _decode_at(picked, int(offset[k]), int(length[k])).strip()  # `is_blank`, for the few
                        for k in np.flatnonzero(blank)]
        return key, Cells(picked, offset, length, blank), blank

    order = sorted(range(width), key=lambda c: -distinct.get(c, 0))  # most first: the two threads end together
    out = dict(zip(order, in_threads(column, order)))
    return None if any(c is None for c in out.values()) else [out[c] for c in range(width)]  # type: ignore


def _distinct_in(words: np.ndarray, start: np.ndarray, end: np.ndarray) -> int:
    """About how many distinct cells run from `start` to `end`: told apart by their first and last 8 bytes."""
    mask = _LOW_BYTES[np.minimum(end - start, 8)]
    return len(pd.unique((words[start] & mask) * _GOLDEN ^ (words[np.maximum(end - 8, start)] & mask)))


def in_threads(work: Callable[[int], Any], jobs: Iterable[int]) -> list[Any]:
    """`[work(j) for j in jobs]`, run on up to two of the machine's cores: for work done by numpy and pandas' hash
    tables, which let go of Python's lock while they run (the columns of an extract, each on its own)."""
    jobs = list(jobs)
    workers = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if workers < 2 or len(jobs) < 2:
        return [work(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, jobs))


def _cell_ends(body: np.ndarray, sep: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each cell of `body` ends (its delimiter or line feed; int32 where the text allows) and whether that
    is a line feed: scanned in blocks that stay in the processor's cache, so no temporary is as large as the
    file; the two halves of the text on two cores."""
    index = np.int32 if len(body) < 2 ** 31 else np.int64
    block = 1 << 18

    def scan(half: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        ends, line_ends = [np.zeros(0, dtype=index)], [np.zeros(0, dtype=bool)]
        blocks = range(0, len(body), block)
        for i in blocks[:len(blocks) // 2] if half == 0 else blocks[len(blocks) // 2:]:
            part = body[i:i + block]
            line_end = part == 10
            at = np.flatnonzero((part == sep) | line_end)
            ends.append((at + i).astype(index))
            line_ends.append(line_end[at])
        return ends, line_ends

    (ends, line_ends), (more_ends, more_line_ends) = in_threads(scan, (0, 1))
    return np.concatenate(ends + more_ends), np.concatenate(line_ends + more_line_ends)


def _distinct_cells(words: np.ndarray, start: np.ndarray, length: np.ndarray,
                    many: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`factorize_rows` of the cells from `start` (increasing), `length` bytes long, by their 8-byte words (the
    bytes after a cell masked off, where a cell can be shorter; past the text's end they are 0). A word that few
    cells reach (a header longer than the column's cells) is read for those cells only. `many`: most cells are
    distinct."""
    shortest, longest = int(length.min()), int(length.max())
    parts = []
    for w in range(max(1, -(-longest // 8))):
        if shortest > 8 * w:  # every cell reaches this word
            parts.append(_words(words, start + 8 * w if w else start, length, w, shortest, longest))
            continue
        rows = np.flatnonzero(length > 8 * w)
        if 4 * len(rows) > len(start):
            parts.append(_words(words, start + 8 * w, length, w, shortest, longest))
            continue
        word = np.zeros(len(start), dtype=np.uint64)
        word[rows] = _words(words, start[rows] + 8 * w, length[rows], w, 8 * w + 1, longest)
        parts.append(word)
    return factorize_rows(parts, many)


def _words(words: np.ndarray, at: np.ndarray, length: np.ndarray, w: int, shortest: int, longest: int) -> np.ndarray:
    """Word `w` of cells `length` bytes long (`shortest` to `longest`), read at `at` (increasing): the 8 bytes
    there, those past the cell's end masked off."""
    top = len(words) - 1  # the last byte a word can start at
    if len(at) and int(at[-1]) > top:  # the words running past the end: read from `top`, shifted down
        word = words[np.minimum(at, top)]
        tail = np.searchsorted(at, top, side="right")
        word[tail:] >>= (np.minimum(at[tail:] - top, 7) * 8).astype(np.uint64)
    else:
        word = words[at]
    if shortest == longest < 8 * (w + 1):  # cells of one length (dates, padded codes): one mask for all
        word &= _LOW_BYTES[max(shortest - 8 * w, 0)]
    elif shortest < 8 * (w + 1):  # each cell's mask looked up by its length
        word &= _LOW_BYTES[np.clip(np.arange(longest + 1) - 8 * w, 0, 8)][length]
    return word


def factorize_rows(parts: list[np.ndarray], many: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The code of each row of the integer columns `parts` (equal rows one code, in order of first appearance)
    and the row where each code first appears. The columns are mixed into one 64-bit number and factorised
    (`many`: most rows distinct, `_factorize_many`), then every row checked against the first of its code (in all
    columns but the last: rows equal in the others and mixed alike are equal in it too, `mix` being one-to-one
    in each column); two rows mixing to one number are told apart the slow, certain way."""
    parts = [p.astype(np.uint64, copy=False) for p in parts]
    if many:
        key, first = _factorize_many(mix(parts))
    else:
        key = pd.factorize(mix(parts))[0]
        first = _firsts(key)
    if len(parts) > 1 and not all(np.array_equal(p[first][key], p) for p in parts[:-1]):
        key = pd.factorize(parts[0])[0]
        for part in parts[1:]:
            codes, distinct = pd.factorize(part)
            key = pd.factorize(key * len(distinct) + codes)[0]
        first = _firsts(key)
    return key, first


def _factorize_many(mixed: np.ndarray, bits: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize(mixed)`'s codes and where each first appears, for numbers mostly distinct (a column of
    amounts: half a million in a million lines), whose one hash table would outgrow the processor's cache: the
    numbers split by their top `bits` (`mix` spreads them) into parts whose tables fit, each factorised alone, the
    codes then renumbered in order of first appearance. Half the time of one table."""
    part = (mixed >> np.uint64(64 - bits)).astype(np.uint8)
    order = np.argsort(part, kind="stable")  # each part's rows, in line order
    bounds = np.concatenate(([0], np.cumsum(np.bincount(part, minlength=1 << bits)))).tolist()
    by_part = mixed[order]
    codes, firsts, base = np.empty(len(mixed), dtype=np.int64), [], 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a < b:
            local, distinct = pd.factorize(by_part[a:b])
            np.add(local, base, out=codes[a:b])
            firsts.append(_firsts(local) + a)
            base += len(distinct)
    first_at = order[np.concatenate(firsts)] if firsts else np.zeros(0, dtype=np.intp)  # each code's first row
    is_first = np.zeros(len(mixed), dtype=bool)
    is_first[first_at] = True
    rank = np.cumsum(is_first) - 1  # a code's number in order of first appearance, at its first row
    key = np.empty(len(mixed), dtype=np.int64)
    key[order] = rank[first_at][codes]
    return key, np.flatnonzero(is_first)


def mix(parts: list[np.ndarray]) -> np.ndarray:
    """The integer columns `parts` mixed into one 64-bit number per row: equal rows, equal numbers (and unequal
    rows, almost always unequal numbers). Each step (xor a column, times an odd number) is one-to-one, so rows
    equal in all columns but one mix alike only if they are equal in that one too; the multiplications spread
    the bits of text (ASCII bytes) for pandas' hash table."""
    mixed = parts[0].astype(np.uint64)
    mixed *= _GOLDEN
    for part in parts[1:]:
        mixed ^= part.astype(np.uint64, copy=False)
        mixed *= _GOLDEN
    return mixed


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _firsts(key: np.ndarray) -> np.ndarray:
    """Where each code of a factorisation first appears (codes come in order of first appearance)."""
    if not len(key):
        return key
    seen = np.maximum.accumulate(key)  # rises by one where a code first appears
    codes = int(seen[-1]) + 1
    if 64 * codes < len(key):  # few codes (a column of dates, units, plants): each found by bisection
        return np.searchsorted(seen, np.arange(codes))
    return np.flatnonzero(np.concatenate(([True], key[1:] > seen[:-1])))


class Cells:
    """The distinct cells of a column split from a CSV's bytes (`_plain_cells`): their UTF-8 bytes gathered one
    after another (`picked`, each cell at its `offset`, `length` bytes, a newline after it), made strings only when
    asked for. A column of amounts has half a million distinct cells, which its number reading takes from these
    bytes (`records._char_matrix`): strings of them would cost more than the numbers. Indexed like the object
    array of the cells it stands for (None for a blank cell): by a position, a string; by positions, the `Cells`
    of those."""

    def __init__(self, picked: np.ndarray, offset: np.ndarray, length: np.ndarray, blank: np.ndarray):
        self.picked, self.offset, self.length, self.blank = picked, offset, length, blank
        self._strings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.length)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, (int, np.integer)):
            if self._strings is not None:
                return self._strings[k]
            return None if self.blank[k] else _decode_at(self.picked, int(self.offset[k]), int(self.length[k]))
        return Cells(self.picked, self.offset[k], self.length[k], self.blank[k])

    def __iter__(self) -> Iterator[Any]:
        return iter(self.strings())

    def strings(self) -> np.ndarray:
        """Every cell as a string (None: blank), decoded at once and kept."""
        if self._strings is None:
            if len(self.length) and self.offset[0] == 0 and self.offset[-1] + self.length[-1] + 1 == \
                    len(self.picked) and (np.diff(self.offset) == self.length[:-1] + 1).all():
                texts = self.picked.tobytes().decode("utf-8").split("\n")[:-1]  # all the bytes, in order
            else:
                texts = [_decode_at(self.picked, o, n) for o, n in zip(self.offset.tolist(), self.length.tolist())]
            strings = np.array(texts, dtype=object)
            strings[self.blank] = None
            self._strings = strings
        return self._strings


def _decode_at(picked: np.ndarray, offset: int, length: int) -> str:
    return picked[offset:offset + length].tobytes().decode("utf-8")


def _gather(body: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells at `start` with `length` bytes of `body`, gathered one after another with a newline after each (in
    place of the byte that ends the cell), and where each starts there. The bytes' positions are a
    running sum of steps (1 within a cell, a jump to the next cell's start), so no index array is wider than 4
    bytes."""
    if not len(start):
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
    size = length.astype(np.int64) + 1
    offset = np.cumsum(size) - size
    total = int(offset[-1] + size[-1])
    index = np.int32 if len(body) < 2 ** 31 else np.int64
    step = np.ones(total, dtype=index)
    step[0] = start[0]
    step[offset[1:]] = start[1:] - start[:-1] - length[:-1]  # from the byte after a cell to the next one's start
    at = np.cumsum(step, dtype=index)
    np.minimum(at, len(body) - 1, out=at)  # the text's last cell may end with the text (its newline put below)
    picked = body[at]
    picked[offset + length] = 10
    return picked, offset


def _any_filled(codes: np.ndarray, filled: np.ndarray) -> bool:
    """Whether any of the cells `codes` is one of the `filled` distinct cells."""
    return bool(filled.all() or (filled.any() and filled[codes].any()))


def grid_from_csv(path: str | Path, max_rows: int = MAX_ROWS) -> Grid:
    """Cells of a CSV file: encoding and delimiter detected, row/column numbers as Excel would show them."""
    path = Path(path)
    # an extract of a million lines is ~100 MB of text: allowed where the caller allows that many rows
    check_csv_file(path, DEFAULT_LIMITS if max_rows <= MAX_ROWS else
                   dataclasses.replace(DEFAULT_LIMITS, max_csv_bytes=max(DEFAULT_LIMITS.max_csv_bytes, max_rows * 400)))
    data: bytes | mmap.mmap = _mapped(path) if max_rows > MAX_ROWS else path.read_bytes()
    head = data[:1 << 20]
    if max_rows > MAX_ROWS and (head.count(b"\n") > 201 or len(head) == len(data)) and _is_utf8(data):
        # the delimiter is sniffed on the head (a character the 1 MB cut in two left out)
        text, encoding = head.decode("utf-8-sig", errors="ignore"), "utf-8-sig"
    else:
        data = data if isinstance(data, bytes) else data[:]  # decoded whole: read, not mapped
        text, encoding = _decode(data, path)
    delimiter = _sniff_delimiter(text)
    description = f"{path.name} (CSV, {delimiter!r}-separated)"
    if max_rows > MAX_ROWS:  # an extract: read column by column
        if encoding == "utf-8-sig":
            del text  # its bytes are the UTF-8 text the column-wise reading splits: the text is not held beside them
        grid = columnar_csv(data if encoding == "utf-8-sig" else text, delimiter, path.name, max_rows)
        if grid is not None:
            return dataclasses.replace(grid, description=description)
        text = _decode(data if isinstance(data, bytes) else data[:], path)[0]
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = [list(r) for r in reader]
    except csv.Error as exc:  # a cell of over 128 KB, a NUL character: not a budget someone typed
        raise ValidationError([Problem(path.name, f"A{reader.line_num}", f"line {reader.line_num} cannot be "
                                       f"read as CSV ({exc})", expected="a text file of rows of cells")]) from None
    return Grid(path.name, _trim(rows, path.name, max_rows), description=description)


def _mapped(path: Path) -> bytes | mmap.mmap:
    """The file's bytes mapped into memory rather than read: a large extract is split where the operating system
    keeps it, without a copy (and the page faults of one) of 100 MB."""
    with open(path, "rb") as fh:
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, or one that cannot be mapped: read
            fh.seek(0)
            return fh.read()


def _is_utf8(data: bytes | mmap.mmap) -> bool:
    """Whether `data` is UTF-8 text (a BOM allowed): plain ASCII at once, else decoded in 4 MB pieces whose text is
    dropped (an extract with umlauts in its customers' names is not held twice as text)."""
    if (data.isascii() if isinstance(data, bytes) else
            int(np.frombuffer(data, dtype=np.uint8).max(initial=0)) < 0x80):
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for at in range(0, len(data), 1 << 22):
            decoder.decode(data[at:at + (1 << 22)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read in."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits most lines into the same number (> 1) of fields; on a tie (a title line with
    commas above a ';'-separated European paste), the one whose fields read as more numbers and months."""
    sample = [line for line in _head(text, 200) if line.strip()]
    best, best_score = ",", (-1, -1, -1)
    typed_cells: dict[str, bool] = {}  # an extract repeats its cells: each read once

    def typed_cell(v: str) -> bool:
        if v not in typed_cells:
            typed_cells[v] = looks_numeric(v) or month_cell(v) is not None
        return typed_cells[v]

    for d in (",", ";", "\t", "|"):
        try:
            rows = list(csv.reader(sample, delimiter=d))
        except csv.Error:  # reported with its line when the file is read
            continue
        counts = [len(r) for r in rows]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        typed = sum(typed_cell(v) for r in rows for v in r)
        score = (counts.count(mode) if mode > 1 else 0, typed, mode)
        if score > best_score:
            best, best_score = d, score
    return best


def _head(text: str, n: int) -> list[str]:
    """`text.splitlines()[:n]` without splitting a whole extract: a prefix long enough to hold them."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        if len(lines) > n + 1 or size >= len(text):
            return lines[:n]
        size *= 4


def grid_from_workbook(path: str | Path, sheet: str | None = None, prefer: Iterable[str] = (),
                       max_rows: int = MAX_ROWS) -> Grid:
    """Values (last calculated, never recalculated) of one sheet of another workbook, opened safely: `sheet`, else
    the first that holds anything of the sheets named in `prefer` (any case) and the active sheet (the active one
    when all are empty)."""
    path = Path(path)
    wb = open_values(path)
    try:
        names = wb.sheetnames
        if sheet is not None and sheet not in names:
            raise SnopError(f"{path.name}: no sheet {sheet!r}; it has {', '.join(names)}")
        by_lower = {n.lower(): n for n in names}
        candidates = [sheet] if sheet else [by_lower[n] for n in (p.lower() for p in prefer)
                                            if n in by_lower] + [wb.active.title]
        for sheet in candidates:
            rows = []
            for row in wb[sheet].iter_rows(values_only=True):
                rows.append(list(row))
                if len(rows) > max_rows + 1:
                    break
            if any(not is_blank(v) for r in rows for v in r):
                break
    finally:
        wb.close()
    label = f"[{path.name}]{sheet}"
    return Grid(label, _trim(rows, label, max_rows), description=f"{path.name}, sheet {sheet}")


def grid_from_book(book: BookIO, name: str, *, holding: str, expected: str) -> Grid:
    """What a user pasted on the book's sheet `name`, from cell A1; `holding` and `expected` say what the paste
    should be in the problem raised when the sheet is missing ("a sheet NAME holding ...") or empty.

    Formula cells give their last calculated value (BookIO.sheet_values, in every engine).
    """
    rows = book.sheet_values(name)
    if rows is None:
        raise ValidationError([Problem(name, "A1", f"there is no {name} sheet",
                                       expected=f"a sheet {name} holding {holding}")])
    grid = Grid(name, _trim(rows, name), description=f"the {name} sheet")
    if not grid.rows:
        raise ValidationError([Problem(name, "A1", "nothing is pasted", expected=expected)])
    return grid


def grid_from_file(path: str | Path, sheet: str | None = None, *, prefer: Iterable[str] = (),
                   what: str = "", max_rows: int = MAX_ROWS) -> Grid:
    """The grid of a CSV (.csv .txt .tsv) or workbook (.xlsx .xlsm .xltx .xltm) file; `sheet` and `prefer` pick a
    workbook's sheet (`grid_from_workbook`); `what` names the kind of file when another type is refused; `max_rows`
    caps its size (TABLE_MAX_ROWS for an ERP extract)."""
    path = Path(path)
    if not path.exists():
        raise SnopError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return grid_from_csv(path, max_rows)
    if suffix in (".xlsx", ".xlsm", ".xltx", ".xltm"):
        return grid_from_workbook(path, sheet, prefer, max_rows)
    kind = f"{what} file type" if what else "file type"
    raise SnopError(f"{path.name}: unsupported {kind} {suffix or '(none)'}; expected .csv, .xlsx or .xlsm")
