"""The audit log as a transparency log: tree checkpoints beside the chain's, witnessed.

Every time the sealer signs a chain checkpoint at seq S (after verifying it,
:mod:`domicile.engine.auditseal`), :meth:`TreeLog.extend` signs a C2SP checkpoint of the
RFC 9162 tree whose leaves are records 1..S (docs/transparency.md)::

    <origin>
    <S>
    <root hash, base64>
    domicile-chain <hash of record S>        (an extension line: binds the chain's head)

It is checked before it is signed: the new records must link to the chain head of the
previous tree checkpoint (read from its extension line, under our signature) and end at
the head the sealer just signed; a tree built from scratch (no tree checkpoint yet: an
existing deployment's first one) walks the links from record 1. The checkpoint is stored
in the catalog with the tree's compact range, so the next one hashes only the new records.

Then each configured witness gets it (c2sp.org/tlog-witness) with a consistency proof from
the size it last cosigned, and its cosignature is added to the note. A witness that
answers 422 (the proof does not verify) or 409 at the same size (another root) has seen a
different history under our key: that is a fork, reported as :class:`AuditAltered`. A
witness that is down or slow only leaves the checkpoint short of its cosignature:
``audit verify`` then says the checkpoint is not witnessed. Finally the note (with the
cosignatures gathered) is written once to every evidence site as ``tlog-<size>``.

:meth:`TreeLog.findings` is ``audit verify``'s part: every tree checkpoint of the catalog
and the sites, its signature and its root recomputed over the catalog's records in one
pass, and the newest one's witness quorum.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domicile.audit import ZERO, AuditKey, Checkpoint, Problem, ProblemKind, Record
from domicile.audit.merkle import (
    CompactRange,
    consistency_proof,
    extension_proof,
    inclusion_proof,
    leaf_hash,
)
from domicile.audit.note import (
    Note,
    NoteSignature,
    NoteSigner,
    parse_note,
    verify_note,
)
from domicile.audit.proofs import consistency_bundle, inclusion_bundle
from domicile.audit.record import link_of
from domicile.audit.tlog import CosignatureVerifier, TreeHead, cosignatures, parse_tree_head
from domicile.catalog import Catalog
from domicile.config import WitnessSection
from domicile.errors import (
    AuditAltered,
    AuditFormatError,
    ConfigError,
    ObjectNotFound,
    SiteError,
)
from domicile.sites import Site

log = logging.getLogger("domicile.audit")

TREE_PREFIX = "tlog-"
CHAIN_LINE = "domicile-chain "
_NAME = re.compile(r"tlog-(\d{20})")
_PAGE = 5000


def tree_file(size: int) -> str:
    """The blob id of the tree checkpoint of ``size`` on a site."""
    return f"{TREE_PREFIX}{size:020d}"


@dataclass(frozen=True, slots=True)
class Witness:
    """A witness the deployment asks for cosignatures: where, and how to check them."""

    url: str
    verifier: CosignatureVerifier

    @classmethod
    def of(cls, section: WitnessSection) -> Witness:
        try:
            verifier = CosignatureVerifier.from_vkey(section.key)
        except ValueError as err:
            raise ConfigError(f"[audit] witness {section.url}: bad key: {err}") from err
        return cls(section.url.rstrip("/"), verifier)

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True, slots=True)
class TreeCheckpoint:
    """A verified tree checkpoint: its note (with cosignatures), head and compact range."""

    note: Note
    head: TreeHead
    nodes: CompactRange

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def chain_head(self) -> str:
        return chain_head_of(self.head)


def chain_head_of(head: TreeHead) -> str:
    """The chain head hash a tree checkpoint's extension line binds (ZERO for size 0)."""
    for line in head.extensions:
        if line.startswith(CHAIN_LINE):
            return line.removeprefix(CHAIN_LINE)
    return ZERO


def _altered(message: str, seq: int, hint: str = "run `domicile audit verify`") -> AuditAltered:
    return AuditAltered(message, hint=hint, operation="audit-tree", seq=seq)


class TreeLog:
    """Signs, witnesses, stores and checks the tree checkpoints (see the module)."""

    def __init__(
        self,
        catalog: Catalog,
        key: AuditKey,
        origin: str,
        sites: Mapping[str, Site],
        witnesses: Sequence[Witness] = (),
        *,
        quorum: int = 0,
        timeout: float = 3.0,
    ) -> None:
        self._catalog = catalog
        self._sites = sites
        self.signer = NoteSigner(origin, key.private)
        self.origin = origin
        self.witnesses = list(witnesses)
        self.quorum = quorum
        self._timeout = timeout
        self._lock = threading.Lock()
        self._state: TreeCheckpoint | None = None

    # --- reading ------------------------------------------------------------------------

    def open_note(self, text: str) -> TreeCheckpoint | None:
        """A tree checkpoint note without its range, verified (signature, origin); None
        when it is malformed or not ours (the caller reports that)."""
        try:
            note = parse_note(text)
            verify_note(note, [self.signer.verifier()])
            head = parse_tree_head(note.text)
        except AuditFormatError:
            return None
        if head.origin != self.origin:
            return None
        return TreeCheckpoint(note, head, CompactRange())

    def _stored(self, size: int | None = None) -> TreeCheckpoint | None:
        """The newest stored tree checkpoint (or the one of ``size``), verified: our
        signature, our origin, and a range that folds to its root."""
        rows = (
            self._catalog.tree_checkpoints(newest=1)
            if size is None
            else self._catalog.tree_checkpoints(at=size)
        )
        if not rows:
            return None
        stored_size, text, nodes = rows[-1]
        opened = self.open_note(text)
        if opened is None or opened.size != stored_size:
            raise _altered(
                f"the tree checkpoint of size {stored_size} in the catalog is not ours", stored_size
            )
        try:
            compact = CompactRange.restore(
                stored_size, [base64.b64decode(n) for n in nodes.split()]
            )
        except ValueError as err:
            raise _altered(
                f"the tree range of size {stored_size} is malformed: {err}", stored_size
            ) from err
        if compact.root() != opened.head.root:
            raise _altered(
                f"the tree range of size {stored_size} does not fold to its root", stored_size
            )
        return TreeCheckpoint(opened.note, opened.head, compact)

    def checkpoints(self) -> list[TreeCheckpoint]:
        """Every stored tree checkpoint whose note verifies (ranges not loaded)."""
        found = []
        for _, text, _ in self._catalog.tree_checkpoints():
            opened = self.open_note(text)
            if opened is not None:
                found.append(opened)
        return found

    def _records(self, after: int, upto: int) -> Iterator[tuple[int, str, str]]:
        since = after
        while since < upto:
            rows = self._catalog.audit_records(since=since, limit=min(_PAGE, upto - since))
            if not rows:
                return
            yield from rows
            since = rows[-1][0]

    def _new_leaves(self, after: int, prev: str, cp: Checkpoint) -> Iterator[bytes]:
        """Leaf hashes of records ``after + 1 .. cp.seq`` from the catalog, read a page at
        a time and checked as :func:`_linked_leaves` does (each links to the one before,
        the first to ``prev``, the last is ``cp``'s head): a tree built from scratch over a
        long chain (a rebuilt catalog) holds no record list. Raises before the last leaf
        when a check fails."""
        expect = after + 1
        for seq, _, body in self._records(after, cp.seq):
            link = link_of(body)
            if seq != expect or link.seq != seq:
                raise _altered(f"audit record {expect} is missing from the catalog", expect)
            if link.prev != prev:
                raise _altered(f"audit record {seq} does not link to the one before it", seq)
            yield leaf_hash(link.canonical)
            prev = link.hash
            expect += 1
        if expect - 1 != cp.seq or prev != cp.head_hash:
            raise _altered(f"the audit records do not end at the signed head {cp.seq}", cp.seq)

    # --- signing ------------------------------------------------------------------------

    def extend(self, cp: Checkpoint, verified: Sequence[Record] = ()) -> TreeCheckpoint | None:
        """Sign, witness and store the tree checkpoint of ``cp.seq`` (see the module).
        None when a tree of that size or larger is signed already, or when the catalog
        lacks the start of the history (a lost catalog before its history is restored).
        ``verified``: records just verified up to ``cp`` (the sealer's), used instead of
        reading the catalog when they start right after the previous tree."""
        with self._lock:
            prev = self._state or self._stored()
            if prev is not None and prev.size >= cp.seq:
                self._state = prev
                return None
            if prev is None:
                first = self._catalog.audit_records(since=0, limit=1)
                if not first or first[0][0] != 1:
                    log.warning("audit tree not signed: records 1.. are not in the catalog yet")
                    return None
                prev = TreeCheckpoint(
                    Note(""), TreeHead(self.origin, 0, CompactRange().root()), CompactRange()
                )
            compact = CompactRange.restore(prev.size, prev.nodes.nodes)
            leaves: list[bytes] = []
            if verified and verified[0].seq == prev.size + 1 and verified[-1].seq == cp.seq:
                leaves = _linked_leaves(verified, prev.chain_head, cp)
                compact.extend(leaves)
            elif self.witnesses:  # their consistency proofs need the new leaves
                leaves = list(self._new_leaves(prev.size, prev.chain_head, cp))
                compact.extend(leaves)
            else:
                for leaf in self._new_leaves(prev.size, prev.chain_head, cp):
                    compact.append(leaf)
            head = TreeHead(self.origin, cp.seq, compact.root(), (f"{CHAIN_LINE}{cp.head_hash}",))
            body = head.body()
            note = Note(body, (self.signer.sign(body),))
            made = TreeCheckpoint(note, head, compact)
            self._store(made)
            if self.witnesses:
                made = self._witness(made, prev, leaves)
            self._publish(made)
            self._state = made
            return made

    def _store(self, made: TreeCheckpoint) -> None:
        nodes = " ".join(base64.b64encode(n).decode("ascii") for n in made.nodes.nodes)
        self._catalog.put_tree_checkpoint(made.size, made.note.to_bytes().decode("utf-8"), nodes)

    def _publish(self, made: TreeCheckpoint) -> None:
        data = made.note.to_bytes()
        for site_id, site in self._sites.items():
            try:
                if site.put_once(tree_file(made.size), data):
                    continue
                there = self.open_note(
                    b"".join(site.get(tree_file(made.size))).decode("utf-8", "replace")
                )
            except SiteError:
                continue  # the site lacks this one; verify reads every site
            if there is None:  # not signed by us: planted; `audit verify` reports it
                log.warning("site %s holds a planted %s", site_id, tree_file(made.size))
            elif there.head != made.head:
                raise _altered(
                    f"site {site_id} holds another tree checkpoint of size {made.size}", made.size
                )

    # --- witnesses ----------------------------------------------------------------------

    def _witness(
        self, made: TreeCheckpoint, prev: TreeCheckpoint, leaves: Sequence[bytes]
    ) -> TreeCheckpoint:
        gathered = []
        for witness in self.witnesses:
            line = self._ask(witness, made, prev, leaves)
            if line is not None:
                gathered.append(line)
        if gathered:
            made = TreeCheckpoint(made.note.with_signatures(gathered), made.head, made.nodes)
            self._store(made)
        have = len(cosignatures(made.note, [w.verifier for w in self.witnesses]))
        if have < self.quorum:
            log.warning(
                "audit tree checkpoint %d has %d of the %d witness cosignatures it needs",
                made.size,
                have,
                self.quorum,
            )
        return made

    def _ask(
        self,
        witness: Witness,
        made: TreeCheckpoint,
        prev: TreeCheckpoint,
        leaves: Sequence[bytes],
    ) -> NoteSignature | None:
        """Submit ``made`` to ``witness`` (once more from the size it says it holds, when
        that is another checkpoint of ours); its verified cosignature line, or None."""
        # Assume it cosigned our previous checkpoint; if not, it says which size it holds.
        old = prev
        for _ in range(2):
            proof = self._proof(old, prev, made, leaves)
            if proof is None:
                return None
            status, body = self._post(witness, old.size, proof, made.note)
            if status == 200:
                return self._cosignature(witness, made, body)
            if status == 409 and body.strip().isdigit():
                size = int(body.strip())
                if size == made.size:
                    raise _altered(
                        f"witness {witness.name} cosigned another tree of size {size}: "
                        "this history forks from the one it saw",
                        size,
                        hint="the catalog or the audit key was used to rewrite history",
                    )
                found = self._stored(size) if size else None
                if found is None and 0 < size < made.size and prev.size == 0:
                    # This tree was built from record 1 (a rebuilt catalog keeps no tree):
                    # its leaves prove any smaller size; the witness judges the proof.
                    found = _sized(self.origin, size)
                if size and found is None:
                    raise _altered(
                        f"witness {witness.name} cosigned a tree of size {size} that this "
                        "catalog never signed",
                        size,
                    )
                if size > made.size or size == old.size:
                    return None  # another process of ours is ahead, or nothing new to try
                old = found or _empty(self.origin)
                continue
            if status == 422:
                raise _altered(
                    f"witness {witness.name} refuses tree {made.size}: it does not extend the "
                    f"tree of size {old.size} it cosigned (history rewritten or forked)",
                    made.size,
                )
            log.warning("witness %s answered %s to tree %d", witness.name, status, made.size)
            return None
        return None

    def _proof(
        self,
        old: TreeCheckpoint,
        prev: TreeCheckpoint,
        made: TreeCheckpoint,
        leaves: Sequence[bytes],
    ) -> list[bytes] | None:
        if old.size == 0:
            return []
        if old.size == prev.size:
            return extension_proof(prev.nodes, leaves)
        if old.size > made.size:
            return None
        if prev.size == 0:  # ``leaves`` are the whole tree
            return consistency_proof(leaves, old.size, made.size)
        more = [_leaf(body) for _, _, body in self._records(old.size, prev.size)]
        return extension_proof(old.nodes, [*more, *leaves])

    def _post(
        self, witness: Witness, old: int, proof: Sequence[bytes], note: Note
    ) -> tuple[int, str]:
        lines = [f"old {old}\n", *(base64.b64encode(p).decode() + "\n" for p in proof)]
        body = ("".join(lines) + "\n").encode() + Note(note.text, note.signatures[:1]).to_bytes()
        # The URL's scheme is http(s): [audit] witnesses checks it.
        url = witness.url + "/add-checkpoint"
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:  # noqa: S310
                return resp.status, resp.read(1 << 16).decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read(1 << 16).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            log.warning("witness %s unreachable: %s", witness.name, err)
            return 0, ""

    def _cosignature(
        self, witness: Witness, made: TreeCheckpoint, body: str
    ) -> NoteSignature | None:
        try:
            answer = parse_note(made.note.text + "\n" + body)
        except AuditFormatError:
            log.warning("witness %s answered a malformed cosignature", witness.name)
            return None
        for sig in answer.signatures:
            try:
                if witness.verifier.timestamp_of(made.note.text, sig) is not None:
                    return sig
            except AuditFormatError:
                log.warning("witness %s answered a cosignature that does not verify", witness.name)
        return None

    # --- proofs -------------------------------------------------------------------------

    def prove(self, bucket: str, key: str | None) -> dict[str, Any]:
        """An inclusion bundle (:mod:`domicile.audit.proofs`) of every record about
        ``bucket``/``key`` (``key`` None: about the bucket itself) against the newest tree
        checkpoint. Reads the records once; holds 32 bytes per record."""
        newest = self._stored()
        if newest is None:
            raise AuditFormatError(
                "no tree checkpoint is signed yet", hint="run any command that seals the log"
            )
        leaves: list[bytes] = []
        matching: list[Record] = []
        for _, _, body in self._records(0, newest.size):
            record = Record.from_body(json.loads(body))
            leaves.append(leaf_hash(record.canonical))
            if record.bucket == bucket and record.key == key:
                matching.append(record)
        if len(leaves) != newest.size or CompactRange.of(leaves).root() != newest.head.root:
            raise _altered(
                "the catalog's records do not hash to the newest tree checkpoint", newest.size
            )
        if not matching:
            raise ObjectNotFound(
                f"no audit record names {bucket}/{key or ''}", bucket=bucket, key=key
            )
        entries = [(r, inclusion_proof(leaves, r.seq - 1)) for r in matching]
        return inclusion_bundle(newest.note, entries)

    def consistency(self, old: int, new: int) -> dict[str, Any]:
        """A consistency bundle between the stored tree checkpoints of sizes ``old`` and
        ``new`` (reads only the records between them)."""
        first, second = self._stored(old), self._stored(new)
        if first is None or second is None or old > new:
            sizes = ", ".join(str(c.size) for c in self.checkpoints()) or "none"
            raise AuditFormatError(
                f"no tree checkpoints of sizes {old} and {new} (old first)",
                hint=f"the signed sizes are: {sizes}",
            )
        leaves = [_leaf(body) for _, _, body in self._records(old, new)]
        return consistency_bundle(first.note, second.note, extension_proof(first.nodes, leaves))

    # --- verification -------------------------------------------------------------------

    def root_check(self) -> RootCheck:
        """The catalog's tree checkpoints (each signature checked), ready to have their
        roots recomputed from the records fed to it in one pass (``audit verify`` feeds it
        while it checks the chain, so the records are read once)."""
        problems: list[Problem] = []
        heads: dict[int, TreeHead] = {}
        for size, text, _ in self._catalog.tree_checkpoints():
            opened = self.open_note(text)
            if opened is None or opened.size != size:
                problems.append(
                    Problem(
                        size,
                        ProblemKind.BAD_SIGNATURE,
                        f"the catalog's tree checkpoint of size {size} is not signed by "
                        "the audit key",
                    )
                )
            else:
                heads[size] = opened.head
        return RootCheck(heads, problems)

    def findings(self, check: RootCheck | None = None) -> tuple[list[Problem], list[str]]:
        """``audit verify``'s part (see the module): problems (tampering) and notices.
        ``check``: a :meth:`root_check` already fed every record (else the records are read
        here)."""
        if check is None:
            check = self.root_check()
            for seq, _, body in self._records(0, check.upto):
                if not check.add(seq, _canonical(body)):
                    break
        heads = check.heads
        problems: list[Problem] = list(check.signature_problems)
        for site_id, site in self._sites.items():
            problems += self._site_findings(site_id, site, heads)
        problems += check.problems
        notices: list[str] = []
        if heads and self.witnesses:
            try:
                newest = self._stored()
            except AuditAltered:
                newest = None  # reported above
            have = cosignatures(newest.note, [w.verifier for w in self.witnesses]) if newest else []
            if len(have) < self.quorum:
                notices.append(
                    f"the newest tree checkpoint ({max(heads)}) has {len(have)} of the "
                    f"{self.quorum} witness cosignatures required: not witnessed yet"
                )
        return problems, notices

    def _site_findings(self, site_id: str, site: Site, heads: dict[int, TreeHead]) -> list[Problem]:
        problems: list[Problem] = []
        try:
            names = [
                (m, i.blob_id) for i in site.list(TREE_PREFIX) if (m := _NAME.fullmatch(i.blob_id))
            ]
            files = [(int(m.group(1)), b"".join(site.get(blob))) for m, blob in names]
        except SiteError:
            return []
        for size, data in files:
            opened = self.open_note(data.decode("utf-8", "replace"))
            if opened is None or opened.size != size:
                problems.append(
                    Problem(
                        size,
                        ProblemKind.BAD_SIGNATURE,
                        f"site {site_id}: {tree_file(size)} is not a tree checkpoint signed "
                        "by the audit key: it was planted",
                    )
                )
            elif size in heads and heads[size] != opened.head:
                problems.append(
                    Problem(
                        size,
                        ProblemKind.FORKED,
                        f"site {site_id} and the catalog hold different tree checkpoints "
                        f"of size {size}",
                    )
                )
            else:
                heads.setdefault(size, opened.head)
        return problems


class RootCheck:
    """The root of every signed tree size, recomputed from the records fed in seq order
    (:meth:`add`), holding only the compact range (O(log n) hashes)."""

    def __init__(self, heads: dict[int, TreeHead], signature_problems: list[Problem]) -> None:
        self.heads = heads
        self.signature_problems = signature_problems
        self.problems: list[Problem] = []
        self._wanted = sorted(heads)
        self._at = 0
        self._compact = CompactRange()
        #: The last seq that needs feeding.
        self.upto = self._wanted[-1] if self._wanted else 0

    def add(self, seq: int, canonical: bytes) -> bool:
        """Feed record ``seq`` (its canonical bytes); False once no more is needed: every
        signed size was reached, or a gap stopped the recompute (the chain check reports
        the gap)."""
        if self._at >= len(self._wanted) or seq != self._compact.size + 1:
            self._at = len(self._wanted)
            return False
        self._compact.append(leaf_hash(canonical))
        size = self._compact.size
        while self._at < len(self._wanted) and self._wanted[self._at] == size:
            if self._compact.root() != self.heads[size].root:
                self.problems.append(
                    Problem(
                        size,
                        ProblemKind.CHECKPOINT_MISMATCH,
                        f"the records 1..{size} do not hash to the signed tree "
                        "checkpoint of that size",
                    )
                )
            self._at += 1
        return self._at < len(self._wanted)


def _linked_leaves(records: Sequence[Record], prev: str, cp: Checkpoint) -> list[bytes]:
    """The leaf hashes of ``records``, each checked to link to the one before (the first to
    ``prev``, the chain head the previous tree checkpoint binds), the last to be ``cp``'s
    signed head."""
    leaves: list[bytes] = []
    for record in records:
        if record.prev != prev:
            raise _altered(
                f"audit record {record.seq} does not link to the one before it", record.seq
            )
        leaves.append(leaf_hash(record.canonical))
        prev = record.hash
    if not records or records[-1].seq != cp.seq or prev != cp.head_hash:
        raise _altered(f"the audit records do not end at the signed head {cp.seq}", cp.seq)
    return leaves


def _leaf(body: str) -> bytes:
    """The leaf hash of a stored record: of its canonical bytes (as every other leaf here
    is), never of the text as stored, which another writer may have spelled otherwise."""
    return leaf_hash(_canonical(body))


def _canonical(body: str) -> bytes:
    """The canonical bytes of a stored record (see :func:`_leaf`)."""
    return link_of(body).canonical


def _sized(origin: str, size: int) -> TreeCheckpoint:
    """A stand-in for a tree of ``size`` this process knows only by its leaves (its root
    and range are never used: the proof is computed from the leaves)."""
    return TreeCheckpoint(Note(""), TreeHead(origin, size, CompactRange().root()), CompactRange())


def _empty(origin: str) -> TreeCheckpoint:
    return TreeCheckpoint(Note(""), TreeHead(origin, 0, CompactRange().root()), CompactRange())


def origin_for(name: str, key_id: str) -> str:
    """The default origin of a deployment's log: ``domicile/<name>/<audit key id>``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", name) or "domicile"
    return f"domicile/{safe}/{key_id}"
