from __future__ import annotations

import math

import pandas as pd
import pytest

from mixlens.errors import DataError
from mixlens.experiments.ab import ab_test, validate_ab

Z90 = 1.6448536269514722


def _users(n: int, conv: int, group: str, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"{prefix}{i}" for i in range(n)],
            "group": group,
            "converted": [1] * conv + [0] * (n - conv),
            "value": [1.0] * conv + [0.0] * (n - conv),
        }
    )


def test_difference_in_proportions_hand_worked() -> None:
    frame = pd.concat([_users(1000, 120, "treatment", "t"), _users(1000, 100, "control", "c")])
    res = ab_test(frame, level=0.9)
    row = res.metrics.set_index("metric").loc["conversion_rate"]
    se = math.sqrt(0.12 * 0.88 / 1000 + 0.10 * 0.90 / 1000)  # 0.0139857...
    assert row["estimate"] == pytest.approx(0.02)
    assert row["se"] == pytest.approx(se) and se == pytest.approx(0.013985707, rel=1e-7)
    assert row["lo"] == pytest.approx(0.02 - Z90 * se)
    assert row["hi"] == pytest.approx(0.02 + Z90 * se)
    assert res.incremental_conversions == pytest.approx(20.0)
    assert res.incremental_conversions_se == pytest.approx(1000 * se)


def test_delta_method_roas_and_incremental_roas_hand_worked() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(8)],
            "group": ["treatment"] * 4 + ["control"] * 4,
            "converted": [1, 0, 1, 1, 1, 0, 1, 1],
            "value": [10.0, 0.0, 30.0, 20.0, 5.0, 0.0, 5.0, 10.0],
            "cost": [2.0, 1.0, 4.0, 3.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    m = ab_test(frame).metrics.set_index("metric")
    # ROAS: R = 15 / 2.5 = 6; var = (500/3 - 2*6*50/3 + 36*5/3) / (4 * 2.5**2) = 16/15.
    assert m.loc["roas_treatment", "estimate"] == pytest.approx(6.0)
    assert m.loc["roas_treatment", "se"] == pytest.approx(math.sqrt(16 / 15))
    assert math.isnan(m.loc["roas_control", "estimate"])  # no cost in the control group
    # iROAS = (15 - 5) / (2.5 - 0) = 4; var = (45.8333 - 8 * 4.1667 + 16 * 0.41667) / 6.25.
    var = (500 / 12 + 50 / 12 - 2 * 4 * 50 / 12 + 16 * 5 / 12) / 6.25
    assert m.loc["incremental_roas", "estimate"] == pytest.approx(4.0)
    assert m.loc["incremental_roas", "se"] == pytest.approx(math.sqrt(var))
    assert m.loc["incremental_roas", "se"] == pytest.approx(1.7511901, rel=1e-6)
    # Value lift: Welch difference of means 15 - 5.
    assert m.loc["value_per_user", "estimate"] == pytest.approx(10.0)
    assert m.loc["value_per_user", "se"] == pytest.approx(math.sqrt(500 / 12 + 50 / 12))


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("group", "holdout", "column 'group', row 2: unknown group 'holdout'"),
        ("converted", 2, "column 'converted', row 2: bad value 2; need 0 or 1"),
        ("value", -1.0, "column 'value', row 2: bad value -1.0"),
        ("user_id", "u0", "column 'user_id', row 2: duplicate user_id 'u0'"),
    ],
)
def test_bad_rows_name_file_column_row(column: str, value: object, match: str) -> None:
    frame = pd.concat([_users(3, 1, "treatment", "t"), _users(3, 1, "control", "c")])
    frame = frame.reset_index(drop=True).astype({column: object})
    frame.loc[1, column] = value
    if column == "user_id":
        frame.loc[0, column] = "u0"
    with pytest.raises(DataError, match=f"^ab.csv: {match}"):
        validate_ab(frame, file="ab.csv")


def test_missing_column() -> None:
    with pytest.raises(DataError, match="missing column 'converted'"):
        validate_ab(pd.DataFrame({"user_id": ["a"], "group": ["control"], "value": [1]}))
