"""Probes of the one reader of user files, ``assign`` and the surveyor's batch (issue 9, items 1-8, 15, 16).

Each probe builds one hostile file in its folder, runs the real product on it (the CLI in a child
process where the exit status and what the user reads matter, the layers in process elsewhere)
and raises ``AssertionError`` saying what went wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ helpers
@cache
def _source_store() -> Path:
    """The small district of the tests, from ``ONEGRID_PROBE_STORE`` or generated once per process."""
    given = os.environ.get("ONEGRID_PROBE_STORE")
    if given:
        return Path(given)
    import datetime as dt
    import tempfile

    from layers.generate.build import generate_store

    path = Path(tempfile.mkdtemp(prefix="onegrid-probe-reader-")) / "small.sqlite"
    generate_store(path, end=dt.date(2026, 11, 20), seed=7, days=3, n_components=40_000, per_day=400.0)
    return path


def _store(tmp: Path) -> Path:
    """A private copy of the small district (probes never write to the shared one)."""
    dst = tmp / "store.sqlite"
    shutil.copyfile(_source_store(), dst)
    return dst


@cache
def _points() -> pd.DataFrame:
    """Positions of real components (WGS84), with their level-3 grids and an event type code."""
    from layers.store import open_store
    from spatial.crs import to_display

    store = open_store(_source_store(), readonly=True)
    try:
        comps = store.read_arrow(
            "SELECT code, x, y, grid_code FROM components ORDER BY code LIMIT 500"
        ).to_pandas()
        event = store.read_arrow("SELECT code FROM event_types ORDER BY code LIMIT 1").to_pylist()[0]["code"]
    finally:
        store.close()
    lon, lat = to_display(comps["x"].to_numpy(), comps["y"].to_numpy())
    return pd.DataFrame(
        {"code": comps["code"], "lon": lon, "lat": lat, "grid": comps["grid_code"], "event": event}
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _assign(tmp: Path, src: Path, dst: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("assign", "--store", str(_store(tmp)), "--in", str(src), "--out", str(dst), "--quiet", *extra)


def _read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _district() -> object:
    from layers.district import open_district

    return open_district(_source_store(), components=False)


# ------------------------------------------------------------------------------------ assign
def probe_unterminated_quote_is_a_reject_with_raw_text(tmp: Path) -> None:
    """9.1: an unterminated quote in record 2 of 4 swallowed records 3-4 and exited 0 with 2 rows."""
    p = _points()
    rows = [f"r{i},{p.lon[i]:.9f},{p.lat[i]:.9f}" for i in range(4)]
    rows[1] = f'r1,"{p.lon[1]:.9f},{p.lat[1]:.9f}'
    src = tmp / "q.csv"
    src.write_text("id,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp / "o.csv"
    run = _assign(tmp, src, out)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-500:]}"
    res = _read_out(out)
    assert len(res) == 4, f"{len(res)} output rows for 4 records: {run.stdout.strip()}"
    assert res["row"].tolist() == ["1", "2", "3", "4"], f"rows {res['row'].tolist()}"
    assert res["raw"][1] == rows[1], f"raw text of record 2 is {res['raw'][1]!r}"
    assert res["reject_reason"][1] != "", "record 2 is not rejected"
    assert res["id"].tolist() == ["r0", "", "r2", "r3"], f"ids {res['id'].tolist()}"
    assert (res["grid_l3"][[0, 2, 3]] != "").all(), "records 1, 3, 4 are not placed"


def probe_quoted_newline_across_the_block_boundary(tmp: Path) -> None:
    """9.2: a quoted line end spanning the reader's block boundary split its record in two."""
    from layers import tabular

    block = getattr(
        tabular, "_BLOCK", 1 << 22
    )  # the reader's block (4 MiB in the streaming CSV reader it replaced)
    line = "{:07d},some plain text that fills a line,x\n"
    width = len(line.format(0))
    n = block // width + 5_000
    lines = [line.format(i) for i in range(n)]
    at = block // width - 2
    head = "id,text,z\n"
    lead = f'{at:07d},"before'
    offset = len(head) + width * at + len(lead)
    pad = block - offset  # the quoted line end lands on the boundary exactly
    lines[at] = f'{lead}{"b" * pad}\nafter",x\n'
    src = tmp / "nl.csv"
    src.write_text(head + "".join(lines), encoding="utf-8")
    numbers = []
    rejected = 0
    texts = {}
    for chunk in tabular.iter_chunks(src):
        numbers.append(chunk.row_numbers)
        rejected += int((np.asarray(getattr(chunk, "reject_code", [])) != "").sum())
        rejected += len(getattr(chunk, "malformed", []))  # the reader this replaced listed them apart
        hit = chunk.row_numbers == at + 1
        if hit.any():
            texts["quoted"] = chunk.frame["text"][hit].iloc[0]
    got = np.concatenate(numbers)
    assert len(got) == n, f"{len(got)} records read for {n}"
    assert rejected == 0, f"{rejected} records rejected in a well-formed file"
    assert np.array_equal(got, np.arange(1, n + 1)), "row numbers are off"
    assert texts.get("quoted", "").endswith("\nafter"), "the quoted field lost its second line"


def probe_ragged_rows_keep_input_order(tmp: Path) -> None:
    """9.3: 400,524 records, 1 in 97 ragged: malformed rows were written ahead of earlier good rows."""
    p = _points()
    n = 400_524
    i = np.arange(n)
    j = i % len(p)
    lon = p["lon"].to_numpy()[j].round(9).astype(str)
    lat = p["lat"].to_numpy()[j].round(9).astype(str)
    body = pd.Series(i.astype(str)) + "," + lon + "," + lat
    ragged = i % 97 == 13
    body[ragged] = body[ragged] + ",extra"
    src = tmp / "ragged.csv"
    src.write_text("id,lon,lat\n" + "\n".join(body.tolist()) + "\n", encoding="utf-8")
    out = tmp / "o.csv"
    run = _assign(tmp, src, out)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-500:]}"
    res = pd.read_csv(
        out, dtype=str, keep_default_na=False, encoding="utf-8-sig", usecols=["row", "id", "raw"]
    )
    assert len(res) == n, f"{len(res)} output rows for {n} records"
    rows = res["row"].astype(np.int64).to_numpy()
    misplaced = int((rows != np.arange(1, n + 1)).sum())
    assert misplaced == 0, f"{misplaced} output rows out of input order"
    assert ((res["raw"] != "").to_numpy() == ragged).all(), "the rejected rows are not the ragged ones"


def probe_columns_named_like_the_tool_s(tmp: Path) -> None:
    """9.4: an input column `row` gave a traceback; `raw`, `reject_reason` were silently overwritten."""
    p = _points().head(5)
    for name in ("row", "raw", "reject_reason", "grid_l3"):
        frame = pd.DataFrame({"id": range(5), "lon": p["lon"], "lat": p["lat"], name: "mine"})
        src = tmp / f"in_{name}.csv"
        frame.to_csv(src, index=False, float_format="%.9f")
        out = tmp / f"out_{name}.csv"
        run = _assign(tmp, src, out)
        assert "Traceback" not in run.stderr, f"column {name!r}: traceback\n{run.stderr[-800:]}"
        if run.returncode == 2:
            assert run.stderr.startswith("error: ") and name in run.stderr, f"column {name!r}: {run.stderr}"
            assert not out.exists(), f"column {name!r}: refused but an output was written"
            continue
        assert run.returncode == 0, f"column {name!r}: exit {run.returncode}"
        res = _read_out(out)
        assert (res[name] == "mine").all(), f"column {name!r}: the user's values were overwritten"


def probe_parquet_that_is_not_parquet(tmp: Path) -> None:
    """9.5: a .parquet file that is not Parquet gave a traceback (rows counted before the guard)."""
    src = tmp / "fake.parquet"
    src.write_text("id,lon,lat\n1,120.6,31.25\n", encoding="utf-8")
    run = _assign(tmp, src, tmp / "o.csv")
    assert "Traceback" not in run.stderr, f"traceback:\n{run.stderr[-800:]}"
    assert run.returncode == 2, f"exit {run.returncode}"
    assert run.stderr.startswith("error: ") and "fake.parquet" in run.stderr, run.stderr


def probe_over_long_component_codes(tmp: Path) -> None:
    """9.6: one 1,000-character --component-col value took 3.46 GB; 100,000 characters 253 GiB."""
    from layers.assign import assign_file

    p = _points().head(4)
    frame = pd.DataFrame({"id": range(4), "lon": p["lon"], "lat": p["lat"], "event": p["event"]})
    district = _district()
    for length in (1_000, 100_000):
        frame["component"] = ["", "7" * length, p["code"].iloc[2], ""]
        src = tmp / f"long_{length}.csv"
        frame.to_csv(src, index=False, float_format="%.9f")
        out = tmp / f"o_{length}.csv"
        tracemalloc.start()
        try:
            assign_file(district, src=src, dst=out, event_col="event", component_col="component")  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 500 * 1024 * 1024, f"{length}-character code: peak {peak / 2**20:.0f} MiB"
        res = _read_out(out)
        assert len(res) == 4, f"{length}-character code: {len(res)} rows"
        assert res["reject_reason"][1] != "", f"{length}-character code: not rejected"
        assert (res["reject_reason"][[0, 2, 3]] == "").all(), f"{length}-character code: other rows rejected"


def probe_header_only_csv(tmp: Path) -> None:
    """9.7: a header-only CSV gave a 0-byte output without the header."""
    src = tmp / "h.csv"
    src.write_text("id,lon,lat\n", encoding="utf-8")
    out = tmp / "o.csv"
    run = _assign(tmp, src, out)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-500:]}"
    text = out.read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(text)), [])
    assert header[:4] == ["row", "id", "lon", "lat"], f"output header {header}"


def probe_geojson_output_is_streamed(tmp: Path) -> None:
    """9.8: GeoJSON output was built in memory at the end (2M rows: 44 s, 2.4 GB vs CSV 13 s)."""
    from layers.assign import assign_file

    p = _points()
    n = 200_000
    j = np.arange(n) % len(p)
    frame = pd.DataFrame({"id": np.arange(n), "lon": p["lon"].to_numpy()[j], "lat": p["lat"].to_numpy()[j]})
    src = tmp / "in.csv"
    frame.to_csv(src, index=False, float_format="%.9f")
    district = _district()
    peaks, seconds = {}, {}
    for suffix in (".csv", ".geojson"):
        out = tmp / f"o{suffix}"
        tracemalloc.start()
        t = time.perf_counter()
        try:
            assign_file(district, src=src, dst=out, chunk_rows=50_000)  # type: ignore[arg-type]
            peaks[suffix] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        seconds[suffix] = time.perf_counter() - t
    doc = json.loads((tmp / "o.geojson").read_text(encoding="utf-8"))
    assert doc.get("type") == "FeatureCollection", "not a FeatureCollection"
    assert len(doc["features"]) == n, f"{len(doc['features'])} features for {n} rows"
    assert doc["features"][0]["geometry"]["type"] == "Point"
    ratio = peaks[".geojson"] / max(peaks[".csv"], 1)
    assert ratio <= 2.0, (
        f"GeoJSON peak {peaks['.geojson'] / 2**20:.0f} MiB is {ratio:.1f}x the CSV's "
        f"{peaks['.csv'] / 2**20:.0f} MiB: not streamed"
    )


def probe_gb18030_csv_is_read_by_assign(tmp: Path) -> None:
    """One reader: the surveyor's upload accepted GB18030 and assign refused it."""
    p = _points().head(20)
    frame = pd.DataFrame({"编号": range(20), "经度": p["lon"], "纬度": p["lat"], "备注": "井盖破损"})
    src = tmp / "gbk.csv"
    src.write_bytes(frame.to_csv(index=False, float_format="%.9f").encode("gb18030"))
    out = tmp / "o.csv"
    run = _assign(tmp, src, out)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-500:]}"
    res = _read_out(out)
    assert res["grid_l3"].tolist() == p["grid"].tolist(), "GB18030 rows not placed in their grids"
    assert (res["备注"] == "井盖破损").all(), "Chinese text not read as written"


# ------------------------------------------------------------------------------------ surveyor
def probe_survey_note_longer_than_the_csv_field_limit(tmp: Path) -> None:
    """9.15: a note over 131,072 characters in data row 3 vanished from the preview, rows renumbered."""
    from layers import survey
    from layers.store import open_store

    p = _points()
    path = _store(tmp)
    lines = [f"{p.code[i]},{p.lon[i]:.9f},{p.lat[i]:.9f},note {i}" for i in range(5)]
    lines[1] = f"{p.code[1]},{p.lon[1]:.9f},{p.lat[1]:.9f},{'长' * 140_000}"
    data = ("code,lon,lat,note\n" + "\n".join(lines) + "\n").encode("utf-8")
    store = open_store(path, readonly=False)
    try:
        prev = survey.preview_batch(store, data, filename="long.csv", crs="EPSG:4326")
    finally:
        store.close()
    numbers = prev.rows["row_number"].tolist()
    assert numbers == [2, 3, 4, 5, 6], f"row numbers {numbers}"
    row3 = prev.rows.set_index("row_number").loc[3]
    assert bool(row3["accepted"]) or row3["reason"], "row 3 neither previewed nor rejected with a reason"
    if bool(row3["accepted"]):
        assert len(row3["note"]) == 140_000, "the long note was cut"


# ------------------------------------------------------------------------------------ display
def _error_page() -> None:
    from layers.errors import InputFileError
    from pages._common import show_error

    show_error(InputFileError("![x](https://probe.invalid/p.png) [链接](https://probe.invalid).csv: bad"))


def probe_error_messages_show_user_text_as_text(tmp: Path) -> None:
    """9.16: st.error renders Markdown, so a crafted file name became a link or a remote image."""
    from markdown_it import MarkdownIt
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_error_page, default_timeout=60)
    at.run()
    assert not at.exception, f"the page raised: {at.exception}"
    assert at.error, "no error shown"
    rendered = MarkdownIt("commonmark").render(at.error[0].value)
    assert "<img" not in rendered, f"a remote image is rendered: {rendered}"
    assert "<a " not in rendered, f"a link is rendered: {rendered}"
    assert "probe.invalid/p.png" in rendered, "the name is not shown"


# ------------------------------------------------------------------------------------ beyond issue 9
def probe_xlsx_zip_bomb_upload(tmp: Path) -> None:
    """A small XLSX that unpacks to hundreds of MB is refused before it is parsed."""
    import zipfile

    from layers import survey
    from layers.errors import InputFileError
    from layers.store import open_store

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (300 * 2**20) + b">")
    data = buf.getvalue()
    assert len(data) < 2 * 2**20, f"the bomb itself is {len(data)} bytes"
    store = open_store(_store(tmp), readonly=True)
    t = time.perf_counter()
    try:
        survey.preview_batch(store, data, filename="bomb.xlsx", crs="EPSG:4326")
    except InputFileError as exc:
        assert "unpacks to" in str(exc), f"refused for another reason: {exc}"
    else:
        raise AssertionError("a zip bomb was read")
    finally:
        store.close()
    assert time.perf_counter() - t < 5, "the bomb was unpacked before it was refused"


def probe_bad_bytes_reject_one_line_only(tmp: Path) -> None:
    """Bytes that are not text in a UTF-8 file reject their line, not the file or other lines."""
    from layers import tabular

    p = _points().head(3)
    lines = [f"{i},{p.lon[i]:.9f},{p.lat[i]:.9f},备注{i}".encode() for i in range(3)]
    lines[1] = lines[1][:-3] + b"\xff\xfe"
    data = b"id,lon,lat,note\n" + b"\n".join(lines) + b"\n"
    t = tabular.read_table(data, filename="mixed.csv")
    assert t.row_numbers.tolist() == [1, 2, 3], f"rows {t.row_numbers.tolist()}"
    assert t.reject_code.tolist() == ["", "bad_encoding", ""], f"codes {t.reject_code.tolist()}"
    assert t.frame["note"].tolist() == ["备注0", "", "备注2"], "the good lines are not read as written"
