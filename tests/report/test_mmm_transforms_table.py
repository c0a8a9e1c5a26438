"""The MMM section's carryover and saturation table and the transform words of its lead.

Fit folders are small synthetic files in the formats ``mixlens mmm fit`` writes
(``params.csv``, ``spec.json``, ...); no model is fitted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mixlens.errors import DataError
from mixlens.mmm.spec import (
    DelayedAdstock,
    GeometricAdstock,
    LogisticSaturation,
    MMMSpec,
    WeibullAdstock,
)
from mixlens.report.html import Table, Text, render_report
from mixlens.report.mmm import mmm_section
from mixlens.report.mmm_run import read_mmm_run, run_section
from mixlens.report.mmm_transforms import transforms_table
from mixlens.transforms.adstock import weibull_weights

CHANNELS = ("tv", "search", "radio")
DATES = pd.date_range("2024-01-01", periods=6, freq="7D").strftime("%Y-%m-%d")
TRUE_ROI = pd.DataFrame({"channel": list(CHANNELS), "roi": [1.0, 2.0, 0.5], "mroi": 0.5})
DIAGNOSTICS = {"method": "nuts", "sampler": "nutpie", "max_rhat": 1.0, "divergences": 0}
TABLE_CAPTION = "Carryover and saturation per channel"

#: tv Weibull, search geometric with logistic saturation, radio delayed (3 lags) with Hill.
MIXED = MMMSpec(
    channels=CHANNELS,
    adstock={
        "tv": WeibullAdstock(l_max=6),
        "search": GeometricAdstock(l_max=4),
        "radio": DelayedAdstock(l_max=3),
    },
    saturation={"search": LogisticSaturation()},
)


def _params() -> pd.DataFrame:
    """``params.csv`` of a national fit of :data:`MIXED`: each parameter for its channels."""
    rows = [
        ("tv", "shape", 2.0, 1.5, 2.5),
        ("tv", "scale", 1.5, 1.0, 2.0),
        ("search", "alpha", 0.5, 0.3, 0.7),
        ("radio", "theta", 0.5, 0.25, 0.75),
        ("radio", "peak", 1.0, 0.4, 1.6),
        ("tv", "half_saturation", 12345.0, 9000.0, 16000.0),
        ("radio", "half_saturation", 800.0, 500.0, 1250.0),
        ("tv", "slope", 1.3, 0.9, 1.8),
        ("radio", "slope", 0.9, 0.6, 1.2),
        ("search", "lam", 0.00032, 0.0002, 0.00051),
        *((c, "roi", 1.0, 0.5, 2.0) for c in CHANNELS),
        *((c, "beta", 100.0, 50.0, 200.0) for c in CHANNELS),
    ]
    return pd.DataFrame(rows, columns=["channel", "parameter", "mean", "lo", "hi"])


def _geo_params() -> pd.DataFrame:
    """``params.csv`` of a geo fit: shared shapes on ``all``, media-scale ones per geo."""
    shared = _params()
    media = shared["parameter"].isin(["half_saturation", "lam", "beta"])
    per_geo = pd.concat(
        [
            shared[media | (shared["parameter"] == "roi")].assign(geo=geo, mean=scale * 7.0)
            for geo, scale in (("north", 1.0), ("south", 2.0))
        ],
        ignore_index=True,
    )
    # a stray per-geo retention the table must not read instead of the shared one
    stray = pd.DataFrame(
        [("north", "search", "alpha", 0.9, 0.8, 0.95)],
        columns=["geo", "channel", "parameter", "mean", "lo", "hi"],
    )
    frame = pd.concat([shared[~media].assign(geo="all"), stray, per_geo], ignore_index=True)
    return frame[["geo", "channel", "parameter", "mean", "lo", "hi"]]


def _roi() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": list(CHANNELS),
            "spend": [600.0, 300.0, 120.0],
            "contribution_mean": [660.0, 450.0, 60.0],
            "roi_mean": [1.1, 1.5, 0.5],
            "roi_lo": [0.9, 0.8, 0.2],
            "roi_hi": [1.3, 2.5, 0.9],
        }
    )


def _row(table: pd.DataFrame, channel: str) -> dict[str, str]:
    """One channel's cells, by column."""
    [row] = table[table["channel"] == channel].to_dict("records")
    return {str(k): str(v) for k, v in row.items()}


def test_each_channel_shows_its_own_kind_and_only_its_parameters() -> None:
    table = transforms_table(MIXED, _params())
    assert list(table["channel"]) == list(CHANNELS)
    tv, search, radio = (_row(table, c) for c in CHANNELS)
    assert tv["carryover (adstock)"] == (
        "Weibull: shape 2.00 [1.50, 2.50], scale 1.50 [1.00, 2.00] weeks"
    )
    assert search["carryover (adstock)"] == "geometric: retention 0.50 [0.30, 0.70] per week"
    assert radio["carryover (adstock)"] == (
        "delayed: retention 0.50 [0.25, 0.75], peak 1.00 [0.40, 1.60] weeks"
    )
    assert tv["saturation"] == (
        "Hill: half-saturation 12,345 [9,000, 16,000] spend per week, slope 1.30 [0.90, 1.80]"
    )
    # lam 0.00032 [0.0002, 0.00051] per unit of spend: half effect at ln(3) / lam
    assert search["saturation"] == "logistic: half effect at 3,433 [2,154, 5,493] spend per week"
    # no other transform's parameter, nor the effect size, in a channel's cells
    for word in ("peak", "shape", "half-saturation", "slope", "roi", "beta"):
        assert word not in search["carryover (adstock)"] + search["saturation"]
    for word in ("retention", "peak", "half effect"):
        assert word not in tv["carryover (adstock)"] + tv["saturation"]
    for word in ("shape", "scale", "half effect"):
        assert word not in radio["carryover (adstock)"] + radio["saturation"]


def test_mean_lag_is_that_of_the_kernel_at_the_posterior_means() -> None:
    lags = _row(transforms_table(MIXED, _params()), "radio")["mean lag, weeks"]
    assert lags == "1.0"  # theta 0.5, peak 1, 3 lags: weights 1/4, 1/2, 1/4
    table = transforms_table(MIXED, _params()).set_index("channel")["mean lag, weeks"]
    # geometric 0.5 over 4 lags: (0.5 + 2 * 0.25 + 3 * 0.125) / 1.875
    assert table["search"] == f"{1.375 / 1.875:.1f}"
    weights = weibull_weights(2.0, 1.5, l_max=6, normalize=True)
    assert table["tv"] == f"{float(np.arange(6) @ weights):.1f}"
    missing = _params()[(_params()["parameter"] != "peak").to_numpy()]
    radio = _row(transforms_table(MIXED, missing), "radio")
    assert radio["mean lag, weeks"] == "n/a"
    assert "peak n/a" in radio["carryover (adstock)"]


def test_geo_fit_reads_the_shared_rows_and_says_per_geo() -> None:
    table = transforms_table(MIXED, _geo_params())
    search = _row(table, "search")
    assert search["carryover (adstock)"] == "geometric: retention 0.50 [0.30, 0.70] per week"
    assert search["saturation"] == "logistic: half effect per geo"
    tv = _row(table, "tv")
    assert tv["saturation"] == "Hill: half-saturation per geo, slope 1.30 [0.90, 1.80]"
    section = mmm_section(_roi(), None, DIAGNOSTICS, ci=0.9, spec=MIXED, params=_geo_params())
    caption = next(
        b.caption for b in section.blocks if isinstance(b, Table) and "Carry" in b.caption
    )
    assert "per geo" in caption


def test_section_places_text_and_table_and_renders() -> None:
    section = mmm_section(_roi(), None, DIAGNOSTICS, ci=0.8, spec=MIXED, params=_params())
    tables = [b for b in section.blocks if isinstance(b, Table)]
    [table] = [t for t in tables if t.caption.startswith(TABLE_CAPTION)]
    assert "[80% credible interval]" in table.caption
    index = next(i for i, block in enumerate(section.blocks) if block is table)
    explanation = section.blocks[index - 1]
    assert isinstance(explanation, Text) and "how long an ad keeps working" in explanation.text
    assert "where extra spend stops paying" in explanation.text
    html = render_report([section])
    assert "geometric: retention 0.50 [0.30, 0.70] per week" in html
    assert "table below" in section.lead


@pytest.mark.parametrize("truth", [None, TRUE_ROI])
def test_lead_names_the_transforms_of_the_spec(truth: pd.DataFrame | None) -> None:
    def lead(spec: MMMSpec | None, params: pd.DataFrame | None = None) -> str:
        return mmm_section(_roi(), truth, DIAGNOSTICS, ci=0.9, spec=spec, params=params).lead

    one = MMMSpec(channels=CHANNELS)
    assert "(delayed adstock and Hill saturation, " in lead(one)
    geometric = MMMSpec(
        channels=CHANNELS,
        adstock=GeometricAdstock(),
        saturation={c: LogisticSaturation() for c in CHANNELS},
    )
    assert "(geometric adstock and logistic saturation, " in lead(geometric)
    mixed = lead(MIXED, _params())
    assert "(adstock and saturation chosen per channel, " in mixed
    assert "table below" in mixed and "delayed adstock" not in mixed
    assert "table below" not in lead(MIXED)  # no params: no table to point to
    generic = lead(None)
    assert "(adstock and saturation, " in generic
    assert "delayed" not in generic and "Hill" not in generic


# ---------------------------------------------------------------------- fit folders


def _write_run(root: Path, *, spec: MMMSpec | None, params: pd.DataFrame | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _roi().to_csv(root / "roi.csv", index=False)
    pd.DataFrame(
        [(d, c, 10.0, 8.0, 12.0) for c in (*CHANNELS, "baseline") for d in DATES],
        columns=["date", "component", "mean", "lo", "hi"],
    ).to_csv(root / "contributions.csv", index=False)
    pd.DataFrame(
        [
            (c, s, s / (1 + s), 0.8 * s / (1 + s), 1.2 * s / (1 + s))
            for c in CHANNELS
            for s in (0, 5)
        ],
        columns=["channel", "spend", "mean", "lo", "hi"],
    ).to_csv(root / "response_curves.csv", index=False)
    summary = {"ci": 0.9, "diagnostics": DIAGNOSTICS}
    (root / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if spec is not None:
        meta = {"spec": spec.to_dict(), "diagnostics": DIAGNOSTICS, "ci": 0.9}
        (root / "spec.json").write_text(json.dumps(meta), encoding="utf-8")
    if params is not None:
        params.to_csv(root / "params.csv", index=False)
    return root


def _transform_tables(section: Any) -> list[Table]:
    return [
        b for b in section.blocks if isinstance(b, Table) and b.caption.startswith(TABLE_CAPTION)
    ]


def test_run_folder_with_params_shows_the_table(tmp_path: Path) -> None:
    run = read_mmm_run(_write_run(tmp_path, spec=MIXED, params=_params()))
    assert run.spec == MIXED
    assert run.params is not None and len(run.params) == len(_params())
    section = run_section(run)
    [table] = _transform_tables(section)
    pd.testing.assert_frame_equal(table.frame, transforms_table(MIXED, _params()))
    assert "chosen per channel" in section.lead


def test_geo_run_folder_shows_the_shared_rows(tmp_path: Path) -> None:
    run = read_mmm_run(_write_run(tmp_path, spec=MIXED, params=_geo_params()))
    [table] = _transform_tables(run_section(run))
    assert _row(table.frame, "search")["saturation"] == "logistic: half effect per geo"


def test_run_without_params_still_renders(tmp_path: Path) -> None:
    one = MMMSpec(channels=CHANNELS, adstock=GeometricAdstock())
    run = read_mmm_run(_write_run(tmp_path / "spec_only", spec=one, params=None))
    assert run.params is None
    section = run_section(run)
    assert _transform_tables(section) == []
    assert "geometric adstock and Hill saturation" in section.lead
    assert "table below" not in section.lead
    render_report([section])
    bare = read_mmm_run(_write_run(tmp_path / "bare", spec=None, params=None))
    assert bare.spec is None and bare.params is None
    section = run_section(bare, true_roi=TRUE_ROI)
    assert _transform_tables(section) == []
    assert "(adstock and saturation, " in section.lead
    render_report([section])


def test_params_without_spec_json_is_an_error(tmp_path: Path) -> None:
    root = _write_run(tmp_path, spec=None, params=_params())
    with pytest.raises(DataError, match=r"spec\.json: file not found"):
        read_mmm_run(root)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda f: f.drop(columns="hi"), r"params\.csv: column 'hi': missing column"),
        (
            lambda f: f.astype({"mean": object}).assign(mean=["x", *f["mean"].iloc[1:]]),
            r"params\.csv: column 'mean', row 1: not a number: 'x'",
        ),
        (
            lambda f: f.assign(channel=[*f["channel"].iloc[:-1], "podcast"]),
            rf"params\.csv: column 'channel', row {len(_params())}: channel 'podcast' is not",
        ),
    ],
)
def test_malformed_params_csv_names_file_column_and_row(
    tmp_path: Path, edit: Any, match: str
) -> None:
    root = _write_run(tmp_path, spec=MIXED, params=edit(_params()))
    with pytest.raises(DataError, match=match):
        read_mmm_run(root)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"ci": 0.9}), "'spec' must be an object"),
        (
            json.dumps({"spec": {**MIXED.to_dict(), "adstock": {"kind": "exponential"}}}),
            "not a valid MMM spec.*unknown transform kind 'exponential'",
        ),
        (json.dumps({"spec": {"target": "sales"}}), "not a valid MMM spec"),
    ],
)
def test_malformed_spec_json_is_a_data_error(tmp_path: Path, text: str, match: str) -> None:
    root = _write_run(tmp_path, spec=None, params=None)
    (root / "spec.json").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=rf"spec\.json: .*{match}"):
        read_mmm_run(root)
