"""Benchmark of the age core; every figure is printed with its ratio to a baseline measured
in the same run.

1. Streaming encryption of 1 GiB (Encryptor.update, 64 KiB pieces from one reused buffer,
   output discarded) vs raw ChaCha20Poly1305.encrypt_into over the same number of 64 KiB
   chunks with reused buffers. Goal: ratio >= 0.85.
2. Streaming decryption of that 1 GiB (decrypt_iter over 1 MiB ciphertext pieces) vs raw
   decrypt_into over the same chunks. Goal: ratio >= 0.85.
3. A 1 MiB range read from the middle of the 1 GiB blob: chunks fetched (goal <= 17) and
   time (goal < 5 ms), vs the time to fetch those ciphertext bytes alone.
4. Peak RSS of a child process that streams 1 GiB through encryption and decryption, vs a
   child that only imports the same modules. Goal < 64 MiB.
5. The stock age CLI on a 1 GiB file in /tmp (encrypt, decrypt), vs domicile doing the same
   file-to-file work. The temporary files are deleted afterwards.

Run: .venv/bin/python bench/bench_crypto.py [--gib N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from domicile.crypto import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    Encryptor,
    SeekableReader,
    X25519Identity,
    decrypt_iter,
    encrypt_iter,
)
from domicile.crypto.stream import chunk_nonce

MIB = 1 << 20
REPEAT = 3


def best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def show(label: str, ours: float, base: float, unit: str = "s", goal: str = "") -> None:
    print(
        f"  {label:<44} {ours:10.4f} {unit}   baseline {base:10.4f} {unit}   "
        f"ratio {base / ours:6.3f}  {goal}"
    )


def bench_encrypt(total: int, recipient: object) -> float:
    n = total // CHUNK_SIZE
    buf = bytearray(os.urandom(CHUNK_SIZE))
    out = bytearray(ENC_CHUNK_SIZE)
    aead = ChaCha20Poly1305(os.urandom(32))
    nonce = bytes(12)

    def raw() -> None:
        for _ in range(n):
            aead.encrypt_into(nonce, buf, None, out)

    def ours() -> None:
        enc = Encryptor([recipient])  # type: ignore[list-item]
        update = enc.update
        for _ in range(n):
            update(buf)
        enc.finalize()

    base, mine = best(raw), best(ours)
    gib = total / (1 << 30)
    show(f"encrypt {gib:g} GiB (Encryptor.update, 64 KiB)", mine, base, goal="goal >= 0.85")
    print(f"  {'':<44} {total / mine / 1e9:.2f} GB/s vs {total / base / 1e9:.2f} GB/s raw")
    return base / mine


def make_blob(total: int, identity: X25519Identity) -> tuple[bytes, int, ChaCha20Poly1305]:
    """A 1 GiB age file in memory, its header length, and its payload AEAD (a private
    attribute, read here only so the raw baseline can open the very same chunks)."""
    block = os.urandom(MIB)
    enc = Encryptor([identity.recipient])
    parts = [enc.header]
    parts += [enc.update(block) for _ in range(total // MIB)]
    parts.append(enc.finalize())
    return b"".join(parts), enc.header_length, enc._aead


def bench_decrypt(
    blob: bytes, header_length: int, aead: ChaCha20Poly1305, identity: X25519Identity
) -> float:
    view = memoryview(blob)
    pieces = [view[i : i + MIB] for i in range(0, len(blob), MIB)]
    first = header_length + 16
    n = -(-(len(blob) - first) // ENC_CHUNK_SIZE)
    chunks = [view[first + i * ENC_CHUNK_SIZE : first + (i + 1) * ENC_CHUNK_SIZE] for i in range(n)]
    nonces = [chunk_nonce(i, i == n - 1) for i in range(n)]
    out = bytearray(CHUNK_SIZE)

    def raw() -> None:
        # the same chunks of the same blob, into one reused buffer, nonces precomputed
        for nonce, chunk in zip(nonces, chunks, strict=True):
            aead.decrypt_into(nonce, chunk, None, memoryview(out)[: len(chunk) - 16])

    def ours() -> None:
        for _ in decrypt_iter(pieces, [identity]):
            pass

    base, mine = best(raw), best(ours)
    show(
        f"decrypt {len(blob) / (1 << 30):.3g} GiB (decrypt_iter, 1 MiB)",
        mine,
        base,
        goal="goal >= 0.85",
    )
    return base / mine


def bench_range(blob: bytes, header_length: int, identity: X25519Identity) -> None:
    calls: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return blob[offset : offset + length]

    reader = SeekableReader(read, len(blob), [identity], header_length=header_length)
    mid = reader.plaintext_size // 2 + 12345  # not chunk-aligned: the worst case
    calls.clear()

    def ours() -> None:
        calls.clear()
        reader.read(mid, mid + MIB)

    def fetch_only() -> None:
        start = header_length + 16 + (mid // CHUNK_SIZE) * ENC_CHUNK_SIZE
        bytes(blob[start : start + 17 * ENC_CHUNK_SIZE])

    mine = best(ours, 20)
    base = best(fetch_only, 20)
    fetched = sum(length for _, length in calls)
    print(
        f"  1 MiB range read at {mid}: {len(calls)} reader call(s), "
        f"{fetched / ENC_CHUNK_SIZE:.0f} chunks fetched (goal <= 17)"
    )
    show("1 MiB range read (in-memory blob)", mine * 1000, base * 1000, "ms", "goal < 5 ms")


CHILD = """
import resource, sys
from domicile.crypto import X25519Identity, decrypt_iter, encrypt_iter
total = int(sys.argv[1])
if total:
    ident = X25519Identity.generate()
    block = bytes(1 << 20)
    plain = (block for _ in range(total >> 20))
    n = 0
    for piece in decrypt_iter(encrypt_iter(plain, [ident.recipient]), [ident]):
        n += len(piece)
    assert n == total
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm)
"""


def bench_rss(total: int) -> None:
    def child(size: int) -> tuple[float, float]:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(size)], check=True, capture_output=True, text=True
        ).stdout
        maxrss, hwm = out.split()
        return int(maxrss) / 1024, int(hwm) / 1024  # KiB -> MiB on Linux

    base, base_hwm = child(0)
    mine, mine_hwm = child(total)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"  peak RSS (VmHWM) streaming {total / (1 << 30):g} GiB enc+dec {mine_hwm:6.1f} MiB   "
        f"baseline (imports only) {base_hwm:6.1f} MiB   ratio {mine_hwm / base_hwm:5.2f}x   "
        "goal < 64 MiB"
    )
    print(
        f"  (getrusage ru_maxrss: {mine:.1f} MiB vs {base:.1f} MiB, RUSAGE_CHILDREN {ru:.1f} MiB;"
        " ru_maxrss also counts the pre-exec image of the forked child)"
    )


def file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while piece := f.read(MIB):
            yield piece


def bench_age_cli(total: int, identity: X25519Identity) -> None:
    age = shutil.which("age")
    if age is None:
        print("  age CLI not found (apt-get install age): skipped")
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-age-", dir="/tmp"))
    try:
        plain, enc, key = tmp / "plain", tmp / "plain.age", tmp / "key.txt"
        key.write_text(identity.to_secret().reveal() + "\n")
        block = os.urandom(MIB)
        with plain.open("wb") as f:
            for _ in range(total // MIB):
                f.write(block)

        # outputs go to /dev/null on both sides: this compares the crypto, not the disk
        def age_enc() -> None:
            subprocess.run(
                [age, "-r", str(identity.recipient), "-o", os.devnull, str(plain)], check=True
            )

        def age_dec() -> None:
            subprocess.run([age, "-d", "-i", str(key), "-o", os.devnull, str(enc)], check=True)

        def our_enc() -> None:
            with Path(os.devnull).open("wb") as out:
                for piece in encrypt_iter(file_pieces(plain), [identity.recipient]):
                    out.write(piece)

        def our_dec() -> None:
            with Path(os.devnull).open("wb") as out:
                for piece in decrypt_iter(file_pieces(enc), [identity]):
                    out.write(piece)

        subprocess.run([age, "-r", str(identity.recipient), "-o", str(enc), str(plain)], check=True)
        t_age_enc, t_our_enc = best(age_enc, 2), best(our_enc, 2)
        t_age_dec, t_our_dec = best(age_dec, 2), best(our_dec, 2)
        gib = total / (1 << 30)
        show(f"domicile encrypt {gib:g} GiB file->null (base: age)", t_our_enc, t_age_enc)
        show(f"domicile decrypt {gib:g} GiB file->null (base: age)", t_our_dec, t_age_dec)
        print(
            f"  age CLI: encrypt {t_age_enc:.3f} s ({total / t_age_enc / 1e9:.2f} GB/s), "
            f"decrypt {t_age_dec:.3f} s ({total / t_age_dec / 1e9:.2f} GB/s)"
        )

        size = enc.stat().st_size
        fd = os.open(enc, os.O_RDONLY)
        try:
            reader = SeekableReader(lambda o, n: os.pread(fd, n, o), size, [identity])
            mid = reader.plaintext_size // 2 + 999

            def ranged() -> None:
                reader.read(mid, mid + MIB)

            def pread_only() -> None:
                os.pread(fd, 17 * ENC_CHUNK_SIZE, mid)

            show(
                "1 MiB range read of the age-written file",
                best(ranged, 20) * 1000,
                best(pread_only, 20) * 1000,
                "ms",
                "goal < 5 ms",
            )
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="data size in GiB (default 1)")
    args = parser.parse_args()
    total = int(args.gib * (1 << 30)) // MIB * MIB
    identity = X25519Identity.generate()
    print(
        f"bench_crypto: {total / (1 << 30):g} GiB, best of {REPEAT} "
        f"(ratio = baseline time / our time; RSS ratio = ours / baseline)"
    )
    bench_encrypt(total, identity.recipient)
    bench_rss(total)  # first, while this process is small (a child inherits its peak)
    blob, header_length, aead = make_blob(total, identity)
    bench_decrypt(blob, header_length, aead, identity)
    bench_range(blob, header_length, identity)
    del blob
    bench_age_cli(total, identity)


if __name__ == "__main__":
    main()
