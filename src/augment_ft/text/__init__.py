"""Text utilities shared by strategies, filters and evals: sentence splitting, entities."""
