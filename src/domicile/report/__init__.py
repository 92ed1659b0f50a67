"""Residency reports, drawn: text for a terminal, a JSON document, one HTML page.

A face beside :mod:`domicile.cli` and :mod:`domicile.gateway`: it renders the facts the
engine answers (:mod:`domicile.engine.facts`) and reaches no catalog, site or key itself
(an import-linter contract in ``pyproject.toml`` says so). The JSON schema and the page
are documented in ``docs/reports.md``.
"""

from __future__ import annotations

from domicile.report.as_html import report_html
from domicile.report.as_json import SCHEMA, SCHEMA_VERSION, iso_time, report_json, write_json
from domicile.report.as_text import print_report
from domicile.report.history_html import history_html
from domicile.report.history_json import HISTORY_SCHEMA, HISTORY_SCHEMA_VERSION, history_json
from domicile.report.history_text import history_text

__all__ = [
    "HISTORY_SCHEMA",
    "HISTORY_SCHEMA_VERSION",
    "SCHEMA",
    "SCHEMA_VERSION",
    "history_html",
    "history_json",
    "history_text",
    "iso_time",
    "print_report",
    "report_html",
    "report_json",
    "write_json",
]
