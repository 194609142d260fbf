"""The one reader of user files: every record once, in order, read or rejected with its reason."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from layers import tabular
from layers.errors import InputFileError
from layers.tabular import (
    COLUMN_ALIASES,
    ChunkWriter,
    iter_chunks,
    open_user_file,
    read_table,
    resolve_columns,
)


def _rows(table: tabular.Table) -> list[tuple[int, list[str], str, str]]:
    """(row number, values, reject code, raw) of every record."""
    values = table.frame.astype(object).to_numpy().tolist()
    return [
        (int(n), [str(v) for v in vals], str(c), str(r))
        for n, vals, c, r in zip(table.row_numbers, values, table.reject_code, table.raw, strict=True)
    ]


# ------------------------------------------------------------------------------- issue cases
def test_unterminated_quote_rejects_its_record_only() -> None:
    """Issue 9.1: the records after an unterminated quote are not swallowed into it."""
    data = b'id,lon,lat\n1,120.6,31.2\n2,"120.6,31.2\n3,120.7,31.3\n4,120.8,31.4\n'
    rows = _rows(read_table(data, filename="q.csv"))
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[0][1:3] == (["1", "120.6", "31.2"], "")
    assert rows[1][2:] == ("unterminated_quote", '2,"120.6,31.2')
    assert rows[1][1] == ["", "", ""]
    assert rows[2][1] == ["3", "120.7", "31.3"] and rows[3][1] == ["4", "120.8", "31.4"]


def test_unterminated_quote_on_the_last_line_and_stray_quotes() -> None:
    data = b'a,b\n1,"x\n2,"y"z\n3,"never closed'
    rows = _rows(read_table(data, filename="q.csv"))
    assert [(r[0], r[2], r[3]) for r in rows] == [
        (1, "unterminated_quote", '1,"x'),
        (2, "", ""),
        (3, "unterminated_quote", '3,"never closed'),
    ]
    # Text after a closing quote on one line is kept, as spreadsheets do.
    assert rows[1][1] == ["2", "yz"]


def test_quoted_newlines_are_one_record_across_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9.2: a quoted line end that falls on a block boundary does not split its record."""
    records = [
        [str(i), f'line one of {i}\nline two, with a comma\r\nand a ""quote""', "x"] for i in range(60)
    ]
    text = "id,text,z\n" + "".join(f'{a},"{b}",{c}\n' for a, b, c in records)
    data = text.encode()
    for block in (5, 16, 17, 63, 64, 100, 257):
        monkeypatch.setattr(tabular, "_BLOCK", block)
        rows = _rows(read_table(data, filename="n.csv"))
        assert [r[0] for r in rows] == list(range(1, 61)), block
        assert all(r[2] == "" for r in rows), block
        assert [r[1][1] for r in rows] == [b.replace('""', '"') for _, b, _ in records], block


def test_quoted_newline_on_the_real_block_boundary(tmp_path: Path) -> None:
    """Issue 9.2 at full size: the quoted line end sits exactly at the reader's block boundary."""
    block = tabular._BLOCK
    line = "{:07d},plain text to fill the line up,x\n"
    n = block // len(line.format(0)) + 1000
    lines = [line.format(i) for i in range(n)]
    at = block // len(lines[0]) - 1  # the record whose text runs over the boundary
    lines[at] = f'{at:07d},"before the boundary\nafter it",x\n'
    header = "id,text,z\n"
    # Move the quoted line end onto the boundary exactly: pad the record before it.
    offset = len(header) + sum(len(s) for s in lines[:at]) + len(f'{at:07d},"before the boundary')
    pad = block - offset
    assert 0 <= pad < 200
    lines[at - 1] = f"{at - 1:07d},{'p' * (len('plain text to fill the line up') + pad)},x\n"
    src = tmp_path / "big.csv"
    src.write_text(header + "".join(lines), encoding="utf-8")
    numbers: list[np.ndarray] = []
    texts: list[str] = []
    for chunk in iter_chunks(src, chunk_rows=50_000):
        assert not chunk.rejected.any()
        numbers.append(chunk.row_numbers)
        texts.extend(chunk.frame["text"].iloc[[0, -1]].tolist())
        if (chunk.row_numbers == at + 1).any():
            texts.append(chunk.frame["text"][chunk.row_numbers == at + 1].iloc[0])
    assert np.array_equal(np.concatenate(numbers), np.arange(1, n + 1))
    assert "before the boundary\nafter it" in texts


def test_ragged_rows_come_out_in_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9.3: malformed records are yielded where they are, never ahead of earlier good rows."""
    monkeypatch.setattr(tabular, "_BLOCK", 4096)
    n = 20_000
    lines = [f"{i},{i * 2},v{i}" if i % 97 else f"{i},{i * 2},v{i},extra" for i in range(1, n + 1)]
    data = ("id,double,v\n" + "\n".join(lines) + "\n").encode()
    numbers, ids, codes = [], [], []
    for chunk in iter_chunks(data, filename="r.csv", chunk_rows=1000):
        numbers.append(chunk.row_numbers)
        ids.extend(chunk.frame["id"].tolist())
        codes.extend(chunk.reject_code.tolist())
    assert np.array_equal(np.concatenate(numbers), np.arange(1, n + 1))
    bad = {i for i in range(1, n + 1) if i % 97 == 0}
    assert [c == "malformed_row" for c in codes] == [i in bad for i in range(1, n + 1)]
    assert [int(v) for i, v in zip(range(1, n + 1), ids, strict=True) if i not in bad] == sorted(
        set(range(1, n + 1)) - bad
    )


def test_not_parquet_is_a_user_error(tmp_path: Path) -> None:
    """Issue 9.5: a .parquet file that is not Parquet is refused with a message, not a traceback."""
    src = tmp_path / "fake.parquet"
    src.write_bytes(b"id,lon,lat\n1,2,3\n")
    assert tabular.count_rows(src) is None
    with pytest.raises(InputFileError, match=r"fake\.parquet: not a readable Parquet file"):
        list(iter_chunks(src))


def test_header_only_csv_gives_its_columns(tmp_path: Path) -> None:
    """Issue 9.7: a header with no records is one empty chunk with the columns; the output keeps them."""
    chunks = list(iter_chunks(b"id,lon,lat\r\n", filename="h.csv"))
    assert len(chunks) == 1 and len(chunks[0]) == 0
    assert list(chunks[0].frame.columns) == ["id", "lon", "lat"]
    out = tmp_path / "o.csv"
    writer = ChunkWriter(out)
    writer.write(chunks[0].frame)
    writer.commit()
    assert out.read_text(encoding="utf-8-sig").splitlines() == ['"id","lon","lat"']


def test_geojson_is_written_feature_by_feature(tmp_path: Path) -> None:
    """Issue 9.8: each chunk's features reach the file when written, not at the end."""
    out = tmp_path / "o.geojson"
    writer = ChunkWriter(out)
    frame = pd.DataFrame(
        {"row": [1, 2], "name": ['a "quoted"\nname\\', None], "grid": ["320506001001001", None]}
    )
    writer.write(frame, lon=pd.Series([120.5, np.nan]), lat=pd.Series([31.25, np.nan]))
    first = writer.tmp.stat().st_size
    assert first > 100, "the first chunk is on disk before the second is written"
    writer.write(frame.assign(row=[3, 4]), lon=pd.Series([120.6, 120.7]), lat=pd.Series([31.3, 31.4]))
    assert writer.tmp.stat().st_size > first
    writer.commit()
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    feats = doc["features"]
    assert [f["properties"]["row"] for f in feats] == [1, 2, 3, 4]
    assert feats[0]["properties"]["name"] == 'a "quoted"\nname\\'
    assert feats[1]["properties"]["name"] is None and feats[1]["geometry"] is None
    assert feats[0]["geometry"] == {"type": "Point", "coordinates": [120.5, 31.25]}
    empty = tmp_path / "e.geojson"
    w = ChunkWriter(empty)
    w.commit()
    assert json.loads(empty.read_text()) == {"type": "FeatureCollection", "features": []}


# ------------------------------------------------------------------------------- encodings, limits
def test_gb18030_and_utf8_bom_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "编码,经度,纬度,备注\n3205060101000001,120.6,31.25,井盖\n"
    a = read_table(text.encode("gb18030"), filename="g.csv")
    b = read_table(b"\xef\xbb\xbf" + text.encode(), filename="u.csv")
    assert list(a.frame.columns) == list(b.frame.columns) == ["编码", "经度", "纬度", "备注"]
    assert a.frame.iloc[0].tolist() == b.frame.iloc[0].tolist()
    # The encoding is judged by the first lines that are not ASCII, however late they come.
    monkeypatch.setattr(tabular, "_BLOCK", 64)
    late = ("id,note\n" + "".join(f"{i},plain\n" for i in range(40)) + "41,井盖\n").encode("gb18030")
    t = read_table(late, filename="late.csv")
    assert t.frame["note"].iloc[-1] == "井盖" and not t.rejected.any()


def test_bad_bytes_reject_their_record_only() -> None:
    data = "id,note\n1,好\n2,".encode() + b"\xff\xfe\x80" + b"\n3,ok\n"
    rows = _rows(read_table(data, filename="b.csv"))
    assert [r[2] for r in rows] == ["", "bad_encoding", ""]
    assert rows[0][1] == ["1", "好"] and rows[2][1] == ["3", "ok"]


def test_utf16_refused() -> None:
    with pytest.raises(InputFileError, match="UTF-16"):
        read_table("a,b\n1,2\n".encode("utf-16"), filename="w.csv")


def test_long_fields_and_the_field_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    note = "长" * 200_000  # longer than Python's csv field limit (131,072)
    data = f"id,note\n1,a\n2,b\n3,{note}\n4,d\n".encode()
    t = read_table(data, filename="l.csv")
    assert t.frame["note"].tolist() == ["a", "b", note, "d"] and not t.rejected.any()
    monkeypatch.setattr(tabular, "MAX_FIELD_BYTES", 1000)
    t = read_table(data, filename="l.csv")
    assert t.reject_code.tolist() == ["", "", "field_too_long", ""]
    assert t.row_numbers.tolist() == [1, 2, 3, 4]
    assert "600,000 bytes" in t.reject_detail[2]


def test_over_long_line_without_end_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "_BLOCK", 256)
    monkeypatch.setattr(tabular, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(tabular, "RAW_KEEP_CHARS", 50)
    data = b"id,v\n1,a\n2," + b"z" * 5000 + b'\n3,c\n4,"' + b"q\n" * 800 + b"5,e\n"
    rows = _rows(read_table(data, filename="o.csv"))
    assert [(r[0], r[2]) for r in rows][:3] == [(1, ""), (2, "record_too_long"), (3, "")]
    assert len(rows[1][3]) == 50
    assert rows[3][2] == "unterminated_quote" and rows[3][3] == '4,"q'
    assert rows[-1][1] == ["5", "e"]


def test_upload_size_limit_checked_before_reading() -> None:
    stream = io.BytesIO(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(InputFileError, match=r"up\.csv is 0\.0 MB \(4004 bytes\); the limit is"):
        open_user_file(stream, filename="up.csv", max_bytes=1000)
    assert stream.tell() == 0
    with pytest.raises(InputFileError, match="is empty"):
        open_user_file(b"", filename="e.csv")
    with pytest.raises(InputFileError, match=r"upload a \.csv or \.xlsx file"):
        open_user_file(b"{}", filename="x.json", formats=("csv", "xlsx"))


def _xlsx(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    return buf.getvalue()


def test_xlsx_values_as_text_and_ragged_rows() -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "x", "y", "note"])
    ws.append(["3205060101000001", 120.5, 31.25, "井盖"])
    ws.append([3205060101000002, 120.0, 31, None])
    ws.append([None, None, None, None])
    ws.append(["c", 1, 2, "n", "extra"])
    buf = io.BytesIO()
    wb.save(buf)
    t = read_table(buf.getvalue(), filename="w.xlsx")
    assert t.fmt == "xlsx"
    assert _rows(t)[:2] == [
        (1, ["3205060101000001", "120.5", "31.25", "井盖"], "", ""),
        (2, ["3205060101000002", "120", "31", ""], "", ""),
    ]
    assert (t.row_numbers[2], t.reject_code[2]) == (4, "malformed_row")
    assert json.loads(t.raw[2]) == ["c", "1", "2", "n", "extra"]


def test_xlsx_zip_bomb_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * 5_000_000 + b">")
    with pytest.raises(InputFileError, match=r"unpacks to 4\.8 MB"):
        read_table(buf.getvalue(), filename="bomb.xlsx", max_bytes=100_000)


def test_json_lines_and_open311_array() -> None:
    lines = b'{"service_request_id":"1","lat":31.25,"long":120.6,"service_code":"0101"}\n\n{oops\n[1,2]\n'
    rows = _rows(read_table(lines, filename="r.jsonl"))
    assert rows[0] == (1, ["1", "31.25", "120.6", "0101"], "", "")
    assert [(r[0], r[2], r[3]) for r in rows[1:]] == [(3, "bad_json", "{oops"), (4, "not_an_object", "[1,2]")]
    requests = [
        {
            "service_request_id": "638344",
            "status": "closed",
            "service_code": "006",
            "description": "井盖丢失",
            "requested_datetime": "2026-11-19T08:00:00+08:00",
            "address_string": "吴中大道 1 号",
            "lat": 31.25,
            "long": 120.6,
            "media_url": None,
        }
    ]
    t = read_table(json.dumps(requests, ensure_ascii=False).encode(), filename="requests.json")
    assert t.fmt == "json"
    cols = resolve_columns(
        list(t.frame.columns),
        filename="requests.json",
        roles=dict.fromkeys(
            ("x", "y", "event", "external_id", "description", "time", "address", "media_url")
        ),
    )
    assert cols == {
        "x": "long",
        "y": "lat",
        "event": "service_code",
        "external_id": "service_request_id",
        "description": "description",
        "time": "requested_datetime",
        "address": "address_string",
        "media_url": "media_url",
    }
    assert t.frame["media_url"].tolist() == [""]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": 1},
                "geometry": {"type": "Point", "coordinates": [120.6, 31.25]},
            }
        ],
    }
    g = read_table(json.dumps(fc).encode(), filename="points.json")
    assert g.fmt == "geojson" and g.geometry_xy is not None
    assert g.geometry_xy[0].tolist() == [120.6]


def test_resolve_columns_aliases_and_explicit_names() -> None:
    assert resolve_columns(
        ["编码", "经度", "纬度"], filename="f", roles=dict.fromkeys(("code", "x", "y"))
    ) == {
        "code": "编码",
        "x": "经度",
        "y": "纬度",
    }
    assert resolve_columns([" LON ", "Lat"], filename="f", roles={"x": None, "y": None}) == {
        "x": " LON ",
        "y": "Lat",
    }
    assert resolve_columns(["lon", "lat", "e"], filename="f", roles={"x": "e"})["x"] == "e"
    with pytest.raises(InputFileError, match=r"f: missing column\(s\) 'east'; the file has 'lon', 'lat'"):
        resolve_columns(["lon", "lat"], filename="f", roles={"x": "east", "y": None})
    with pytest.raises(InputFileError, match=r"missing column\(s\) 'x or lon'; the file has 'a'\. Name it"):
        resolve_columns(["a"], filename="f", roles={"x": None}, required=("x",), hint="Name it.")
    for role, names in COLUMN_ALIASES.items():
        assert names == tuple(n.lower() for n in names), f"aliases of {role} are compared lower-case"


# ------------------------------------------------------------------------------- the property
_TEXT = st.text(
    alphabet=st.sampled_from([*'ab ,"\n\r\t;长井盖x0\x00é', "\u00a0", "😀"]), max_size=30
) | st.text(alphabet=st.sampled_from(list('长a,"\n')), min_size=900, max_size=1500)


def _field(value: str, *, force: bool) -> str:
    if force or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def _csv_files(draw: st.DrawFn) -> tuple[bytes, list[list[str]], list[str], int, str | None, int]:
    ncol = draw(st.integers(2, 4))
    names = [f"c{i}" for i in range(ncol)]
    records: list[list[str]] = draw(
        st.lists(
            st.one_of(
                st.lists(_TEXT, min_size=ncol, max_size=ncol),
                st.lists(_TEXT, min_size=1, max_size=ncol + 2),  # often ragged
            ),
            max_size=25,
        )
    )
    # A record of one field holding nothing but spaces is a blank line, not a record: give it text.
    records = [[r[0] + "x"] if len(r) == 1 and not r[0].strip() else r for r in records]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for rec in records:
        quoted = draw(st.lists(st.booleans(), min_size=len(rec), max_size=len(rec)))
        parts = [_field(v, force=q) for v, q in zip(rec, quoted, strict=True)]
        lines.append(",".join(parts))
    # An unterminated quote, on the last line (anywhere else, what follows it is ambiguous).
    unterminated = draw(st.one_of(st.none(), st.text(alphabet="abc ,长", max_size=20)))
    text = ",".join(names) + newline + "".join(line + newline for line in lines)
    if unterminated is not None:
        tail = f'{len(records) + 1},"{unterminated}'
        text += tail
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    data = text.encode(encoding)
    if encoding == "gb18030":
        try:
            data.decode("utf-8")
            same = data.decode("utf-8") == text
        except UnicodeDecodeError:
            same = True
        assume(same)  # GB18030 bytes that are also valid UTF-8 are ambiguous by nature
    block = draw(st.sampled_from([3, 17, 64, 1 << 20]))
    return data, records, lines, ncol, (None if unterminated is None else tail), block


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(_csv_files())
def test_every_record_once_in_order_read_or_rejected(
    case: tuple[bytes, list[list[str]], list[str], int, str | None, int],
) -> None:
    """For any CSV: one row per record, in input order, each read exactly or rejected with a reason."""
    data, records, lines, ncol, unterminated, block = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tabular, "_BLOCK", block)
        mp.setattr(tabular, "MAX_FIELD_BYTES", 2000)
        chunks = list(iter_chunks(data, filename="p.csv", chunk_rows=7))
    numbers = np.concatenate([c.row_numbers for c in chunks]).tolist()
    codes = np.concatenate([c.reject_code for c in chunks]).tolist()
    raws = np.concatenate([c.raw for c in chunks]).tolist()
    values = [row for c in chunks for row in c.frame.astype(object).to_numpy().tolist()]
    expected_n = len(records) + (unterminated is not None)
    assert numbers == list(range(1, expected_n + 1)), "one row per record, in input order"
    for i, rec in enumerate(records):
        too_long = any(len(v.encode()) > 2000 for v in rec)
        if len(rec) != ncol:
            assert codes[i] == "malformed_row", (i, rec)
            assert raws[i] == lines[i]
            assert values[i] == [""] * ncol
        elif too_long:
            assert codes[i] == "field_too_long"
        else:
            assert codes[i] == "", (i, rec, codes[i])
            assert values[i] == rec
    if unterminated is not None:
        assert codes[-1] == "unterminated_quote"
        assert raws[-1] == unterminated


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b"  \n1\n", b'"a\n'])
def test_files_without_a_header_are_refused(data: bytes) -> None:
    with pytest.raises(
        InputFileError, match=r"h\.csv(: | is )(empty|the first line has no column names|.*header)"
    ):
        read_table(data, filename="h.csv")


def test_lines_of_spaces_are_blank_not_malformed() -> None:
    t = read_table(b"a,b\n1,2\n   \n\t\n3,4\n", filename="s.csv")
    assert t.row_numbers.tolist() == [1, 4] and not t.rejected.any()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.text(max_size=12)), st.one_of(st.none(), st.text(max_size=12))),
        min_size=1,
        max_size=30,
    )
)
def test_geojson_text_survives_any_characters(values: list[tuple[str | None, str | None]]) -> None:
    import tempfile

    frame = pd.DataFrame(values, columns=["a", 'b "quoted" \\ name'], dtype=object)
    frame.insert(0, "row", np.arange(1, len(frame) + 1))
    n = len(frame)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "t.geojson"
        writer = ChunkWriter(out)
        writer.write(frame, lon=pd.Series(np.linspace(120, 121, n)), lat=pd.Series(np.full(n, np.nan)))
        writer.commit()
        doc = json.loads(out.read_text(encoding="utf-8"))
    props = [f["properties"] for f in doc["features"]]
    assert [p["row"] for p in props] == list(range(1, n + 1))
    assert [(p["a"], p['b "quoted" \\ name']) for p in props] == values
    assert all(f["geometry"] is None for f in doc["features"])
