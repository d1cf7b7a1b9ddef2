"""Synthetic CaTH court-list corpus with planted truth (issue 4): ``generate(out, cases=, seed=)``."""

__all__ = ["generate", "DEFAULT_HOTSPOTS"]


def __getattr__(name: str):
    # lazy: the list-rendering process imports this package's render module only
    if name in __all__:
        from . import driver
        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
