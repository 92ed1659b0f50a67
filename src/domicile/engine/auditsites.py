"""Reading the audit checkpoint files kept on the sites (``ckpt-<seq, 20 digits>``).

An unreachable site is skipped (reads return None or leave it out, and :func:`read_all`
says which): evidence is compared wherever it can be read, and a site that is down is no
proof of anything. Files whose names are not checkpoint names are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from domicile.audit.evidence import CHECKPOINT_PREFIX, SiteFile, checkpoint_file_seq
from domicile.errors import BlobNotFound, SiteError
from domicile.sites import Site


def read_file(site: Site, blob_id: str) -> bytes | None:
    """The bytes of ``blob_id`` on ``site``; None if it is absent or the site unreachable."""
    try:
        return b"".join(site.get(blob_id))
    except BlobNotFound:
        return None
    except SiteError:
        return None


def _names(site: Site) -> list[tuple[int, str]]:
    return sorted(
        (seq, info.blob_id)
        for info in site.list(CHECKPOINT_PREFIX)
        if (seq := checkpoint_file_seq(info.blob_id)) is not None
    )


def newest_file(site: Site) -> SiteFile | None:
    """The checkpoint file of the highest seq on ``site`` (None: none, or unreachable)."""
    try:
        names = _names(site)
        if not names:
            return None
        seq, blob_id = names[-1]
        return SiteFile(site.site_id, seq, b"".join(site.get(blob_id)))
    except SiteError:
        return None


def read_all(sites: Mapping[str, Site]) -> tuple[list[SiteFile], list[str], list[str]]:
    """Every checkpoint file of every reachable site: ``(files, sites read whole,
    notices naming the sites that could not be read)``."""
    files: list[SiteFile] = []
    whole: list[str] = []
    notices: list[str] = []
    for site_id, site in sites.items():
        try:
            found = [
                SiteFile(site_id, seq, b"".join(site.get(blob_id))) for seq, blob_id in _names(site)
            ]
        except SiteError as exc:
            notices.append(
                f"site {site_id} could not be read ({exc.message}): its "
                "checkpoints were not compared"
            )
            continue
        files.extend(found)
        whole.append(site_id)
    return files, whole, notices
