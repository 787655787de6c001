"""Text of an OFD document (GB/T 33190-2016, the format 信创 offices exchange), line by line.

An OFD file is a zip of XML: ``OFD.xml`` names each document's root (``Doc_0/Document.xml``), the
root lists its pages (``Pages/Page_0/Content.xml``), and a page's layers hold ``TextObject``s, each
with one or more ``TextCode`` runs placed at X/Y inside the object's ``Boundary``. Runs that share a
baseline make one line; lines are read top to bottom, runs left to right. Only the XML is read
(no fonts, images or signatures); the libraries that render OFD pull in PDF and font toolkits.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
# Runs whose baselines differ by less than this (in mm) are on one line.
_SAME_LINE_MM = 1.5


class OfdError(Exception):
    """Not a readable OFD file."""


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element, name: str):
    return [child for child in element.iter() if _local(child.tag) == name]


def _floats(text: str | None) -> list[float]:
    try:
        return [float(v) for v in (text or "").split()]
    except ValueError:
        return []


def _read(archive: zipfile.ZipFile, name: str):
    name = posixpath.normpath(name.lstrip("/"))
    try:
        return etree.fromstring(archive.read(name), _PARSER)
    except KeyError as exc:
        raise OfdError(f"missing {name}") from exc
    except etree.XMLSyntaxError as exc:
        raise OfdError(f"bad XML in {name}") from exc


def ofd_pages(data: bytes) -> list[list[str]]:
    """The text lines of each page of every document in the OFD file ``data``; OfdError otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise OfdError("not a zip") from exc
    with archive:
        roots = [el.text.strip() for el in _children(_read(archive, "OFD.xml"), "DocRoot") if el.text]
        if not roots:
            raise OfdError("no DocRoot")
        pages: list[list[str]] = []
        for root in roots:
            base = posixpath.dirname(root)
            document = _read(archive, root)
            for page in _children(document, "Page"):
                location = page.get("BaseLoc")
                if location:
                    pages.append(_page_lines(_read(archive, posixpath.join(base, location))))
        return pages


def _page_lines(content) -> list[str]:
    runs: list[tuple[float, float, str]] = []
    for text_object in _children(content, "TextObject"):
        box = _floats(text_object.get("Boundary")) or [0.0, 0.0]
        for code in _children(text_object, "TextCode"):
            text = "".join(code.itertext())
            if not text.strip():
                continue
            x = box[0] + (_floats(code.get("X")) or [0.0])[0]
            y = box[1] + (_floats(code.get("Y")) or [0.0])[0]
            runs.append((y, x, text))
    runs.sort()
    lines: list[list[tuple[float, str]]] = []
    last_y = None
    for y, x, text in runs:
        if last_y is None or y - last_y > _SAME_LINE_MM:
            lines.append([])
            last_y = y
        lines[-1].append((x, text))
    return ["".join(text for _x, text in sorted(line)) for line in lines]
