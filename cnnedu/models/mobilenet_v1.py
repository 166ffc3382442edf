"""Placeholder: filled in by the model-zoo work (issue 3)."""

__all__: list[str] = []
