"""Reading inputs: which files the inputs name, their records, and the run's document source."""
