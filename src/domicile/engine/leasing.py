"""A scope lease held while a job runs, renewed in the background until the job ends.

``apply`` and ``repair`` hold one (``catalog/leases.py``): a second run on an overlapping
scope is refused with LeaseHeld, naming this process. A renewal thread pushes the expiry
(of the scope and of the steps this run claimed) every third of the lease; if a renewal
finds the lease taken over (this process was stalled past its expiry), :meth:`check`
raises so the run stops before changing anything more.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from types import TracebackType

from domicile.catalog import Holder, Lease
from domicile.engine.context import EngineContext
from domicile.errors import CatalogError, LeaseHeld


class Holding:
    """``with Holding(ctx, "apply", bucket) as held:`` — the lease, renewed; released on
    exit. ``held.taken_over`` lists the expired leases of dead runs it replaced."""

    def __init__(self, ctx: EngineContext, kind: str, bucket: str | None) -> None:
        self._ctx = ctx
        self.kind = kind
        self.bucket = bucket
        self.seconds = ctx.lease_seconds
        self.holder = Holder(socket.gethostname(), os.getpid(), secrets.token_hex(8))
        self.taken_over: list[Lease] = ctx.catalog.acquire_lease(
            kind, bucket, self.holder, self.seconds
        )
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"domicile-{kind}-lease", daemon=True
        )
        self._thread.start()

    @property
    def run_id(self) -> str:
        return self.holder.run_id

    def check(self) -> None:
        """Raise LeaseHeld once the lease was lost (taken over after it expired)."""
        if self._lost.is_set():
            raise LeaseHeld(
                f"this {self.kind} lost its lease (it could not be renewed within "
                f"{self.seconds:g} s, and another run may have taken it over); stopped",
                hint="run it again once the other run has finished",
                run=self.run_id,
            )

    def _renew(self) -> None:
        catalog = self._ctx.catalog
        renewed = time.monotonic()
        while not self._stop.wait(self.seconds / 3):
            try:
                if not catalog.renew_lease(self.kind, self.bucket, self.run_id, self.seconds):
                    self._lost.set()
                    return
                catalog.renew_jobs(str(self.holder), self.seconds)
                renewed = time.monotonic()
            except CatalogError:
                # The database is away: retried at the next tick, until the lease may have
                # expired (another run may take it over): then this run stops.
                if time.monotonic() - renewed >= self.seconds:
                    self._lost.set()
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if not self._lost.is_set():
            self._ctx.catalog.release_lease(self.kind, self.bucket, self.run_id)

    def __enter__(self) -> Holding:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
