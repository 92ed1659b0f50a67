"""Safe parsers for the XML request bodies S3 clients send.

Bodies are parsed with the standard library's expat, refusing what could make parsing
dangerous or ambiguous: a body larger than ``max_size`` is ``MaxMessageLengthExceeded``;
any document type declaration (and so any entity, internal or external) or processing
instruction is ``MalformedXML``; so is anything not well-formed or not of the expected
shape. Element names are compared without their namespace (clients send the S3
namespace, or none).

- :func:`parse_delete`: ``<Delete>`` of DeleteObjects (1 to 1000 objects, ``Quiet``);
- :func:`parse_complete_multipart`: ``<CompleteMultipartUpload>`` (part numbers strictly
  ascending, else ``InvalidPartOrder``; each part's ``Checksum*`` kept, checked later);
- :func:`parse_create_bucket`: ``<CreateBucketConfiguration>`` (its ``LocationConstraint``,
  which names the bucket's policy in domicile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final
from xml.parsers import expat

from domicile.errors import RequestRejected
from domicile.gateway.s3errors import reject

MAX_BODY: Final = 2 * 1024 * 1024
MAX_DELETE: Final = 1000
MAX_PART_NUMBER: Final = 10000
#: The algorithms of a part's ``Checksum<ALG>`` elements.
CHECKSUM_NAMES: Final = ("CRC32", "CRC32C", "SHA1", "SHA256")
_SEPARATOR: Final = "\x01"


@dataclass(slots=True)
class Node:
    """A parsed element: local name, its exact text (``raw``) and its children."""

    name: str
    raw: str = ""
    children: list[Node] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text without surrounding whitespace."""
        return self.raw.strip()

    def all(self, name: str) -> list[Node]:
        """The children called ``name``."""
        return [child for child in self.children if child.name == name]

    def one(self, name: str) -> Node | None:
        """The single child called ``name``, ``None`` if absent (``MalformedXML`` if repeated)."""
        found = self.all(name)
        if len(found) > 1:
            raise _malformed(f"<{name}> appears {len(found)} times in <{self.name}>")
        return found[0] if found else None

    def text_of(self, name: str) -> str | None:
        """The text of the single child called ``name``, or ``None``."""
        child = self.one(name)
        return None if child is None else child.text


def parse_xml(body: bytes, *, max_size: int = MAX_BODY) -> Node:
    """Parse ``body`` into a :class:`Node` tree, refusing DTDs, entities and oversize bodies."""
    if len(body) > max_size:
        raise reject(
            "MaxMessageLengthExceeded",
            f"the XML body is {len(body)} bytes; the limit is {max_size}",
        )
    parser = expat.ParserCreate(namespace_separator=_SEPARATOR)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Node] = []
    texts: list[list[str]] = []
    root: list[Node] = []

    def start(name: str, _attrs: dict[str, str]) -> None:
        node = Node(name.rpartition(_SEPARATOR)[2])
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)
        texts.append([])

    def end(_name: str) -> None:
        node = stack.pop()
        node.raw = "".join(texts.pop())

    def data(text: str) -> None:
        if texts:
            texts[-1].append(text)

    def refuse(*_args: object) -> None:
        raise _malformed("DTDs, entities and processing instructions are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ProcessingInstructionHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise _malformed(
            f"the body is not well-formed XML ({expat.ErrorString(exc.code)})"
        ) from None
    if not root:
        raise _malformed("the body holds no XML element")
    return root[0]


def _malformed(problem: str) -> RequestRejected:
    return reject("MalformedXML", problem, hint="send the XML document the S3 API describes")


def _root(body: bytes, name: str, max_size: int = MAX_BODY) -> Node:
    node = parse_xml(body, max_size=max_size)
    if node.name != name:
        raise _malformed(f"the root element must be <{name}>, not <{node.name}>")
    return node


def _boolean(value: str | None, name: str) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise _malformed(f"<{name}> must be true or false, not {value[:20]!r}")


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    """A DeleteObjects request: (key, version id) pairs in order, and ``quiet``."""

    objects: tuple[tuple[str, str | None], ...]
    quiet: bool


def parse_delete(body: bytes) -> DeleteRequest:
    """Parse ``<Delete>``: 1 to 1000 ``<Object><Key>`` (with optional ``VersionId``)."""
    root = _root(body, "Delete")
    objects = []
    for obj in root.all("Object"):
        # Keys are taken verbatim: leading and trailing spaces are part of an S3 key.
        key = obj.one("Key")
        if key is None or not key.raw:
            raise _malformed("every <Object> needs a non-empty <Key>")
        objects.append((key.raw, obj.text_of("VersionId") or None))
    if not objects or len(objects) > MAX_DELETE:
        raise _malformed(f"<Delete> must list 1 to {MAX_DELETE} objects, not {len(objects)}")
    return DeleteRequest(tuple(objects), _boolean(root.text_of("Quiet"), "Quiet"))


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One part named in CompleteMultipartUpload: number, ETag (quotes removed) and the
    checksums listed with it (``ChecksumSHA256`` -> ``{"SHA256": value}``)."""

    part_number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)


def parse_complete_multipart(body: bytes) -> tuple[CompletedPart, ...]:
    """Parse ``<CompleteMultipartUpload>``: at least one ``<Part>``, numbers ascending."""
    root = _root(body, "CompleteMultipartUpload")
    parts = []
    for part in root.all("Part"):
        number, etag = part.text_of("PartNumber"), part.text_of("ETag")
        if number is None or etag is None:
            raise _malformed("every <Part> needs a <PartNumber> and an <ETag>")
        if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= MAX_PART_NUMBER:
            raise reject(
                "InvalidArgument", f"part number {number[:20]!r} is not 1 to {MAX_PART_NUMBER}"
            )
        checksums = {
            name: value.strip()
            for name in CHECKSUM_NAMES
            if (value := part.text_of(f"Checksum{name}")) is not None
        }
        parts.append(CompletedPart(int(number), etag.strip('"'), checksums))
    if not parts:
        raise _malformed("<CompleteMultipartUpload> must list at least one <Part>")
    for before, after in pairwise(parts):
        if after.part_number <= before.part_number:
            raise reject(
                "InvalidPartOrder",
                f"part {after.part_number} follows part {before.part_number}",
                hint="list the parts in ascending order of part number, each once",
            )
    return tuple(parts)


def parse_create_bucket(body: bytes) -> str | None:
    """The ``LocationConstraint`` of a CreateBucket body (``None`` for an empty body or none)."""
    if not body.strip():
        return None
    root = _root(body, "CreateBucketConfiguration", max_size=64 * 1024)
    return root.text_of("LocationConstraint") or None
