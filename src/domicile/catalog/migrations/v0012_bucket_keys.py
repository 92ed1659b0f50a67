"""Step 12: bucket data identities.

Frozen: see ``v0001_initial``. ``bucket_keys``: one row per version of a bucket's data
identity: its kind (``x25519`` or ``mlkem768x25519``), its public recipient, the identity
itself age-encrypted to the deployment's root recipients (``wrapped``), and the sites a
copy of it was written to (``sites``, comma-separated). The newest version of a kind is
the one new blobs are wrapped to; older ones still read older blobs. ``domicile shred``
deletes a bucket's rows.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "bucket_keys",
        m,
        sa.Column("bucket", sa.String(63), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("sites", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    m.create_all(conn)
