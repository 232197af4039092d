"""Structured facts: the relation table (names, inverses, phrasings) and rendering."""
