"""``age-plugin-pkcs11``: stock age decrypts ``p256tag`` files with a PKCS#11 token.

So a customer reads domicile's blobs without domicile when the root keys live in a token:
``age -d -i identity.txt blob`` with ``identity.txt`` holding the line printed by
``domicile keys age-identity`` (``AGE-PLUGIN-PKCS11-1...``: the token's RFC 7512 URI,
without its PIN, in Bech32) and this program on the ``PATH`` under that name (age 1.1 and
later find plugins so). The PIN comes from ``DOMICILE_PKCS11_PIN``, the URI's
``pin-source``, or age's own prompt (``request-secret``).

Only the ``identity-v1`` state machine of the age plugin protocol (c2sp.org/age-plugin) is
implemented: the token does the ECDH of each ``p256tag`` stanza tagged for one of its root
keys, exactly as in domicile (:mod:`domicile.crypto.token`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from domicile.crypto import Secret, bech32
from domicile.crypto.encoding import b64decode_raw, b64encode_raw
from domicile.crypto.header import Stanza
from domicile.crypto.keysource import PIN_ENV
from domicile.crypto.p256tag import STANZA_TYPE, parse_stanza
from domicile.errors import DomicileError, HeaderError

PLUGIN_NAME = "pkcs11"
IDENTITY_HRP = "AGE-PLUGIN-PKCS11-"
COLUMNS = 64


def identity_of(uri: str) -> str:
    """The age plugin identity naming the token at ``uri`` (any PIN in it is dropped)."""
    base, _, query = uri.partition("?")
    kept = [q for q in query.split("&") if q and not q.startswith("pin-value=")]
    text = base + ("?" + "&".join(kept) if kept else "")
    return bech32.encode(IDENTITY_HRP, text.encode("utf-8"))


@dataclass
class _Command:
    name: str
    args: list[str]
    body: bytes


def _read(stream: IO[str]) -> _Command | None:
    line = stream.readline()
    if not line:
        return None
    parts = line.rstrip("\n").split(" ")
    if parts[0] != "->" or len(parts) < 2:
        raise ValueError(f"malformed plugin protocol line: {line[:40]!r}")
    body = bytearray()
    while True:
        chunk = stream.readline().rstrip("\n")
        body += b64decode_raw(chunk)
        if len(chunk) < COLUMNS:
            break
    return _Command(parts[1], parts[2:], bytes(body))


def _write(stream: IO[str], name: str, args: list[str], body: bytes = b"") -> None:
    encoded = b64encode_raw(body)
    lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
    if not lines or len(lines[-1]) == COLUMNS:
        lines.append("")
    stream.write("-> " + " ".join([name, *args]) + "\n" + "".join(s + "\n" for s in lines))
    stream.flush()


@dataclass
class _Session:
    """Phase 2 of identity-v1: ask the client, send file keys and errors."""

    out: IO[str]
    inp: IO[str]
    identities: list[str] = field(default_factory=list)
    files: dict[int, list[Stanza]] = field(default_factory=dict)

    def ask(self, name: str, args: list[str], body: bytes = b"") -> _Command | None:
        _write(self.out, name, args, body)
        return _read(self.inp)

    def error(self, kind: list[str], message: str) -> None:
        self.ask("error", kind, message.encode("utf-8"))

    def pin(self, uri_pin: Secret | None) -> Secret | None:
        if uri_pin is not None:
            return uri_pin
        if os.environ.get(PIN_ENV):
            return Secret(os.environ[PIN_ENV])
        reply = self.ask("request-secret", [], b"PIN of the PKCS#11 token holding the root keys")
        if reply is None or reply.name != "ok":
            return None
        return Secret(reply.body.decode("utf-8"))


def _open_token(text: str, session: _Session) -> list[Callable[[list[Stanza]], bytes | None]]:
    from domicile.crypto.token import TokenKeyring, TokenURI  # noqa: PLC0415 -- optional dep

    uri = TokenURI.parse(text)
    ring = TokenKeyring(uri, session.pin(uri.pin))
    return [identity.unwrap for identity in ring.identities]


def run(inp: IO[str], out: IO[str]) -> None:
    """The identity-v1 state machine over ``inp``/``out``."""
    session = _Session(out, inp)
    while (command := _read(inp)) is not None and command.name != "done":
        if command.name == "add-identity" and command.args:
            session.identities.append(command.args[0])
        elif command.name == "recipient-stanza" and len(command.args) >= 2:
            stanza = Stanza(command.args[1], tuple(command.args[2:]), command.body)
            session.files.setdefault(int(command.args[0]), []).append(stanza)
    unwrappers: list[Callable[[list[Stanza]], bytes | None]] = []
    failed = False
    for index, text in enumerate(session.identities):
        try:
            hrp, data = bech32.decode(text)
            if hrp != IDENTITY_HRP:
                raise ValueError("not an AGE-PLUGIN-PKCS11-1 identity")
            unwrappers += _open_token(data.decode("utf-8"), session)
        except (ValueError, DomicileError) as exc:
            session.error(["identity", str(index)], str(exc))
            failed = True
    if not failed:  # the protocol: no unwrapping at all when an identity is bad
        for file_index, stanzas in sorted(session.files.items()):
            _unwrap_file(session, file_index, stanzas, unwrappers)
    _write(out, "done", [])


def _unwrap_file(
    session: _Session,
    file_index: int,
    stanzas: list[Stanza],
    unwrappers: list[Callable[[list[Stanza]], bytes | None]],
) -> None:
    """Send the file key of one file if a token key opens one of its p256tag stanzas; a
    malformed p256tag stanza is an error for the whole file (nothing is unwrapped)."""
    ours = []
    for position, stanza in enumerate(stanzas):
        if stanza.type != STANZA_TYPE:
            continue
        try:
            parse_stanza(stanza)
        except HeaderError as exc:
            session.error(["stanza", str(file_index), str(position)], exc.message)
            return
        ours.append(stanza)
    for unwrap in unwrappers if ours else ():
        try:
            file_key = unwrap(ours)
        except HeaderError as exc:  # tagged for us, yet enc is not a point
            session.error(["stanza", str(file_index), "0"], exc.message)
            return
        if file_key is not None:
            session.ask("file-key", [str(file_index)], file_key)
            return


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``age-plugin-pkcs11 --age-plugin=identity-v1`` (started by age)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--age-plugin=identity-v1"]:
        sys.stderr.write(
            "age-plugin-pkcs11: started by age to decrypt p256tag files with a PKCS#11 "
            "token (--age-plugin=identity-v1 only); 'domicile keys age-identity' prints the "
            "identity line for age -i\n"
        )
        raise SystemExit(1)
    run(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
