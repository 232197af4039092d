"""Verification of written rows: the exact fact check now, a judge model later.

The fact check reads each sentence of an LLM-written row as a fact over the run's fact
graph and calls it entailed, contradicted or unknown (:class:`FactCheck`).
"""

from augment_ft.verify.factcheck import (
    EXACT_STRATEGIES,
    FactCheck,
    Verdict,
    combine_verdicts,
    needs_check,
)

__all__ = ["EXACT_STRATEGIES", "FactCheck", "Verdict", "combine_verdicts", "needs_check"]
