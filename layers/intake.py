"""Intake (采集上报): reports from the 12 channels become cases, or duplicate reports of open ones.

A report is validated (coordinates and their CRS, time and zone, channel, event type, description),
located in its three grid levels, classified, de-duplicated and routed, then written:

- a **new case** in state ``reported`` with its ``report`` step in the history;
- a **duplicate report** when an open case of the same event type lies within the radius and the
  time window that ``duplicate_rules`` sets for the event's major class: it is linked to that case
  (``duplicate_reports``), counted on it and shown in its history; no case is created;
- **existing**, when the channel's id of the report was taken in before (re-running a file creates
  nothing twice: channel + external id is unique; a report without an id gets one from its content);
- **rejected**, with the reason, kept in ``import_rejects`` with the row as received.

A whole file is one transaction: killed in the middle, it leaves the store as it was, and the
re-run takes every report in exactly once. Every input row comes out once, in input order.

Times: an ISO time with a zone is converted to Asia/Shanghai; one without a zone is read as
Asia/Shanghai and the row says so; a time in the future is refused. Free text is stored as given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from layers import routing, tabular, workflow
from layers.cases import DISTRICT_CENTRE, states_clause
from layers.codes import community_code
from layers.district import District
from layers.errors import InputFileError
from layers.pgstore import hold
from layers.store import Conn, Store, read_frame
from layers.workcalendar import TIMEZONE
from layers.workcalendar import now as clock_now
from spatial.crs import check_coordinates, normalize_crs, to_display, to_work
from spatial.errors import CodeError, OneGridError, OutsideDistrictError

__all__ = [
    "OUTCOMES",
    "REASONS",
    "IntakeResult",
    "Preview",
    "ReportDraft",
    "intake_file",
    "intake_frame",
    "preview_report",
    "submit_report",
]

OUTCOMES = ("created", "duplicate", "existing", "rejected")
#: Reject reasons of intake (reader reasons come from :data:`layers.tabular.READER_REASONS`).
REASONS: dict[str, tuple[str, str]] = {
    "bad_coordinates": ("坐标不可用", "coordinates cannot be used"),
    "outside_district": ("不在本区网格内", "outside every grid of the district"),
    "unknown_event": ("未知事件类型", "unknown event type"),
    "ambiguous_event": ("事件类型名称不唯一", "event type name is not unique; give its code"),
    "unknown_channel": ("未知上报渠道", "unknown channel"),
    "missing_time": ("缺少上报时间", "no report time"),
    "bad_time": ("时间无法识别", "time not understood"),
    "future_time": ("上报时间在未来", "report time is in the future"),
    "empty_description": ("问题描述为空", "empty description"),
    "too_long": ("内容过长", "value too long"),
    "bad_phone": ("电话号码无效", "not a phone number"),
    "duplicate_external_id": ("文件内工单号重复", "external id repeats an earlier row of the file"),
    "unknown_component": ("未知部件编码", "unknown component code"),
}
_MAX_DESCRIPTION = 5000
_MAX_SHORT = 200
_FUTURE_SLACK_S = 120  # clocks of phones and servers differ by a little
_PHONE = r"^\+?[0-9][0-9 \-]{2,19}$"
_ROLES = ("external_id", "channel", "event", "description", "x", "y", "time", "phone", "address",
          "component", "media_url")  # fmt: skip


@dataclass(frozen=True)
class ReportDraft:
    """One report as a seat operator or an inspector enters it."""

    event: str  # event type code, or its exact name
    channel: str  # channel code (or exact name)
    description: str
    x: float
    y: float
    crs: str = "EPSG:4326"
    phone: str = ""
    address: str = ""
    reported_at: str | None = None  # None: now
    component_code: str | None = None
    external_id: str | None = None
    media_url: str = ""


@dataclass(frozen=True)
class Preview:
    """Where a draft report lands and who it goes to, before it is saved."""

    grid_l3: str
    grid_l2: str
    grid_l1: str
    grid_names: tuple[str, str, str]
    dept_code: str | None
    dept_name: str
    route_reason: str
    centre_code: str
    centre_name: str
    event_code: str
    event_name: str
    lon: float
    lat: float
    candidates: pd.DataFrame  # case_id, distance_m, reported_at, status, description


@dataclass
class IntakeResult:
    """One row per input row, in input order: ``row, outcome, case_id, reason, note``."""

    rows: pd.DataFrame
    batch_id: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return int((self.rows["outcome"] == outcome).sum())

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def existing(self) -> int:
        return self.count("existing")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    def summary(self) -> dict[str, Any]:
        return {
            "rows": len(self.rows),
            "created": self.created,
            "duplicates": self.duplicates,
            "existing": self.existing,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
            "batch_id": self.batch_id,
        }


def reason_text(code: str, detail: str = "", *, lang: str = "en") -> str:
    """``label: detail`` for an intake or reader reason code."""
    if code in REASONS:
        zh, en = REASONS[code]
        label = zh if lang == "zh" else en
        return f"{label}: {detail}" if detail else label
    return tabular.reader_reason(code, detail, lang=lang)


# -- the catalogue the checks need ---------------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
    event_types: pd.DataFrame
    by_code: pd.Index
    by_name: pd.Series  # unique name -> code
    ambiguous: frozenset[str]
    channels: pd.DataFrame
    departments: pd.DataFrame
    town_of_dept: dict[str, str]
    grid_names: dict[str, str]
    rules: pd.DataFrame


def _catalog(store: Store) -> _Catalog:
    conn = store.conn
    et = read_frame(
        "SELECT code, name, major_code, sub_name, manage_code, enforce_code, component_class, urgency, "
        "time_limit, time_unit FROM event_types",
        conn,
    )
    names = et["name"].astype(str)
    dup = names[names.duplicated(keep=False)]
    unique = et[~names.isin(dup)]
    channels = read_frame("SELECT code, name FROM channels", conn)
    depts = read_frame("SELECT code, short_name, name, town_code FROM departments", conn)
    gen = store.current_generation()
    grids = read_frame("SELECT code, name FROM grids WHERE generation = ?", conn, params=(gen,))
    rules = read_frame("SELECT major_code, radius_m, window_hours FROM duplicate_rules", conn)
    return _Catalog(
        event_types=et,
        by_code=pd.Index(et["code"].astype(str)),
        by_name=pd.Series(unique["code"].to_numpy(), index=unique["name"].astype(str)),
        ambiguous=frozenset(dup),
        channels=channels,
        departments=depts,
        town_of_dept={
            str(c): str(t)
            for c, t in zip(depts["code"], depts["town_code"], strict=True)
            if pd.notna(t) and t
        },
        grid_names=dict(zip(grids["code"].astype(str), grids["name"].astype(str), strict=True)),
        rules=rules,
    )


def _rule(cat: _Catalog, majors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Duplicate radius (m) and window (s) for each event major class ('*' for the rest)."""
    rules = cat.rules.set_index("major_code")
    default = rules.loc["*"] if "*" in rules.index else pd.Series({"radius_m": 100.0, "window_hours": 72.0})
    radius = pd.Series(majors).map(rules["radius_m"]).fillna(default["radius_m"]).to_numpy(float)
    window = pd.Series(majors).map(rules["window_hours"]).fillna(default["window_hours"]).to_numpy(float)
    return radius, window * 3600.0


# -- validation (vectorised over the rows) -------------------------------------------------------


def _strings(frame: pd.DataFrame, column: str | None, n: int) -> np.ndarray:
    if column is None:
        return np.full(n, "", dtype=object)
    return frame[column].fillna("").astype(str).str.strip().to_numpy(dtype=object)


def _parse_times(text: np.ndarray, *, now: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local ISO times, a reason code per row ('' if fine) and whether the zone was assumed."""
    s = pd.Series(text, dtype=object).fillna("").astype(str)
    n = len(s)
    reason = np.full(n, "", dtype=object)
    out = np.full(n, None, dtype=object)
    has_zone = s.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy()
    empty = (s == "").to_numpy()
    reason[empty] = "missing_time"
    local = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    zoned = has_zone & ~empty
    if zoned.any():
        t = pd.to_datetime(s[zoned], format="ISO8601", utc=True, errors="coerce")
        local[zoned] = t.dt.tz_convert(TIMEZONE).dt.tz_localize(None).astype("datetime64[s]")
    naive = ~has_zone & ~empty
    if naive.any():
        local[naive] = pd.to_datetime(s[naive], format="ISO8601", errors="coerce").astype("datetime64[s]")
    bad = local.isna().to_numpy() & ~empty
    reason[bad] = "bad_time"
    ok = ~local.isna().to_numpy()
    iso = local[ok].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    out[ok] = iso
    limit = (pd.Timestamp(now) + pd.Timedelta(seconds=_FUTURE_SLACK_S)).isoformat()
    future = ok & (out.astype(str) > limit)
    reason[future & (reason == "")] = "future_time"
    return out, reason, naive & ok


def _coordinates(
    frame: pd.DataFrame, cols: dict[str, str | None], xy: tuple[np.ndarray, np.ndarray] | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    if cols["x"] is None and cols["y"] is None and xy is not None:
        return np.asarray(xy[0], float), np.asarray(xy[1], float)
    x = pd.to_numeric(pd.Series(_strings(frame, cols["x"], n)), errors="coerce").to_numpy(float)
    y = pd.to_numeric(pd.Series(_strings(frame, cols["y"], n)), errors="coerce").to_numpy(float)
    return x, y


@dataclass
class _Rows:
    """The rows of one intake as columns, with a reason code and detail per row."""

    n: int
    row: np.ndarray
    raw: np.ndarray
    reason: np.ndarray
    detail: np.ndarray
    note: np.ndarray
    values: dict[str, np.ndarray]

    def reject(self, mask: np.ndarray, code: str, detail: np.ndarray | str = "") -> None:
        fresh = mask & (self.reason == "")
        self.reason[fresh] = code
        if isinstance(detail, str):
            self.detail[fresh] = detail
        else:
            self.detail[fresh] = np.asarray(detail, dtype=object)[fresh]

    @property
    def ok(self) -> np.ndarray:
        return self.reason == ""


def _validate(
    district: District,
    cat: _Catalog,
    frame: pd.DataFrame,
    *,
    cols: dict[str, str | None],
    xy: tuple[np.ndarray, np.ndarray] | None,
    rows: _Rows,
    channel: str | None,
    crs: str,
    now: str,
) -> None:
    n = rows.n
    v = rows.values
    for role in _ROLES:
        if role not in ("x", "y"):
            v[role] = _strings(frame, cols.get(role), n)
    # Channel: the file's column, else the one given for the whole file.
    if channel is not None:
        v["channel"] = np.where(v["channel"] == "", channel, v["channel"]).astype(object)
    by_name = dict(zip(cat.channels["name"].astype(str), cat.channels["code"].astype(str), strict=True))
    codes = set(cat.channels["code"].astype(str))
    ch = pd.Series(v["channel"]).map(lambda c: c if c in codes else by_name.get(c, "")).to_numpy(dtype=object)
    rows.reject(ch == "", "unknown_channel", np.where(v["channel"] == "", "no channel given", v["channel"]))
    v["channel"] = ch
    # Event type: a code, else an exact (unique) name.
    ev = v["event"]
    is_code = cat.by_code.get_indexer(ev.astype(str)) >= 0
    named = pd.Series(ev).map(cat.by_name).to_numpy(dtype=object)
    code = np.where(is_code, ev, named)
    code = np.where(pd.isna(code), "", code).astype(object)
    rows.reject(np.isin(ev, list(cat.ambiguous)) & ~is_code, "ambiguous_event", ev)
    rows.reject(code == "", "unknown_event", np.where(ev == "", "no event type given", ev))
    v["event"] = code
    # Free text: stored as given (escaped where shown), but not empty and not endless.
    rows.reject(v["description"] == "", "empty_description")
    if cols.get("description") is not None:  # kept exactly as sent, spaces and line ends included
        v["description"] = frame[cols["description"]].fillna("").astype(str).to_numpy(dtype=object)
    desc = v["description"]
    lengths = pd.Series(desc).str.len().to_numpy()
    rows.reject(lengths > _MAX_DESCRIPTION, "too_long", f"description over {_MAX_DESCRIPTION:,} characters")
    for role in ("external_id", "phone", "address", "component", "media_url"):
        long = pd.Series(v[role]).str.len().to_numpy() > (
            _MAX_DESCRIPTION if role == "address" else _MAX_SHORT
        )
        rows.reject(long, "too_long", f"{role} too long")
    phone_ok = (v["phone"] == "") | pd.Series(v["phone"]).str.match(_PHONE).to_numpy()
    rows.reject(~phone_ok, "bad_phone", v["phone"])
    # Time.
    times, why, assumed = _parse_times(v["time"], now=now)
    for code_ in ("missing_time", "bad_time", "future_time"):
        rows.reject(why == code_, code_, v["time"])
    v["reported_at"] = times
    rows.note[assumed] = "无时区，按北京时间（UTC+8）读取 / no zone: read as Asia/Shanghai"
    # Coordinates: checked as the CRS said, converted, located.
    x, y = _coordinates(frame, cols, xy, n)
    bounds = _lonlat_bounds(district)
    check = check_coordinates(x, y, crs=crs, bounds_lonlat=bounds if crs != "EPSG:4549" else None)
    rows.reject(~check.valid, "bad_coordinates", check.reason)
    wx = np.full(n, np.nan)
    wy = np.full(n, np.nan)
    good = check.valid & np.isfinite(x) & np.isfinite(y)
    if good.any():
        wx[good], wy[good] = to_work(x[good], y[good], crs=crs)
    levels = district.locate_all(np.where(good, wx, 0.0), np.where(good, wy, 0.0))
    l3 = levels["grid_l3"].to_numpy(dtype=object, copy=True)
    l3[~good] = None
    rows.reject(good & pd.isna(l3), "outside_district")
    v["x"], v["y"] = wx, wy
    v["grid_l3"] = l3
    v["grid_l1"] = levels["grid_l1"].to_numpy(dtype=object, copy=True)
    # A component the report names must exist.
    comp = v["component"]
    named_comp = comp != ""
    if named_comp.any():
        known = (
            pd.Index(district.components["code"].astype(str)).get_indexer(comp[named_comp].astype(str)) >= 0
        )
        unknown = np.zeros(n, dtype=bool)
        unknown[np.flatnonzero(named_comp)[~known]] = True
        rows.reject(unknown, "unknown_component", comp)
    # Reports without the channel's id get one from their content, so a re-run finds them again.
    missing_id = v["external_id"] == ""
    if missing_id.any():
        basis = pd.DataFrame(
            {k: pd.Series(v[k]).astype(str) for k in ("channel", "time", "event", "description")}
        )
        basis["x"], basis["y"] = pd.Series(x).round(7).astype(str), pd.Series(y).round(7).astype(str)
        digest = pd.util.hash_pandas_object(basis, index=False).to_numpy(np.uint64)
        auto = np.array([f"auto-{d:016x}" for d in digest[missing_id]], dtype=object)
        v["external_id"][missing_id] = auto
    # The same id twice in one file: the first row wins, the later ones say which row they repeat.
    key = pd.Series(v["channel"].astype(str)) + "\x1f" + pd.Series(v["external_id"].astype(str))
    first_row = pd.Series(rows.row).groupby(key).transform("first").to_numpy()
    repeat = key.duplicated(keep="first").to_numpy() & (v["channel"] != "")
    rows.reject(
        repeat, "duplicate_external_id", np.char.add("same as row ", first_row.astype(str)).astype(object)
    )


def _lonlat_bounds(district: District) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = district.locator.bounds
    lon, lat = to_display(np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    m = 0.1  # just beyond the box is "outside the district", not "outside the expected area"
    return float(lon.min()) - m, float(lat.min()) - m, float(lon.max()) + m, float(lat.max()) + m


# -- writing -------------------------------------------------------------------------------------


#: Metres within which the nearest component of the event's class is taken as the one reported.
ROUTE_RADIUS_M = 30.0


def _route(district: District, cat: _Catalog, v: dict[str, np.ndarray], idx: np.ndarray) -> pd.DataFrame:
    """Route reports by :func:`layers.routing.route` over the components that can matter: those
    within the radius of a report (found by a cell hash over the district's components) and the ones
    named. A day's reports touch a few thousand of the 680,000, so nothing is indexed in full."""
    comp = v["component"][idx]
    x, y = v["x"][idx], v["y"][idx]
    comps = district.components
    r = ROUTE_RADIUS_M
    cx = np.floor(comps["x"].to_numpy(float) / r).astype(np.int64)
    cy = np.floor(comps["y"].to_numpy(float) / r).astype(np.int64)
    rx = np.floor(x / r).astype(np.int64)
    ry = np.floor(y / r).astype(np.int64)
    around = np.concatenate([(rx + dx) * (1 << 32) + (ry + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    classes = cat.event_types.set_index("code")["component_class"].reindex(v["event"][idx]).dropna().unique()
    near = np.isin(cx * (1 << 32) + cy, around) & comps["class_code"].isin(classes.tolist()).to_numpy()
    named = comp[comp != ""]
    if named.size:
        near |= comps["code"].isin(named.tolist()).to_numpy()
    subset = comps.loc[near, ["code", "class_code", "x", "y"]]
    owners = _owners(district.store, subset["code"].tolist())
    subset = subset.merge(owners, on="code", how="left")
    return routing.route(
        x=x,
        y=y,
        grid_codes=v["grid_l3"][idx],
        event_type_codes=v["event"][idx],
        component_codes=[c or None for c in comp.tolist()],
        event_types=cat.event_types,
        components=subset,
        departments=cat.departments,
        radius=r,
    )


def _owners(store: Store, codes: list[str]) -> pd.DataFrame:
    """Maintainer and owner of some components: one query, a primary-key look-up per code."""
    return read_frame(
        "SELECT code, maintainer_code, owner_code FROM components WHERE code IN (SELECT value FROM json_each(?))",
        store.conn,
        params=(json.dumps(codes),),
    )


def _existing(conn: Conn, channels: np.ndarray, ids: np.ndarray) -> dict[tuple[str, str], str]:
    """Case ids of reports already taken in, by (channel, external id)."""
    found: dict[tuple[str, str], str] = {}
    pairs = list(dict.fromkeys(zip(channels.tolist(), ids.tolist(), strict=True)))
    for lo in range(0, len(pairs), 400):
        part = pairs[lo : lo + 400]
        where = " OR ".join(["(channel_code = ? AND external_id = ?)"] * len(part))
        params = [p for pair in part for p in pair]
        for table, id_col in (("cases", "id"), ("duplicate_reports", "case_id")):
            for ch, ext, cid in conn.execute(
                f"SELECT channel_code, external_id, {id_col} FROM {table} WHERE {where}", params
            ):
                found[(ch, ext)] = cid
    return found


def _open_cases(conn: Conn, events: np.ndarray, since: str) -> pd.DataFrame:
    uniq = sorted(set(events.tolist()))
    clause, _ = states_clause("status", workflow.OPEN_STATES)
    return read_frame(
        f"SELECT id, event_type_code, x, y, reported_at FROM cases WHERE {clause} "
        f"AND event_type_code IN ({','.join('?' * len(uniq))}) AND reported_at >= ?",
        conn,
        params=[*uniq, since],
    )


def _seconds(iso: np.ndarray) -> np.ndarray:
    return np.asarray(iso, dtype="datetime64[s]").astype(np.int64)


def _match_duplicates(
    cat: _Catalog, v: dict[str, np.ndarray], idx: np.ndarray, open_cases: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """For each report in ``idx`` (input order): the case it duplicates, or None, and whether
    that case is one of this batch (then the value is the position in ``idx`` of its report)."""
    m = idx.size
    target = np.full(m, None, dtype=object)
    in_batch = np.full(m, -1, dtype=np.int64)
    majors = cat.event_types.set_index("code")["major_code"].reindex(v["event"][idx]).to_numpy(dtype=object)
    radius, window = _rule(cat, majors)
    xy = np.column_stack([v["x"][idx], v["y"][idx]])
    t = _seconds(v["reported_at"][idx])
    ev = v["event"][idx]
    # Against the open cases already in the store: nearest of the same type within radius and window.
    if len(open_cases):
        o_xy = open_cases[["x", "y"]].to_numpy(float)
        tree = cKDTree(o_xy)
        o_ev = open_cases["event_type_code"].to_numpy(dtype=object)
        o_t = _seconds(open_cases["reported_at"].to_numpy(dtype=object))
        o_id = open_cases["id"].to_numpy(dtype=object)
        near = tree.query_ball_point(xy, r=float(radius.max()))
        for j in np.flatnonzero([len(c) > 0 for c in near]):  # only the reports with a neighbour
            c = np.asarray(near[j], dtype=np.int64)
            d = np.hypot(*(o_xy[c] - xy[j]).T)
            ok = (o_ev[c] == ev[j]) & (d <= radius[j]) & (np.abs(o_t[c] - t[j]) <= window[j])
            if ok.any():
                target[j] = o_id[c[ok][np.argmin(d[ok])]]
    # Within the batch, in input order: a report repeats an earlier one that became (or joined) a case.
    pairs = (
        cKDTree(xy).query_pairs(r=float(radius.max()), output_type="ndarray") if m > 1 else np.zeros((0, 2))
    )
    if len(pairs):
        a, b = pairs.min(axis=1), pairs.max(axis=1)
        d = np.hypot(*(xy[a] - xy[b]).T)
        ok = (ev[a] == ev[b]) & (d <= radius[b]) & (np.abs(t[a] - t[b]) <= window[b])
        a, b, d = a[ok], b[ok], d[ok]
        order = np.lexsort((d, b))
        for i, j in zip(a[order].tolist(), b[order].tolist(), strict=True):
            if target[j] is not None or in_batch[j] >= 0:
                continue
            root = in_batch[i] if in_batch[i] >= 0 else i
            if target[root] is not None:
                target[j] = target[root]
            else:
                in_batch[j] = root
    return target, in_batch


def _new_ids(conn: Conn, days: np.ndarray) -> np.ndarray:
    """Case ids 'WZ' + report date + a serial within the day, after the day's last one."""
    out = np.empty(days.size, dtype=object)
    hold(conn, "case_ids")
    for day in sorted(set(days.tolist())):
        prefix = "WZ" + day.replace("-", "")
        row = conn.execute(
            "SELECT max(id) FROM cases WHERE id >= ? AND id < ?", (prefix, prefix + "~")
        ).fetchone()
        last = row[0] if row else None
        start = int(last[len(prefix) :]) if last and last[len(prefix) :].isdigit() else 0
        where = np.flatnonzero(days == day)
        serial = start + 1 + np.arange(where.size)
        if serial[-1] > 99_999:
            raise OneGridError(f"more than 99,999 cases reported on {day}: case numbers would not fit")
        out[where] = [f"{prefix}{s:05d}" for s in serial]
    return out


def _write(
    store: Store,
    district: District,
    cat: _Catalog,
    rows: _Rows,
    *,
    source: str,
    actor: str,
    now: str,
    link_to: dict[int, str | None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Everything in one transaction; returns outcome and case id per row, and the batch id."""
    n, v = rows.n, rows.values
    outcome = np.full(n, "rejected", dtype=object)
    case_id = np.full(n, None, dtype=object)
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO import_batches (kind, source, at, actor, rows, accepted, rejected) "
            "VALUES ('intake', ?, ?, ?, ?, 0, 0)",
            (source, now, actor, n),
        )
        batch_id = int(cur.lastrowid or 0)
        ok = np.flatnonzero(rows.ok)
        if ok.size:
            seen = _existing(conn, v["channel"][ok], v["external_id"][ok])
            for _j, i in enumerate(ok.tolist()):
                hit = seen.get((v["channel"][i], v["external_id"][i]))
                if hit is not None:
                    outcome[i], case_id[i] = "existing", hit
            ok = ok[outcome[ok] != "existing"]
        if ok.size:
            earliest = min(v["reported_at"][ok].tolist())
            longest = float(cat.rules["window_hours"].max()) if len(cat.rules) else 72.0
            since = (pd.Timestamp(earliest) - pd.Timedelta(hours=longest)).isoformat()
            target, in_batch = _match_duplicates(cat, v, ok, _open_cases(conn, v["event"][ok], since))
            for pos, cid in (link_to or {}).items():  # the operator's own choice wins (None: a new case)
                where = np.flatnonzero(ok == pos)
                if where.size:
                    target[where[0]] = cid
                    in_batch[where[0]] = -1
            new = (target == None) & (in_batch < 0)  # noqa: E711 - elementwise on an object array
            created = ok[new]
            routed = _route(district, cat, v, created)
            ids = _new_ids(conn, np.array([t[:10] for t in v["reported_at"][created]], dtype=object))
            case_id[created] = ids
            outcome[created] = "created"
            pos_of = np.full(ok.size, -1, dtype=np.int64)
            pos_of[np.flatnonzero(new)] = np.arange(created.size)
            batch_dup = np.flatnonzero(in_batch >= 0)
            target[batch_dup] = ids[pos_of[in_batch[batch_dup]]]
            dup = ok[~new]
            case_id[dup] = target[~new]
            outcome[dup] = "duplicate"
            _insert_cases(conn, store, cat, v, created, ids, routed, actor=actor, now=now, progress=progress)
            _insert_duplicates(conn, v, dup, case_id[dup], actor=actor, now=now)
        bad = np.flatnonzero(outcome == "rejected")
        conn.executemany(
            "INSERT INTO import_rejects (batch_id, row_number, raw, reason) VALUES (?, ?, ?, ?)",
            [
                (
                    batch_id,
                    int(rows.row[i]),
                    str(rows.raw[i]),
                    reason_text(rows.reason[i], str(rows.detail[i])),
                )
                for i in bad.tolist()
            ],
        )
        conn.execute(
            "UPDATE import_batches SET accepted = ?, rejected = ? WHERE id = ?",
            (int(n - bad.size), int(bad.size), batch_id),
        )
        if (outcome == "created").any() or (outcome == "duplicate").any():
            store.bump_revision(conn, "cases")
    return outcome, case_id, batch_id


def _insert_cases(
    conn: Conn,
    store: Store,
    cat: _Catalog,
    v: dict[str, np.ndarray],
    idx: np.ndarray,
    ids: np.ndarray,
    routed: pd.DataFrame,
    *,
    actor: str,
    now: str,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    if idx.size == 0:
        return
    gen = store.current_generation()
    et = cat.event_types.set_index("code")
    urgency = et["urgency"].reindex(v["event"][idx]).to_numpy(dtype=object)
    dept = routed["dept_code"].to_numpy(dtype=object)
    centre = np.array(
        [cat.town_of_dept.get(d, DISTRICT_CENTRE) if d else DISTRICT_CENTRE for d in dept], dtype=object
    )
    ch_names = dict(zip(cat.channels["code"], cat.channels["name"], strict=True))
    comp = routed["component_code"].to_numpy(dtype=object)
    case_rows = [
        (
            ids[k], v["channel"][i], v["event"][i], v["description"][i], float(v["x"][i]), float(v["y"][i]),
            v["grid_l3"][i], gen, v["grid_l1"][i], comp[k], dept[k], routed["reason"].iat[k], "reported",
            urgency[k], v["reported_at"][i], v["external_id"][i], centre[k], v["phone"][i], v["address"][i],
            v["media_url"][i],
        )
        for k, i in enumerate(idx.tolist())
    ]  # fmt: skip
    history = [
        (
            ids[k],
            "report",
            v["reported_at"][i],
            actor,
            None,
            f"渠道：{ch_names.get(v['channel'][i], '')}",
            "operator",
        )
        for k, i in enumerate(idx.tolist())
    ]
    step = 2000
    for lo in range(0, len(case_rows), step):
        conn.executemany(
            "INSERT INTO cases (id, channel_code, event_type_code, description, x, y, grid_code, grid_generation, "
            "town_code, component_code, dept_code, route_reason, status, urgency, reported_at, external_id, "
            "centre_code, reporter_phone, address, media_url, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            case_rows[lo : lo + step],
        )
        conn.executemany(
            "INSERT INTO case_history (case_id, step, at, actor, dept_code, note, role) VALUES (?, ?, ?, ?, ?, ?, ?)",
            history[lo : lo + step],
        )
        if progress is not None:
            progress("write", min(lo + step, len(case_rows)), len(case_rows))


def _insert_duplicates(
    conn: Conn,
    v: dict[str, np.ndarray],
    idx: np.ndarray,
    targets: np.ndarray,
    *,
    actor: str,
    now: str,
) -> None:
    if idx.size == 0:
        return
    conn.executemany(
        "INSERT INTO duplicate_reports (case_id, channel_code, external_id, reported_at, x, y, description, "
        "reporter_phone, linked_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                targets[k],
                v["channel"][i],
                v["external_id"][i],
                v["reported_at"][i],
                float(v["x"][i]),
                float(v["y"][i]),
                v["description"][i],
                v["phone"][i],
                now,
                actor,
            )
            for k, i in enumerate(idx.tolist())
        ],
    )
    counts = pd.Series(targets).value_counts()
    conn.executemany(
        "UPDATE cases SET duplicate_count = duplicate_count + ? WHERE id = ?",
        [(int(c), str(cid)) for cid, c in counts.items()],
    )
    conn.executemany(
        "INSERT INTO case_history (case_id, step, at, actor, dept_code, note, role) "
        "VALUES (?, 'duplicate', ?, ?, NULL, ?, 'operator')",
        [
            (targets[k], now, actor, f"重复上报：{v['channel'][i]} {v['external_id'][i]}")
            for k, i in enumerate(idx.tolist())
        ],
    )


# -- entry points --------------------------------------------------------------------------------


def intake_frame(
    district: District,
    frame: pd.DataFrame,
    *,
    row_numbers: np.ndarray | None = None,
    raw: np.ndarray | None = None,
    reader_code: np.ndarray | None = None,
    reader_detail: np.ndarray | None = None,
    xy: tuple[np.ndarray, np.ndarray] | None = None,
    columns: dict[str, str | None] | None = None,
    source: str = "frame",
    channel: str | None = None,
    crs: str = "EPSG:4326",
    actor: str,
    now: str | None = None,
    link_to: dict[int, str | None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IntakeResult:
    """Take in the reports of a table whose values are text (as :mod:`layers.tabular` reads them)."""
    now = now or clock_now()
    crs = normalize_crs(crs)
    if not actor.strip():
        raise OneGridError("the actor's name is required")
    n = len(frame)
    frame = frame.reset_index(drop=True)
    cols = columns or tabular.resolve_columns(
        list(frame.columns), filename=source, roles={r: None for r in _ROLES}
    )
    if cols.get("x") is None and xy is None:
        raise InputFileError(
            f"{source}: no coordinate columns (x/lon/经度 and y/lat/纬度) and no point geometry"
        )
    if cols.get("description") is None:
        raise InputFileError(f"{source}: no description column (description/描述/问题描述)")
    if cols.get("event") is None:
        raise InputFileError(f"{source}: no event type column (event/service_code/事件类型)")
    rows = _Rows(
        n=n,
        row=np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers, np.int64),
        raw=_raw_json(frame)
        if raw is None
        else np.where(np.asarray(raw, object) == "", _raw_json(frame), raw),
        reason=np.full(n, "", dtype=object)
        if reader_code is None
        else np.asarray(reader_code, dtype=object).copy(),
        detail=np.full(n, "", dtype=object)
        if reader_detail is None
        else np.asarray(reader_detail, dtype=object).copy(),
        note=np.full(n, "", dtype=object),
        values={},
    )
    cat = _catalog(district.store)
    _validate(district, cat, frame, cols=cols, xy=xy, rows=rows, channel=channel, crs=crs, now=now)
    store = district.store
    outcome, case_id, batch_id = _write(
        store, district, cat, rows, source=source, actor=actor, now=now, link_to=link_to, progress=progress
    )
    reason = np.array(
        [
            reason_text(rows.reason[i], str(rows.detail[i])) if outcome[i] == "rejected" else ""
            for i in range(n)
        ],
        dtype=object,
    )
    out = pd.DataFrame(
        {"row": rows.row, "outcome": outcome, "case_id": case_id, "reason": reason, "note": rows.note}
    )
    counts = pd.Series(rows.reason[outcome == "rejected"]).value_counts()
    return IntakeResult(rows=out, batch_id=batch_id, reasons={str(k): int(c) for k, c in counts.items()})


def _raw_json(frame: pd.DataFrame) -> np.ndarray:
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)


def intake_file(
    district: District,
    path: str | os.PathLike[str],
    *,
    channel: str | None = None,
    crs: str = "EPSG:4326",
    actor: str,
    now: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IntakeResult:
    """Take in every report of a file (CSV, XLSX, JSON lines, GeoJSON, Open311 JSON), in one transaction."""
    p = Path(path)
    chunks = list(tabular.iter_chunks(p))
    frame = pd.concat([c.frame for c in chunks], ignore_index=True) if len(chunks) > 1 else chunks[0].frame
    xy = None
    if all(c.geometry_xy is not None for c in chunks):
        xy = (
            np.concatenate([np.asarray(c.geometry_xy[0], float) for c in chunks]),  # type: ignore[index]
            np.concatenate([np.asarray(c.geometry_xy[1], float) for c in chunks]),  # type: ignore[index]
        )
    if progress is not None:
        progress("read", len(frame), len(frame))
    return intake_frame(
        district,
        frame,
        row_numbers=np.concatenate([c.row_numbers for c in chunks]),
        raw=np.concatenate([c.raw for c in chunks]),
        reader_code=np.concatenate([c.reject_code for c in chunks]),
        reader_detail=np.concatenate([c.reject_detail for c in chunks]),
        xy=xy,
        source=p.name,
        channel=channel,
        crs=crs,
        actor=actor,
        now=now,
        progress=progress,
    )


def _draft_frame(draft: ReportDraft, *, now: str) -> tuple[pd.DataFrame, dict[str, str | None]]:
    row = {
        "external_id": draft.external_id or "",
        "channel": draft.channel,
        "event": draft.event,
        "description": draft.description,
        "x": repr(float(draft.x)),
        "y": repr(float(draft.y)),
        "time": draft.reported_at or now,
        "phone": draft.phone,
        "address": draft.address,
        "component": draft.component_code or "",
        "media_url": draft.media_url,
    }
    return pd.DataFrame([row]), {r: r for r in _ROLES}


def preview_report(district: District, draft: ReportDraft, *, now: str | None = None) -> Preview:
    """Where a report lands and who gets it, and the open cases it may repeat; writes nothing."""
    now = now or clock_now()
    frame, cols = _draft_frame(draft, now=now)
    rows = _Rows(n=1, row=np.array([1]), raw=np.array([""], dtype=object), reason=np.array([""], dtype=object),
                 detail=np.array([""], dtype=object), note=np.array([""], dtype=object), values={})  # fmt: skip
    cat = _catalog(district.store)
    _validate(
        district,
        cat,
        frame,
        cols=cols,
        xy=None,
        rows=rows,
        channel=None,
        crs=normalize_crs(draft.crs),
        now=now,
    )
    if not rows.ok[0]:
        text = reason_text(rows.reason[0], str(rows.detail[0]))
        if rows.reason[0] == "outside_district":
            raise OutsideDistrictError(f"the place ({draft.x}, {draft.y}, {draft.crs}) is {text}")
        if rows.reason[0] in ("unknown_event", "unknown_channel", "ambiguous_event"):
            raise CodeError(text)
        raise OneGridError(text)
    v = rows.values
    routed = _route(district, cat, v, np.array([0]))
    dept = routed["dept_code"].iat[0]
    names = cat.departments.set_index("code")["short_name"]
    l3 = str(v["grid_l3"][0])
    l2 = community_code(l3)
    l1 = str(v["grid_l1"][0])
    centre = cat.town_of_dept.get(dept, DISTRICT_CENTRE) if dept else DISTRICT_CENTRE
    centre_name = "区联动中心" if centre == DISTRICT_CENTRE else f"{cat.grid_names.get(centre, centre)}分中心"
    et = cat.event_types.set_index("code")
    event = str(v["event"][0])
    major = np.array([et.at[event, "major_code"]], dtype=object)
    radius, window = _rule(cat, major)
    since = (pd.Timestamp(v["reported_at"][0]) - pd.Timedelta(seconds=float(window[0]))).isoformat()
    open_cases = _open_cases(district.store.conn, np.array([event], dtype=object), since)
    d = np.hypot(open_cases["x"].to_numpy(float) - v["x"][0], open_cases["y"].to_numpy(float) - v["y"][0])
    near = open_cases.assign(distance_m=np.round(d, 0))[d <= radius[0]].sort_values("distance_m")
    if len(near):
        info = read_frame(
            f"SELECT id, status, description FROM cases WHERE id IN ({','.join('?' * len(near))})",
            district.store.conn,
            params=near["id"].tolist(),
        )
        near = near.merge(info, on="id")
    else:
        near = near.assign(status=[], description=[])
    lon, lat = to_display(v["x"][:1], v["y"][:1])
    return Preview(
        grid_l3=l3,
        grid_l2=l2,
        grid_l1=l1,
        grid_names=(cat.grid_names.get(l3, l3), cat.grid_names.get(l2, l2), cat.grid_names.get(l1, l1)),
        dept_code=dept,
        dept_name=str(names.get(dept, "")) if dept else "",
        route_reason=str(routed["reason"].iat[0]),
        centre_code=centre,
        centre_name=centre_name,
        event_code=event,
        event_name=str(et.at[event, "name"]),
        lon=float(lon[0]),
        lat=float(lat[0]),
        candidates=near.rename(columns={"id": "case_id"})[
            ["case_id", "distance_m", "reported_at", "status", "description"]
        ].reset_index(drop=True),
    )


def submit_report(
    district: District,
    draft: ReportDraft,
    *,
    link_to: str | None = None,
    new_case: bool = False,
    actor: str,
    now: str | None = None,
) -> tuple[str, str]:
    """Save one report: ``('created', case id)``, or ``('duplicate', case id)`` when it repeats an open
    case. The operator decides over the rule: ``link_to`` names the case to link it to, ``new_case``
    makes it a case of its own although a candidate was found. ``district`` must be opened writable."""
    if link_to is not None and new_case:
        raise OneGridError("a report is either linked to a case or a new case, not both")
    now = now or clock_now()
    frame, cols = _draft_frame(draft, now=now)
    if link_to is not None:
        row = district.store.conn.execute("SELECT status FROM cases WHERE id = ?", (link_to,)).fetchone()
        if row is None or row[0] not in workflow.OPEN_STATES:
            raise OneGridError(f"case {link_to} is not an open case; it cannot take a duplicate report")
    result = intake_frame(
        district, frame, columns=cols, source="desk", crs=draft.crs, actor=actor, now=now,
        link_to={0: link_to} if link_to else ({0: None} if new_case else None),
    )  # fmt: skip
    row = result.rows.iloc[0]
    if row["outcome"] == "rejected":
        raise OneGridError(str(row["reason"]))
    return str(row["outcome"]), str(row["case_id"])
