"""Compiled CSV record splitter of :mod:`layers.tabular` (numba), the same code run by Python as fallback.

One pass over a block of UTF-8 bytes cuts it into records and fields, and writes every field's
text, unquoted and unescaped, into one output buffer (so a column is an Arrow string array taken
from it, without a Python object per value). What it does that a streaming CSV library did not:

- a quoted newline belongs to its field wherever it falls, so records are exact and numbered;
- an unterminated quote does not swallow the rest of the file: a quoted field that runs over a
  line end and then either never closes or is "closed" by a quote followed by a stray character
  (``2,"a\\n3,"x``: the quote opening the next line's field) is taken to be unterminated: its
  record ends at the first line end inside the quotes, is flagged, and reading starts again on
  the next line. A quoted field that closes properly is a field, line ends and all (RFC 4180),
  even when its record then has the wrong number of fields;
- a record that is not complete at the end of a block is left for the next block (``consumed``).

Without numba (``ONEGRID_NO_NUMBA=1``) the same function runs as Python: identical results, slower.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: Record status codes returned by :func:`split_records`.
OK = 0
BLANK = 1
UNTERMINATED = 2

_QUOTE = 34
_LF = 10
_CR = 13

# States of the field machine.
_START = 0  # at the start of a field
_PLAIN = 1  # inside an unquoted field
_QUOTED = 2  # inside a quoted field
_QUOTE_SEEN = 3  # a quote inside a quoted field: the end of the field, or the first of ""


def _split(
    buf: np.ndarray,
    out: np.ndarray,
    delim: int,
    final: bool,
    rec_start: np.ndarray,
    rec_end: np.ndarray,
    rec_status: np.ndarray,
    rec_f0: np.ndarray,
    rec_nf: np.ndarray,
    fld_start: np.ndarray,
) -> tuple[int, int, int, int]:
    """Split ``buf`` into records; returns (records, fields, bytes written to ``out``, bytes consumed).

    ``fld_start[k]`` is where field ``k`` starts in ``out``; it ends where the next one starts
    (``fld_start[fields]`` is set to the end of the last one). Records of status ``UNTERMINATED``
    keep the fields they were cut into, which are not used.
    """
    n = buf.shape[0]
    nrec = 0
    nfld = 0
    opos = 0
    i = 0
    while i < n:
        rs = i
        f0 = nfld
        o0 = opos
        state = _START
        nf = 0
        nl_in_quote = -1  # first line end inside quotes in this record
        end = -1  # end of the record's text (exclusive)
        nxt = -1  # where the next record starts
        status = OK
        fld_start[nfld] = opos
        while True:
            if i >= n:
                if not final:
                    break  # incomplete: left for the next block
                if state == _QUOTED and nl_in_quote >= 0:
                    status = UNTERMINATED
                    end = nl_in_quote
                elif state == _QUOTED:
                    status = UNTERMINATED
                    end = n
                    nxt = n
                else:
                    end = n
                    nxt = n
                nf += 1
                nfld += 1
                break
            c = buf[i]
            if state == _QUOTED:
                if c == _QUOTE:
                    state = _QUOTE_SEEN
                else:
                    if (c == _LF or c == _CR) and nl_in_quote < 0:  # noqa: SIM109 - compiled as is
                        nl_in_quote = i
                    out[opos] = c
                    opos += 1
                i += 1
                continue
            if state == _QUOTE_SEEN:
                if c == _QUOTE:  # "" inside quotes: one quote
                    out[opos] = c
                    opos += 1
                    state = _QUOTED
                    i += 1
                    continue
                if c != delim and c != _LF and c != _CR:
                    if nl_in_quote >= 0:
                        # A stray character after a quote that closed a field running over a line
                        # end: the quote that opened it was never closed.
                        status = UNTERMINATED
                        end = nl_in_quote
                        break
                    # Text after a closing quote on one line is kept, as spreadsheets do.
                    out[opos] = c
                    opos += 1
                    state = _PLAIN
                    i += 1
                    continue
                state = _PLAIN  # the delimiter or line end is handled below
            if c == delim:
                nf += 1
                nfld += 1
                fld_start[nfld] = opos
                state = _START
                i += 1
                continue
            if c == _LF or c == _CR:  # noqa: SIM109 - compiled as is
                if c == _CR and i + 1 >= n and not final:
                    break  # a CR at the end of the block may be half of CR LF
                end = i
                nxt = i + 2 if (c == _CR and i + 1 < n and buf[i + 1] == _LF) else i + 1
                nf += 1
                nfld += 1
                break
            if state == _START and c == _QUOTE:
                state = _QUOTED
                i += 1
                continue
            out[opos] = c
            opos += 1
            state = _PLAIN
            i += 1
        if end < 0 and status == OK:
            # Incomplete record at the end of a block that is not the last: stop before it.
            nfld = f0
            opos = o0
            i = rs
            break
        if status == UNTERMINATED:
            nfld = f0
            opos = o0
            fld_start[nfld] = opos
            nf = 0
            if end >= n:
                nxt = n
            elif buf[end] == _CR and end + 1 < n and buf[end + 1] == _LF:
                nxt = end + 2
            else:
                nxt = end + 1
        elif end == rs and nf == 1:
            status = BLANK
            nfld = f0
            opos = o0
            nf = 0
        rec_start[nrec] = rs
        rec_end[nrec] = end
        rec_status[nrec] = status
        rec_f0[nrec] = f0
        rec_nf[nrec] = nf
        nrec += 1
        i = nxt
    fld_start[nfld] = opos
    return nrec, nfld, opos, i


_compiled: Any = None
if not os.environ.get("ONEGRID_NO_NUMBA"):
    try:  # pragma: no cover - exercised with and without numba
        import numba

        _compiled = numba.njit(cache=True, nogil=True)(_split)
    except ImportError:  # pragma: no cover
        _compiled = None


def split_records(
    buf: np.ndarray, *, delim: int, final: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Records and fields of ``buf`` (uint8 UTF-8 bytes).

    Returns ``rec_start, rec_end, rec_status, rec_f0, rec_nf`` (per record), ``fld_start``
    (``fields + 1`` offsets into ``out``), ``out`` (the field text) and the bytes consumed; bytes
    after ``consumed`` belong to a record that continues in the next block.
    """
    n = int(buf.shape[0])
    # Every record ends at a line end (or the end), every field at a delimiter or a line end.
    seps = int(np.count_nonzero(buf == delim))
    lines = int(np.count_nonzero((buf == _LF) | (buf == _CR)))
    max_rec = lines + 2
    max_fld = seps + lines + 3
    rec_start = np.empty(max_rec, np.int64)
    rec_end = np.empty(max_rec, np.int64)
    rec_status = np.empty(max_rec, np.int8)
    rec_f0 = np.empty(max_rec, np.int64)
    rec_nf = np.empty(max_rec, np.int64)
    fld_start = np.empty(max_fld + 1, np.int64)
    out = np.empty(max(n, 1), np.uint8)
    fn = _compiled if _compiled is not None else _split
    nrec, nfld, nout, consumed = fn(
        buf, out, delim, final, rec_start, rec_end, rec_status, rec_f0, rec_nf, fld_start
    )
    return (
        rec_start[:nrec],
        rec_end[:nrec],
        rec_status[:nrec],
        rec_f0[:nrec],
        rec_nf[:nrec],
        fld_start[: nfld + 1],
        out[:nout],
        int(consumed),
    )
