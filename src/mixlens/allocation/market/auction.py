"""Second-price impression auctions with a budget cap (vectorised numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["AuctionOutcome", "run_capped_auctions", "second_price_auction"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def second_price_auction(bids: FloatArray, *, reserve: float = 0.0) -> tuple[IntArray, FloatArray]:
    """Resolve second-price auctions, one per row of ``bids``.

    The highest bid wins (ties go to the lowest column) and pays the larger of the
    second-highest bid and the reserve; if the highest bid is below the reserve nobody wins.

    Parameters
    ----------
    bids
        Bids, shape ``(n_auctions, n_bidders)``, ``>= 0``.
    reserve
        Reserve price.

    Returns
    -------
    tuple of numpy.ndarray
        Winner column per auction (``-1``: no sale) and the price paid (0 without sale).

    Examples
    --------
    >>> winner, price = second_price_auction(np.array([[3.0, 1.0, 2.0], [0.5, 0.2, 0.1]]),
    ...                                      reserve=0.3)
    >>> winner.tolist(), price.tolist()
    ([0, 0], [2.0, 0.3])
    """
    bids = np.asarray(bids, dtype=np.float64)
    n_auctions, n_bidders = bids.shape
    top = np.argmax(bids, axis=1).astype(np.int64)
    highest = bids[np.arange(n_auctions), top]
    if n_bidders >= 2:
        second = np.partition(bids, n_bidders - 2, axis=1)[:, n_bidders - 2]
    else:
        second = np.zeros(n_auctions)
    sold = (highest >= reserve) & (highest > 0)
    winner = np.where(sold, top, -1).astype(np.int64)
    price = np.where(sold, np.maximum(second, reserve), 0.0)
    return winner, price


@dataclass(frozen=True)
class AuctionOutcome:
    """One channel agent's period in its auction market.

    Attributes
    ----------
    won
        Auctions the agent won, boolean ``(n_auctions,)``.
    price
        Price it paid per auction (0 where it did not win), ``(n_auctions,)``.
    """

    won: NDArray[np.bool_]
    price: FloatArray

    @property
    def spend(self) -> float:
        """Total paid, currency."""
        return float(self.price.sum())

    @property
    def wins(self) -> int:
        """Number of impressions won."""
        return int(self.won.sum())


def run_capped_auctions(
    bid: float, competitors: FloatArray, *, cap: float, reserve: float = 0.0
) -> AuctionOutcome:
    """Bid ``bid`` in each auction (in order) against the competitors' bids, within ``cap``.

    Budget pacing: the agent takes part while its cumulative payments, this win included,
    stay within ``cap``; from the first auction whose price would exceed the cap it leaves
    the market for the rest of the period. Spend therefore never exceeds ``cap``.

    Parameters
    ----------
    bid
        The agent's bid per impression (the same in every auction of the period).
    competitors
        Competitors' bids, ``(n_auctions, n_competitors)``.
    cap
        Budget of the period, currency.
    reserve
        Reserve price.

    Returns
    -------
    AuctionOutcome

    Examples
    --------
    >>> out = run_capped_auctions(2.0, np.array([[1.0], [1.5], [3.0], [0.5]]), cap=2.6)
    >>> out.won.tolist(), out.spend
    ([True, True, False, False], 2.5)
    """
    comp = np.asarray(competitors, dtype=np.float64)
    n = comp.shape[0]
    bids = np.concatenate([np.full((n, 1), max(float(bid), 0.0)), comp], axis=1)
    winner, price = second_price_auction(bids, reserve=reserve)
    ours = winner == 0
    paid = np.where(ours, price, 0.0)
    active = np.cumsum(paid) <= cap
    won = ours & active
    return AuctionOutcome(won=won, price=np.where(won, paid, 0.0))
