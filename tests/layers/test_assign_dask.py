"""``assign --dask``: the same output as the single process, row for row, on a cluster's workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cli
from layers import assign_dask
from layers.assign import assign_chunk
from layers.district import open_district
from layers.errors import ClusterError
from spatial.crs import to_display

pytest.importorskip("distributed")

ROWS = 3000
CHUNK_ROWS = "400"  # several chunks per worker, so order across workers is tested


@pytest.fixture(scope="module")
def points(small_store_path: Path) -> pd.DataFrame:
    """A few thousand reports at components' positions, routed by event type, with bad rows
    spread through them: empty, text, outside the district, swapped, unknown event type."""
    district = open_district(small_store_path)
    try:
        comps = district.components.sample(ROWS, random_state=11).reset_index(drop=True)
        events = district.store.read_arrow("SELECT code FROM event_types ORDER BY code LIMIT 5")
        minx, miny, _, _ = district.locator.bounds
    finally:
        district.store.close()
    lon, lat = to_display(comps["x"].to_numpy(), comps["y"].to_numpy())
    # The south-west corner of the district's bounding box: in the expected area, in no grid.
    corner = to_display(np.array([minx]), np.array([miny]))
    frame = pd.DataFrame(
        {
            "id": [f"R{i}" for i in range(ROWS)],
            "lon": [f"{v:.8f}" for v in lon],
            "lat": [f"{v:.8f}" for v in lat],
            "event": np.resize(events.column("code").to_numpy(zero_copy_only=False), ROWS),
            "component": np.where(np.arange(ROWS) % 7 == 0, comps["code"], ""),
            "note": '井盖破损, "quoted"',
        }
    )
    bad = {
        5: ("", ""),
        400: ("nan", "nan"),
        777: ("abc", "31.2"),
        1234: (f"{corner[0][0]:.8f}", f"{corner[1][0]:.8f}"),
        2000: (frame.at[2000, "lat"], frame.at[2000, "lon"]),  # swapped
        2999: ("0", "0"),
    }
    for i, (x, y) in bad.items():
        frame.loc[i, ["lon", "lat"]] = [x, y]
    frame.loc[1500, "event"] = "NO-SUCH-TYPE"
    return frame


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A running cluster of two one-process workers, by its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local:
        yield local.scheduler_address


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    text = frame.to_csv(index=False)
    lines = text.splitlines()
    # Two records the reader cannot split, in the middle of the file.
    lines[1001:1001] = ["malformed,1,2,3,4,5,6,7", "too,few"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _assign(store: Path, src: Path, dst: Path, *extra: str) -> int:
    return cli.main(
        [
            "assign",
            "--store",
            str(store),
            "--in",
            str(src),
            "--out",
            str(dst),
            "--event-col",
            "event",
            "--component-col",
            "component",
            "--chunk-rows",
            CHUNK_ROWS,
            "--quiet",
            "--json",
            *extra,
        ]
    )


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame([{**f["properties"], "geometry": json.dumps(f["geometry"])} for f in doc["features"]])


def _both(
    store: Path, src: Path, tmp_path: Path, suffix: str, dask: str, capsys: pytest.CaptureFixture[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The single-process output and the cluster's, read back; their reports must agree too."""
    alone, spread = tmp_path / f"alone{suffix}", tmp_path / f"dask{suffix}"
    assert _assign(store, src, alone) == 0
    report = json.loads(capsys.readouterr().out)
    assert _assign(store, src, spread, "--dask", *([dask] if dask else [])) == 0
    report_dask = json.loads(capsys.readouterr().out)
    assert report_dask["dask"] == (dask or "local")
    for key in ("rows", "placed", "rejected", "reject_reasons", "routed_by"):
        assert report_dask[key] == report[key], key
    return _read(alone), _read(spread)


def test_local_cluster_writes_the_single_process_output(
    small_store_path: Path, points: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write_csv(tmp_path / "reports.csv", points)
    alone, spread = _both(small_store_path, src, tmp_path, ".csv", "", capsys)
    pd.testing.assert_frame_equal(spread, alone)
    assert len(alone) == ROWS + 2
    assert alone["row"].astype(int).tolist() == list(range(1, ROWS + 3))
    # Every kind of row is there: placed and routed, rejected by the reader, by the checks.
    reasons = alone.set_index("id")["reject_reason"]
    assert reasons["R0"] == "" and alone.loc[0, "dept_code"] != ""
    assert reasons["R1234"].startswith("outside the district")
    assert reasons["R777"].startswith("not a number")
    assert reasons["R1500"].startswith("unknown event type")
    assert "swapped" in reasons["R2000"]
    unread = alone[alone["raw"] != ""]
    assert unread["raw"].tolist()[0] == "malformed,1,2,3,4,5,6,7"
    assert unread["reject_reason"].str.startswith("malformed row").all()


@pytest.mark.parametrize("suffix", [".parquet", ".geojson"])
def test_running_scheduler_writes_the_single_process_output(
    small_store_path: Path,
    points: pd.DataFrame,
    cluster: str,
    tmp_path: Path,
    suffix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Parquet in, so the workers also decode the records (LazyChunk) that the reader left as read.
    src = tmp_path / "reports.parquet"
    points.assign(lon=pd.to_numeric(points["lon"], errors="coerce")).to_parquet(src)
    alone, spread = _both(small_store_path, src, tmp_path, suffix, cluster, capsys)
    pd.testing.assert_frame_equal(spread, alone)
    assert len(alone) == ROWS
    assert alone["row"].astype(int).tolist() == list(range(1, ROWS + 1))
    assert (alone["grid_l3"].isna() | (alone["grid_l3"] == "")).sum() > 3
    assert alone["reject_reason"].str.startswith("missing").any()


def test_bad_scheduler_address_is_one_error_line(
    small_store_path: Path,
    points: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = _write_csv(tmp_path / "reports.csv", points.head(20))
    out = tmp_path / "out.csv"
    monkeypatch.setattr(assign_dask, "CONNECT_TIMEOUT_S", 1.0)
    for address, says in (
        ("nowhere", "missing port number"),
        ("tcp://127.0.0.1:1", "Timed out trying to connect"),
    ):
        assert _assign(small_store_path, src, out, "--dask", address) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot reach a Dask scheduler at '{address}'"), err
        assert says in err and "Traceback" not in err
    assert not out.exists()


def test_cluster_without_the_project_is_refused(cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the project were not installed there: the chunk function's module cannot be found.
    monkeypatch.setattr(assign_chunk, "__module__", "onegrid_not_installed")
    with (
        pytest.raises(
            ClusterError, match=r"cannot import onegrid_not_installed \(its scheduler: not found\)"
        ),
        assign_dask.dask_client(cluster),
    ):
        pass
