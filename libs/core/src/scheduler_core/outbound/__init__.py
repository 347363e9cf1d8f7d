"""Outbound calls to addresses users supply: the guard (`guard.py`) and the address policy it applies
(`policy.py`). Every such call goes through `OutboundGuard.client()`."""

from scheduler_core.outbound.guard import MAX_REDIRECTS, OutboundGuard, OutboundRefused, Resolver, system_resolver
from scheduler_core.outbound.policy import AddressPolicy, parse_allow_entry

__all__ = [
    "MAX_REDIRECTS",
    "AddressPolicy",
    "OutboundGuard",
    "OutboundRefused",
    "Resolver",
    "parse_allow_entry",
    "system_resolver",
]
