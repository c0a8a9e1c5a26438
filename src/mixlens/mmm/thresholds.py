"""The usual thresholds of the MMM's fit checks, in one place (no PyMC import).

The fit warns past them (:mod:`mixlens.mmm.fit`, :mod:`mixlens.mmm.checks`) and the
report's diagnostics table judges by them (:mod:`mixlens.report.mmm`).
"""

from __future__ import annotations

__all__ = ["COVERAGE_SLACK", "ESS_MIN", "ESS_MIN_PER_CHAIN", "EXTREME_P", "RHAT_MAX"]

#: Largest split R-hat of a mixed posterior.
RHAT_MAX = 1.01
#: Smallest bulk ESS: the lesser of this total and :data:`ESS_MIN_PER_CHAIN` per chain.
ESS_MIN = 400
ESS_MIN_PER_CHAIN = 100
#: A posterior predictive p-value below this or above ``1 - EXTREME_P`` is extreme.
EXTREME_P = 0.01
#: A predictive band covering fewer than ``ci - COVERAGE_SLACK`` of the fitted weeks is too
#: narrow (in sample a band covers a little more than its mass, so only too few is flagged).
COVERAGE_SLACK = 0.1
