"""Benchmark of the post-quantum hybrid recipient (mlkem768x25519) against X25519, per blob;
every figure is printed with its ratio to the X25519 baseline measured in the same run.

1. Wrap: the header of one new blob (Encryptor construction: a fresh file key wrapped to
   the recipients, header MAC), to 1 and to 3 recipients of each kind.
2. Unwrap: the file key from one header (the identity's stanza opened, header MAC checked),
   the stanza for us placed first and last among 3.
3. A whole 64 KiB blob, encrypted and decrypted, and the header size in bytes.
4. Through the engine: 64 KiB PUTs and GETs per second on two local copies, a bucket of a
   ``pq = true`` policy against one of a classic policy (same sites, same run).

Per-blob costs are medians of many runs (the machine is shared). No goal is set: the
figures say what a ``pq = true`` policy costs per blob written and read.

Run: .venv/bin/python bench/bench_pq.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence

from domicile.crypto import (
    Encryptor,
    Identity,
    MLKEM768X25519Identity,
    Recipient,
    X25519Identity,
    decrypt_bytes,
    encrypt_bytes,
    parse_header,
)
from domicile.crypto.decrypt import unwrap_file_key

KIB = 1 << 10


def median_us(fn: Callable[[], object], runs: int) -> float:
    for _ in range(max(3, runs // 20)):  # warm up
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def show(label: str, pq: float, classic: float, unit: str = "us") -> None:
    print(
        f"  {label:<46} pq {pq:10.1f} {unit}   X25519 {classic:10.1f} {unit}   "
        f"X25519/pq {classic / pq:6.3f}"
    )


def wrap(recipients: Sequence[Recipient], runs: int) -> float:
    return median_us(lambda: Encryptor(recipients), runs)


def unwrap(blob: bytes, identity: Identity, runs: int) -> float:
    header = parse_header(blob, complete=False)
    assert header is not None
    return median_us(lambda: unwrap_file_key(header, [identity]), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    runs = parser.parse_args().runs
    pq = [MLKEM768X25519Identity.generate() for _ in range(3)]
    classic = [X25519Identity.generate() for _ in range(3)]
    pq_rec = [i.recipient for i in pq]
    classic_rec = [i.recipient for i in classic]
    print(f"post-quantum (mlkem768x25519) vs X25519, medians of {runs} runs")

    show("wrap: new blob header, 1 recipient", wrap(pq_rec[:1], runs), wrap(classic_rec[:1], runs))
    show("wrap: new blob header, 3 recipients", wrap(pq_rec, runs), wrap(classic_rec, runs))

    pq_blob = encrypt_bytes(b"x", pq_rec)
    classic_blob = encrypt_bytes(b"x", classic_rec)
    show(
        "unwrap: file key, our stanza first of 3",
        unwrap(pq_blob, pq[0], runs),
        unwrap(classic_blob, classic[0], runs),
    )
    show(
        "unwrap: file key, our stanza last of 3",
        unwrap(pq_blob, pq[2], runs),
        unwrap(classic_blob, classic[2], runs),
    )

    body = os.urandom(64 * KIB)
    pq_64 = encrypt_bytes(body, pq_rec[:1])
    classic_64 = encrypt_bytes(body, classic_rec[:1])
    show(
        "64 KiB blob: encrypt, 1 recipient",
        median_us(lambda: encrypt_bytes(body, pq_rec[:1]), runs),
        median_us(lambda: encrypt_bytes(body, classic_rec[:1]), runs),
    )
    show(
        "64 KiB blob: decrypt",
        median_us(lambda: decrypt_bytes(pq_64, pq[:1]), runs),
        median_us(lambda: decrypt_bytes(classic_64, classic[:1]), runs),
    )
    for n in (1, 3):
        pq_len = len(Encryptor(pq_rec[:n]).header)
        classic_len = len(Encryptor(classic_rec[:n]).header)
        print(f"  header bytes, {n} recipient(s): pq {pq_len}   X25519 {classic_len}")
    engine_rates(body, max(50, runs // 2))


ENGINE_CONFIG = """
[deployment]
segment_size_mib = 64
[sites.a]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = { type = "local", path = "sites/a" }
[sites.b]
country = "DE"
operator = "hetzner-online"
provider = "hetzner"
backend = { type = "local", path = "sites/b" }
[policies.classic]
allow = ["EU"]
copies = 2
[policies.quantum]
allow = ["EU"]
copies = 2
pq = true
[buckets.classic]
policy = "classic"
[buckets.quantum]
policy = "quantum"
"""


def engine_rates(body: bytes, count: int) -> None:
    """64 KiB PUT and GET rates through the engine, pq bucket vs classic bucket: PUTs
    alternating between the buckets, then interleaved GET passes (best of 3 each)."""
    import tempfile
    from pathlib import Path

    import domicile
    from domicile.crypto import Keyring
    from domicile.sites import LocalSite

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for site in ("a", "b"):
            LocalSite.create(site, root / "sites" / site)
        Keyring.create(root / "keyring.txt").add_new(post_quantum=True)
        (root / "domicile.toml").write_text(ENGINE_CONFIG)
        keys = [f"o{i:05d}" for i in range(count)]
        best: dict[str, float] = {}
        with domicile.open(root / "domicile.toml") as engine:
            spent = {"classic": 0.0, "quantum": 0.0}
            for key in keys:  # PUTs alternate buckets: the disk's load hits both alike
                for bucket in ("classic", "quantum"):
                    t0 = time.perf_counter()
                    engine.put(bucket, key, body)
                    spent[bucket] += time.perf_counter() - t0
            for bucket in spent:
                best[f"{bucket} put"] = count / spent[bucket]
            for _ in range(3):  # then GETs, passes interleaved, best of 3
                for bucket in ("classic", "quantum"):
                    t0 = time.perf_counter()
                    for key in keys:
                        engine.get(bucket, key).read()
                    get = count / (time.perf_counter() - t0)
                    best[f"{bucket} get"] = max(best.get(f"{bucket} get", 0.0), get)
        for op in ("put", "get"):
            pq, classic = best[f"quantum {op}"], best[f"classic {op}"]
            print(
                f"  engine 64 KiB {op}s, 2 local copies: pq {pq:7.0f}/s   X25519 {classic:7.0f}/s"
                f"   pq/X25519 {pq / classic:6.3f}"
            )


if __name__ == "__main__":
    main()
