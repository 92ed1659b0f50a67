"""A site in a local folder: atomic, durable, contained, and silent about what it stores.

The folder's layout is described in :mod:`domicile.sites.layout`: a marker, a ``.tmp``
folder for uploads in progress, and the blobs in up to 256 fan-out folders. A blob file
holds exactly the blob's bytes: no header, no object name, no tenant, no metadata. Files
are created 0600 and folders 0700.

Guarantees:

- **Atomic, durable put**: the bytes go to a temp file in ``.tmp`` (same file system),
  which is fsynced, renamed over ``<fan>/<blob_id>`` and then the folder is fsynced. A failed
  put removes its temp file. (If only that last folder fsync fails, the blob may already be
  visible; the put still raises and the engine's rollback or orphan sweep removes it.)
- **Temp files of dead writers are swept, live ones never**: a writer holds an exclusive
  ``flock`` on its temp file from creation until the file is published or removed; the
  kernel drops the lock when the writer's process dies (``kill -9`` included).
  ``sweep_temp`` removes only files untouched for the grace period *and* whose lock it can
  take, and removes them while holding that lock; a writer that lost its fresh temp file
  to a sweep before it could lock it notices (the name no longer leads to its file) and
  starts over with a new one. So even ``sweep_temp(0)`` never takes a live writer's file.
- **Write-once put** (``put_once``): as ``put``, but the temp file is published with
  ``os.link`` instead of a rename, which fails if the name exists; the temp file is then
  removed and the folder fsynced. An existing entry of any kind (a planted link included)
  makes it return False without touching it.
- **No silent re-creation**: the folder must exist *and* hold the marker. A missing folder
  or marker (an unmounted disk shows an empty mount point) raises SiteUnavailable naming
  the path; only :meth:`LocalSite.create` makes a folder a site.
- **Containment**: ids are validated before any I/O; every folder used is checked at every
  operation, by resolved path (``Path.resolve()`` + ``is_relative_to`` of the resolved
  root) whenever it is a symbolic link, so a link planted inside the root that points
  outside is refused (SiteCorrupt) for reads, writes, deletes and sweeps. Blob files are
  opened with ``O_NOFOLLOW`` and must be regular files: a link planted in a blob's place
  is never followed (``delete`` removes the link itself, ``put`` replaces it, ``list``
  skips it). This guards against planted links, not against a concurrent attacker who can
  write in the folder (who could delete the blobs anyway).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from domicile.errors import BlobNotFound, ConfigError, SiteCorrupt, SiteUnavailable
from domicile.sites.base import (
    BlobInfo,
    Leftover,
    check_blob_id,
    check_prefix,
    check_range,
    chunk_views,
)
from domicile.sites.layout import (
    MARKER,
    READ_FLAGS,
    TEMP,
    WRITE_FLAGS,
    fan_of,
    fsync_dir,
    is_fan,
    unlink_quietly,
    write_marker,
)
from domicile.sites.oserrors import UNAVAILABLE_HINT, site_error_from_os

#: Size of each read of ``get`` and of each write of gathered small chunks.
IO_SIZE = 1024 * 1024
#: Temp files a put creates before giving up when sweeps keep taking them unlocked.
TEMP_ATTEMPTS = 8
#: Chunks smaller than this are gathered into writes of up to IO_SIZE; others go straight.
GATHER_BELOW = 64 * 1024

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")


class LocalSite:
    """A :class:`~domicile.sites.base.Site` in a folder made by :meth:`create`."""

    def __init__(self, site_id: str, root: Path, *, fsync: bool = True) -> None:
        """Use the site folder ``root`` (no I/O here: every operation checks the folder)."""
        self._site_id = site_id
        self._root = Path(root).absolute()
        self._tmp_dir = self._root / TEMP
        self._marker = self._root / MARKER
        self._fans = {f"{n:02x}": self._root / f"{n:02x}" for n in range(256)}
        self._fsync = fsync
        self._real: Path | None = None  # the resolved root, once it was seen with its marker

    @classmethod
    def create(cls, site_id: str, root: Path, *, fsync: bool = True) -> LocalSite:
        """Make ``root`` a site folder (creating it and its parents if missing), then open it.

        Idempotent on a site folder. Refuses (ConfigError) a folder that is neither empty
        nor a site folder, so that a typo cannot scatter blobs among someone's files.
        """
        site = cls(site_id, root, fsync=fsync)
        base = site._root
        with site._errors("create", base):
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not (base / MARKER).exists():
                if any(base.iterdir()):
                    raise ConfigError(
                        f"folder {base} for site {site_id} is not empty and is not a site folder",
                        hint="point the site at a new or empty folder; if this is an existing "
                        f"site folder, restore its {MARKER} marker file",
                        site=site_id,
                        path=str(base),
                    )
                write_marker(base)
                base.chmod(0o700)
            (base / TEMP).mkdir(mode=0o700, exist_ok=True)
        return site

    def __repr__(self) -> str:
        return f"LocalSite({self._site_id!r}, {str(self._root)!r})"

    @property
    def site_id(self) -> str:
        return self._site_id

    @property
    def root(self) -> Path:
        """The site folder, as configured (absolute, not resolved)."""
        return self._root

    # --- the Site protocol ----------------------------------------------------------------

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        """Write ``chunks`` to a temp file, fsync, rename into place, fsync the folder."""
        check_blob_id(blob_id)
        real = self._check_root("put")
        tmp_dir = self._contained(self._tmp_dir, real, "put", blob_id)
        fan_dir = self._contained(self._fans[fan_of(blob_id)], real, "put", blob_id)
        fd, tmp = self._open_temp(tmp_dir, blob_id)
        try:  # the temp file stays locked (fd open) until it is published or removed
            size = self._write_all(fd, chunks, tmp, blob_id)
            if self._fsync:
                with self._errors("put", tmp, blob_id):
                    os.fsync(fd)
            with self._errors("put", fan_dir / blob_id, blob_id):
                try:
                    tmp.replace(fan_dir / blob_id)
                except FileNotFoundError:  # first blob of this fan-out folder
                    self._make_dir(fan_dir)
                    tmp.replace(fan_dir / blob_id)
                if self._fsync:
                    fsync_dir(fan_dir)
        except BaseException:
            unlink_quietly(tmp)
            raise
        finally:
            os.close(fd)
        return size

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """Write ``data`` to a temp file, fsync, hard-link it to the blob's name (which fails
        if the name exists: then False), remove the temp file, fsync the folder."""
        check_blob_id(blob_id)
        real = self._check_root("put")
        tmp_dir = self._contained(self._tmp_dir, real, "put", blob_id)
        fan_dir = self._contained(self._fans[fan_of(blob_id)], real, "put", blob_id)
        fd, tmp = self._open_temp(tmp_dir, blob_id)
        try:
            self._write(fd, memoryview(data).cast("B"), tmp, blob_id)
            if self._fsync:
                with self._errors("put", tmp, blob_id):
                    os.fsync(fd)
            with self._errors("put", fan_dir / blob_id, blob_id):
                try:
                    try:
                        os.link(tmp, fan_dir / blob_id, follow_symlinks=False)
                    except FileNotFoundError:  # first blob of this fan-out folder
                        self._make_dir(fan_dir)
                        os.link(tmp, fan_dir / blob_id, follow_symlinks=False)
                except FileExistsError:
                    return False
                if self._fsync:
                    fsync_dir(fan_dir)
        finally:
            unlink_quietly(tmp)
            os.close(fd)
        return True

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes ``[start, end)`` (clipped to the size) in reads of at most 1 MiB."""
        check_blob_id(blob_id)
        check_range(start, end, site=self._site_id)
        path = self._blob_path(blob_id, self._check_root("get"), "get")
        self._stat_blob(path, blob_id, "get")
        return self._read(path, blob_id, start, end)

    def head(self, blob_id: str) -> BlobInfo:
        check_blob_id(blob_id)
        path = self._blob_path(blob_id, self._check_root("head"), "head")
        return BlobInfo(blob_id, self._stat_blob(path, blob_id, "head").st_size)

    def delete(self, blob_id: str) -> None:
        """Unlink the blob (or a link planted in its place) and fsync its folder."""
        check_blob_id(blob_id)
        path = self._blob_path(blob_id, self._check_root("delete"), "delete")
        with self._errors("delete", path, blob_id):
            try:
                path.unlink()
            except FileNotFoundError:
                return
            if self._fsync:
                fsync_dir(path.parent)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """The blobs whose id starts with ``prefix``, in id order: every fan-out folder is
        read (``os.scandir``) for the ids alone, which are sorted; each blob's size and
        time are read as it is handed out (one ``lstat``, as scandir's entry would do), so
        what is held is one short string per blob, not its whole description."""
        check_prefix(prefix)
        self._check_root("list")
        names: builtins.list[str] = []
        with self._errors("list", self._root):
            with os.scandir(self._root) as top:
                fans = [e.name for e in top if is_fan(e.name) and e.is_dir(follow_symlinks=False)]
            for fan in fans:
                names.extend(self._list_fan(fan, prefix))
        names.sort()
        return self._described(names)

    def _described(self, names: builtins.list[str]) -> Iterator[BlobInfo]:
        for name in names:
            path = self._root / fan_of(name) / name
            with self._errors("list", path):
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue  # deleted while we listed
            if stat.S_ISREG(st.st_mode):
                yield BlobInfo(name, st.st_size, st.st_mtime)

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""

    # --- maintenance ----------------------------------------------------------------------

    def sweep_temp(
        self, older_than: float = 3600.0, *, dry_run: bool = False
    ) -> builtins.list[Leftover]:
        """Remove (with ``dry_run``, list) the temp files of dead writers: untouched for
        ``older_than`` seconds and not locked by a live writer (see the module docstring).

        A writer touches its temp file at every write and holds its lock until the end, so
        a file is taken only when its writer is gone, whatever ``older_than`` is.
        """
        tmp_dir = self._contained(self._tmp_dir, self._check_root("sweep"), "sweep", None)
        cutoff = time.time() - older_than
        found: builtins.list[Leftover] = []
        with self._errors("sweep", tmp_dir):
            try:
                with os.scandir(tmp_dir) as entries:
                    names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
            except FileNotFoundError:
                return found
            for name in sorted(names):
                leftover = self._take_temp(tmp_dir / name, cutoff, dry_run)
                if leftover is not None:
                    found.append(leftover)
        return found

    # --- helpers ----------------------------------------------------------------------------

    def _open_temp(self, tmp_dir: Path, blob_id: str) -> tuple[int, Path]:
        """Create a fresh temp file in ``tmp_dir`` and lock it (exclusive ``flock``); return
        its descriptor and path. A file removed by a sweep before the lock was taken is
        given up for a new one (a few times; then SiteUnavailable)."""
        for _ in range(TEMP_ATTEMPTS):
            tmp = tmp_dir / secrets.token_hex(16)
            with self._errors("put", tmp, blob_id):
                try:
                    fd = os.open(tmp, WRITE_FLAGS, 0o600)
                except FileNotFoundError:  # .tmp was removed by hand: the marker says it is ours
                    self._make_dir(tmp_dir)
                    fd = os.open(tmp, WRITE_FLAGS, 0o600)
            try:
                with contextlib.suppress(OSError):  # no locks here (rare): grace period only
                    fcntl.flock(fd, fcntl.LOCK_EX)
                with self._errors("put", tmp, blob_id):
                    if _same_file(fd, tmp):
                        return fd, tmp
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # a sweep took the new file before our lock: start over
        raise SiteUnavailable(
            f"site {self._site_id}: {TEMP_ATTEMPTS} new temp files in {tmp_dir} vanished "
            "before they could be locked",
            hint="something removes fresh files from the site's .tmp folder (a sweep with a "
            "negative grace, or another program): stop it",
            site=self._site_id,
            operation="put",
            blob=blob_id,
            path=str(tmp_dir),
        )

    def _take_temp(self, path: Path, cutoff: float, dry_run: bool) -> Leftover | None:
        """``path`` as a Leftover if it is stale and unlocked, removed unless ``dry_run``
        (under its lock); None if it is fresh, held by a live writer, or gone."""
        fd = _open_for_sweep(path)
        if fd is None:
            return None
        try:
            if not (_stale(fd, cutoff) and _lock_if_free(fd)):
                return None
            st = os.fstat(fd)  # the writer may have written until it died
            if st.st_mtime >= cutoff or not _same_file(fd, path):
                return None
            if not dry_run:
                path.unlink(missing_ok=True)
            return Leftover(path.name, st.st_size, st.st_mtime)
        finally:
            os.close(fd)

    def _check_root(self, operation: str) -> Path:
        """The resolved root, once the folder and its marker are known to be there."""
        try:
            self._marker.stat()
        except FileNotFoundError:
            missing = not self._root.is_dir()
            what = "is missing" if missing else f"has no {MARKER} marker (an unmounted disk?)"
            raise SiteUnavailable(
                f"site {self._site_id}: the site folder {self._root} {what}",
                hint=f"{UNAVAILABLE_HINT}; if the site is new, 'domicile sites init "
                f"{self._site_id}' initialises its folder",
                site=self._site_id,
                operation=operation,
                path=str(self._root),
            ) from None
        except OSError as exc:
            raise self._error(exc, operation, self._root) from exc
        if self._real is None:
            self._real = self._root.resolve()  # once: the folders below are checked each time
        return self._real

    def _contained(self, path: Path, real: Path, operation: str, blob_id: str | None) -> Path:
        """``path`` (a folder just below the root), unless it resolves outside the root.

        Only a symbolic link can lead elsewhere: a plain folder (or a missing one, to be
        created) at ``root/name`` resolves to ``real/name``. So the resolved-path check
        (``Path.resolve()`` + ``is_relative_to``) is made when ``path`` is a link, and a
        link that stays inside the root is allowed.
        """
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except FileNotFoundError:
            is_link = False
        except OSError as exc:
            raise self._error(exc, operation, path, blob_id) from exc
        if is_link and not path.resolve().is_relative_to(real):
            raise SiteCorrupt(
                f"site {self._site_id}: {path} leads outside the site folder {real}",
                hint="a symbolic link was planted in the site folder: remove it (domicile "
                "never creates links) and run a scrub of the site",
                site=self._site_id,
                operation=operation,
                blob=blob_id,
                path=str(path),
            )
        return path

    def _make_dir(self, path: Path) -> None:
        """Create the folder ``path`` (0700) if missing, durably (fsync of its parent)."""
        try:
            path.mkdir(0o700)
        except FileExistsError:
            return
        if self._fsync:
            fsync_dir(path.parent)

    def _blob_path(self, blob_id: str, real: Path, operation: str) -> Path:
        fan_dir = self._contained(self._fans[fan_of(blob_id)], real, operation, blob_id)
        return fan_dir / blob_id

    def _stat_blob(self, path: Path, blob_id: str, operation: str) -> os.stat_result:
        with self._errors(operation, path, blob_id):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                raise self._not_found(blob_id, operation) from None
        if not stat.S_ISREG(st.st_mode):
            raise SiteCorrupt(
                f"site {self._site_id}: {path} is not a regular file",
                hint="something other than domicile wrote in the site folder: remove that "
                "entry and repair the blob from another copy",
                site=self._site_id,
                operation=operation,
                blob=blob_id,
                path=str(path),
            )
        return st

    def _read(self, path: Path, blob_id: str, start: int, end: int | None) -> Iterator[bytes]:
        with self._errors("get", path, blob_id):
            try:
                fd = os.open(path, READ_FLAGS)
            except FileNotFoundError:
                raise self._not_found(blob_id, "get") from None
        try:
            size = os.fstat(fd).st_size
            stop = size if end is None else min(end, size)
            pos = start
            while pos < stop:
                with self._errors("get", path, blob_id):
                    data = os.pread(fd, min(IO_SIZE, stop - pos), pos)
                if not data:
                    raise SiteCorrupt(
                        f"site {self._site_id}: blob {blob_id} ended at byte {pos}, "
                        f"short of its size {size}",
                        hint="the file was truncated behind domicile's back: read another "
                        "copy and repair this one",
                        site=self._site_id,
                        operation="get",
                        blob=blob_id,
                        path=str(path),
                    )
                pos += len(data)
                yield data
        finally:
            os.close(fd)

    def _write_all(self, fd: int, chunks: Iterable[bytes], tmp: Path, blob_id: str) -> int:
        """Write every chunk: big ones straight through, small ones gathered up to 1 MiB."""
        size = 0
        gathered: memoryview | None = None
        filled = 0
        for view in chunk_views(chunks):
            n = view.nbytes
            size += n
            if n >= GATHER_BELOW:
                if filled and gathered is not None:
                    self._write(fd, gathered[:filled], tmp, blob_id)
                    filled = 0
                self._write(fd, view, tmp, blob_id)
                continue
            if gathered is None:
                gathered = memoryview(bytearray(IO_SIZE))
            if filled + n > IO_SIZE:
                self._write(fd, gathered[:filled], tmp, blob_id)
                filled = 0
            gathered[filled : filled + n] = view
            filled += n
        if filled and gathered is not None:
            self._write(fd, gathered[:filled], tmp, blob_id)
        return size

    def _write(self, fd: int, data: memoryview, tmp: Path, blob_id: str) -> None:
        with self._errors("put", tmp, blob_id):
            written = os.write(fd, data)
            while written < data.nbytes:
                written += os.write(fd, data[written:])

    def _not_found(self, blob_id: str, operation: str) -> BlobNotFound:
        return BlobNotFound(
            f"blob {blob_id} not found on site {self._site_id}",
            hint="the catalog may be out of date or the copy was lost: verify and repair "
            "the object's copies from another site",
            site=self._site_id,
            blob=blob_id,
            operation=operation,
        )

    @contextmanager
    def _errors(self, operation: str, path: Path, blob_id: str | None = None) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise self._error(exc, operation, path, blob_id) from exc

    def _error(
        self, exc: OSError, operation: str, path: Path, blob_id: str | None = None
    ) -> Exception:
        return site_error_from_os(
            exc, site=self._site_id, operation=operation, path=path, root=self._root, blob=blob_id
        )

    def _list_fan(self, fan: str, prefix: str) -> builtins.list[str]:
        out: builtins.list[str] = []
        with os.scandir(self._root / fan) as entries:
            for e in entries:
                if not (e.name.startswith(prefix) and _ID.fullmatch(e.name)):
                    continue
                if fan_of(e.name) != fan or not e.is_file(follow_symlinks=False):
                    continue
                out.append(e.name)
        return out


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` (not followed) is still the file open as ``fd``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _open_for_sweep(path: Path) -> int | None:
    """A read descriptor of the temp file ``path``; None if it is gone or not a plain file
    (a link planted in ``.tmp`` is never followed)."""
    try:
        return os.open(path, READ_FLAGS | os.O_NONBLOCK)
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise


def _stale(fd: int, cutoff: float) -> bool:
    st = os.fstat(fd)
    return stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff


def _lock_if_free(fd: int) -> bool:
    """Take ``fd``'s exclusive lock if no live writer holds it (True), else False. On a file
    system without locks, True: the grace period decides alone."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True
