"""Report section for multi-touch attribution, judged against the simulator's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mixlens.report import charts, charts_mta
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text

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


#: Descriptive tables ``mixlens mta fit`` writes next to ``attribution.csv``.
JOURNEY_FILES: tuple[str, ...] = ("transitions.csv", "path_lengths.csv", "time_to_conversion.csv")

#: Transitions drawn in the graph (all are in the matrix).
GRAPH_MIN_PROBABILITY = 0.1

#: Longest path length drawn on its own (longer ones are pooled).
MAX_LENGTH_SHOWN = 15


def read_journey_tables(out_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Read the descriptive tables of an ``mta fit`` folder that exist, by file name."""
    folder = Path(out_dir)
    return {name: pd.read_csv(folder / name) for name in JOURNEY_FILES if (folder / name).exists()}


def _day_label(days: float) -> str:
    if not np.isfinite(days):
        return "inf"
    return f"{days * 24:g}h" if days < 1 else f"{days:g}d"


def journey_blocks(tables: dict[str, pd.DataFrame]) -> list[Block]:
    """Figures of the transition graph and matrix, path lengths and time to conversion.

    Parameters
    ----------
    tables
        Any of ``transitions.csv``, ``path_lengths.csv``, ``time_to_conversion.csv`` (see
        :mod:`mixlens.mta.describe`); a missing or empty table gives no figure.

    Examples
    --------
    >>> lengths = pd.DataFrame({"touches": [1, 2], "converting": [3.0, 1.0], "null": [5.0, 9.0]})
    >>> [type(b).__name__ for b in journey_blocks({"path_lengths.csv": lengths})]
    ['Figure']
    """
    blocks: list[Block] = []
    trans = tables.get("transitions.csv")
    if trans is not None and not trans.empty:
        blocks.append(
            Figure(
                charts_mta.transition_graph(
                    trans,
                    title=f"Order-1 transition graph (probabilities >= {GRAPH_MIN_PROBABILITY:g})",
                    min_probability=GRAPH_MIN_PROBABILITY,
                ),
                "Markov chain of order 1 over the journeys (repeated touches of a channel merged, "
                "as the Markov model does): arrow width and opacity grow with the transition "
                "probability; green is conversion, red the end of a journey without one.",
            )
        )
        blocks.append(
            Figure(
                charts_mta.transition_heatmap(trans, title="Order-1 transition probabilities"),
                "Each row sums to 1: where journeys go next from each state.",
            )
        )
    lengths = tables.get("path_lengths.csv")
    if lengths is not None and not lengths.empty:
        capped = lengths.assign(touches=lengths["touches"].clip(upper=MAX_LENGTH_SHOWN))
        by = capped.groupby("touches", sort=True)[["converting", "null"]].sum()
        share = by / by.sum().replace(0.0, np.nan)
        frame = pd.DataFrame(
            {
                "touches": [
                    f"{i}" if i < MAX_LENGTH_SHOWN else f"{MAX_LENGTH_SHOWN}+" for i in by.index
                ],
                "converting journeys": share["converting"].fillna(0.0).to_numpy(),
                "null journeys": share["null"].fillna(0.0).to_numpy(),
            }
        )
        blocks.append(
            Figure(
                charts.bar_comparison(
                    frame,
                    label="touches",
                    series=["converting journeys", "null journeys"],
                    title="Path length: touches per journey",
                    ylabel="share of journeys",
                ),
                "Share of converting and of null journeys by number of touches (repeats included).",
            )
        )
    timing = tables.get("time_to_conversion.csv")
    if timing is not None and not timing.empty and float(timing["conversions"].sum()) > 0:
        labels = [
            f"{_day_label(a)}-{_day_label(b)}" if np.isfinite(b) else f">{_day_label(a)}"
            for a, b in zip(timing["days_from"], timing["days_to"], strict=True)
        ]
        counts = pd.Series(timing["conversions"].to_numpy(dtype=np.float64), index=labels)
        blocks.append(
            Figure(
                charts.histogram(
                    counts,
                    title="Time from first touch to conversion",
                    xlabel="time from the journey's first touch",
                    ylabel="conversions",
                ),
                "Converting journeys by the time between their first touch and the conversion "
                "(within the lookback window).",
            )
        )
    return blocks


def mta_section(
    attribution: pd.DataFrame,
    accuracy: pd.DataFrame,
    channel_truth: pd.DataFrame,
    *,
    out_dir: str | Path | None = None,
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
    out_dir
        The ``mta fit`` folder: its transition, path-length and time-to-conversion tables are
        drawn when present (:func:`journey_blocks`).
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
    interval_blocks: list[Block] = (
        [
            Figure(
                charts_mta.credit_intervals(
                    intervals,
                    title="Credit per channel by model, with 95% bootstrap intervals",
                    ylabel="conversions",
                ),
                "Side by side per channel; baseline is the conversions no channel gets.",
            ),
            Table(
                intervals,
                "Credit per channel with 95% bootstrap intervals over users (rescaled to the "
                "conversions observed: the intervals show how uncertain the split is).",
                {"conversions": ",.1f", "conversions_lo": ",.1f", "conversions_hi": ",.1f"},
            ),
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
            *journey_blocks(read_journey_tables(out_dir) if out_dir is not None else {}),
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
