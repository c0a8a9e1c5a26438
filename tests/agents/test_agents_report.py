from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mixlens.agents import run_to_dir
from mixlens.report.agents import agents_section
from mixlens.report.html import Figure, Text


def test_section_keeps_the_old_signature_and_adds_charts(tmp_path: Path) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, protocol="exact", seed=0)
    summary["lift_test"] = {
        "agent": "region_3",
        "channel": "tv",
        "measured_lift": 8000.0,
        "lift_se": 800.0,
        "coef_without_lift": 0.28,
        "coef_with_lift": 0.12,
        "credit_without_lift": 9.6e6,
        "credit_with_lift": 4.0e6,
    }
    credit = pd.read_csv(tmp_path / "attribution.csv")
    old = agents_section(credit, summary)
    assert sum(isinstance(b, Figure) for b in old.blocks) == 1  # credit per agent and channel
    exact_rounds = pd.read_csv(tmp_path / "rounds.csv")
    one = agents_section(credit, summary, exact_rounds)  # one fit round: nothing to plot
    assert sum(isinstance(b, Figure) for b in one.blocks) == 1
    residual = np.geomspace(1.0, 1e-8, 30)
    admm_rounds = pd.DataFrame(
        {"round": np.arange(1, 31), "primal_residual": residual, "dual_residual": residual / 3}
    )
    new = agents_section(credit, summary, admm_rounds)
    figures = [b for b in new.blocks if isinstance(b, Figure)]
    assert len(figures) == 2 and all(f.svg.startswith("<svg") for f in figures)
    texts = " ".join(b.text for b in new.blocks if isinstance(b, Text))
    assert "lift test" in texts and "0.280 to 0.120" in texts
