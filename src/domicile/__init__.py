"""domicile: keep encrypted copies of your objects only where your policy allows, and prove it."""

from __future__ import annotations

from domicile import errors
from domicile.errors import DomicileError
from domicile.types import ByteRange

__version__ = "0.1.0.dev0"

__all__ = ["ByteRange", "DomicileError", "__version__", "errors"]
