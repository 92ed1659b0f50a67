"""Signed notes, checkpoints and cosignatures: the Go sumdb/note known answer, then the
format's refusals and the cosignature/v1 round trip."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domicile.audit.merkle import leaf_hash, root
from domicile.audit.note import (
    COSIGNATURE_V1,
    ED25519,
    Note,
    NoteSigner,
    ed25519_verifier,
    parse_note,
    parse_vkey,
    verify_note,
)
from domicile.audit.tlog import (
    Cosigner,
    TreeHead,
    cosignatures,
    cosigned_message,
    parse_tree_head,
)
from domicile.errors import AuditFormatError

# golang.org/x/mod/sumdb/note's documented example: the same key and text must give the
# same signature byte for byte (Ed25519 is deterministic), so Go tooling reads our notes.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# A type 0x04 (cosignature) verifier key from transparency-dev/formats' tests.
COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def go_signer() -> NoteSigner:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[-1])
    assert seed[0] == ED25519
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


def test_go_known_answer_signs_and_verifies_byte_for_byte() -> None:
    signer = go_signer()
    assert signer.vkey() == GO_VKEY
    note = Note(GO_TEXT, (signer.sign(GO_TEXT),))
    assert note.to_bytes().decode() == GO_NOTE
    parsed = parse_note(GO_NOTE.encode())
    assert parsed == note
    assert verify_note(parsed, [signer.verifier()]) == [signer.verifier()]
    tampered = parse_note(GO_NOTE.replace("cryptography", "cryptographY"))
    with pytest.raises(AuditFormatError, match="does not verify"):
        verify_note(tampered, [signer.verifier()])


def test_vkeys_parse_and_check_their_key_id() -> None:
    name, kind, public = parse_vkey(GO_VKEY)
    assert (name, kind, len(public)) == ("PeterNeumann", ED25519, 32)
    name, kind, public = parse_vkey(COSIG_VKEY)
    assert (name, kind, len(public)) == ("remora.n621.de", COSIGNATURE_V1, 32)
    for bad in [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),  # ID of another key
        GO_VKEY.replace("PeterNeumann", "PeterNeuman"),  # another name: another ID
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        GO_VKEY[:-4],
    ]:
        with pytest.raises(ValueError):
            parse_vkey(bad)


def test_unknown_keys_are_ignored_and_known_bad_ones_reject() -> None:
    signer, other = go_signer(), NoteSigner("other.example/log", Ed25519PrivateKey.generate())
    note = Note(GO_TEXT, (other.sign(GO_TEXT), signer.sign(GO_TEXT)))
    assert verify_note(note, [signer.verifier()]) == [signer.verifier()]
    with pytest.raises(AuditFormatError, match="no signature"):
        verify_note(Note(GO_TEXT, (other.sign(GO_TEXT),)), [signer.verifier()])
    # Same name and ID as the known key but a signature by another key: rejected, not skipped.
    forged = signer.sign(GO_TEXT)
    forged = type(forged)(forged.name, forged.key_id, other.sign(GO_TEXT).signature)
    with pytest.raises(AuditFormatError, match="does not verify"):
        verify_note(Note(GO_TEXT, (forged, signer.sign(GO_TEXT))), [signer.verifier()])
    # A verifier for the right name with another key does not match the ID: ignored.
    impostor = ed25519_verifier("PeterNeumann", other.public)
    with pytest.raises(AuditFormatError, match="no signature"):
        verify_note(note.with_signatures([]), [impostor])


@pytest.mark.parametrize(
    "raw",
    [
        "no blank line\n\u2014 a AAAAAAA=\n".encode(),
        b"text\n\n",  # no signature line
        b"text\n\n- name AAAAAAAA\n",  # hyphen, not an em dash
        "text\n\n\u2014 name not*base64\n".encode(),
        "text\n\n\u2014 name AAAA\n".encode(),  # shorter than a key ID and a signature
        "te\x01xt\n\n\u2014 name AAAAAAAA\n".encode(),
        b"\xff\xfe\n\n",
        ("x\n\n" + "\u2014 n AAAAAAAA\n" * 65).encode(),
    ],
)
def test_malformed_notes_are_refused(raw: bytes) -> None:
    with pytest.raises(AuditFormatError):
        parse_note(raw)


def test_tree_heads_round_trip_and_refuse_malformed_bodies() -> None:
    head = TreeHead("domicile.example/eu-prod", 5, root([leaf_hash(b"a")]), ("ext",))
    assert parse_tree_head(head.body()) == head
    assert head.body().count("\n") == 4
    good = TreeHead("o", 1, bytes(32)).body()
    for bad in [
        good.replace("\n1\n", "\n01\n"),
        good.replace("\n1\n", "\n-1\n"),
        good[:-1],
        "o\n1\n",
        good.replace(base64.b64encode(bytes(32)).decode(), base64.b64encode(bytes(31)).decode()),
    ]:
        with pytest.raises(AuditFormatError):
            parse_tree_head(bad)
    with pytest.raises(AuditFormatError):
        TreeHead(" o", 1, bytes(32))


def test_cosignatures_verify_and_bind_time_and_body() -> None:
    log = NoteSigner("domicile.example/eu-prod", Ed25519PrivateKey.generate())
    body = TreeHead("domicile.example/eu-prod", 3, bytes(range(32))).body()
    witness = Cosigner("witness.example/ch-1", Ed25519PrivateKey.generate())
    other = Cosigner("witness.example/us-1", Ed25519PrivateKey.generate())
    assert cosigned_message(body, 1679315147).startswith(b"cosignature/v1\ntime 1679315147\n")
    note = Note(body, (log.sign(body), witness.cosign(body, 1679315147), other.cosign(body, 5)))
    found = cosignatures(parse_note(note.to_bytes()), [witness.verifier()])
    assert [(c.witness, c.timestamp) for c in found] == [("witness.example/ch-1", 1679315147)]
    # The key ID is the 0x04 one, so the same key's plain note signature is another key.
    assert parse_vkey(witness.vkey())[1] == COSIGNATURE_V1
    # The timestamp is signed: changing it breaks the cosignature, as does another body.
    sig = witness.cosign(body, 100)
    moved = type(sig)(sig.name, sig.key_id, (101).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(AuditFormatError, match="does not verify"):
        cosignatures(Note(body, (moved,)), [witness.verifier()])
    other_body = TreeHead("domicile.example/eu-prod", 4, bytes(range(32))).body()
    with pytest.raises(AuditFormatError, match="does not verify"):
        cosignatures(Note(other_body, (sig,)), [witness.verifier()])
    assert verify_note(Note(body, (sig,)), [witness.verifier().as_note_verifier()])
