"""Augmentation strategies and their registry."""

from augment_ft.strategies.base import FactStrategy, Strategy, StrategyContext

__all__ = ["FactStrategy", "Strategy", "StrategyContext"]
