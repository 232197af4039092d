"""Verification of written rows: the exact fact check and the judge.

The fact check reads each sentence of an LLM-written row as a fact over the run's fact
graph and calls it entailed, contradicted or unknown (:class:`FactCheck`).
"""

from augment_ft.verify.factcheck import FactCheck, Verdict, combine_verdicts, written_by_model

__all__ = ["FactCheck", "Verdict", "combine_verdicts", "written_by_model"]
