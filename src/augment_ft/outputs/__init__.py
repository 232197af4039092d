"""Writing outputs: formats, the crash-safe JSONL writer, the run's sink, file statistics."""
