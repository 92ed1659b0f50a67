"""The versions a rebuild found on the sites, spooled to a temporary SQLite file.

``rebuild-catalog`` must see every version of a key before it restores any (oldest first,
so that the newest is current; an older null version superseded), and the sites list
manifests in version id order, not by key. Holding every manifest in memory until the
scan ends grew with the deployment (~3 KiB per object); the spool holds them on disk in
the system's temporary folder instead, each as its manifest's JSON (an inline manifest's
one segment beside it), and hands them back grouped by key, a key at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace

from domicile.engine.manifest import Manifest, SegmentEntry
from domicile.engine.scratch import ScratchDb

Found = tuple[Manifest, list[str]]


_SCHEMA = (
    "CREATE TABLE found (vid TEXT PRIMARY KEY, bucket TEXT, key TEXT, created REAL,"
    " manifest BLOB, segments TEXT, sites TEXT, digest TEXT)",
)


class FoundSpool(ScratchDb):
    """Complete versions found, by version id: the manifest kept and the sites holding it."""

    def __init__(self) -> None:
        super().__init__("domicile-rebuild-", _SCHEMA)

    def digest(self, vid: str) -> str | None:
        """The SHA-256 of the blob of the manifest kept for ``vid`` (None: not found yet)."""
        row = self.db.execute("SELECT digest FROM found WHERE vid = ?", (vid,)).fetchone()
        return None if row is None else str(row[0])

    def add_site(self, vid: str, site_id: str) -> None:
        """``site_id`` holds a complete copy of the very manifest kept for ``vid``."""
        (sites,) = self.db.execute("SELECT sites FROM found WHERE vid = ?", (vid,)).fetchone()
        self.db.execute(
            "UPDATE found SET sites = ? WHERE vid = ?",
            (json.dumps([*json.loads(sites), site_id]), vid),
        )

    def manifest(self, vid: str) -> Manifest:
        """The manifest kept for ``vid`` (which was found)."""
        row = self.db.execute(
            "SELECT manifest, segments FROM found WHERE vid = ?", (vid,)
        ).fetchone()
        return _manifest(row[0], row[1])

    def get(self, vid: str) -> tuple[Found, str] | None:
        """The version ``vid`` found so far, and the SHA-256 of the blob of the manifest
        kept (None: not found yet)."""
        row = self.db.execute(
            "SELECT manifest, segments, sites, digest FROM found WHERE vid = ?", (vid,)
        ).fetchone()
        if row is None:
            return None
        return (_manifest(row[0], row[1]), json.loads(row[2])), row[3]

    def add(
        self,
        manifest: Manifest,
        site_id: str,
        digest: str,
        stronger: Callable[[Manifest, Manifest], bool],
    ) -> None:
        """``site_id`` holds a complete copy of ``manifest`` (its blob's SHA-256: ``digest``);
        of two manifests of one version, the ``stronger`` is kept."""
        held = self.get(manifest.version_id)
        if held is None:
            self.db.execute(
                "INSERT INTO found VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    manifest.version_id,
                    manifest.bucket,
                    manifest.key,
                    manifest.created_at,
                    manifest.to_json(),
                    _segments(manifest),
                    json.dumps([site_id]),
                    digest,
                ),
            )
            return
        (kept, sites), kept_digest = held
        if stronger(manifest, kept):
            kept, kept_digest = manifest, digest
        self.db.execute(
            "UPDATE found SET manifest = ?, segments = ?, sites = ?, digest = ? WHERE vid = ?",
            (
                kept.to_json(),
                _segments(kept),
                json.dumps([*sites, site_id]),
                kept_digest,
                kept.version_id,
            ),
        )

    def by_key(self) -> Iterator[list[Found]]:
        """Every key's versions (in no particular order), keys by bucket and name."""
        self.db.execute("COMMIT")
        self.db.execute("CREATE INDEX found_by_key ON found (bucket, key, created, vid)")
        query = (
            "SELECT bucket, key, manifest, segments, sites FROM found"
            " ORDER BY bucket, key, created, vid"
        )
        group: list[Found] = []
        slot: tuple[str, str] | None = None
        for bucket, key, manifest, segments, sites in self.db.execute(query):
            if slot is not None and (bucket, key) != slot and group:
                yield group
                group = []
            slot = (bucket, key)
            group.append((_manifest(manifest, segments), json.loads(sites)))
        if group:
            yield group


def _segments(manifest: Manifest) -> str | None:
    """An inline manifest's one segment (its JSON does not carry it); else None."""
    if not manifest.inline:
        return None
    return json.dumps(
        [
            [s.blob_id, s.plaintext_size, s.header_length, s.ciphertext_length, s.sha256]
            for s in manifest.segments
        ]
    )


def _manifest(data: bytes, segments: str | None) -> Manifest:
    manifest = Manifest.from_json(data)
    if segments is None:
        return manifest
    return replace(manifest, segments=tuple(SegmentEntry(*s) for s in json.loads(segments)))
