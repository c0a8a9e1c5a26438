"""Report section for multi-touch attribution, judged against the simulator's truth."""

from __future__ import annotations

import pandas as pd

from mixlens.report import charts
from mixlens.report.html import Figure, Metrics, Section, Table, Text

#: Models drawn next to the truth (the table lists every model).
CHART_MODELS: tuple[str, ...] = (
    "last_non_direct",
    "linear",
    "markov",
    "shapley",
    "logistic",
    "incremental",
)

#: Interval columns of ``attribution.csv`` written with ``--bootstrap``.
INTERVAL_COLUMNS: tuple[str, ...] = ("conversions_lo", "conversions_hi")


def credit_with_intervals(attribution: pd.DataFrame) -> pd.DataFrame | None:
    """Return ``model, channel, conversions, conversions_lo, conversions_hi`` rows, if present.

    ``None`` when ``attribution`` has no bootstrap intervals (or none are finite).

    Examples
    --------
    >>> a = pd.DataFrame({"model": ["m"], "channel": ["x"], "conversions": [3.0],
    ...                   "conversions_lo": [2.0], "conversions_hi": [4.5]})
    >>> credit_with_intervals(a).to_numpy().tolist()
    [['m', 'x', 3.0, 2.0, 4.5]]
    """
    if not set(INTERVAL_COLUMNS) <= set(attribution.columns):
        return None
    rows = attribution.dropna(subset=list(INTERVAL_COLUMNS))
    if rows.empty:
        return None
    return rows.loc[:, ["model", "channel", "conversions", *INTERVAL_COLUMNS]].reset_index(
        drop=True
    )


def mta_section(
    attribution: pd.DataFrame, accuracy: pd.DataFrame, channel_truth: pd.DataFrame
) -> Section:
    """Credit per channel by model next to the true incremental share, and each model's error.

    Parameters
    ----------
    attribution
        ``attribution.csv`` rows: ``model, channel, conversions, value, share`` (with
        ``conversions_lo, conversions_hi`` when fitted with ``--bootstrap``: then a table of
        credit with its 95 % intervals is added).
    accuracy
        :func:`mixlens.mta.evaluate.accuracy_against_truth` of ``attribution``.
    channel_truth
        The journey world's ``channel, incremental_conversions, share``.
    """
    paid = channel_truth[channel_truth["channel"] != "direct"][["channel", "share"]]
    compare = paid.rename(columns={"share": "truth"}).reset_index(drop=True)
    for model in CHART_MODELS:
        credit = attribution[attribution["model"] == model].set_index("channel")["conversions"]
        if credit.empty:
            continue
        on_paid = credit.reindex(compare["channel"], fill_value=0.0).to_numpy()
        compare[model] = on_paid / max(float(on_paid.sum()), 1e-12)
    ranked = accuracy.sort_values("share_error").reset_index(drop=True)
    intervals = credit_with_intervals(attribution)
    interval_blocks = (
        [
            Table(
                intervals,
                "Credit per channel with 95% bootstrap intervals over users (rescaled to the "
                "conversions observed: the intervals show how uncertain the split is).",
                {"conversions": ",.1f", "conversions_lo": ",.1f", "conversions_hi": ",.1f"},
            )
        ]
        if intervals is not None
        else []
    )
    best = ranked.iloc[0]
    last = accuracy.set_index("model")["share_error"].get("last", float("nan"))
    return Section(
        key="mta",
        title="Multi-touch attribution",
        lead=(
            "Every model credits the simulated journeys' conversions to channels; the truth is "
            "each channel's incremental conversions from counterfactual re-simulation."
        ),
        blocks=[
            Metrics(
                {
                    "models": str(len(accuracy)),
                    "best share error": f"{best['share_error']:.2f} ({best['model']})",
                    "last-touch share error": f"{last:.2f}",
                    "best rank correlation": f"{accuracy['spearman'].max():.2f}",
                }
            ),
            Figure(
                charts.bar_comparison(
                    compare,
                    label="channel",
                    series=[c for c in compare.columns if c != "channel"],
                    title="Share of paid-channel credit: truth vs models",
                    ylabel="share",
                ),
                "Shares over paid channels (credit to direct sessions is left out).",
            ),
            Table(
                ranked,
                "Accuracy against causal truth. Share error: sum of |share - true share| over "
                "paid channels. Raw-count error also counts conversions that would have happened "
                "without ads: a model that gives every conversion to some channel scores about "
                "twice the baseline share.",
                {
                    "share_error": ".3f",
                    "spearman": ".2f",
                    "raw_count_error": ".3f",
                    "non_causal_share": ".1%",
                },
            ),
            *interval_blocks,
            Text(
                "Correlational models (heuristics, Markov, Shapley) inherit the selection bias "
                "of the journeys: high-intent users see more brand search and retargeting. The "
                "hazard model (logistic) follows every user day by day, converters and "
                "non-converters alike, and credits each conversion by removing a channel's "
                "exposure stock; what the baseline hazard explains goes to baseline. The "
                "incremental model calibrates it to lift tests and the MMM when given."
            ),
        ],
    )
