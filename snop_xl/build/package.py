"""The last pass over the zip: add the ribbon, mark the workbook macro-enabled, and write every entry in a fixed
order with fixed timestamps, so the same sources give the same bytes."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

#: Every timestamp inside the file (zip entries, document properties): the build must not depend on the clock.
FIXED_TIME = dt.datetime(2026, 1, 1)
MACRO_WORKBOOK_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
RIBBON_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"

CORE_XML = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>S&amp;OP workbook (snop-xl)</dc:title>'
            '<dc:creator>snop-xl</dc:creator><cp:lastModifiedBy>snop-xl</cp:lastModifiedBy>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">{t}</dcterms:created>'
            '<dcterms:modified xsi:type="dcterms:W3CDTF">{t}</dcterms:modified></cp:coreProperties>')


def finish_package(source: Path, target: Path, ribbon: bytes) -> None:
    """Add the ribbon, mark the workbook macro-enabled, and rewrite the zip with fixed times and order."""
    with zipfile.ZipFile(source) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["customUI/customUI.xml"] = ribbon
    rels = parts["_rels/.rels"].decode()
    if RIBBON_REL not in rels:
        rels = rels.replace("</Relationships>", f'<Relationship Id="rIdSnopRibbon" Type="{RIBBON_REL}" '
                                                'Target="customUI/customUI.xml"/></Relationships>')
    parts["_rels/.rels"] = rels.encode()
    types_xml = parts["[Content_Types].xml"].decode()
    types_xml = re.sub(r'(PartName="/xl/workbook.xml" ContentType=")[^"]+"', rf'\g<1>{MACRO_WORKBOOK_TYPE}"',
                       types_xml)
    assert MACRO_WORKBOOK_TYPE in types_xml, "workbook content type not found"
    parts["[Content_Types].xml"] = types_xml.encode()
    parts["docProps/core.xml"] = CORE_XML.replace("{t}", FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")).encode()
    first = ["[Content_Types].xml", "_rels/.rels"]
    order = first + sorted(n for n in parts if n not in first)
    with zipfile.ZipFile(target, "w") as zout:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            info.create_system = 0
            zout.writestr(info, parts[name], compresslevel=9)
