"""The fitted IMA: campaign credit per day and in total, and the fit to the MMM."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["UNATTRIBUTED", "IMAResult"]

FloatArray = NDArray[np.float64]

#: Campaign name of the part of a channel's contribution no campaign is credited with.
UNATTRIBUTED = "unattributed"


@dataclass(frozen=True, eq=False)
class IMAResult:
    """Campaign-level attribution anchored in an MMM.

    Parameters
    ----------
    daily
        ``date, channel, campaign, contribution``: posterior-mean daily credit, one row
        per day, channel and campaign plus the channel's ``unattributed`` row; per channel
        and day the rows sum to the channel's daily contribution.
    rows
        ``channel, campaign, spend``: the rows of ``total_draws`` (``unattributed`` rows
        have spend 0), spend in currency over the window.
    total_draws
        Credit over the window per draw, shape ``(n_draws, len(rows))``, target units.
    weekly
        ``date, channel, observed, predicted``: the MMM's weekly channel contribution and
        the regression's posterior-mean prediction summed over the week's days.
    coefficients
        ``channel, campaign, beta_mean, beta_lo, beta_hi``: campaign effect, target units
        per media unit (the regression coefficient of the linear model; the model's
        campaign contribution per unit of adstocked media over the window otherwise).
    method
        Inference method (``"advi"`` or ``"nuts"``).
    media
        Media metric used per channel.
    ci
        Mass of the central intervals, in ``(0, 1)``.
    meta
        JSON-safe extras (timings, sizes).
    """

    daily: pd.DataFrame
    rows: pd.DataFrame
    total_draws: FloatArray
    weekly: pd.DataFrame
    coefficients: pd.DataFrame
    method: str
    media: Mapping[str, str]
    ci: float = 0.9
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.ci < 1:
            raise ValueError(f"ci must lie in (0, 1), got {self.ci}")
        if self.total_draws.ndim != 2 or self.total_draws.shape[1] != len(self.rows):
            raise ValueError("total_draws must have shape (n_draws, len(rows))")

    def with_ci(self, ci: float) -> IMAResult:
        """Return the same result with intervals of mass ``ci``."""
        return replace(self, ci=ci)

    def campaign_daily(self) -> pd.DataFrame:
        """Daily credit: ``date, channel, campaign, contribution`` (with ``unattributed``).

        ``date`` is an ISO ``YYYY-MM-DD`` string, contributions in target units.
        """
        out = self.daily.copy()
        out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
        return out.reset_index(drop=True)

    def campaigns(self) -> pd.DataFrame:
        """Credit per campaign over the window, with central intervals and ROI.

        Returns
        -------
        pandas.DataFrame
            ``channel, campaign, spend, contribution_mean, contribution_lo,
            contribution_hi, roi_mean`` (ROI = contribution / spend per draw, averaged;
            NaN for ``unattributed`` and campaigns without spend). Per channel the
            ``contribution_mean`` column sums to the channel's total contribution.
        """
        draws = self.total_draws
        lo, hi = np.quantile(draws, [(1 - self.ci) / 2, (1 + self.ci) / 2], axis=0)
        spend = self.rows["spend"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(
                spend > 0, (draws / np.where(spend > 0, spend, 1.0)).mean(axis=0), np.nan
            )
        out = self.rows[["channel", "campaign", "spend"]].copy()
        out["contribution_mean"] = draws.mean(axis=0)
        out["contribution_lo"] = lo
        out["contribution_hi"] = hi
        out["roi_mean"] = roi
        return out.reset_index(drop=True)

    def fit(self) -> pd.DataFrame:
        """Weekly fit of the daily regression to the MMM, per channel.

        Returns
        -------
        pandas.DataFrame
            ``channel, weekly_mape, r2``: mean absolute percentage error (percent, over
            weeks whose MMM contribution is at least 1% of the channel's mean absolute
            weekly contribution, so near-empty weeks do not dominate) and coefficient of
            determination of the weekly sums of the daily predictions against the MMM's
            weekly contributions.
        """
        rows = []
        for channel, part in self.weekly.groupby("channel", sort=False):
            obs = part["observed"].to_numpy(dtype=np.float64)
            pred = part["predicted"].to_numpy(dtype=np.float64)
            nz = np.abs(obs) >= 0.01 * np.mean(np.abs(obs))
            mape = float(np.mean(np.abs(pred[nz] - obs[nz]) / np.abs(obs[nz]))) * 100
            ss_tot = float(np.sum((obs - obs.mean()) ** 2))
            r2 = 1 - float(np.sum((obs - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
            rows.append((str(channel), mape if nz.any() else float("nan"), r2))
        return pd.DataFrame(rows, columns=["channel", "weekly_mape", "r2"])

    def to_frame(self) -> pd.DataFrame:
        """Return :meth:`campaigns` (the tidy per-campaign table)."""
        return self.campaigns()

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: method, media, totals per channel, fit and ``meta``."""
        camp = self.campaigns()
        by_channel = camp.groupby("channel", sort=False)["contribution_mean"].sum()
        unattr = camp[camp["campaign"] == UNATTRIBUTED].set_index("channel")["contribution_mean"]
        fit = self.fit()
        return {
            "method": self.method,
            "ci": self.ci,
            "media": dict(self.media),
            "n_draws": int(self.total_draws.shape[0]),
            "n_campaigns": int((camp["campaign"] != UNATTRIBUTED).sum()),
            "channels": {
                str(ch): {
                    "contribution": float(total),
                    "unattributed": float(unattr.get(ch, 0.0)),
                    "unattributed_share": float(unattr.get(ch, 0.0)) / float(total)
                    if total
                    else 0.0,
                }
                for ch, total in by_channel.items()
            },
            "fit": {
                str(ch): {"weekly_mape": float(mape), "r2": float(r2)}
                for ch, mape, r2 in zip(
                    fit["channel"], fit["weekly_mape"].to_numpy(), fit["r2"].to_numpy(), strict=True
                )
            },
            "meta": dict(self.meta),
        }
