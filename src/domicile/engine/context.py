"""The engine's shared run-time state, passed to the services (writer, reader, ...)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from domicile.catalog import Catalog
from domicile.crypto import Keyring, X25519Recipient
from domicile.engine.auditlog import AuditLog
from domicile.engine.health import HealthBook, Prober
from domicile.errors import ConfigError, SiteUnavailable
from domicile.policy import Policy, World
from domicile.sites import Site


@dataclass
class EngineContext:
    """Everything a service needs: catalog, residency world, sites, keys, workers."""

    catalog: Catalog
    world: World
    sites: dict[str, Site]
    keyring: Keyring
    executor: ThreadPoolExecutor
    segment_size: int
    health: HealthBook = field(default_factory=HealthBook)
    audit: AuditLog | None = None
    #: Expiry of the leases jobs take (``[deployment] lease_seconds``).
    lease_seconds: float = 60.0
    #: Held by a whole-queue garbage collection (``engine/garbage.py``).
    garbage_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _parsed: dict[str, X25519Recipient] = field(default_factory=dict, repr=False)
    #: Background probes of open breakers (started by the engine, over ``sites``).
    prober: Prober = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.prober = Prober(self.health, self.sites)

    def record(self, action: str, **fields: Any) -> None:
        """Append an audit event (when the deployment has an audit log)."""
        if self.audit is not None:
            self.audit.record(action, **fields)

    def site(self, site_id: str) -> Site:
        try:
            return self.sites[site_id]
        except KeyError:
            raise SiteUnavailable(
                f"site {site_id!r} is in the catalog but not in the configuration",
                hint="add the site back to the configuration, or run 'domicile plan' to move "
                "its copies",
                site=site_id,
            ) from None

    def policy(self, name: str) -> Policy:
        try:
            return self.world.policies[name]
        except KeyError:
            raise ConfigError(
                f"policy {name!r} is not defined",
                hint="define it under [policies] in the configuration",
                policy=name,
            ) from None

    def recipients_for(self, policy: Policy) -> list[X25519Recipient]:
        """The keyring's own recipients (so we can read back) plus the policy's extra ones."""
        recipients = list(self.keyring.recipients)
        known = {r.public_bytes for r in recipients}
        for text in policy.recipients:
            recipient = self._parsed.get(text)
            if recipient is None:  # parsed once: bech32 costs as much as the X25519 wrap
                recipient = self._parsed[text] = X25519Recipient.from_string(text)
            if recipient.public_bytes not in known:
                recipients.append(recipient)
                known.add(recipient.public_bytes)
        return recipients
