"""The surveyor's findings of the workspace review: confirmation of far moves, no-op moves, names in
the workspace, search by name, and batch rows that say which row wins and every reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers import survey
from layers.errors import ChangeRefusedError, MoveNeedsConfirmationError
from layers.store import Store, open_store
from spatial.errors import CodeError
from tests.layers.test_survey import (
    ACTOR,
    C1,
    C2,
    C3,
    C4,
    CX,
    CY,
    GRID_A,
    GRID_B,
    _csv,
    lonlat,
    make_store,
    snapshot,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(make_store(tmp_path / "tiny.sqlite"), readonly=False)
    yield s
    s.close()


# ------------------------------------------------------------------------------ moves (finding 1)
def test_a_move_into_another_grid_or_far_asks_for_confirmation(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(MoveNeedsConfirmationError, match="must be confirmed") as exc:
        survey.move_component(store, C1, x=CX + 10.0, y=CY, crs="EPSG:4549", expected_version=1, actor=ACTOR)
    plan = exc.value.plan
    assert (plan.old_grid, plan.new_grid, plan.confirm) == (GRID_A, GRID_B, ("far", "other_grid"))
    assert plan.distance_m == pytest.approx(510.0)
    assert exc.value.code == "confirm_move" and exc.value.params["new_grid"] == GRID_B
    # Far, in the same grid.
    with pytest.raises(MoveNeedsConfirmationError):
        survey.move_component(store, C1, x=CX - 560.0, y=CY, crs="EPSG:4549", expected_version=1, actor=ACTOR)
    assert snapshot(store) == before
    # A short move in the same grid needs no question; plan_move says so beforehand.
    near = survey.plan_move(store, C1, x=CX - 520.0, y=CY, crs="EPSG:4549")
    assert not near.needs_confirmation and near.distance_m == pytest.approx(20.0)
    survey.move_component(store, C1, x=CX - 520.0, y=CY, crs="EPSG:4549", expected_version=1, actor=ACTOR)
    moved = survey.move_component(
        store, C1, x=CX + 10.0, y=CY, crs="EPSG:4549", expected_version=2, actor=ACTOR, confirmed=True
    )
    assert moved.after["grid_code"] == GRID_B


@pytest.mark.parametrize("crs", list(survey.SURVEY_CRS))
def test_the_fields_written_in_the_chosen_system_put_the_component_where_it_is(
    store: Store, crs: str
) -> None:
    """The form shows the position in the chosen CRS; moving to those numbers is no move at all."""
    rec = survey.get_component(store, C1)
    x, y = survey.position_in(rec["x"], rec["y"], crs=crs)
    plan = survey.plan_move(store, C1, x=x, y=y, crs=crs)
    assert plan.no_op and not plan.needs_confirmation
    # The WGS84 numbers read as GCJ-02 are some 500 m off: that is what the old form did.
    if crs == "GCJ02":
        wgs = survey.position_in(rec["x"], rec["y"], crs="EPSG:4326")
        assert survey.plan_move(store, C1, x=wgs[0], y=wgs[1], crs=crs).distance_m > 100


def test_a_move_to_where_it_is_makes_no_new_version(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(ChangeRefusedError, match="already at that position"):
        survey.move_component(store, C1, x=CX - 500.0, y=CY, crs="EPSG:4549", expected_version=1, actor=ACTOR)
    assert snapshot(store) == before


# --------------------------------------------------------------------- the workspace (finding 4)
def test_the_record_names_class_grid_and_bodies(store: Store) -> None:
    store.conn.execute(
        "INSERT INTO departments(code, name, short_name, kind) VALUES ('D1', '区水务局', '水务', 'bureau')"
    )
    store.conn.execute(
        "UPDATE components SET supervisor_code = 'D1', owner_code = 'D1' WHERE code = ?", (C1,)
    )
    store.conn.commit()
    rec = survey.get_component(store, C1)
    assert (rec["class_name"], rec["major_name"], rec["grid_name"]) == ("上水井盖", "公用设施", "片区一")
    assert (rec["supervisor_name"], rec["owner_name"], rec["maintainer_name"]) == (
        "区水务局",
        "区水务局",
        None,
    )
    assert (rec["surveyed_on"], rec["source"]) == ("2025-01-01", "实测")


def test_search_by_class_name_and_by_grid_and_class(store: Store) -> None:
    found = survey.find_components(store, klass="井盖").frame
    assert found["code"].tolist() == [C1, C2, C3]
    assert set(found.columns) >= {"class_name", "grid_name", "state"}
    assert survey.find_components(store, grid="片区二", klass="井盖").frame["code"].tolist() == [C2]
    assert survey.find_components(store, grid="镇", klass="0201").frame["code"].tolist() == [C4]
    assert survey.find_components(store, grid=GRID_A, klass="上水").frame["code"].tolist() == [C1]
    assert survey.find_components(store, klass="没有这种部件").frame.empty
    with pytest.raises(CodeError, match="give a component code"):
        survey.find_components(store, grid=" ", klass="")


# ---------------------------------------------------------------------------- batches (finding 5)
def test_a_good_row_wins_over_a_later_bad_row_of_its_code(store: Store) -> None:
    good = lonlat(CX - 450.0, CY)
    p = survey.preview_batch(
        store,
        _csv([f"{C1},{good[0]:.9f},{good[1]:.9f},good", f"{C1},abc,{good[1]},bad"]),
        filename="a.csv",
        crs="EPSG:4326",
    )
    assert p.rows["accepted"].tolist() == [True, False]
    assert p.rows["reason_codes"].tolist() == ["", "not_a_number"]


def test_of_two_good_rows_of_a_code_the_later_wins_and_the_earlier_says_so(store: Store) -> None:
    a, b = lonlat(CX - 450.0, CY), lonlat(CX - 400.0, CY)
    p = survey.preview_batch(
        store,
        _csv(
            [f"{C1},{a[0]:.9f},{a[1]:.9f},", f"{C2},{b[0]:.9f},{b[1]:.9f},", f"{C1},{b[0]:.9f},{b[1]:.9f},"]
        ),
        filename="a.csv",
        crs="EPSG:4326",
    )
    assert p.rows["accepted"].tolist() == [False, True, True]
    assert p.rows["reason"].iloc[0] == "component code given again later in the file, which wins: row 4 wins"


def test_every_reason_of_a_row_is_reported(store: Store) -> None:
    far = lonlat(CX + 9000.0, CY)
    p = survey.preview_batch(
        store,
        _csv(
            [
                f"3205060101999999,NaN,{far[1]},",
                f"{C3},{far[0]:.9f},{far[1]:.9f},",
                f"{C3},{far[0]:.9f},{far[1]:.9f},",
            ]
        ),
        filename="a.csv",
        crs="EPSG:4326",
    )
    assert p.rows["reason_codes"].tolist() == ["unknown_code;nan", "outside_district", "outside_district"]
    assert p.rows["reason_code"].tolist() == ["unknown_code", "outside_district", "outside_district"]
    assert survey.reason_labels("unknown_code;nan", lang="en") == (
        "unknown component code; coordinate is NaN or infinite"
    )
    assert survey.reason_labels("unknown_code;nan", lang="zh") == "未知的部件编码；坐标为 NaN 或无穷大"


def test_a_row_to_where_the_component_is_is_no_move(store: Store) -> None:
    p = survey.preview_batch(store, _csv([f"{C1},{CX - 500.0},{CY},"]), filename="a.csv", crs="EPSG:4549")
    assert p.rows["reason_codes"].tolist() == ["unchanged"]
    survey.confirm_batch(store, p, actor=ACTOR)
    assert survey.get_component(store, C1)["version"] == 1
    assert survey.history(store, C1).empty


def test_the_same_file_applied_twice_is_told_and_refused_unless_asked(store: Store) -> None:
    a = lonlat(CX - 450.0, CY)
    data = _csv([f"{C1},{a[0]:.9f},{a[1]:.9f},"])
    first = survey.preview_batch(store, data, filename="a.csv", crs="EPSG:4326")
    assert first.applied_before == ()
    done = survey.confirm_batch(store, first.batch_id, actor=ACTOR, now="2026-03-01T10:00:00")
    second = survey.preview_batch(store, data, filename="again.csv", crs="EPSG:4326")
    assert second.applied_before == ((done.batch_id, "2026-03-01T10:00:00", ACTOR),)
    before = snapshot(store)
    with pytest.raises(ChangeRefusedError, match=rf"was applied before, as batch {done.batch_id}") as exc:
        survey.confirm_batch(store, second.batch_id, actor=ACTOR)
    assert exc.value.code == "file_applied"
    assert snapshot(store) == before
    survey.confirm_batch(store, second.batch_id, actor=ACTOR, again=True)


def test_the_preview_is_kept_in_the_store_and_read_back(store: Store, tmp_path: Path) -> None:
    a = lonlat(CX - 450.0, CY)
    p = survey.preview_batch(
        store,
        _csv([f"{C1},{a[0]:.9f},{a[1]:.9f},n", "x,1,2,"]),
        filename="a.csv",
        crs="EPSG:4326",
        actor=ACTOR,
    )
    # Another connection (another session) reads the same preview by its id.
    with open_store(store.path) as other:
        back = survey.load_preview(other, p.batch_id)
    cols = ["row_number", "code", "accepted", "reason_codes", "new_grid", "version"]
    assert back.rows[cols].astype(str).values.tolist() == p.rows[cols].astype(str).values.tolist()
    assert back.rows["x"].tolist()[0] == p.rows["x"].tolist()[0]
    assert (back.filename, back.crs, back.n_accepted, back.n_rejected) == ("a.csv", "EPSG:4326", 1, 1)
    survey.discard_batch(store, p.batch_id)
    with pytest.raises(ChangeRefusedError, match="was discarded"):
        survey.load_preview(store, p.batch_id)
    with pytest.raises(ChangeRefusedError, match="was discarded"):
        survey.confirm_batch(store, p.batch_id, actor=ACTOR)
    assert store.conn.execute("SELECT count(*) FROM import_preview_rows").fetchone() == (0,)


def test_a_preview_left_for_days_is_discarded_by_the_next_one(store: Store) -> None:
    a = lonlat(CX - 450.0, CY)
    old = survey.preview_batch(
        store, _csv([f"{C1},{a[0]:.9f},{a[1]:.9f},"]), filename="a.csv", crs="EPSG:4326"
    )
    store.conn.execute("UPDATE import_batches SET at = '2020-01-01T00:00:00' WHERE id = ?", (old.batch_id,))
    store.conn.commit()
    survey.preview_batch(store, _csv([f"{C2},{a[0]:.9f},{a[1]:.9f},"]), filename="b.csv", crs="EPSG:4326")
    with pytest.raises(ChangeRefusedError, match="was discarded"):
        survey.load_preview(store, old.batch_id)
    assert store.conn.execute(
        "SELECT count(*) FROM import_preview_rows WHERE batch_id = ?", (old.batch_id,)
    ).fetchone() == (0,)
