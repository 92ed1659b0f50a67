"""Loader for the C2SP CCTV age test vectors in tests/vectors/age/.

Each file: ``key: value`` lines (expect, payload, identity, passphrase, armored, file key,
comment, compressed), a blank line, then the age file (zlib-deflated when
``compressed: zlib``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors" / "age"


@dataclass
class Vector:
    name: str
    expect: str
    payload_sha256: str | None
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False
    comment: str = ""
    data: bytes = b""


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, data = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the vector header"
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload_sha256=fields.get("payload", [None])[0],
        identities=fields.get("identity", []),
        passphrases=fields.get("passphrase", []),
        armored=fields.get("armored", ["no"])[0] == "yes",
        comment=fields.get("comment", [""])[0],
        data=zlib.decompress(data) if fields.get("compressed") == ["zlib"] else data,
    )


def all_vectors() -> list[Vector]:
    return [load(p) for p in sorted(VECTOR_DIR.iterdir()) if p.is_file()]
