"""Rules as plain functions, grouped by what they look at; each returns `Finding`s."""
