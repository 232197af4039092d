"""The built-in strategies, registered through the same registry a user's strategy would use."""

from __future__ import annotations

from augment_ft.core.registry import Registry
from augment_ft.strategies.base import FactStrategy, Strategy
from augment_ft.strategies.extract import ExtractStrategy
from augment_ft.strategies.implications import ImplicationsStrategy
from augment_ft.strategies.qa import QAStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.split import SplitStrategy
from augment_ft.strategies.symbolic import SymbolicStrategy

__all__ = ["STRATEGIES"]

STRATEGIES: Registry[Strategy | FactStrategy] = Registry("strategy")
"""Strategy factories by name: ``STRATEGIES.create("split", mode="cumulative")``."""

STRATEGIES.register("split", SplitStrategy)
STRATEGIES.register("symbolic", SymbolicStrategy)
STRATEGIES.register("rephrase", RephraseStrategy)
STRATEGIES.register("reverse", ReverseStrategy)
STRATEGIES.register("implications", ImplicationsStrategy)
STRATEGIES.register("extract", ExtractStrategy)
STRATEGIES.register("qa", QAStrategy)
