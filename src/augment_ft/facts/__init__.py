"""Structured facts: the relation table, their closure, reading sentences back, the fact graph.

Layers inside: ``relations`` (table) <- ``closure`` (inference) <- ``graph`` (given plus
extracted facts, evidence); ``names`` and ``patterns`` <- ``reading`` (sentence to claim).
Only :mod:`augment_ft.core` and :mod:`augment_ft.text` lie below this package.
"""
