"""Building an :class:`S3Site` from the ``backend`` table of ``[sites.<id>]`` in the config.

::

    [sites.scw-paris.backend]
    type = "s3"
    endpoint = "https://s3.fr-par.scw.cloud"
    region = "fr-par"
    bucket = "acme-domicile"
    prefix = "blobs/"                   # optional, default "" (the whole bucket)
    addressing = "virtual"              # "path" (default; self-hosted servers) or "virtual"
    access_key_env = "SCW_ACCESS_KEY"   # names of environment variables holding the keys,
    secret_key_env = "SCW_SECRET_KEY"   # or access_key / secret_key inline (not advised),
                                        # or neither: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    ca_file = "certs/ca.pem"            # optional CA bundle (relative: to the config file)
    verify_tls = true                   # false only for a laboratory
    part_size_mib = 32                  # optional: multipart part size (>= 5)
    timeout = 10                        # optional: seconds per socket read or write
    connect_timeout = 3                 # optional: seconds per connection attempt

Errors are ConfigError naming the site and the key; secrets never appear in them. The
bucket is never created here: ``create=True`` (site setup) changes nothing for S3. boto3 is
imported only when an S3 site is opened, so that deployments without one start fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domicile.errors import ConfigError

if TYPE_CHECKING:
    from domicile.sites.s3 import S3Site

MiB = 1024 * 1024

KEYS = {
    "type",
    "endpoint",
    "bucket",
    "prefix",
    "region",
    "addressing",
    "access_key_env",
    "secret_key_env",
    "access_key",
    "secret_key",
    "ca_file",
    "verify_tls",
    "part_size_mib",
    "timeout",
    "connect_timeout",
}


def open_s3_site(
    site_id: str, backend: Mapping[str, Any], base_dir: Path, create: bool = False
) -> S3Site:
    """The S3 site that ``backend`` describes (see the module docstring for the keys)."""
    from domicile.sites.s3 import S3Site  # noqa: PLC0415 -- boto3 loads in ~0.25 s

    unknown = sorted(set(backend) - KEYS)
    if unknown:
        raise _error(
            site_id,
            unknown[0],
            f"unknown backend key(s) {', '.join(unknown)} for type 's3'",
            f"the keys of an s3 backend are: {', '.join(sorted(KEYS))}",
        )
    access_key, secret_key = _credentials(site_id, backend)
    verify: bool | Path = _get(site_id, backend, "verify_tls", bool, True)
    ca_file = _get(site_id, backend, "ca_file", str, "")
    if ca_file:
        if verify is False:
            raise _error(
                site_id, "ca_file", "ca_file and verify_tls = false contradict", "drop one"
            )
        ca_path = (base_dir / Path(ca_file).expanduser()).absolute()
        if not ca_path.is_file():
            raise _error(site_id, "ca_file", f"no CA file at {ca_path}", "give a PEM bundle path")
        verify = ca_path
    addressing = _get(site_id, backend, "addressing", str, "path")
    if addressing not in {"path", "virtual", "auto"}:
        raise _error(site_id, "addressing", f"unknown addressing {addressing!r}", "path or virtual")
    return S3Site(
        site_id,
        endpoint=_get(site_id, backend, "endpoint", str, None),
        bucket=_get(site_id, backend, "bucket", str, None),
        prefix=_get(site_id, backend, "prefix", str, ""),
        region=_get(site_id, backend, "region", str, "us-east-1"),
        access_key=access_key,
        secret_key=secret_key,
        addressing=addressing,
        verify=verify,
        part_size=_get(site_id, backend, "part_size_mib", int, 32) * MiB,
        timeout=float(_get(site_id, backend, "timeout", int | float, 10)),
        connect_timeout=float(_get(site_id, backend, "connect_timeout", int | float, 3)),
    )


def _credentials(site_id: str, backend: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The key pair from the environment or the table; (None, None) for botocore's defaults."""
    pair: list[str | None] = []
    for name in ("access_key", "secret_key"):
        env_name = _get(site_id, backend, f"{name}_env", str, "")
        inline = _get(site_id, backend, name, str, "")
        if env_name and inline:
            raise _error(site_id, name, f"both {name} and {name}_env are set", "keep one")
        if env_name:
            value = os.environ.get(env_name)
            if not value:
                raise _error(
                    site_id,
                    f"{name}_env",
                    f"the environment variable {env_name} (the {name.replace('_', ' ')}) "
                    "is not set",
                    f"export {env_name} before starting domicile",
                )
            pair.append(value)
        else:
            pair.append(inline or None)
    if (pair[0] is None) != (pair[1] is None):
        raise _error(
            site_id,
            "access_key_env",
            "an access key without a secret key, or the reverse",
            "give both (access_key_env and secret_key_env) or neither",
        )
    return pair[0], pair[1]


def _get(site_id: str, backend: Mapping[str, Any], key: str, kind: Any, default: Any) -> Any:
    if key not in backend:
        if default is None:
            raise _error(site_id, key, f"an s3 backend needs {key}", f"set backend.{key}")
        return default
    value = backend[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = "(hidden)" if key in {"access_key", "secret_key"} else repr(value)
        raise _error(site_id, key, f"backend.{key} has the wrong type: {shown}", "see the docs")
    return value


def _error(site_id: str, key: str, what: str, hint: str) -> ConfigError:
    return ConfigError(
        f"site {site_id}: {what}",
        hint=hint,
        site=site_id,
        key=f"sites.{site_id}.backend.{key}",
    )
