"""Object commands: put, get, ls, rm, stat, where."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

import click
from rich.text import Text

from domicile.cli.locks import LOCK_MODE, parse_date
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say, split_path, styled, transfer_progress
from domicile.display import human_size, table, when
from domicile.engine import ObjectInfo, ObjectMeta

READ_SIZE = 1024 * 1024
VERSION_HELP = "A version of the object ('null', or an id 'ls --versions' lists)."


def _info_dict(info: ObjectInfo) -> dict[str, object]:
    return {
        **asdict(info),
        "meta": {**asdict(info.meta), "user": dict(info.meta.user)},
        "s3_version_id": info.s3_version_id,
    }


def _closing_unless_std(stream: BinaryIO) -> AbstractContextManager[object]:
    """Close files we opened; never the process's standard streams."""
    if stream in (sys.stdin.buffer, sys.stdout.buffer):
        return nullcontext()
    return stream


def _parse_meta(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--meta")
        out[name] = value
    return out


def _read_pieces(stream: BinaryIO, advance: Callable[[int], None]) -> Iterator[bytes]:
    while piece := stream.read(READ_SIZE):
        advance(len(piece))
        yield piece


def _ls_all(state: State, bucket: str, prefix: str, start_after: str) -> None:
    """Stream every key under ``prefix``: ``modified  size  key`` lines (as ``aws s3 ls
    --recursive``), or one JSON object per line; a page of 1,000 keys in memory at most."""
    out = sys.stdout
    engine = state.engine
    while True:
        page = engine.list(bucket, prefix=prefix, delimiter="", start_after=start_after)
        for o in page.objects:
            if state.as_json:
                out.write(json.dumps(_info_dict(o), sort_keys=True, default=str) + "\n")
            else:
                out.write(f"{when(o.created_at)} {o.size:>12} {o.key}\n")
        if not page.is_truncated or page.next_start_after is None:
            break
        start_after = page.next_start_after
    out.flush()


@click.command()
@click.argument("src", type=click.Path(allow_dash=True, dir_okay=False, path_type=str))
@click.argument("dest", metavar="BUCKET/KEY")
@click.option("--content-type", default="application/octet-stream", show_default=True)
@click.option("--meta", "meta", multiple=True, help="User metadata NAME=VALUE (repeatable).")
@click.option("--if-none-match", is_flag=True, help="Store only if BUCKET/KEY has no object yet.")
@click.option("--if-match", metavar="ETAG", help="Store only if BUCKET/KEY's ETag is ETAG.")
@click.option("--lock-mode", type=LOCK_MODE, help="Object Lock retention mode (with --until).")
@click.option("--until", metavar="DATE", help="Retain until DATE (ISO 8601, UTC by default).")
@click.option("--legal-hold", is_flag=True, help="Put a legal hold on the new version.")
@pass_state
def put(  # noqa: PLR0917 (click passes every option by name, one argument each)
    state: State,
    src: str,
    dest: str,
    content_type: str,
    meta: tuple[str, ...],
    if_none_match: bool,
    if_match: str | None,
    lock_mode: str | None,
    until: str | None,
    legal_hold: bool,
) -> None:
    """Store the file SRC ('-' for standard input) as BUCKET/KEY; with a condition, only
    if the object is as it says (checked atomically with the write). In a bucket with
    Object Lock, --lock-mode and --until (or the bucket's default) and --legal-hold lock
    the new version."""
    bucket, key = split_path(dest)
    if (lock_mode is None) != (until is None):
        raise click.UsageError("give --lock-mode and --until together")
    object_meta = ObjectMeta(
        content_type=content_type,
        user=_parse_meta(meta),
        lock_mode=lock_mode.upper() if lock_mode else None,
        lock_until=parse_date(until) if until else None,
        legal_hold=legal_hold,
    )
    stream: BinaryIO = sys.stdin.buffer if src == "-" else Path(src).open("rb")  # noqa: SIM115
    total = None if src == "-" else os.fstat(stream.fileno()).st_size
    with _closing_unless_std(stream), transfer_progress(f"put {key}", total) as advance:
        info = state.engine.put(
            bucket,
            key,
            _read_pieces(stream, advance),
            meta=object_meta,
            if_match=if_match,
            if_none_match=if_none_match,
        )
    if state.as_json:
        emit_json(_info_dict(info))
        return
    say(
        "stored ",
        (f"{bucket}/{key}", "bold"),
        f" ({human_size(info.size)}, etag {info.etag}, version {info.version_id})",
    )
    print_where(state, bucket, key)


@click.command()
@click.argument("src", metavar="BUCKET/KEY")
@click.argument("dest", required=False, default="-", type=click.Path(allow_dash=True))
@click.option("--range", "byte_range", metavar="FIRST-LAST", help="Bytes FIRST..LAST inclusive.")
@click.option("--version-id", metavar="ID", help=VERSION_HELP)
@pass_state
def get(state: State, src: str, dest: str, byte_range: str | None, version_id: str | None) -> None:
    """Write BUCKET/KEY (or its version ID) to DEST (default: standard output)."""
    bucket, key = split_path(src)
    start, end = _parse_range(byte_range)
    reader = state.engine.get(bucket, key, start, end, version_id=version_id)
    out: BinaryIO = sys.stdout.buffer if dest == "-" else Path(dest).open("wb")  # noqa: SIM115
    with (
        _closing_unless_std(out),
        transfer_progress(f"get {key}", reader.end - reader.start) as advance,
    ):
        for piece in reader:
            out.write(piece)
            advance(len(piece))


def _parse_range(text: str | None) -> tuple[int, int | None]:
    if text is None:
        return 0, None
    first, sep, last = text.partition("-")
    try:
        start = int(first)
        end = int(last) + 1 if last else None
    except ValueError:
        raise click.BadParameter(f"{text!r} is not FIRST-LAST", param_hint="--range") from None
    if not sep or start < 0 or (end is not None and end <= start):
        raise click.BadParameter(f"{text!r} is not FIRST-LAST", param_hint="--range")
    return start, end


@click.command(name="ls")
@click.argument("path", required=False, metavar="[BUCKET[/PREFIX]]")
@click.option("--delimiter", default="/", show_default=True, help="'' lists recursively.")
@click.option("--limit", default=1000, show_default=True, help="Objects per page.")
@click.option("--start-after", default="", help="List keys after this one (paging).")
@click.option(
    "--versions", is_flag=True, help="List every version and delete marker, newest first."
)
@click.option("--version-id-marker", default="", help="With --versions and --start-after: paging.")
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every key of BUCKET under PREFIX, recursively, page after page in this one process, "
    "one line each as it is read (--json: JSON Lines).",
)
@pass_state
def ls(  # noqa: PLR0917 (click passes every option by name, one argument each)
    state: State,
    path: str | None,
    delimiter: str,
    limit: int,
    start_after: str,
    versions: bool,
    version_id_marker: str,
    every: bool,
) -> None:
    """List buckets, or the objects of BUCKET under PREFIX (with --versions, their
    versions and delete markers too; with --all, every key, streamed)."""
    if every:
        if not path or versions:
            raise click.UsageError("--all lists the keys of one bucket: give BUCKET[/PREFIX]")
        bucket, _, prefix = path.partition("/")
        _ls_all(state, bucket, prefix, start_after)
        return
    if not path:
        buckets = state.engine.list_buckets()
        if state.as_json:
            emit_json([asdict(b) for b in buckets])
            return
        t = table("buckets", "name", "policy", "tenant", "created")
        for b in buckets:
            t.add_row(b.name, b.policy, b.tenant, when(b.created_at))
        console.print(t)
        return
    bucket, _, prefix = path.partition("/")
    if versions:
        markers = (start_after, version_id_marker)
        list_versions(state, bucket, prefix, delimiter=delimiter, limit=limit, markers=markers)
        return
    page = state.engine.list(
        bucket, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
    )
    if state.as_json:
        emit_json(
            {
                "objects": [_info_dict(o) for o in page.objects],
                "common_prefixes": page.common_prefixes,
                "is_truncated": page.is_truncated,
                "next_start_after": page.next_start_after,
            }
        )
        return
    t = table(f"{bucket}/{prefix}", "key", "size", "modified", "etag")
    for p in page.common_prefixes:
        t.add_row(Text(p, style="blue"), "-", "-", "")
    for o in page.objects:
        t.add_row(o.key, human_size(o.size), when(o.created_at), o.etag)
    console.print(t)
    if page.is_truncated:
        say(f"more: --start-after {page.next_start_after!r}")


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@click.option("--version-id", metavar="ID", help=VERSION_HELP + " Removed for good.")
@click.option(
    "--bypass-governance",
    is_flag=True,
    help="Remove a version under GOVERNANCE retention (never COMPLIANCE or a legal hold).",
)
@pass_state
def rm(state: State, path: str, version_id: str | None, bypass_governance: bool) -> None:
    """Delete BUCKET/KEY from every site holding it (in a versioned bucket: write a delete
    marker; with --version-id: remove that version or marker for good, unless Object Lock
    protects it)."""
    bucket, key = split_path(path)
    done = state.engine.remove(
        bucket, key, version_id=version_id, bypass_governance=bypass_governance
    )
    if state.as_json:
        emit_json(
            {
                "bucket": bucket,
                "key": key,
                "removed": done.version_id is not None,
                "version_id": done.version_id,
                "delete_marker": done.delete_marker,
                "queued": dict(done.queued),
                "why": dict(done.why),
            }
        )
        return
    if done.version_id is None:
        what = f"{bucket}/{key}" + (f" version {version_id}" if version_id else "")
        say(f"{what} did not exist")
        return
    if version_id is None and done.delete_marker:
        say(f"deleted {bucket}/{key}: delete marker {done.version_id}")
    elif version_id is not None:
        kind = "delete marker" if done.delete_marker else "version"
        say(f"removed {kind} {version_id} of {bucket}/{key}")
    elif not done.queued:
        say(f"removed {bucket}/{key}")
    if done.queued:
        say(
            f"removed {bucket}/{key} from the catalog; its copies on "
            + ", ".join(
                f"{site} ({n} blob{'s' if n > 1 else ''}: {done.why[site]})"
                for site, n in done.queued.items()
            )
            + " could not be deleted now and are queued for deletion: 'domicile sweep' (and "
            "the gateway's periodic sweep) retries them"
        )


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@click.option("--version-id", metavar="ID", help=VERSION_HELP)
@pass_state
def stat(state: State, path: str, version_id: str | None) -> None:
    """Show the size, ETag and metadata of BUCKET/KEY (or of its version ID)."""
    bucket, key = split_path(path)
    info = state.engine.head(bucket, key, version_id=version_id)
    if state.as_json:
        emit_json(_info_dict(info))
        return
    t = table(f"{bucket}/{key}", "field", "value")
    for name, value in (
        ("size", f"{info.size} ({human_size(info.size)})"),
        ("etag", info.etag),
        ("version", info.s3_version_id),
        ("latest", "yes" if info.is_latest else "no"),
        *((("delete marker", "yes"),) if info.delete_marker else ()),
        ("modified", when(info.created_at)),
        ("content-type", info.meta.content_type),
        *((f"meta {k}", v) for k, v in sorted(info.meta.user.items())),
    ):
        t.add_row(name, value)
    console.print(t)


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@click.option("--version-id", metavar="ID", help=VERSION_HELP)
@pass_state
def where(state: State, path: str, version_id: str | None) -> None:
    """Where every copy of BUCKET/KEY (or of its version ID) rests, who operates it,
    which laws reach it."""
    bucket, key = split_path(path)
    if state.as_json:
        emit_json([asdict(c) for c in state.engine.where(bucket, key, version_id=version_id)])
        return
    print_where(state, bucket, key, version_id)


def print_where(state: State, bucket: str, key: str, version_id: str | None = None) -> None:
    t = table(
        f"copies of {bucket}/{key}" + (f" version {version_id}" if version_id else ""),
        "site",
        "country",
        "operator",
        "subject to",
        "state",
        "compliant",
    )
    for c in state.engine.where(bucket, key, version_id=version_id):
        why = "; ".join(c.reasons)
        if not c.compliant:
            ok = styled(("no", "red"), f": {why}")
        elif c.reasons:  # residency kept, but the site's status moves the copy off it
            ok = styled(("yes", "yellow"), f", to move: {why}")
        else:
            ok = styled(("yes", "green"))
        t.add_row(c.site_id, c.country, c.operator, ", ".join(c.subject_to), c.state, ok)
    console.print(t)


def list_versions(
    state: State,
    bucket: str,
    prefix: str,
    *,
    delimiter: str,
    limit: int,
    markers: tuple[str, str],
) -> None:
    """``ls --versions``: one page of versions and delete markers."""
    page = state.engine.list_versions(
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=markers[0],
        version_id_marker=markers[1],
        limit=limit,
    )
    if state.as_json:
        emit_json(
            {
                "versions": [_info_dict(v) for v in page.versions],
                "common_prefixes": page.common_prefixes,
                "is_truncated": page.is_truncated,
                "next_key_marker": page.next_key_marker,
                "next_version_id_marker": page.next_version_id_marker,
            }
        )
        return
    t = table(f"{bucket}/{prefix} versions", "key", "version", "latest", "size", "modified")
    for p in page.common_prefixes:
        t.add_row(Text(p, style="blue"), "", "", "-", "")
    for v in page.versions:
        size = "delete marker" if v.delete_marker else human_size(v.size)
        t.add_row(v.key, v.s3_version_id, "yes" if v.is_latest else "", size, when(v.created_at))
    console.print(t)
    if page.is_truncated:
        marker = page.next_version_id_marker
        say(
            f"more: --versions --start-after {page.next_key_marker!r}"
            + (f" --version-id-marker {marker}" if marker else "")
        )


COMMANDS = (put, get, ls, rm, stat, where)
