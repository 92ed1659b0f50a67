"""The engine's shared run-time state, passed to the services (writer, reader, ...)."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from domicile.catalog import Catalog
from domicile.crypto import AnyRecipient, Identity, parse_recipient
from domicile.crypto.keysource import KeySource
from domicile.engine.auditlog import AuditLog
from domicile.engine.bucketkeys import KEY_COPIES, BucketKeyring
from domicile.engine.daemons import POOL
from domicile.engine.health import HealthBook, Prober
from domicile.errors import ConfigError, SiteError, SiteUnavailable
from domicile.policy import Policy, World, check_copy
from domicile.sites import Site

#: Seconds a bucket identity's write waits for a site before asking another (or going on
#: with the copies made).
KEY_WAIT = 1.0


@dataclass
class EngineContext:
    """Everything a service needs: catalog, residency world, sites, keys, workers."""

    catalog: Catalog
    world: World
    sites: dict[str, Site]
    keyring: KeySource
    executor: ThreadPoolExecutor
    segment_size: int
    health: HealthBook = field(default_factory=HealthBook)
    audit: AuditLog | None = None
    #: Expiry of the leases jobs take (``[deployment] lease_seconds``).
    lease_seconds: float = 60.0
    #: What is out of date in the world's registry (shown by ``sites``, ``policy explain``
    #: and the report).
    registry_warnings: tuple[str, ...] = ()
    #: Held by a whole-queue garbage collection (``engine/garbage.py``).
    garbage_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Per-bucket data identities (None: blobs go to the root recipients, as before).
    bucket_keys: BucketKeyring | None = None
    _parsed: dict[str, AnyRecipient] = field(default_factory=dict, repr=False)
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

    def identities_for(self, bucket: str) -> list[Identity]:
        """What reads ``bucket``'s blobs: its data identities, then the root ones."""
        if self.bucket_keys is None:
            return list(self.keyring.identities)
        return self.bucket_keys.identities(bucket)

    def key_sites(self, policy: Policy) -> list[str]:
        """The sites that may hold a copy of a bucket identity under ``policy``: active
        sites it allows, in id order."""
        return [sid for sid in sorted(self.sites) if check_copy(policy, self.world, sid).compliant]

    def place_key(self, policy: Policy, blob_id: str, data: bytes) -> list[str]:
        """Write a wrapped bucket identity (written once) to ``KEY_COPIES`` of the sites
        ``policy`` allows (healthy ones first); return those that took it. SiteUnavailable
        if none did.

        The writes run on daemon threads: a site that has not answered within
        ``KEY_WAIT`` seconds is passed over (the next site is asked, or, once one copy
        exists, the write goes on with it), so a frozen provider does not stall a bucket's
        first PUT. A copy it writes later is an extra, identical copy that ``shred`` finds
        by name on every site."""
        todo = sorted(self.key_sites(policy), key=lambda sid: not self.health.healthy(sid))
        answers: queue.SimpleQueue[tuple[str, str | None]] = queue.SimpleQueue()
        pending: set[str] = set()
        placed: list[str] = []
        errors: list[str] = []

        def attempt(site_id: str) -> None:
            try:
                site = self.sites[site_id]
                # a copy already there is ours only if it is the same bytes (a retry);
                # another writer's (a race for the same version) is left alone
                ours = site.put_once(blob_id, data) or b"".join(site.get(blob_id)) == data
                answers.put((site_id, None if ours else "it holds another writer's copy"))
            except SiteError as exc:
                answers.put((site_id, exc.message))
            except Exception as exc:  # a broken adapter: that site failed, never a crash
                answers.put((site_id, f"{type(exc).__name__}: {exc}"))

        def launch() -> float:
            site_id = todo.pop(0)
            pending.add(site_id)
            POOL.submit(lambda: attempt(site_id))
            return time.monotonic() + KEY_WAIT

        deadline = time.monotonic()
        for _ in range(min(KEY_COPIES, len(todo))):
            deadline = launch()
        while pending and len(placed) < KEY_COPIES:
            left = deadline - time.monotonic()
            if left <= 0:
                if placed:
                    break  # a slow site: go on with the copies made
                if todo:
                    deadline = launch()
                    continue
            try:  # with nothing placed and nobody else to ask, wait for the sites' deadlines
                site_id, error = answers.get(timeout=left if left > 0 else None)
            except queue.Empty:
                continue
            pending.discard(site_id)
            if error is None:
                placed.append(site_id)
            else:
                errors.append(f"{site_id}: {error}")
                if todo:
                    deadline = launch()
        if not placed:
            raise SiteUnavailable(
                f"no site took the bucket identity copy {blob_id}: nothing is written",
                hint="bring one of the sites the policy allows back, then write again",
                blob=blob_id,
                faults=errors,
            )
        return placed

    def _unplace_key(self, blob_id: str, site_ids: list[str]) -> None:
        for site_id in site_ids:  # best effort: a leftover is an orphan for the sweep
            try:
                self.sites[site_id].delete(blob_id)
            except SiteError:
                continue

    def recipients_for(self, policy: Policy, bucket: str | None) -> list[AnyRecipient]:
        """The bucket's data identity (or, with ``bucket`` None or no bucket identities, the
        keyring's own recipients) so we can read back, plus the policy's extra ones,
        all of one kind: post-quantum only under a ``pq`` policy, classic only otherwise (a
        file never mixes them). Fails closed, before anything is written, when the keyring
        has no identity of the kind the policy needs or an extra recipient is of the other
        kind."""
        recipients: list[AnyRecipient] = list(self.keyring.recipients_of(post_quantum=policy.pq))
        if not recipients:
            raise _no_own_recipient(policy)
        if bucket is not None and self.bucket_keys is not None:
            recipients = [
                self.bucket_keys.recipient(
                    bucket,
                    post_quantum=policy.pq,
                    place=lambda _b, blob_id, data: self.place_key(policy, blob_id, data),
                    unplace=self._unplace_key,
                )
            ]
        known = {r.public_bytes for r in recipients}
        for text in policy.recipients:
            recipient = self._parsed.get(text)
            if recipient is None:  # parsed once: bech32 costs as much as the X25519 wrap
                recipient = self._parsed[text] = parse_recipient(text)
            if recipient.post_quantum != policy.pq:
                raise recipient_kind_error(policy.name, text, pq=policy.pq)
            if recipient.public_bytes not in known:
                recipients.append(recipient)
                known.add(recipient.public_bytes)
        return recipients


def _no_own_recipient(policy: Policy) -> ConfigError:
    if policy.pq:
        return ConfigError(
            f"policy {policy.name!r} requires post-quantum recipients (pq = true) but the "
            "keyring has no post-quantum identity: nothing is written",
            hint="add one with 'domicile keys new --pq' (its identity reads the new blobs); "
            "a PKCS#11 token keyring cannot hold one yet: such a policy needs a file keyring",
            policy=policy.name,
        )
    return ConfigError(
        f"policy {policy.name!r} wraps to classic recipients but the keyring has no classic "
        "identity: nothing is written",
        hint="set pq = true on the policy, or add a classic identity with 'domicile keys new' "
        "(in a token keyring: a root key in the token)",
        policy=policy.name,
    )


def recipient_kind_error(policy: str, text: str, *, pq: bool) -> ConfigError:
    """A policy's extra recipient is not of the kind the policy wraps to."""
    if pq:
        return ConfigError(
            f"policy {policy!r} requires post-quantum recipients (pq = true) but lists the "
            f"classic recipient {text[:16]}...",
            hint="replace it with the holder's post-quantum recipient (age1pq1..., from "
            "age-keygen -pq), or remove it",
            policy=policy,
        )
    return ConfigError(
        f"policy {policy!r} lists the post-quantum recipient {text[:16]}... but wraps to "
        "classic recipients, and one file cannot mix both",
        hint="set pq = true on the policy (every blob then goes to post-quantum recipients "
        "only), or list the holder's classic age1... recipient",
        policy=policy,
    )
