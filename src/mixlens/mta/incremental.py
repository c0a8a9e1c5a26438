r"""Incrementality-aware credit: hazard-model counterfactual credit calibrated to experiments.

Without calibration the credit is the hazard model's (:mod:`mixlens.mta.hazard`): the
conversions that the baseline hazard (no exposure stock, estimated with every null user's
days) would have produced go to ``baseline``.

Calibration corrects the model's *structure*, not single numbers. For every channel ``c`` the
ratio of causal to observational credit, ``rho_c = incremental_c / h_c``, is modelled on the log
scale as partially pooled across channels,

.. math:: \log \rho_c \sim N(\mu, \tau^2), \qquad
          y_c = \log(L_c / h_c) \sim N(\log \rho_c, v_c), \quad v_c = (se_c / L_c)^2,

with ``L_c`` a lift test's incremental conversions. ``mu`` (the model's common bias) is the
precision-weighted mean of the tests under a ``N(0, 0.3^2)`` prior, ``tau^2`` the
DerSimonian-Laird between-channel variance (at least ``tau_min^2``). A tested channel gets
its posterior ratio (its test shrunk toward ``mu`` by its standard error), an untested
channel the pooled ``mu``: every channel moves. An MMM run adds one observation of ``mu``:
its total channel contribution share, as a ratio to the hazard model's total credit share.
Credit is ``h_c rho_c`` (value likewise, with ``incremental_value`` where the tests give it),
and what the channels do not take goes to ``baseline`` (channels are scaled down together if
they would exceed the conversions). A tested channel the hazard model gives no credit has no
ratio to scale: it takes its test's value.

Examples
--------
>>> obs = np.array([100.0, 50.0, 30.0])
>>> lift = pd.DataFrame({"channel": ["a"], "incremental_conversions": [200.0], "se": [10.0]})
>>> ratios, info = pooled_ratios(("a", "b", "c"), obs, lift)
>>> [round(float(r), 2) for r in ratios]  # the test of a moves b and c too
[1.99, 1.2, 1.2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.errors import DataError
from mixlens.mta.hazard import HazardFit, credit_arrays
from mixlens.mta.result import AttributionResult, make_result

__all__ = [
    "MmmShare",
    "incremental_attribution",
    "pooled_ratios",
    "read_lift_tests",
    "read_mmm_share",
]

FloatArray = npt.NDArray[np.float64]

TAU_MIN = 0.1
"""Smallest between-channel standard deviation of the log ratio (keeps tests from fully
pooling)."""

TAU_PRIOR = 0.5
"""Between-channel standard deviation used while fewer than two channels are tested."""

MU_PRIOR_SD = 0.3
"""Prior standard deviation of the common log ratio ``mu`` (centred on 0: the hazard model is
a priori unbiased; one test cannot move every channel far)."""


@dataclass(frozen=True)
class MmmShare:
    """What an MMM run says about the total incremental share.

    Attributes
    ----------
    share
        Channels' contribution over the total modelled outcome, in ``[0, 1]``.
    se
        Its standard error (from the contribution intervals; a 10 % floor).
    channels
        Channels of the MMM run.
    """

    share: float
    se: float
    channels: tuple[str, ...]


def _read_table(source: str | Path | pd.DataFrame, what: str) -> tuple[pd.DataFrame, str | None]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), None
    name = str(source)
    path = Path(source)
    if not path.exists():
        raise DataError(f"{what} file not found", file=name)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError) as err:
        raise DataError(f"cannot read {what}: {err}", file=name) from err
    return frame, name


def read_lift_tests(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read lift tests: one row per channel with ``incremental_conversions, se``.

    Accepts ``channel, incremental_conversions, se`` (optional ``incremental_value``) and the
    ``lift_tests.csv`` of ``mixlens experiment analyze`` (``incremental_outcome`` and a
    ``method`` column): per channel the row whose method starts with ``recommended:`` is
    taken, else the first.

    Returns
    -------
    pandas.DataFrame
        ``channel, incremental_conversions, se, incremental_value`` (NaN when not given).

    Raises
    ------
    DataError
        On a missing column, a non-finite outcome or a non-positive ``se`` (naming file,
        column and row).

    Examples
    --------
    >>> raw = pd.DataFrame({"channel": ["a", "a"], "incremental_outcome": [5.0, 7.0],
    ...                     "se": [1.0, 2.0], "method": ["did", "recommended:did"]})
    >>> read_lift_tests(raw)[["channel", "incremental_conversions"]].to_numpy().tolist()
    [['a', 7.0]]
    """
    raw, name = _read_table(source, "lift-test")
    outcome = next(
        (c for c in ("incremental_conversions", "incremental_outcome") if c in raw.columns), None
    )
    missing = [c for c in ("channel", "se") if c not in raw.columns]
    if outcome is None:
        missing.append("incremental_conversions")
    if missing:
        raise DataError(f"missing lift-test columns {', '.join(missing)}", file=name)
    rows: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(raw.to_dict("records"), start=1):
        channel = str(record["channel"]).strip()
        method = record.get("method")
        recommended = isinstance(method, str) and method.startswith("recommended:")
        value = pd.to_numeric(pd.Series([record[outcome]]), errors="coerce").iloc[0]
        if not np.isfinite(value):
            raise DataError(
                "incremental conversions must be a finite number", file=name, column=outcome, row=i
            )
        se = pd.to_numeric(pd.Series([record["se"]]), errors="coerce").iloc[0]
        if not (np.isfinite(se) and se > 0):
            raise DataError(
                f"se must be positive, got {record['se']!r}", file=name, column="se", row=i
            )
        inc_value = pd.to_numeric(
            pd.Series([record.get("incremental_value", np.nan)]), errors="coerce"
        ).iloc[0]
        if channel in rows and not (recommended and not rows[channel]["recommended"]):
            continue
        rows[channel] = {
            "channel": channel,
            "incremental_conversions": float(value),
            "se": float(se),
            "incremental_value": float(inc_value),
            "recommended": recommended,
        }
    frame = pd.DataFrame(
        list(rows.values()),
        columns=["channel", "incremental_conversions", "se", "incremental_value", "recommended"],
    )
    return frame.drop(columns="recommended").reset_index(drop=True)


def read_mmm_share(mmm_dir: str | Path) -> MmmShare:
    """Read an MMM run's channel contribution share from ``roi.csv`` and ``contributions.csv``.

    Raises
    ------
    DataError
        If the folder or a file or column is missing, or the totals are not positive.
    """
    folder = Path(mmm_dir)
    roi, _ = _read_table(folder / "roi.csv", "MMM roi")
    contrib, cname = _read_table(folder / "contributions.csv", "MMM contributions")
    for frame, cols, label in (
        (roi, ("channel", "contribution_mean"), str(folder / "roi.csv")),
        (contrib, ("component", "mean"), cname),
    ):
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise DataError(f"missing MMM columns {', '.join(absent)}", file=label)
    channel_total = float(roi["contribution_mean"].sum())
    outcome_total = float(contrib["mean"].sum())
    if not (channel_total >= 0 and outcome_total > 0):
        raise DataError("MMM contributions must be positive", file=cname, column="mean")
    share = min(channel_total / outcome_total, 1.0)
    se = 0.1 * share
    if {"contribution_lo", "contribution_hi"} <= set(roi.columns):
        half = (roi["contribution_hi"] - roi["contribution_lo"]).to_numpy(dtype=np.float64)
        width = float(np.sqrt(np.sum((half / 3.92) ** 2))) / outcome_total
        se = max(se, width)
    return MmmShare(share=share, se=se, channels=tuple(str(c) for c in roi["channel"]))


def pooled_ratios(
    channels: Sequence[str],
    observational: FloatArray,
    lift_tests: pd.DataFrame | None,
    *,
    column: str = "incremental_conversions",
    mmm_ratio: tuple[float, float] | None = None,
    tau_min: float = TAU_MIN,
) -> tuple[FloatArray, dict[str, Any]]:
    """Return partially pooled causal-to-observational ratios of every channel.

    Parameters
    ----------
    channels
        Channel names, shape ``(C,)``.
    observational
        Shape ``(C,)``: the hazard model's credit.
    lift_tests
        From :func:`read_lift_tests` (channels not in ``channels`` are ignored).
    column
        Which lift-test column is the causal quantity.
    mmm_ratio
        ``(ratio, se of its log)``: one more observation of the common ratio.
    tau_min
        Floor of the between-channel standard deviation.

    Returns
    -------
    ratios
        Shape ``(C,)``.
    info
        ``mu``, ``tau``, tested channels and their raw and pooled ratios (JSON-safe).
    """
    obs = np.asarray(observational, dtype=np.float64)
    y: list[float] = []
    v: list[float] = []
    tested: list[int] = []
    if lift_tests is not None:
        for _, row in lift_tests.iterrows():
            name = str(row["channel"])
            if name not in channels or not np.isfinite(row[column]):
                continue
            c = list(channels).index(name)
            se = (
                float(row["se"])
                if column == "incremental_conversions"
                else float(row["se"] * row[column] / max(row["incremental_conversions"], 1e-9))
            )
            lift = max(float(row[column]), 0.5 * se, 1e-9)
            if obs[c] <= 1e-9 * max(float(obs.sum()), 1.0):
                continue  # no observational credit to scale: the ratio is undefined
            tested.append(c)
            y.append(float(np.log(lift / obs[c])))
            v.append((se / lift) ** 2)
    ya, va = np.array(y), np.array(v)
    if len(tested) >= 2:
        w = 1.0 / va
        mean = float((w * ya).sum() / w.sum())
        q = float((w * (ya - mean) ** 2).sum())
        denom = float(w.sum() - (w * w).sum() / w.sum())
        tau2 = max((q - (len(tested) - 1)) / denom if denom > 0 else 0.0, tau_min**2)
    else:
        tau2 = max(TAU_PRIOR, tau_min) ** 2
    wm = 1.0 / (va + tau2) if len(tested) else np.zeros(0)
    num, den = float((wm * ya).sum()), float(wm.sum())
    if mmm_ratio is not None and mmm_ratio[0] > 0:
        num += np.log(mmm_ratio[0]) / mmm_ratio[1] ** 2
        den += 1.0 / mmm_ratio[1] ** 2
    den += 1.0 / MU_PRIOR_SD**2  # prior mu ~ N(0, MU_PRIOR_SD^2)
    mu = num / den
    log_ratio = np.full(len(channels), mu)
    for k, c in enumerate(tested):
        log_ratio[c] = (ya[k] / va[k] + mu / tau2) / (1.0 / va[k] + 1.0 / tau2)
    info = {
        "mu": float(mu),
        "tau": float(np.sqrt(tau2)),
        "tested": [str(channels[c]) for c in tested],
        "raw_ratio": {str(channels[c]): float(np.exp(ya[k])) for k, c in enumerate(tested)},
        "ratio": {str(ch): float(np.exp(r)) for ch, r in zip(channels, log_ratio, strict=True)},
    }
    return np.exp(log_ratio), info


def incremental_attribution(
    fit: HazardFit,
    *,
    lift_tests: pd.DataFrame | None = None,
    mmm: MmmShare | None = None,
    coef: FloatArray | None = None,
    rows: npt.NDArray[np.int64] | None = None,
) -> AttributionResult:
    """Calibrated incremental credit (see the module docstring).

    Parameters
    ----------
    fit
        The hazard model.
    lift_tests
        From :func:`read_lift_tests`, over the same window as the logs.
    mmm
        From :func:`read_mmm_share`.
    coef, rows
        Refitted coefficients and resampled conversions (the bootstrap).
    """
    if lift_tests is not None:
        lift_tests = read_lift_tests(lift_tests)
    conv, val, base_conv, base_val = credit_arrays(fit, coef, rows)
    total_conv = float(conv.sum() + base_conv)
    total_val = float(val.sum() + base_val)
    channels = fit.channels
    mmm_ratio = None
    if mmm is not None and conv.sum() > 0:
        model_share = float(conv.sum()) / max(total_conv, 1e-12)
        mmm_ratio = (mmm.share / model_share, max(mmm.se / max(mmm.share, 1e-9), 0.05))
    ratio, info = pooled_ratios(channels, conv, lift_tests, mmm_ratio=mmm_ratio)
    has_value = lift_tests is not None and bool(
        np.isfinite(lift_tests["incremental_value"].to_numpy(dtype=np.float64)).any()
    )
    if has_value:
        value_ratio, value_info = pooled_ratios(
            channels, val, lift_tests, column="incremental_value", mmm_ratio=mmm_ratio
        )
        info["value_ratio"] = value_info["ratio"]
    else:
        value_ratio = ratio
    new_conv = conv * ratio
    new_val = val * value_ratio
    from_test = []
    if lift_tests is not None:
        mean_value = total_val / max(total_conv, 1e-12)
        for _, row in lift_tests.iterrows():
            name = str(row["channel"])
            if name in channels and name not in info["tested"]:
                c = channels.index(name)
                new_conv[c] = max(float(row["incremental_conversions"]), 0.0)
                inc_value = float(row["incremental_value"])
                new_val[c] = max(
                    inc_value if np.isfinite(inc_value) else new_conv[c] * mean_value, 0.0
                )
                from_test.append(name)
    info["set_from_test"] = from_test
    scale = min(1.0, total_conv / max(float(new_conv.sum()), 1e-12))
    vscale = min(1.0, total_val / max(float(new_val.sum()), 1e-12))
    new_conv *= scale
    new_val *= vscale
    baseline = (
        max(total_conv - float(new_conv.sum()), 0.0),
        max(total_val - float(new_val.sum()), 0.0),
    )
    scores: dict[str, Any] = {
        k: fit.diagnostics[k] for k in ("auc", "log_loss") if k in fit.diagnostics
    }
    meta: dict[str, Any] = {
        **scores,
        **info,
        "lift_tests": 0 if lift_tests is None else len(lift_tests),
        "mmm_share": None if mmm is None else mmm.share,
        "scaled_down": scale < 1.0,
    }
    return make_result("incremental", channels, new_conv, new_val, baseline=baseline, meta=meta)
