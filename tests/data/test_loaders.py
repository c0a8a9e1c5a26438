from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from mixlens.data.loaders import (
    MediaPanel,
    load_campaigns,
    load_conversions,
    load_paths,
    load_touchpoints,
    load_weekly,
    read_table,
    validate_file,
)
from mixlens.data.schemas import (
    validate_conversions,
    validate_touchpoints,
    validate_weekly,
)
from mixlens.errors import DataError

try:
    from tests.data.bad_inputs import BAD_INPUTS, BadInput
except ImportError:  # pytest's rootdir-relative import of tests/data
    from bad_inputs import BAD_INPUTS, BadInput  # type: ignore[no-redef]


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs_cover_the_contract() -> None:
    names = [case.name for case in BAD_INPUTS]
    assert len(names) == len(set(names))
    assert len(BAD_INPUTS) >= 18
    kinds = {case.kind for case in BAD_INPUTS}
    assert {"weekly", "campaigns", "touchpoints", "conversions", "paths"} <= kinds


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda case: case.name)
def test_bad_input_gives_exact_message(case: BadInput, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    with pytest.raises(DataError) as info:
        validate_file(path, case.kind, **case.kwargs(tmp_path))
    assert str(info.value) == case.message(tmp_path)
    assert "\n" not in str(info.value)


def test_bad_input_cli_args_name_the_file(tmp_path: Path) -> None:
    case = next(case for case in BAD_INPUTS if case.name == "unknown_user")
    args = case.cli_args(tmp_path)
    assert args[:4] == ["validate", str(tmp_path / case.filename), "--kind", "conversions"]
    assert args[-2:] == ["--touchpoints", str(tmp_path / "touchpoints.csv")]


# --------------------------------------------------------------------------- good inputs

WEEKLY = pd.DataFrame(
    {
        "date": ["2024-01-01", "2024-01-08", "2024-01-15"],
        "sales": ["100.5", "120", "90"],
        "tv_spend": ["10", "0", "5.5"],
        "search_spend": ["1", "2", "3"],
        "tv_impressions": ["1000", "", "700"],
        "price": ["2.5", "2.4", "-0.1"],
        "note": ["a", "b", "c"],
    }
)

CAMPAIGNS = pd.DataFrame(
    {
        "date": ["2024-01-01", "2024-01-01", "2024-01-03"],
        "channel": ["tv", "search", "tv"],
        "campaign": ["brand", "generic", "brand"],
        "spend": ["10", "2.5", "4"],
        "impressions": ["1000", "50", "300"],
        "clicks": ["", "5", "1"],
    }
)

TOUCHPOINTS = pd.DataFrame(
    {
        "user_id": ["u1", "u1", "u2", "007"],
        "timestamp": [
            "2024-01-01T10:00:00",
            "2024-01-02 11:30:00",
            "2024-01-02T09:00:00+02:00",
            "2024-01-03",
        ],
        "channel": ["tv", "search", "social", "tv"],
        "campaign": ["brand", "", "promo", "brand"],
        "cost": ["0.5", "", "1.25", "0"],
        "region": ["EU", "EU", "US", "US"],
    }
)

CONVERSIONS = pd.DataFrame(
    {
        "user_id": ["u1", "007"],
        "timestamp": ["2024-01-02T12:00:00", "2024-01-04T00:00:00Z"],
        "value": ["50", ""],
        "conversion_id": ["c1", "c2"],
    }
)

PATHS = pd.DataFrame(
    {
        "path": ["tv > search", "search", "tv > social > search"],
        "total_conversions": ["3", "1", "0"],
        "total_conversion_value": ["30", "12.5", "0"],
        "total_null": ["10", "4", "7"],
    }
)

TABLES = {
    "weekly": WEEKLY,
    "campaigns": CAMPAIGNS,
    "touchpoints": TOUCHPOINTS,
    "conversions": CONVERSIONS,
    "paths": PATHS,
}


def _write(frame: pd.DataFrame, tmp_path: Path, fmt: str, name: str) -> str:
    """Write ``frame`` (all strings) as csv, csv.gz, parquet or a duckdb table."""
    if fmt == "csv":
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        return str(path)
    if fmt == "csv.gz":
        path = tmp_path / f"{name}.csv.gz"
        with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False)
        return str(path)
    if fmt == "parquet":
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        return str(path)
    path = tmp_path / "tables.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.register("frame_view", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_view')
    finally:
        con.close()
    return f"{path}::{name}"


FORMATS = ["csv", "csv.gz", "parquet", "duckdb"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_weekly_every_format(fmt: str, tmp_path: Path) -> None:
    path = _write(WEEKLY, tmp_path, fmt, "weekly")
    panel = load_weekly(path, controls=["price"])
    assert isinstance(panel, MediaPanel)
    assert panel.channels == ("tv", "search")
    assert panel.controls == ("price",)
    assert panel.geo is None
    assert panel.source == path
    assert panel.dates.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-08", "2024-01-15"]
    spend = panel.spend()
    assert list(spend.columns) == ["tv", "search"]
    assert spend["tv"].tolist() == [10.0, 0.0, 5.5]
    assert spend.index.name == "date"
    impressions = panel.frame["tv_impressions"]
    assert impressions.iloc[0] == 1000.0 and np.isnan(impressions.iloc[1])
    assert panel.outcome().tolist() == [100.5, 120.0, 90.0]
    assert panel.control_frame()["price"].tolist() == [2.5, 2.4, -0.1]
    assert panel.to_frame()["note"].tolist() == ["a", "b", "c"]
    assert panel.frame["date"].dtype == "datetime64[us]"


def test_media_metric_missing_for_a_channel() -> None:
    panel = MediaPanel.from_frame(WEEKLY, controls=["price"], file="w.csv")
    with pytest.raises(DataError, match="no impressions column for every channel"):
        panel.media("impressions")
    with pytest.raises(ValueError, match="unknown metric"):
        panel.media("reach")  # type: ignore[arg-type]


def test_weekly_geo_panel_is_ordered_by_geo_then_date() -> None:
    frame = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-08"],
            "geo": ["north", "south", "north", "south"],
            "sales": [1.0, 2.0, 3.0, 4.0],
            "tv_spend": [1.0, 1.0, 2.0, 2.0],
        }
    )
    panel = MediaPanel.from_frame(frame)
    assert panel.geo == "geo"
    assert panel.geos == ("north", "south")
    assert panel.frame["sales"].tolist() == [1.0, 3.0, 2.0, 4.0]
    spend = panel.spend()
    assert spend.index.names == ["geo", "date"]
    assert spend.loc[("south", pd.Timestamp("2024-01-08")), "tv"] == 2.0
    assert len(panel.weeks) == 2


def test_weekly_geo_panel_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "geo.csv"
    rows = ["geo,date,sales,tv_spend,search_spend"]
    for geo in ("a", "b"):
        for week, day in enumerate(("2024-01-01", "2024-01-08", "2024-01-15")):
            rows.append(f"{geo},{day},{10 + week},{week},1")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    profile = validate_file(path, "weekly")
    assert profile.geos == 2
    assert profile.rows == 6
    assert profile.gaps == 0
    assert profile.spend_total == pytest.approx(2 * (0 + 1 + 2) + 6)


def test_weekly_typed_frame_from_simulator_style_input() -> None:
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=3, freq="W-MON"),
            "sales": np.array([1, 2, 3], dtype=np.int64),
            "tv_spend": [0.5, 1.0, 1.5],
        }
    )
    out = validate_weekly(frame)
    assert out["sales"].dtype == np.float64
    assert out["date"].tolist() == frame["date"].tolist()


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_campaigns_every_format(fmt: str, tmp_path: Path) -> None:
    frame = load_campaigns(_write(CAMPAIGNS, tmp_path, fmt, "campaigns"))
    assert frame["spend"].tolist() == [10.0, 2.5, 4.0]
    assert np.isnan(frame["clicks"].iloc[0])
    assert frame["date"].dtype == "datetime64[us]"
    assert frame["campaign"].tolist() == ["brand", "generic", "brand"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_touchpoints_every_format(fmt: str, tmp_path: Path) -> None:
    frame = load_touchpoints(_write(TOUCHPOINTS, tmp_path, fmt, "touchpoints"))
    assert frame["user_id"].tolist() == ["u1", "u1", "u2", "007"]
    assert frame["timestamp"].dtype == "datetime64[us]"
    assert frame["timestamp"].iloc[2] == pd.Timestamp("2024-01-02T07:00:00")
    assert frame["cost"].iloc[0] == 0.5 and np.isnan(frame["cost"].iloc[1])
    assert frame["campaign"].tolist() == ["brand", "", "promo", "brand"]
    assert frame["region"].tolist() == ["EU", "EU", "US", "US"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_conversions_every_format(fmt: str, tmp_path: Path) -> None:
    touchpoints = _write(TOUCHPOINTS, tmp_path, "csv", "touchpoints")
    path = _write(CONVERSIONS, tmp_path, fmt, "conversions")
    frame = load_conversions(path, touchpoints=touchpoints)
    assert frame["user_id"].tolist() == ["u1", "007"]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-04")
    assert frame["value"].iloc[0] == 50.0 and np.isnan(frame["value"].iloc[1])
    assert load_conversions(path, touchpoints=TOUCHPOINTS)["conversion_id"].tolist() == [
        "c1",
        "c2",
    ]


def test_conversions_without_touchpoints_accept_any_user() -> None:
    frame = CONVERSIONS.assign(user_id=["nobody", "else"])
    assert len(validate_conversions(frame)) == 2
    with pytest.raises(DataError, match="unknown user 'nobody'"):
        validate_conversions(frame, known_users=["u1"], touchpoints_file="tp.csv")


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_paths_every_format(fmt: str, tmp_path: Path) -> None:
    frame = load_paths(_write(PATHS, tmp_path, fmt, "paths"))
    assert frame["path"].tolist() == ["tv > search", "search", "tv > social > search"]
    assert frame["total_conversion_value"].tolist() == [30.0, 12.5, 0.0]


def test_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfdate,sales,tv_spend\r\n2024-01-01,1,2\r\n2024-01-08,3,4\r\n")
    panel = load_weekly(path)
    assert panel.frame.columns.tolist() == ["date", "sales", "tv_spend"]
    assert panel.spend()["tv"].tolist() == [2.0, 4.0]


def test_read_table_strings_and_table_argument(tmp_path: Path) -> None:
    csv_path = _write(PATHS, tmp_path, "csv", "paths")
    frame = read_table(csv_path)
    assert frame["total_conversions"].tolist() == ["3", "1", "0"]
    db = _write(PATHS, tmp_path, "duckdb", "paths")
    file = db.split("::")[0]
    assert read_table(file, table="paths").shape == (3, 4)
    assert read_table(file).shape == (3, 4)  # a single table needs no name


def test_duckdb_with_several_tables_needs_a_name(tmp_path: Path) -> None:
    _write(PATHS, tmp_path, "duckdb", "paths")
    db = _write(CAMPAIGNS, tmp_path, "duckdb", "campaigns").split("::")[0]
    with pytest.raises(DataError) as info:
        read_table(db)
    assert str(info.value) == f"{db}: name the table as {db}::TABLE (tables: campaigns, paths)"


def test_validators_accept_in_memory_frames_with_any_index() -> None:
    frame = TOUCHPOINTS.set_index(pd.Index([10, 20, 30, 40]))
    out = validate_touchpoints(frame, file="mem")
    assert out.index.tolist() == [0, 1, 2, 3]
    bad = frame.assign(cost=["1", "2", "x", "4"])
    with pytest.raises(DataError) as info:
        validate_touchpoints(bad, file="mem")
    assert str(info.value) == "mem: column 'cost', row 3: not a number: 'x'"


def test_optional_columns_accept_na_tokens() -> None:
    frame = TOUCHPOINTS.assign(cost=["NA", "null", "1", ""])
    cost = validate_touchpoints(frame)["cost"]
    assert np.isnan(cost.iloc[0]) and np.isnan(cost.iloc[1]) and cost.iloc[2] == 1.0


def test_ragged_row_after_blank_line_names_data_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"user_id,timestamp,channel\n\nu1,2024-01-01,tv\nu2,2024-01-01,tv,x\n")
    with pytest.raises(DataError, match=r"row 2: expected 3 fields"):
        load_touchpoints(path)


def test_table_name_only_applies_to_duckdb(tmp_path: Path) -> None:
    path = _write(PATHS, tmp_path, "csv", "paths")
    with pytest.raises(DataError) as info:
        read_table(f"{path}::paths")
    assert str(info.value) == (
        f"{path}: a table name ('paths') only applies to a DuckDB database (.duckdb or .db)"
    )


def test_not_a_duckdb_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.duckdb"
    path.write_bytes(b"junk" * 100)
    with pytest.raises(DataError, match=r"junk.duckdb: cannot open DuckDB database: "):
        read_table(path)


def test_path_tables_may_be_semicolon_separated(tmp_path: Path) -> None:
    """ChannelAttribution's own sample path table is ';'-separated; other kinds stay strict."""
    from mixlens.data.loaders import load_paths, read_table

    file = tmp_path / "Data.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "alpha > beta;2;10.5;3\nbeta;0;0;4\n"
    )
    paths = load_paths(file)
    assert paths["path"].tolist() == ["alpha > beta", "beta"]
    assert paths["total_conversions"].tolist() == [2, 0]
    with pytest.raises(DataError, match="looks ';'-separated"):
        read_table(file)
