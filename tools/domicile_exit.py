#!/usr/bin/env python3
"""domicile-exit: recover every object from copies of domicile site folders, without domicile.

Needs only Python 3.11+ (its standard library) and the stock ``age`` command (Debian's
``age`` 1.1); one file on purpose, to be copied next to the data. ``docs/exit.md`` is the
manual; in short::

    python3 domicile_exit.py --keyring keyring.txt --out recovered/ site-copy/ [more-copies/]
    python3 domicile_exit.py ... --audit-export audit.jsonl     # deletions known (see below)

A site copy is a local site folder (``<fan>/<blob id>`` under a ``.domicile-site`` marker)
or a flat folder of blobs (an S3 site's prefix synced to a disk). Each manifest blob
(``m`` + version id) is decrypted with ``age -d``; a schema 1 manifest lists its segment
blobs, each checked against the manifest's length and SHA-256, then decrypted and
concatenated; a schema 2 (inline) blob holds the object's bytes, a newline, then the
manifest. Per bucket and key one version is *current* (the rule below); its bytes are written
under ``OUT/objects/`` (or ``OUT/hashed/`` when the key cannot be a path) and every version
found gets one line in ``OUT/index.jsonl`` (bucket, key, status, file, metadata);
``OUT/summary.json`` holds the counts and problems.

The rule: without an export, the newest complete manifest (``created_at``, then version
id) of each bucket and key is current; others are ``superseded``. A deletion leaves nothing
on a site, so an object deleted while its blobs could not be removed comes back. With an
export (``--audit-export FILE`` from ``domicile audit export``, or ``--site-history``: the
``alog-`` segments in the folders), the last ``put``/``copy``/``delete`` record of each key
decides; versions dated outside the export's time span fall back to the time rule, or are
left out with ``--strict``. This script does not check the export's signatures: verify it
first (``domicile audit verify --export``).

Exit codes: 0 all recovered; 1 some version or blob could not be recovered (see
``summary.json``); 2 bad arguments, ``age`` missing, keyring unreadable, output not empty;
3 (with an export) some current object named by the export is absent from the copies.

The identities are kept in memory and handed to each ``age`` on its standard input; nothing
secret is written. Keys and bucket names are untrusted (anyone who knows a public
recipient can encrypt a manifest): outputs are created exclusively under ``OUT``, never
through a link, and a name that is not a plain relative path is replaced by its SHA-256.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

FORMAT, FORMAT_VERSION = "domicile-exit", 1
BLOB_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")
KEY_PREFIX = "bkey-"  # a bucket's data identity, wrapped to the keyring
FAN = re.compile(r"[0-9a-f]{2}")
MANIFEST = re.compile(r"m[0-9a-f]{1,127}")
HISTORY = re.compile(r"alog-[0-9]{20}-[0-9]{20}")
HEX64 = re.compile(r"[0-9a-f]{64}")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
AGE_INTRO, AGE_ARMOR = b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----"
#: A manifest blob larger than this is refused (it is read whole into memory).
MAX_MANIFEST_BLOB = 64 * 1024 * 1024
PIECE = 1024 * 1024
#: What link() fails with on a file system without hard links (FAT, exFAT, some FUSE).
NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Failure(Exception):
    """One version, blob or file could not be used; the run goes on and exits 1."""


class Fatal(Exception):
    """The run cannot start or go on (exit 2)."""


# --- age ---------------------------------------------------------------------------------


class Age:
    """The stock ``age`` command, fed the identities on its standard input (``-i -``)."""

    def __init__(self, program: str, identities: bytes) -> None:
        self.program, self.identities = program, identities

    def stream(self, blob: Path, sink: Sink | None, limit: int = 0) -> bytes:
        """Decrypt ``blob``: into ``sink`` if given (and return b""), else return the
        plaintext, at most ``limit`` bytes (more is a Failure)."""
        cmd = [self.program, "-d", "-i", "-", str(blob)]
        pipe = subprocess.PIPE  # unbuffered: a broken stdin has nothing left to flush
        with subprocess.Popen(  # noqa: S603 (the age program the user named)
            cmd, bufsize=0, stdin=pipe, stdout=pipe, stderr=pipe
        ) as proc:
            assert proc.stdin and proc.stdout and proc.stderr
            kept: list[bytes] = []
            total = 0
            try:
                try:
                    view = memoryview(self.identities)  # age reads them before any output
                    while view:
                        view = view[proc.stdin.write(view) or 0 :]
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # age stopped early; its exit code and message say why
                while piece := proc.stdout.read(PIECE):
                    total += len(piece)
                    if sink is not None:
                        sink.write(piece)
                    elif total > limit:
                        raise Failure(f"{blob.name}: plaintext larger than {limit} bytes")
                    else:
                        kept.append(piece)
            except BaseException:
                proc.kill()
                raise
            error = proc.stderr.read().decode("utf-8", "replace").strip()
            code = proc.wait()
        if code != 0:
            raise Failure(f"{blob.name}: age -d failed: {error or f'exit {code}'}")
        return b"".join(kept)


def load_identities(program: str, keyring: Path) -> bytes:
    """The keyring's identities; a passphrase-protected keyring is opened once with
    ``age -d`` (which asks for the passphrase on the terminal)."""
    try:
        data = keyring.read_bytes()
    except OSError as exc:
        raise Fatal(f"cannot read the keyring {keyring}: {exc}") from None
    if data.startswith(AGE_INTRO) or data.lstrip().startswith(AGE_ARMOR):
        cmd = [program, "-d", str(keyring)]  # age asks for the passphrase on the terminal
        done = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)  # noqa: S603
        if done.returncode != 0:
            raise Fatal(f"age could not open the protected keyring {keyring}")
        data = done.stdout
    if b"AGE-SECRET-KEY-" not in data and b"AGE-PLUGIN-" not in data:
        raise Fatal(
            f"{keyring} holds no age identity (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1..., "
            "or a plugin's AGE-PLUGIN-...)"
        )
    return data


def bucket_identities(age: Age, blobs: Blobs, problems: list[str]) -> bytes:
    """Each bucket's data identities (``bkey-<bucket>-<version>`` blobs, age files whose
    plaintext is one identity line, encrypted to the keyring): the objects of a bucket are
    wrapped to its identity, not to the keyring. A shredded bucket has none left."""
    found: list[bytes] = []
    for blob_id, paths in sorted(blobs.paths.items()):
        if not blob_id.startswith(KEY_PREFIX):
            continue
        try:
            line = age.stream(paths[0], None, limit=4096).strip()
        except Failure as exc:
            problems.append(f"bucket key {blob_id}: {exc}")
            continue
        if line.startswith(b"AGE-SECRET-KEY-") and b"\n" not in line:
            found.append(b"\n" + line + b"\n")
        else:
            problems.append(f"bucket key {blob_id}: not one age identity line")
    return b"".join(found)


# --- the site copies ----------------------------------------------------------------------


@dataclass
class Blobs:
    """Every blob file found, by id (one path per copy holding it), and what was skipped."""

    paths: dict[str, list[Path]] = field(default_factory=dict)
    ignored: int = 0

    def add_folder(self, root: Path) -> None:
        """A local site folder (fan-out folders) or a flat one (an S3 prefix synced)."""
        if not root.is_dir():
            raise Fatal(f"{root} is not a folder")
        with os.scandir(root) as top:
            for entry in sorted(top, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False) and FAN.fullmatch(entry.name):
                    with os.scandir(entry.path) as inner:
                        for blob in sorted(inner, key=lambda e: e.name):
                            self._add(blob)
                elif not entry.is_dir(follow_symlinks=False):
                    self._add(entry)

    def _add(self, entry: os.DirEntry[str]) -> None:
        if BLOB_ID.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            self.paths.setdefault(entry.name, []).append(Path(entry.path))
        elif entry.name != ".domicile-site":
            self.ignored += 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while piece := f.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()


# --- manifests -----------------------------------------------------------------------------


@dataclass
class Version:
    doc: dict[str, Any]
    blob_id: str
    inline: bytes | None  # an inline object's bytes
    status: str = ""
    note: str | None = None
    problem: bool = False  # an incomplete version that may be the current one

    @property
    def slot(self) -> tuple[str, str]:
        return self.doc["bucket"], self.doc["key"]

    @property
    def order(self) -> tuple[float, str]:
        return float(self.doc["created_at"]), self.doc["version_id"]


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(f"malformed manifest: {what}")


def parse_manifest(blob_id: str, plaintext: bytes) -> Version:
    """The version a manifest blob describes; Failure if it is not a well-formed manifest
    of this blob (its version id must be the blob id without its ``m``)."""
    data, newline, text = plaintext.rpartition(b"\n")
    try:
        doc = json.loads(text)
    except ValueError:
        raise Failure("malformed manifest: not JSON") from None
    _check(isinstance(doc, dict) and doc.get("schema") in (1, 2), "unknown schema")
    for name, kind in (("bucket", str), ("key", str), ("version_id", str), ("etag", str)):
        _check(isinstance(doc.get(name), kind), f"{name} missing")
    _check(type(doc.get("size")) is int and doc["size"] >= 0, "size")
    created = doc.get("created_at")
    _check(type(created) in (int, float) and math.isfinite(created), "created_at")
    _check(isinstance(doc.get("meta"), dict), "meta")
    _check(blob_id == "m" + doc["version_id"], f"version {doc['version_id']!r} in blob {blob_id}")
    if doc["schema"] == 2:
        _check(doc.get("inline") is True and len(data) == doc["size"] and bool(newline), "inline")
        return Version(doc, blob_id, data)
    _check(not newline and "inline" not in doc, "bytes before a schema 1 manifest")
    segments = doc.get("segments")
    _check(isinstance(segments, list) and bool(segments), "segments")
    for s in segments:
        _check(isinstance(s, dict) and isinstance(s.get("blob_id"), str), "segment")
        _check(BLOB_ID.fullmatch(s["blob_id"]) is not None, "segment blob id")
        _check(HEX64.fullmatch(str(s.get("sha256"))) is not None, "segment sha256")
        for name in ("plaintext_size", "ciphertext_length"):
            _check(type(s.get(name)) is int and s[name] >= 0, f"segment {name}")
    _check(sum(s["plaintext_size"] for s in segments) == doc["size"], "segment sizes")
    return Version(doc, blob_id, None)


def read_versions(age: Age, blobs: Blobs, problems: list[str], jobs: int) -> list[Version]:
    """Every manifest that decrypts and parses (``jobs`` age processes at a time); the
    others are problems."""
    ids = sorted(b for b in blobs.paths if MANIFEST.fullmatch(b))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = list(pool.map(lambda blob_id: _read_version(age, blobs, blob_id), ids))
    versions = []
    for found in results:
        if isinstance(found, Version):
            versions.append(found)
        else:
            problems.extend(found)
    return versions


def _read_version(age: Age, blobs: Blobs, blob_id: str) -> Version | list[str]:
    """The version of the first copy of ``blob_id`` that decrypts and parses, or why none."""
    errors = []
    for path in blobs.paths[blob_id]:
        try:
            if path.stat().st_size > MAX_MANIFEST_BLOB:
                raise Failure(f"{blob_id}: larger than {MAX_MANIFEST_BLOB} bytes")
            return parse_manifest(blob_id, age.stream(path, None, MAX_MANIFEST_BLOB))
        except (Failure, OSError) as exc:
            errors.append(f"{path}: {exc}")
    return errors


def complete(version: Version, blobs: Blobs) -> bool:
    """Every segment blob is present at its recorded length (hashes are checked later)."""
    return version.inline is not None or all(
        any(p.stat().st_size == s["ciphertext_length"] for p in blobs.paths.get(s["blob_id"], []))
        for s in version.doc["segments"]
    )


# --- which version is current -------------------------------------------------------------


def choose_by_time(versions: list[Version]) -> None:
    """The newest complete version of each bucket and key is current, the others
    superseded."""
    newest: dict[tuple[str, str], Version] = {}
    for v in versions:
        other = newest.get(v.slot)
        if v.status != "incomplete" and (other is None or v.order > other.order):
            newest[v.slot] = v
    for v in versions:
        if v.status != "incomplete":
            v.status = "current" if newest[v.slot] is v else "superseded"
    mark_incomplete(versions, newest)


def mark_incomplete(versions: list[Version], current: dict[tuple[str, str], Version]) -> None:
    """An incomplete version older than its key's current one is most likely garbage
    collected half-way (not a problem); a newer one, or one of a key with no current
    version, may be the object's real current version with a blob lost (a problem)."""
    for v in versions:
        if v.status == "incomplete":
            other = current.get(v.slot)
            v.problem = other is None or v.order > other.order


Export = tuple[dict[tuple[str, str], dict[str, Any]], set[str], int, int]


def read_export(sources: list[tuple[str, str]]) -> Export:
    """From audit exports (name, text): the last put/copy/delete record per bucket and
    key, every version id a put/copy record names, and the times (µs) of the first and
    last record. A record seen twice (segments of several sites) counts once."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    named: set[str] = set()
    times: dict[int, int] = {}
    for name, text in sources:
        for number, line in enumerate(text.split("\n"), 1):
            try:
                obj = json.loads(line) if line.strip() else {}
                if not isinstance(obj, dict):
                    raise TypeError("not a JSON object")
                if obj.get("type") != "record" or obj["seq"] in times:
                    continue
                times[obj["seq"]] = int(obj["time"])
                if obj["action"] in ("put", "copy", "delete") and obj["result"] == "ok":
                    slot = (obj["bucket"], obj["key"])
                    if slot not in last or obj["seq"] > last[slot]["seq"]:
                        last[slot] = obj
                    if obj["action"] != "delete":
                        named.add(obj["version"])
            except (ValueError, KeyError, TypeError) as exc:
                raise Fatal(f"audit export {name} line {number}: {exc}") from None
    if not times:
        raise Fatal(f"no audit record in {', '.join(n for n, _ in sources) or 'no export'}")
    return last, named, min(times.values()), max(times.values())


def exports(args: argparse.Namespace, age: Age, blobs: Blobs) -> list[tuple[str, str]]:
    """The audit export given, or the history segments (``alog-``) found on the sites,
    each an audit export encrypted to the keyring."""
    if args.audit_export:
        try:
            return [(str(args.audit_export), args.audit_export.read_text(encoding="utf-8"))]
        except (OSError, UnicodeDecodeError) as exc:
            raise Fatal(f"cannot read the audit export {args.audit_export}: {exc}") from None
    found = []
    for blob_id in sorted(b for b in blobs.paths if HISTORY.fullmatch(b)):
        errors = []
        for path in blobs.paths[blob_id]:
            try:
                text = age.stream(path, None, MAX_MANIFEST_BLOB).decode("utf-8")
                found.append((blob_id, text))
                break
            except (Failure, UnicodeDecodeError) as exc:
                errors.append(f"{path}: {exc}")
        else:
            raise Fatal(f"history segment {blob_id} is unreadable: {'; '.join(errors)}")
    if not found:
        raise Fatal("--site-history: no audit history segment (alog-...) in the folders")
    return found


def choose_by_export(
    versions: list[Version], export: Export, *, strict: bool = False
) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    """Mark each version by the export (docs/exit.md, "Which version is current"); return
    the keys whose current version, per the export, no copy holds complete."""
    last, named, start, end = export
    by_slot: dict[tuple[str, str], list[Version]] = {}
    for v in versions:
        by_slot.setdefault(v.slot, []).append(v)
    live = {slot for slot, record in last.items() if record["action"] != "delete"}
    absent = []
    current: dict[tuple[str, str], Version] = {}
    for slot in sorted(set(by_slot) | live):
        usable = [v for v in by_slot.get(slot, []) if v.status != "incomplete"]
        record = last.get(slot)
        unnamed = [v for v in usable if v.doc["version_id"] not in named]
        later = [v for v in unnamed if v.order[0] * 1e6 > end]
        earlier = [v for v in unnamed if v.order[0] * 1e6 < start and record is None]
        if strict:
            for v in [*later, *earlier]:
                v.status, v.note = "outside-export", "written outside the export's time span"
            later, earlier = [], []
        if later or earlier:
            chosen = current[slot] = max(later or earlier, key=lambda v: v.order)
            chosen.note = "written outside the audit export's time span: the newest one taken"
        elif slot in live:
            assert record is not None
            found = [v for v in usable if v.doc["version_id"] == record["version"]]
            if found:
                current[slot] = found[0]
                said = (record["detail"].get("size"), record["detail"].get("etag"))
                if (found[0].doc["size"], found[0].doc["etag"]) != said:
                    found[0].status = "failed"
                    found[0].note = "its size or ETag differs from its audit record"
            else:
                absent.append((slot, record))
        outside = {v.doc["version_id"] for v in [*later, *earlier]}
        _mark(usable, current.get(slot), named | outside, record)
    mark_incomplete(versions, current)
    return absent


def _mark(
    usable: list[Version], chosen: Version | None, named: set[str], record: dict[str, Any] | None
) -> None:
    deleted = record["version"] if record is not None and record["action"] == "delete" else None
    for v in usable:
        vid = v.doc["version_id"]
        if v.status == "outside-export":
            continue
        if v is chosen:
            v.status = v.status or "current"  # or "failed", set by the caller
        elif vid not in named:
            v.status, v.note = "never-committed", "no put or copy record names this version"
        else:
            v.status = "deleted" if vid == deleted else "superseded"


# --- output paths ---------------------------------------------------------------------------


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _plain(key: str) -> bool:
    """Whether ``key`` can be a relative path as it is (before conflicts are looked at)."""
    try:
        sizes = [len(p.encode()) for p in key.split("/")]  # a lone surrogate raises
    except UnicodeEncodeError:
        return False
    return (
        sum(sizes) <= 1024
        and all(0 < n <= 255 for n in sizes)
        and not any(p in (".", "..") or CONTROL.search(p) for p in key.split("/"))
    )


def bucket_folder(bucket: str) -> str:
    if BUCKET.fullmatch(bucket) and ".." not in bucket:
        return bucket
    return "_" + hashlib.sha256(bucket.encode("utf-8", "surrogatepass")).hexdigest()


def plan_paths(slots: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The relative output path of each bucket and key (docs/exit.md, "Names to paths")."""
    folders: dict[str, set[str]] = {}
    for bucket, key in slots:
        parts = key.split("/")
        dirs = folders.setdefault(bucket, set())
        dirs.update(_norm("/".join(parts[:i])) for i in range(1, len(parts)))
    taken: set[tuple[str, str]] = set()
    out = {}
    for bucket, key in sorted(slots):
        folder = bucket_folder(bucket)
        if _plain(key) and _norm(key) not in folders[bucket] and (bucket, _norm(key)) not in taken:
            taken.add((bucket, _norm(key)))
            out[(bucket, key)] = f"objects/{folder}/{key}"
        else:
            out[(bucket, key)] = hashed_path(bucket, key)
    return out


def hashed_path(bucket: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"hashed/{bucket_folder(bucket)}/{digest}"


class Output:
    """The output folder: every file created exclusively, under it, never through a link."""

    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise Fatal(f"the output {root} must be a new or empty folder")
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root.resolve()
        (self.root / ".partial").mkdir(mode=0o700)
        self._count = 0

    def partial(self) -> tuple[Path, BinaryIO]:
        self._count += 1
        path = self.root / ".partial" / str(self._count)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        return path, os.fdopen(fd, "wb")

    def place(self, partial: Path, relative: str, fallback: str) -> str:
        """Give ``partial`` the name ``relative``, or ``fallback`` if the file system
        refuses that name (a FAT or NTFS disk: ``:``, ``?``, ...); return the name used."""
        try:
            self._place(partial, relative)
            return relative
        except OSError as exc:
            if relative == fallback:
                raise
            refused = exc
        try:
            self._place(partial, fallback)
        except OSError:
            raise refused from None
        return fallback

    def _place(self, partial: Path, relative: str) -> None:
        target = self.root / relative
        folder = self.root
        for part in relative.split("/")[:-1]:
            folder = folder / part
            try:
                folder.mkdir(0o700)
            except FileExistsError:
                if folder.is_symlink() or not folder.is_dir():
                    raise Failure(f"{folder} is not a folder") from None
        if not target.resolve().is_relative_to(self.root) or target.exists():
            raise Failure(f"{relative}: refused (outside the output, or taken)")
        try:
            os.link(partial, target)  # never replaces an existing name
        except FileExistsError:
            raise Failure(f"{relative}: taken") from None
        except OSError as exc:
            if exc.errno not in NO_LINKS:
                raise
            partial.rename(target)  # a file system without hard links; checked free above
            return
        partial.unlink()

    def finish(self) -> None:
        shutil.rmtree(self.root / ".partial", ignore_errors=True)


# --- recovery -------------------------------------------------------------------------------


class Hashing:
    """A file that hashes what is written to it: SHA-256 for the index, MD5 for a single
    PUT's ETag, and one MD5 per part for a multipart ETag when the part sizes are known."""

    def __init__(self, f: BinaryIO, part_sizes: list[int]) -> None:
        self.f, self.size = f, 0
        self.md5, self.sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        self._ends = list(itertools.accumulate(part_sizes))
        self._part = hashlib.md5(usedforsecurity=False)
        self._digests: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.sha256.update(data)
        view = memoryview(data)
        while view and len(self._digests) < len(self._ends):
            n = min(len(view), self._ends[len(self._digests)] - self.size)
            self._part.update(view[:n])
            self.size, view = self.size + n, view[n:]
            self._end_parts()
        self.size += len(view)
        return self.f.write(data)

    def _end_parts(self) -> None:
        while len(self._digests) < len(self._ends) and self.size == self._ends[len(self._digests)]:
            self._digests.append(self._part.digest())
            self._part = hashlib.md5(usedforsecurity=False)

    def multipart_etag(self) -> str:
        """``hex(MD5(MD5(part 1) ‖ … ‖ MD5(part N)))-N``, as S3 computes it."""
        self._end_parts()
        joined = hashlib.md5(b"".join(self._digests), usedforsecurity=False).hexdigest()
        return f"{joined}-{len(self._digests)}"


def part_sizes(doc: dict[str, Any]) -> list[int]:
    """The manifest's ``part_sizes`` when they can check its multipart ETag, else []."""
    sizes, etag = doc.get("part_sizes"), doc["etag"]
    if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
        return []
    if sum(sizes) != doc["size"] or not etag.endswith(f"-{len(sizes)}"):
        return []
    return sizes


def recover(
    age: Age, blobs: Blobs, version: Version, out: Output, relative: str
) -> tuple[str, str]:
    """Write the version's bytes to ``relative`` (or its hashed path, if the file system
    refuses that name); return the path used and the bytes' SHA-256. Raises Failure (and
    leaves nothing behind) if a segment or the whole differs from the manifest."""
    partial, f = out.partial()
    parts = part_sizes(version.doc)
    with f:
        sink = Hashing(f, parts)
        if version.inline is not None:
            sink.write(version.inline)
        for s in version.doc.get("segments", []):
            path = next(
                (
                    p
                    for p in blobs.paths.get(s["blob_id"], [])
                    if p.stat().st_size == s["ciphertext_length"] and sha256_of(p) == s["sha256"]
                ),
                None,
            )
            if path is None:
                raise Failure(f"segment {s['blob_id']}: no copy with the manifest's SHA-256")
            before = sink.size
            age.stream(path, sink)
            if sink.size - before != s["plaintext_size"]:
                raise Failure(f"segment {s['blob_id']}: {sink.size - before} bytes, not as listed")
        f.flush()
        os.fsync(f.fileno())
    etag = version.doc["etag"]
    if sink.size != version.doc["size"]:
        raise Failure(f"{sink.size} bytes, the manifest says {version.doc['size']}")
    if "-" not in etag and sink.md5.hexdigest() != etag:
        raise Failure("the bytes' MD5 differs from the manifest's ETag")
    if parts and sink.multipart_etag() != etag:
        raise Failure("the parts' MD5s differ from the manifest's multipart ETag")
    used = out.place(partial, relative, hashed_path(*version.slot))
    return used, sink.sha256.hexdigest()


def index_line(version: Version, status: str, relative: str | None, **extra: Any) -> str:
    doc = version.doc
    entry = {
        "bucket": doc["bucket"],
        "key": doc["key"],
        "status": status,
        "file": relative,
        "version_id": doc["version_id"],
        "created_at": doc["created_at"],
        "size": doc["size"],
        "etag": doc["etag"],
        "meta": doc["meta"],
        "checksums": doc.get("checksums", {}),
        "checksum_type": doc.get("checksum_type"),
        "policy": doc.get("policy"),
        "tenant": doc.get("tenant"),
        "layout": "inline" if version.inline is not None else f"{len(doc['segments'])} segments",
        "etag_checked": "-" not in doc["etag"] or bool(part_sizes(doc)),
        "note": version.note,
        **extra,
    }
    return json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n"


def write_index(
    age: Age,
    blobs: Blobs,
    versions: list[Version],
    *,
    absent: list[tuple[tuple[str, str], dict[str, Any]]],
    out: Output,
    problems: list[str],
) -> dict[str, int]:
    """Recover every current version, write ``index.jsonl``; return the count per status."""
    paths = plan_paths(sorted({v.slot for v in versions if v.status == "current"}))
    counts: dict[str, int] = {}
    with (out.root / "index.jsonl").open("x", encoding="utf-8") as index:
        for v in sorted(versions, key=lambda v: (v.slot, v.order)):
            status, relative, extra = v.status, None, {}
            if status == "current":
                try:
                    relative, extra["sha256"] = recover(age, blobs, v, out, paths[v.slot])
                    status = "recovered"
                except (Failure, OSError) as exc:
                    status, v.note = "failed", str(exc)
            if status == "failed" or (status == "incomplete" and v.problem):
                problems.append(f"{v.doc['bucket']}/{v.doc['key']} ({v.blob_id}): {v.note}")
            counts[status] = counts.get(status, 0) + 1
            index.write(index_line(v, status, relative, **extra))
        for (bucket, key), record in absent:
            counts["absent"] = counts.get("absent", 0) + 1
            entry = {"bucket": bucket, "key": key, "status": "absent", "file": None}
            entry |= {"version_id": record["version"], "note": "no copy holds this version"}
            index.write(json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n")
    return counts


def run(args: argparse.Namespace) -> int:
    if args.audit_export and args.site_history:
        raise Fatal("--audit-export and --site-history exclude each other")
    if args.strict and not (args.audit_export or args.site_history):
        raise Fatal("--strict needs --audit-export or --site-history")
    program = shutil.which(args.age)
    if program is None:
        raise Fatal(f"the age command ({args.age}) is missing: apt-get install age")
    age = Age(program, load_identities(program, args.keyring))
    blobs = Blobs()
    for folder in args.folders:
        blobs.add_folder(folder)
    problems: list[str] = []
    age.identities += bucket_identities(age, blobs, problems)
    by_export = args.audit_export or args.site_history
    export = read_export(exports(args, age, blobs)) if by_export else None
    out = Output(args.out)
    versions = read_versions(age, blobs, problems, args.jobs)
    for v in versions:
        if not complete(v, blobs):
            v.status, v.note = "incomplete", "a segment blob is missing or has the wrong length"
    absent: list[tuple[tuple[str, str], dict[str, Any]]] = []
    if export is not None:
        absent = choose_by_export(versions, export, strict=args.strict)
    else:
        choose_by_time(versions)
    counts = write_index(age, blobs, versions, absent=absent, out=out, problems=problems)
    used = {v.blob_id for v in versions} | {
        s["blob_id"] for v in versions for s in v.doc.get("segments", [])
    }
    unused = sorted(b for b in blobs.paths if b not in used and not b.startswith(KEY_PREFIX))
    rule = "audit-export" if args.audit_export else "newest-manifest"
    rule = "site-history" if args.site_history else rule
    summary = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "rule": rule + " strict" * args.strict,
        "folders": [str(f) for f in args.folders],
        "counts": counts,
        "skipped": {
            "checkpoints": sum(b.startswith(("ckpt-", "tlog-")) for b in unused),
            "unreferenced_data_blobs": sum(b.startswith("b") for b in unused),
            "history_segments": sum(HISTORY.fullmatch(b) is not None for b in unused),
            "other_blobs": [
                b
                for b in unused
                if not (
                    b.startswith(("ckpt-", "tlog-", "b"))
                    or MANIFEST.fullmatch(b)
                    or HISTORY.fullmatch(b)
                )
            ],
            "ignored_files": blobs.ignored,
        },
        "problems": problems,
    }
    (out.root / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    out.finish()
    print(f"{FORMAT}: {json.dumps(counts, sort_keys=True)}; see {out.root}/index.jsonl")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 3 if absent else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="domicile-exit", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="copies of site folders")
    parser.add_argument("--keyring", type=Path, required=True, help="the keyring file")
    parser.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("--audit-export", type=Path, help="an audit export (JSON lines)")
    parser.add_argument(
        "--site-history",
        action="store_true",
        help="use the audit history segments (alog-...) found in the folders as the export",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="with an export: recover only versions it names",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="age processes at a time"
    )
    parser.add_argument("--age", default="age", help="the age command (default: age)")
    try:
        return run(parser.parse_args(argv))
    except Fatal as exc:
        print(f"{FORMAT}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
