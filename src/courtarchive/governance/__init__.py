"""Governance: the disclosure gate, roles and field policy, reporting-restriction rules, pseudonym
keys, retention and pseudonymise-on-expiry, legal holds, the audit chain, rights requests, spent
convictions, distribution policy and the compliance report.

``governance.disclose(records, viewer, purpose=..., context=...)`` is THE gate every output path
calls.  Names are resolved lazily so that importing ``governance.pseudonym`` (intake workers) stays
light.
"""

from __future__ import annotations

_LAZY = {
    "disclose": ("gate", "disclose"),
    "Disclosure": ("gate", "Disclosure"),
    "Context": ("gate", "Context"),
    "GovernanceError": ("gate", "GovernanceError"),
    "Viewer": ("policy", "Viewer"),
    "Verification": ("policy", "Verification"),
    "ROLES": ("policy", "ROLES"),
    "RULES": ("rules", "RULES"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
    raise AttributeError(name)
