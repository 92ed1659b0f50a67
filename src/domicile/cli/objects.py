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
from rich.markup import escape

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, split_path, transfer_progress
from domicile.display import human_size, table, when
from domicile.engine import ObjectInfo

READ_SIZE = 1024 * 1024


def _info_dict(info: ObjectInfo) -> dict[str, object]:
    return {**asdict(info), "meta": {**asdict(info.meta), "user": dict(info.meta.user)}}


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
@pass_state
def put(  # noqa: PLR0917 (click passes every option by name, one argument each)
    state: State,
    src: str,
    dest: str,
    content_type: str,
    meta: tuple[str, ...],
    if_none_match: bool,
    if_match: str | None,
) -> None:
    """Store the file SRC ('-' for standard input) as BUCKET/KEY; with a condition, only
    if the object is as it says (checked atomically with the write)."""
    bucket, key = split_path(dest)
    stream: BinaryIO = sys.stdin.buffer if src == "-" else Path(src).open("rb")  # noqa: SIM115
    total = None if src == "-" else os.fstat(stream.fileno()).st_size
    with _closing_unless_std(stream), transfer_progress(f"put {key}", total) as advance:
        info = state.engine.put(
            bucket,
            key,
            _read_pieces(stream, advance),
            content_type=content_type,
            metadata=_parse_meta(meta),
            if_match=if_match,
            if_none_match=if_none_match,
        )
    if state.as_json:
        emit_json(_info_dict(info))
        return
    console.print(
        f"stored [bold]{bucket}/{key}[/] ({human_size(info.size)}, etag {info.etag}, "
        f"version {info.version_id})",
        highlight=False,
    )
    print_where(state, bucket, key)


@click.command()
@click.argument("src", metavar="BUCKET/KEY")
@click.argument("dest", required=False, default="-", type=click.Path(allow_dash=True))
@click.option("--range", "byte_range", metavar="FIRST-LAST", help="Bytes FIRST..LAST inclusive.")
@pass_state
def get(state: State, src: str, dest: str, byte_range: str | None) -> None:
    """Write BUCKET/KEY to DEST (default: standard output)."""
    bucket, key = split_path(src)
    start, end = _parse_range(byte_range)
    reader = state.engine.get(bucket, key, start, end)
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
    "--all",
    "every",
    is_flag=True,
    help="Every key of BUCKET under PREFIX, recursively, page after page in this one process, "
    "one line each as it is read (--json: JSON Lines).",
)
@pass_state
def ls(  # noqa: PLR0917 (click passes every option)
    state: State, path: str | None, delimiter: str, limit: int, start_after: str, every: bool
) -> None:
    """List buckets, or the objects of BUCKET under PREFIX."""
    if every:
        if not path:
            raise click.UsageError("--all lists one bucket: give BUCKET[/PREFIX]")
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
        t.add_row(f"[blue]{p}[/]", "-", "-", "")
    for o in page.objects:
        t.add_row(o.key, human_size(o.size), when(o.created_at), o.etag)
    console.print(t)
    if page.is_truncated:
        console.print(f"more: --start-after {page.next_start_after!r}", highlight=False)


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@pass_state
def rm(state: State, path: str) -> None:
    """Delete BUCKET/KEY from every site holding it."""
    bucket, key = split_path(path)
    removed = state.engine.delete(bucket, key)
    if state.as_json:
        emit_json({"bucket": bucket, "key": key, "removed": removed})
    else:
        console.print(f"removed {bucket}/{key}" if removed else f"{bucket}/{key} did not exist")


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@pass_state
def stat(state: State, path: str) -> None:
    """Show the size, ETag and metadata of BUCKET/KEY."""
    bucket, key = split_path(path)
    info = state.engine.head(bucket, key)
    if state.as_json:
        emit_json(_info_dict(info))
        return
    t = table(f"{bucket}/{key}", "field", "value")
    for name, value in (
        ("size", f"{info.size} ({human_size(info.size)})"),
        ("etag", info.etag),
        ("version", info.version_id),
        ("modified", when(info.created_at)),
        ("content-type", info.meta.content_type),
        *((f"meta {k}", v) for k, v in sorted(info.meta.user.items())),
    ):
        t.add_row(name, value)
    console.print(t)


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@pass_state
def where(state: State, path: str) -> None:
    """Where every copy of BUCKET/KEY rests, who operates it, which laws reach it."""
    bucket, key = split_path(path)
    if state.as_json:
        emit_json([asdict(c) for c in state.engine.where(bucket, key)])
        return
    print_where(state, bucket, key)


def print_where(state: State, bucket: str, key: str) -> None:
    t = table(
        f"copies of {bucket}/{key}",
        "site",
        "country",
        "operator",
        "subject to",
        "state",
        "compliant",
    )
    for c in state.engine.where(bucket, key):
        why = escape("; ".join(c.reasons))
        if not c.compliant:
            ok = f"[red]no[/]: {why}"
        elif c.reasons:  # residency kept, but the site's status moves the copy off it
            ok = f"[yellow]yes[/], to move: {why}"
        else:
            ok = "[green]yes[/]"
        t.add_row(c.site_id, c.country, c.operator, ", ".join(c.subject_to), c.state, ok)
    console.print(t)


COMMANDS = (put, get, ls, rm, stat, where)
