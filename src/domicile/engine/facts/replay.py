"""One forward pass over audit records, rebuilding where copies rested and under which
definitions, as segments of constant judgement per (bucket, site).

:class:`Replay` is fed record bodies (parsed JSON) in chain order. It keeps the recorded
definitions in force (policies by name, sites by id, each bucket's policy and tenant) and
every live copy: a ``put`` / ``copy`` / ``delete_marker`` places its version on the record's
``sites`` and, unless its bucket's versioning was ``Enabled`` (its detail says), ends the
key's previous null version (the catalog forgets a replaced version in the same
transaction); ``placement_added`` adds one copy, ``placement_removed`` removes one;
``delete`` and ``version_delete`` end the version they name. Per (bucket, site) holding at
least one live copy a *segment* is open under one judgement (the bucket's policy definition
and the site's definition and status as they are); it is closed and reopened when either
definition changes, and closed when its last copy leaves. Closed segments that overlap the
period become :class:`Residence` rows and, when refused, :class:`ViolationWindow` entries.

Memory is bounded by the live copies and the output, never by the number of records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domicile.engine.facts.history_model import (
    BucketAt,
    PolicyAt,
    PolicyVersion,
    Residence,
    SiteAt,
    ViolationWindow,
    WindowCopy,
)
from domicile.engine.facts.judge import Judge, Judgement

US = 1_000_000.0


@dataclass(slots=True)
class _Def:
    """A recorded definition: version, fingerprint, canonical content, since when."""

    version: int
    fingerprint: str
    content: dict[str, Any]
    since: float


@dataclass(slots=True)
class _Site:
    definition: _Def | None
    status: str


@dataclass(slots=True)
class _Version:
    bucket: str
    key: str
    sites: dict[str, float] = field(default_factory=dict)  # site -> placed at
    seen: bool = False  # a copy of it overlapped the period


@dataclass(slots=True)
class _Segment:
    """Copies of one bucket on one site under one judgement, since ``start``."""

    start: float
    judgement: Judgement
    policy: PolicyAt
    site: SiteAt
    live: dict[str, tuple[str, float]]  # version id -> (key, since in this segment)
    copies: int = 0  # copies that left it, having overlapped the period
    left: list[WindowCopy] = field(default_factory=list)  # only kept when refused


@dataclass(slots=True)
class _Bucket:
    policy: str
    tenant: str
    created: float
    deleted: float | None = None


class Replay:
    """The state machine of the module docstring, over the period ``[start, end]``."""

    def __init__(
        self, start: float, end: float, judge: Judge, in_scope: Callable[[str, str], bool]
    ):
        """``in_scope(bucket, tenant)``: whether a bucket is reported on."""
        self.start, self.end = start, end
        self._judge = judge
        self._in_scope = in_scope
        self._policies: dict[str, _Def] = {}
        self._sites: dict[str, _Site] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._gone: list[tuple[str, _Bucket]] = []  # deleted buckets in scope
        self._history: dict[str, list[PolicyVersion]] = {}
        self._versions: dict[str, _Version] = {}
        # each key's null version: the one a null write (unversioned, suspended) replaces
        self._null: dict[tuple[str, str], str] = {}
        self._open: dict[tuple[str, str], _Segment] = {}
        self._residences: dict[tuple[Any, ...], list[Any]] = {}
        self.windows: list[ViolationWindow] = []
        self.seen: set[str] = set()  # buckets in scope the chain ever created
        self.copies = self.versions = self.records = 0

    # --- the records --------------------------------------------------------------------

    def feed(self, body: Mapping[str, Any]) -> None:
        """Apply one record (a parsed body) at its ``time``."""
        self.records += 1
        if body.get("result", "ok") != "ok":
            return
        handler = _HANDLERS.get(str(body.get("action")))
        if handler is not None:
            handler(self, body, body["time"] / US)

    def _put(self, r: Mapping[str, Any], t: float) -> None:
        bucket, key, vid = r.get("bucket"), r.get("key"), r.get("version")
        if not (isinstance(bucket, str) and isinstance(key, str) and isinstance(vid, str)):
            return
        if bucket not in self._buckets:
            return
        self._versions[vid] = _Version(bucket, key)
        detail = r.get("detail")
        versioning = detail.get("versioning") if isinstance(detail, Mapping) else None
        if versioning != "Enabled":  # a null version replaces the key's null version
            previous = self._null.pop((bucket, key), None)
            if previous is not None and previous != vid:
                self._end_version(previous, t)
            self._null[(bucket, key)] = vid
        for site in r.get("sites", ()):
            self._place(vid, str(site), t)

    def _delete(self, r: Mapping[str, Any], t: float) -> None:
        vid = r.get("version")
        if isinstance(vid, str) and vid in self._versions:
            v = self._versions[vid]
            if self._null.get((v.bucket, v.key)) == vid:
                del self._null[(v.bucket, v.key)]
            self._end_version(vid, t)

    def _added(self, r: Mapping[str, Any], t: float) -> None:
        vid = r.get("version")
        if isinstance(vid, str) and vid in self._versions:
            for site in r.get("sites", ()):
                self._place(vid, str(site), t)

    def _removed(self, r: Mapping[str, Any], t: float) -> None:
        vid = r.get("version")
        if isinstance(vid, str) and vid in self._versions:
            for site in r.get("sites", ()):
                self._unplace(vid, str(site), t)

    def _bucket_create(self, r: Mapping[str, Any], t: float) -> None:
        name, policy = r.get("bucket"), r.get("policy")
        tenant = r.get("detail", {}).get("tenant", "default")
        if isinstance(name, str) and isinstance(policy, str):
            policy = policy.split("@", 1)[0]
            # A bucket created again without a delete between (a rebuilt catalog's open)
            # is the same bucket: its first record stands.
            if name not in self._buckets and self._in_scope(name, str(tenant)):
                self.seen.add(name)
                self._buckets[name] = _Bucket(policy, str(tenant), t)

    def _bucket_delete(self, r: Mapping[str, Any], t: float) -> None:
        name = r.get("bucket")
        if isinstance(name, str) and name in self._buckets:
            gone = self._buckets.pop(name)
            gone.deleted = t
            self._gone.append((name, gone))
            for (b, k), vid in list(self._null.items()):
                if b == name:
                    del self._null[(b, k)]
                    self._end_version(vid, t)

    def _policy(self, r: Mapping[str, Any], t: float) -> None:
        d = r.get("detail", {})
        name = d.get("name")
        if not isinstance(name, str):
            return
        old = self._policies.get(name)
        same = old is not None and old.fingerprint == d.get("fingerprint")
        if same and r["action"] != "policy_removed":
            return  # the same rules recorded again (a rebuilt catalog's open)
        self._close_policy(name, t)
        if r["action"] == "policy_removed":
            self._policies.pop(name, None)
        else:
            rules = json.loads(d["rules"])
            self._policies[name] = _Def(int(d["version"]), str(d["fingerprint"]), rules, t)
        self._rejudge(lambda b, _s: self._buckets[b].policy == name, t)

    def _site(self, r: Mapping[str, Any], t: float) -> None:
        d = r.get("detail", {})
        sid = d.get("site")
        if not isinstance(sid, str):
            return
        known = self._sites.get(sid)
        if (
            known is not None
            and known.definition is not None
            and r["action"] != "site_removed"
            and known.definition.fingerprint == d.get("fingerprint")
            and known.status == known.definition.content.get("status")
        ):
            return  # the same definition recorded again (a rebuilt catalog's open)
        if r["action"] == "site_removed":
            self._sites[sid] = _Site(None, "?")
        else:
            after = json.loads(d["after"])
            defn = _Def(int(d["version"]), str(d["fingerprint"]), after, t)
            self._sites[sid] = _Site(defn, str(after.get("status", "active")))
        self._rejudge(_on_site(sid), t)

    def _site_status(self, r: Mapping[str, Any], t: float) -> None:
        to = r.get("detail", {}).get("to")
        for name in map(str, r.get("sites", ())):
            site = self._sites.get(name)
            if site is not None and site.definition is not None and isinstance(to, str):
                site.status = to
                self._rejudge(_on_site(name), t)

    # --- copies and segments ------------------------------------------------------------

    def _place(self, vid: str, site: str, t: float) -> None:
        v = self._versions[vid]
        if site in v.sites:
            return
        v.sites[site] = t
        seg = self._open.get((v.bucket, site))
        if seg is None:
            seg = self._open[(v.bucket, site)] = self._segment(v.bucket, site, t, {})
        seg.live[vid] = (v.key, t)

    def _unplace(self, vid: str, site: str, t: float) -> None:
        v = self._versions[vid]
        placed = v.sites.pop(site, None)
        if placed is None:
            return
        if placed <= self.end and t >= self.start:
            self.copies += 1
            v.seen = True
        seg = self._open[(v.bucket, site)]
        key, since = seg.live.pop(vid)
        if since <= self.end and t >= self.start:
            seg.copies += 1
            if not seg.judgement.allowed:
                seg.left.append(WindowCopy(key, vid, max(since, self.start), min(t, self.end)))
        if not seg.live:
            self._close(v.bucket, site, t, ongoing=False)

    def _end_version(self, vid: str, t: float) -> None:
        v = self._versions.pop(vid, None)
        if v is None:
            return
        self._versions[vid] = v  # _unplace reads it
        for site in list(v.sites):
            self._unplace(vid, site, t)
        del self._versions[vid]
        self.versions += v.seen

    def _segment(
        self, bucket: str, site: str, t: float, live: dict[str, tuple[str, float]]
    ) -> _Segment:
        name = self._buckets[bucket].policy
        pdef = self._policies.get(name)
        sdef = self._sites.get(site)
        definition = sdef.definition if sdef else None
        status = sdef.status if sdef else "?"
        judgement = self._judge.judge(
            name,
            pdef.content if pdef else None,
            policy_key=pdef.fingerprint if pdef else None,
            site_id=site,
            definition={**definition.content, "status": status} if definition else None,
            site_key=(definition.fingerprint, status) if definition else None,
        )
        policy = PolicyAt(name, pdef.version if pdef else None, pdef.fingerprint if pdef else None)
        return _Segment(t, judgement, policy, _site_at(site, definition, status), live)

    def _rejudge(self, affected: Callable[[str, str], bool], t: float) -> None:
        """Close and reopen, at ``t``, the open segments a definition change touches."""
        for bucket, site in [k for k in self._open if affected(*k)]:
            seg = self._close(bucket, site, t, ongoing=False)
            live = {vid: (key, t) for vid, (key, _) in seg.live.items()}
            self._open[(bucket, site)] = self._segment(bucket, site, t, live)

    def _close(self, bucket: str, site: str, t: float, *, ongoing: bool) -> _Segment:
        seg = self._open.pop((bucket, site))
        if seg.start > self.end or t < self.start:
            return seg
        start = max(seg.start, self.start)
        end = max(start, min(t, self.end))  # a clock that stepped back never makes end < start
        j = seg.judgement
        key = (bucket, seg.site, seg.policy, j)
        copies = seg.copies + sum(since <= self.end for _, since in seg.live.values())
        row = self._residences.get(key)
        if row is None:
            self._residences[key] = [start, end, copies]
        else:
            row[0], row[1], row[2] = min(row[0], start), max(row[1], end), row[2] + copies
        if not j.allowed:
            staying = [
                WindowCopy(k, vid, max(since, self.start), end)
                for vid, (k, since) in seg.live.items()
                if since <= self.end
            ]
            self.windows.append(
                ViolationWindow(
                    bucket=bucket,
                    site=seg.site,
                    policy=seg.policy,
                    start=start,
                    end=end,
                    ongoing=ongoing or t > self.end,
                    codes=j.codes,
                    reasons=j.reasons,
                    copies=tuple(sorted([*seg.left, *staying], key=_copy_order)),
                )
            )
        return seg

    def _close_policy(self, name: str, t: float) -> None:
        old = self._policies.get(name)
        if old is None or t < self.start or old.since > self.end:
            return
        until = t if t <= self.end else None
        self._history.setdefault(name, []).append(_version(name, old, old.since, until))

    # --- the end ------------------------------------------------------------------------

    def finish(
        self,
    ) -> tuple[tuple[BucketAt, ...], tuple[PolicyVersion, ...], tuple[Residence, ...]]:
        """Close what is still open at the period's end; return the buckets, policy
        versions and residences (``windows``, ``copies`` and ``versions`` are attributes)."""
        end = self.end
        for bucket, site in list(self._open):
            seg = self._open[(bucket, site)]
            if seg.start <= end:
                self._close(bucket, site, end, ongoing=True)
            else:
                self._open.pop((bucket, site))
        for v in self._versions.values():
            overlapping = [p for p in v.sites.values() if p <= end]
            self.copies += len(overlapping)
            self.versions += bool(overlapping) or v.seen
        buckets = [
            (name, b)
            for name, b in [*self._buckets.items(), *self._gone]
            if b.created <= end and (b.deleted is None or b.deleted >= self.start)
        ]
        used = {b.policy for _, b in buckets}
        for name, d in self._policies.items():
            if d.since <= end:
                self._history.setdefault(name, []).append(_version(name, d, d.since, None))
        versions = tuple(
            v
            for name in sorted(used)
            for v in self._history.get(name, ())
            if v.end is None or v.end >= self.start
        )
        rows = tuple(
            Residence(bucket, site, policy, start, stop, copies, j.allowed, j.codes, j.reasons)
            for (bucket, site, policy, j), (start, stop, copies) in self._residences.items()
        )
        return (
            tuple(sorted({BucketAt(n, b.tenant, b.policy) for n, b in buckets}, key=_name)),
            versions,
            tuple(sorted(rows, key=lambda r: (r.bucket, r.site.id, r.start))),
        )


def _on_site(site: str) -> Callable[[str, str], bool]:
    return lambda _bucket, other: other == site


def _site_at(site: str, definition: _Def | None, status: str) -> SiteAt:
    if definition is None:
        return SiteAt(site, None, None, "?", "?", (), status)
    c = definition.content
    return SiteAt(
        site,
        definition.version,
        definition.fingerprint,
        str(c.get("country", "?")),
        str(c.get("operator", "?")),
        tuple(map(str, c.get("subject_to", ()))),
        status,
    )


def _version(name: str, d: _Def, since: float, until: float | None) -> PolicyVersion:
    r = d.content
    return PolicyVersion(
        name=name,
        version=d.version,
        fingerprint=d.fingerprint,
        allow=tuple(r.get("allow", ())),
        deny=tuple(r.get("deny", ())),
        deny_subject_to=tuple(r.get("deny_subject_to", ())),
        copies=int(r.get("copies", 1)),
        distinct=str(r.get("distinct", "")),
        require=tuple(r.get("require", ())),
        start=since,
        end=until,
    )


def _copy_order(c: WindowCopy) -> tuple[float, str, str]:
    return (c.start, c.key, c.version_id)


def _name(b: BucketAt) -> str:
    return b.bucket


_HANDLERS: dict[str, Callable[[Replay, Mapping[str, Any], float], None]] = {
    "put": Replay._put,
    "copy": Replay._put,
    "delete": Replay._delete,
    "delete_marker": Replay._put,
    "version_delete": Replay._delete,
    "placement_added": Replay._added,
    "placement_removed": Replay._removed,
    "bucket_create": Replay._bucket_create,
    "bucket_delete": Replay._bucket_delete,
    "policy_added": Replay._policy,
    "policy_change": Replay._policy,
    "policy_removed": Replay._policy,
    "site_added": Replay._site,
    "site_change": Replay._site,
    "site_removed": Replay._site,
    "site_status": Replay._site_status,
}
