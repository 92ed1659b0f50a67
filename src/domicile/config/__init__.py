"""The deployment's configuration file: one TOML document, validated with precise errors.

The file has these top-level tables::

    [deployment]          name, catalog URL, keyring path, segment size
    [entities.<id>]       legal persons   -- validated by domicile.policy
    [sites.<id>]          storage sites   -- validated by domicile.policy
    [policies.<id>]       residency rules -- validated by domicile.policy
    [buckets.<name>]      policy = "<policy id>", tenant = "<tenant>"
    [gateway]             the S3 gateway: address, TLS, signing region, limits
    [tenants.<name>]      who may call the gateway: keys = [{access_key, secret}]
    [audit]               the transparency log: origin, witnesses = [{url, key}], quorum
    [registry]            the residency registry: a newer file to use, its maximum age

This module owns the file itself, ``[deployment]``, ``[buckets]``, ``[gateway]``,
``[tenants]``, ``[audit]`` and ``[registry]``; it hands the other
sections to the residency model as plain dicts, together with the file path so that every
error there names the file and the key path too. Relative paths are resolved against the
folder holding the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from domicile.errors import ConfigError

#: The environment variable naming the deployment's config file (the CLI's ``--config``).
CONFIG_ENV = "DOMICILE_CONFIG"
#: The environment variable holding the keyring passphrase, when the keyring has one.
PASSPHRASE_ENV = "DOMICILE_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)

MiB = 1024 * 1024
_M = TypeVar("_M", bound=BaseModel)
_KNOWN_TABLES = (
    "deployment",
    "entities",
    "sites",
    "policies",
    "buckets",
    "gateway",
    "tenants",
    "audit",
    "registry",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentSection(_Strict):
    """``[deployment]``: where the catalog and the keyring live, and how objects are cut."""

    name: str = "domicile"
    catalog: str = "sqlite:///catalog.db"
    keyring: str = "keyring.txt"
    audit_key: str = "audit-key.pem"
    checkpoint_every: int = Field(default=1000, ge=1)
    #: Ship the audit records to the sites, encrypted to the keyring, with each checkpoint
    #: (``alog-`` segments): ``rebuild-catalog`` then restores the history.
    audit_history: bool = True
    #: 1 GiB: each segment is a multipart upload on an S3 site, and Swift's cost per upload
    #: took a 1 GiB put from 0.81 of boto3 with one segment to 0.61 with 64 MiB segments
    #: (docs/s3-sites.md). Memory does not depend on it (segments are streamed).
    segment_size_mib: int = Field(default=1024, ge=1, le=4096)
    workers: int = Field(default=8, ge=1, le=256)
    #: Multipart uploads begun longer ago than this are aborted by ``domicile sweep`` and
    #: the gateway's periodic sweep.
    multipart_expiry_hours: float = Field(default=24, ge=0)
    #: How long a lease of ``apply`` or ``repair`` (and of each step it claimed) outlives
    #: its holder's last renewal: a process killed mid-job frees its scope this long after.
    lease_seconds: float = Field(default=60, gt=0, le=3600)


class BucketSection(_Strict):
    """``[buckets.<name>]``: a bucket the deployment creates if it does not exist yet."""

    policy: str
    tenant: str = "default"


class GatewaySection(_Strict):
    """``[gateway]``: where ``domicile serve`` listens and how it treats requests."""

    listen: str = Field(default="127.0.0.1:9000", pattern=r"^[^\s:]+:\d{1,5}$")
    #: Virtual-hosted addressing: ``<bucket>.<domain>`` names the bucket ("" = path-style only).
    domain: str = ""
    #: Regions a credential scope may name; empty accepts any (the region is only signed).
    regions: tuple[str, ...] = ()
    tls_cert: str = ""
    tls_key: str = ""
    skew_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    #: The policy of a bucket created without a LocationConstraint ("" = refuse).
    default_policy: str = ""
    #: Processes serving the S3 API on this address (each opens the deployment; more
    #: than one puts every core to work: see docs/gateway.md).
    workers: int = Field(default=1, ge=1, le=64)
    #: Threads that run engine calls (each upload or download holds one while it streams).
    threads: int = Field(default=64, ge=2, le=1024)
    #: How often abandoned multipart uploads are looked for (their age limit is
    #: ``[deployment] multipart_expiry_hours``), and dead writers' leftovers on the sites.
    sweep_minutes: float = Field(default=60, gt=0)
    #: Seconds in-flight requests get to finish on shutdown.
    shutdown_grace: float = Field(default=30, ge=0)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def scheme(self) -> str:
        """``https`` when a TLS certificate is set, else ``http``."""
        return "https" if self.tls_cert else "http"

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySection:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        return self


class AccessKeySection(_Strict):
    """One access key of a tenant; the secret is inline or in an environment variable."""

    access_key: str = Field(min_length=3, max_length=128, pattern=r"^[A-Za-z0-9._:+=@-]+$")
    secret: SecretStr | None = None
    secret_env: str = ""
    #: May this key bypass GOVERNANCE retention (``x-amz-bypass-governance-retention``)?
    bypass_governance: bool = False

    @model_validator(mode="after")
    def _one_secret(self) -> AccessKeySection:
        if (self.secret is None) == (not self.secret_env):
            raise ValueError("give exactly one of secret and secret_env")
        return self

    def secret_value(self) -> str:
        """The secret (read from ``secret_env`` now if that is how it is given)."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        value = os.environ.get(self.secret_env)
        if not value:
            raise ConfigError(
                f"the secret of access key {self.access_key} is in ${self.secret_env}, "
                "which is not set",
                hint=f"export {self.secret_env}=... before starting the gateway",
                key="tenants",
            )
        return value


class TenantSection(_Strict):
    """``[tenants.<name>]``: a customer of the gateway; it sees only its own buckets."""

    keys: tuple[AccessKeySection, ...] = Field(min_length=1)
    #: The residency policies this tenant may bind its buckets to (CreateBucket's
    #: ``LocationConstraint``); ``None`` (the key left out) allows every policy.
    policies: tuple[str, ...] | None = None

    def may_use(self, policy: str) -> bool:
        """Whether this tenant may bind a bucket to ``policy``."""
        return self.policies is None or policy in self.policies


class WitnessSection(_Strict):
    """One witness of ``[audit] witnesses``: its add-checkpoint URL prefix and its
    public key (a vkey, as ``domicile witness public-key`` prints it)."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    key: str = Field(min_length=8)


class AuditSection(_Strict):
    """``[audit]``: the audit log as a transparency log (docs/transparency.md)."""

    #: The log's name in its checkpoints ("" = ``domicile/<deployment name>/<key id>``).
    origin: str = Field(default="", pattern=r"^[^\s+]*$", max_length=255)
    witnesses: tuple[WitnessSection, ...] = ()
    #: Cosignatures a checkpoint needs to count as witnessed (default: every witness).
    quorum: int | None = Field(default=None, ge=0)
    #: Seconds to wait for one witness's answer.
    witness_timeout: float = Field(default=3.0, gt=0, le=60)

    @model_validator(mode="after")
    def _quorum_fits(self) -> AuditSection:
        if self.quorum is not None and self.quorum > len(self.witnesses):
            raise ValueError(
                f"quorum {self.quorum} is more than the {len(self.witnesses)} witnesses"
            )
        return self

    @property
    def needed(self) -> int:
        return len(self.witnesses) if self.quorum is None else self.quorum


class RegistrySection(_Strict):
    """``[registry]``: which residency registry the deployment uses, and how old it may be."""

    #: A registry file to use instead of the one shipped with domicile ("" = the shipped
    #: one); relative to the configuration file. ``domicile registry diff FILE`` shows
    #: what a file changes before it is adopted here.
    file: str = ""
    #: Warn (in ``sites``, ``policy explain`` and the report) when the registry was last
    #: reviewed longer ago than this many days.
    max_age_days: int = Field(default=365, ge=1)


@dataclass(frozen=True)
class Config:
    """A validated configuration file."""

    path: Path
    deployment: DeploymentSection
    entities: Mapping[str, Any] = field(default_factory=dict)
    sites: Mapping[str, Any] = field(default_factory=dict)
    policies: Mapping[str, Any] = field(default_factory=dict)
    buckets: Mapping[str, BucketSection] = field(default_factory=dict)
    gateway: GatewaySection = field(default_factory=GatewaySection)
    tenants: Mapping[str, TenantSection] = field(default_factory=dict)
    audit: AuditSection = field(default_factory=AuditSection)
    registry: RegistrySection = field(default_factory=RegistrySection)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.path.parent

    @property
    def keyring_path(self) -> Path:
        return self.base_dir / self.deployment.keyring

    @property
    def catalog_url(self) -> str:
        """The catalog URL, with a relative SQLite path made absolute."""
        url = self.deployment.catalog
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            return prefix + str(self.base_dir / url.removeprefix(prefix))
        return url

    @property
    def registry_path(self) -> Path | None:
        """The registry file to use, or None for the shipped one."""
        return self.base_dir / self.registry.file if self.registry.file else None

    @property
    def segment_size(self) -> int:
        return self.deployment.segment_size_mib * MiB


def default_config_path() -> Path:
    """``$DOMICILE_CONFIG``, else ``./domicile-data/domicile.toml``."""
    return Path(os.environ.get(CONFIG_ENV) or "domicile-data/domicile.toml")


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the configuration file at ``path``."""
    path = Path(path).absolute()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no configuration file at {path}",
            hint="run 'domicile init' to write one, or pass --config / set DOMICILE_CONFIG",
            file=str(path),
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", file=str(path)) from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}",
            hint="fix the syntax at the position shown",
            file=str(path),
        ) from None
    return parse_config(doc, path)


def parse_config(doc: Mapping[str, Any], path: Path) -> Config:
    """Validate an already parsed document; ``path`` is used for errors and relative paths."""
    for name in doc:
        if name not in _KNOWN_TABLES:
            raise ConfigError(
                f"{path}: unknown table [{name}]",
                hint=f"the known tables are {', '.join(_KNOWN_TABLES)}",
                file=str(path),
                key=name,
            )
    tables = {name: _table(doc, name, path) for name in _KNOWN_TABLES}
    deployment = _model(DeploymentSection, tables["deployment"], path, "deployment")
    buckets = {
        name: _model(
            BucketSection,
            _table(tables["buckets"], name, path, "buckets."),
            path,
            f"buckets.{name}",
        )
        for name in tables["buckets"]
    }
    tenants = {
        name: _model(
            TenantSection,
            _table(tables["tenants"], name, path, "tenants."),
            path,
            f"tenants.{name}",
        )
        for name in tables["tenants"]
    }
    _check_unique_keys(tenants, path)
    _check_tenant_policies(tenants, buckets, tables["policies"], path)
    return Config(
        path=path,
        deployment=deployment,
        entities=tables["entities"],
        sites=tables["sites"],
        policies=tables["policies"],
        buckets=buckets,
        gateway=_model(GatewaySection, tables["gateway"], path, "gateway"),
        tenants=tenants,
        audit=_model(AuditSection, tables["audit"], path, "audit"),
        registry=_model(RegistrySection, tables["registry"], path, "registry"),
    )


def _check_tenant_policies(
    tenants: Mapping[str, TenantSection],
    buckets: Mapping[str, BucketSection],
    policies: Mapping[str, Any],
    path: Path,
) -> None:
    """Every policy a tenant names exists, and every configured bucket's policy is one its
    tenant may use."""
    for name, tenant in tenants.items():
        unknown = [p for p in tenant.policies or () if p not in policies]
        if unknown:
            raise ConfigError(
                f"{path}: tenants.{name}.policies names {', '.join(map(repr, unknown))}, "
                "which is not a policy of this deployment",
                hint=f"the policies are {', '.join(policies) or 'none'}",
                file=str(path),
                key=f"tenants.{name}.policies",
            )
    for name, bucket in buckets.items():
        owner = tenants.get(bucket.tenant)
        if owner is not None and not owner.may_use(bucket.policy):
            raise ConfigError(
                f"{path}: buckets.{name} binds policy {bucket.policy!r}, which tenant "
                f"{bucket.tenant} may not use (its policies: {', '.join(owner.policies or ())})",
                hint=f"add {bucket.policy!r} to tenants.{bucket.tenant}.policies",
                file=str(path),
                key=f"buckets.{name}.policy",
            )


def _check_unique_keys(tenants: Mapping[str, TenantSection], path: Path) -> None:
    owner: dict[str, str] = {}
    for name, tenant in tenants.items():
        for key in tenant.keys:
            if key.access_key in owner:
                raise ConfigError(
                    f"{path}: access key {key.access_key} is given to both tenants "
                    f"{owner[key.access_key]} and {name}",
                    hint="an access key belongs to exactly one tenant",
                    file=str(path),
                    key=f"tenants.{name}.keys",
                )
            owner[key.access_key] = name


def _table(doc: Mapping[str, Any], name: str, path: Path, where: str = "") -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: [{where}{name}] must be a table",
            hint=f"write it as [{where}{name}] followed by key = value lines",
            file=str(path),
            key=f"{where}{name}",
        )
    return value


def _model(model: type[_M], data: Mapping[str, Any], path: Path, where: str) -> _M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join([where, *(str(p) for p in first["loc"])])
        raise ConfigError(
            f"{path}: {key}: {first['msg']}",
            hint=_hint_for(model, first),
            file=str(path),
            key=key,
        ) from None


def _hint_for(model: type[BaseModel], error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return f"the known keys here are {', '.join(model.model_fields)}"
    if error["type"] == "missing":
        return "add this key"
    return "check the value's type and range"
