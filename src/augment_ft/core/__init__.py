"""The bottom layer: data models, errors, configuration, identities, counts and tokens.

Nothing here does I/O beyond reading a config file or a tokenizer file, and nothing here
imports any other part of augment_ft.
"""
