"""What an uploaded file is: its kind decided by its content and checked against its name, and the
one rule for zip containers (DOCX, OFD, XLSX).

Every message is a sentence in the user's language (Chinese by default), translated when the
error is raised. Nothing here touches the database: the upload service (``uploads``), the
document parser (``parsing``) and the batch file reader use it alike.
"""

from __future__ import annotations

import io
import re
import zipfile

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

__all__ = [
    "EXTENSIONS",
    "MAX_COMPRESSION_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_ZIP_MEMBERS",
    "RATIO_CHECK_MIN_BYTES",
    "ArchiveCorrupt",
    "ArchiveOversized",
    "ParseError",
    "declared_charset",
    "empty_message",
    "filename_check",
    "sniff_kind",
    "text_decode",
    "zip_members",
]

# The one rule for zip containers: a DOCX or XLSX file is refused before anything decompresses it
# when it has too many members, too much content once decompressed, or a member compressed
# beyond what real documents are (the usual zip bomb).
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # sum of the members' uncompressed sizes
MAX_COMPRESSION_RATIO = 100
# Small members (styles, settings) may legitimately compress very well; the ratio is only
# checked for members at least this large.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
MAX_ZIP_MEMBERS = 10_000


class ParseError(Exception):
    """A file that cannot be taken; str(exc) is a clear sentence in the user's language.

    The message is translated when the error is raised (the request's language, or the platform's
    default in a worker), so a lazy message becomes plain text here.
    """

    def __init__(self, message) -> None:
        super().__init__(str(message))


class ArchiveCorrupt(Exception):
    """The bytes are not a readable zip container."""


class ArchiveOversized(Exception):
    """A zip container breaking the rule: too many members, too large once decompressed, or a zip bomb."""


def zip_members(data: bytes) -> list[str]:
    """The member names of the zip container ``data``, once it has passed the rule for zip containers.

    Only the central directory is read. Python's ``zipfile`` (used by python-docx and openpyxl)
    never inflates a member beyond the size the directory declares, so checking the declared
    sizes bounds what any later reader decompresses. Raises :class:`ArchiveCorrupt` or
    :class:`ArchiveOversized`.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except Exception as exc:  # zipfile raises several kinds for damaged directories
        raise ArchiveCorrupt() from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ArchiveOversized()
    total = 0
    for info in infos:
        total += info.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ArchiveOversized()
        ratio = info.file_size / info.compress_size if info.compress_size > 0 else float("inf")
        if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise ArchiveOversized()
    return [info.filename for info in infos]


# --------------------------------------------------------------------------------------------
# Messages


def empty_message() -> str:
    return _("未能从文件中提取到文字：文件为空，或是扫描件/图片。")


def docx_corrupt_message() -> str:
    return _("Word 文件已损坏，无法读取。")


def docx_bomb_message() -> str:
    return _("Word 文件解压后体积过大或压缩比异常（疑似压缩炸弹），已拒绝处理。")


def ofd_corrupt_message() -> str:
    return _("OFD 文件已损坏或不是有效的 OFD 版式文件，无法读取。")


def supported_types() -> str:
    return _("PDF、Word（.docx）、OFD、TXT、Markdown 或 HTML")


EXTENSIONS = {
    "pdf": "pdf",
    "docx": "docx",
    "ofd": "ofd",
    "txt": "txt",
    "md": "md",
    "markdown": "md",
    "html": "html",
    "htm": "html",
}
_KIND_NAMES = {
    "pdf": gettext_lazy("PDF"),
    "docx": gettext_lazy("Word（.docx）文档"),
    "ofd": gettext_lazy("OFD 版式文件"),
    "txt": gettext_lazy("文本"),
    "md": gettext_lazy("Markdown 文本"),
    "html": gettext_lazy("HTML 网页"),
}


def _word(word) -> str:
    """A word placed in a sentence: Chinese puts a space before a Latin word ("不是 PDF", but
    "不是文本"); other languages' sentences carry their own spaces."""
    word = str(word)
    if (translation.get_language() or "").startswith("zh") and word[:1].isascii():
        return f" {word}"
    return word


def _mismatch(ext: str, kind: str, detail: str = "") -> ParseError:
    return ParseError(
        _("文件内容与扩展名不符：扩展名为 .%(ext)s，但内容不是%(kind)s%(detail)s。")
        % {"ext": ext, "kind": _word(_KIND_NAMES[kind]), "detail": detail}
    )


def _looks_like(description) -> str:
    return _("（看起来是%(what)s）") % {"what": _word(description)}


# --------------------------------------------------------------------------------------------
# Names


def filename_check(filename) -> str:
    """The file name, stripped, when it is safe to keep as a label; ParseError otherwise.

    Files are stored under server-generated names; the user's name is only shown. It still may
    not carry a path, a ".." or control characters, so that nothing downstream mistakes it for one.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise ParseError(_("缺少文件名，无法判断文件类型。"))
    name = filename.strip()
    if "/" in name or "\\" in name or ".." in name or _NAME_CONTROL.search(name):
        raise ParseError(_("文件名不合法：文件名中不能包含路径分隔符（/ 或 \\）、“..”或控制字符。"))
    return name


_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _extension(filename) -> str:
    name = filename_check(filename)
    if "." not in name:
        raise ParseError(_("文件没有扩展名，无法判断类型。请上传 %(types)s 文件。") % {"types": supported_types()})
    ext = name.rsplit(".", 1)[1].strip().lower()
    if ext in ("doc", "wps", "rtf"):
        raise ParseError(_("不支持 .%(ext)s 格式，请在 Word 或 WPS 中另存为 .docx 后上传。") % {"ext": ext})
    if ext not in EXTENSIONS:
        shown = f".{ext}" if ext else _("（空）")
        raise ParseError(
            _("不支持的文件类型：%(ext)s。请上传 %(types)s 文件。") % {"ext": shown, "types": supported_types()}
        )
    return ext


# --------------------------------------------------------------------------------------------
# Content

# (signature, what it looks like, whether the signature is unmistakable even in a text file)
_MAGIC = (
    (b"%PDF-", gettext_lazy("PDF 文件"), True),
    (b"PK\x03\x04", gettext_lazy("压缩包（ZIP）或 Office 文档"), True),
    (b"PK\x05\x06", gettext_lazy("压缩包（ZIP）"), True),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", gettext_lazy("旧版 Office 文件（.doc/.xls）或加密的 Office 文件"), True),
    (b"\x89PNG", gettext_lazy("图片"), True),
    (b"\xff\xd8\xff", gettext_lazy("图片"), True),
    (b"{\\rtf", gettext_lazy("RTF 文档"), True),
    (b"\x1f\x8b", gettext_lazy("压缩包（gzip）"), True),
    (b"7z\xbc\xaf\x27\x1c", gettext_lazy("压缩包（7z）"), True),
    (b"MZ", gettext_lazy("可执行程序"), False),
    (b"\x7fELF", gettext_lazy("可执行程序"), False),
    (b"\xcf\xfa\xed\xfe", gettext_lazy("可执行程序"), False),  # Mach-O (64-bit)
    (b"\xca\xfe\xba\xbe", gettext_lazy("可执行程序"), False),  # Mach-O universal, Java class
    (b"\x00asm", gettext_lazy("可执行程序"), True),  # WebAssembly
    (b"GIF8", gettext_lazy("图片"), False),
    (b"Rar!", gettext_lazy("压缩包（RAR）"), False),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTML_RE = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|p|div|h[1-6]|table|ul|ol|li|span|br|article|section|meta|title)\b",
    re.IGNORECASE,
)
# A whole web page: what a browser would render, not a text that mentions a tag.
_HTML_PAGE_RE = re.compile(r"\A\s*(?:<!--.*?-->\s*)*<\s*(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _describe_binary(data: bytes, *, unmistakable_only: bool = False):
    for magic, description, unmistakable in _MAGIC:
        if (unmistakable or not unmistakable_only) and data.startswith(magic):
            if magic == b"PK\x03\x04" and _zip_has_document(data):
                return _KIND_NAMES["docx"]
            return description
    return None


def _zip_has_document(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except Exception:
        return False


def text_decode(data: bytes, preferred: str | None = None) -> str | None:
    """Text of the bytes (UTF-8, UTF-8 with BOM, UTF-16 with BOM, or GB18030), or None for binary."""
    text: str | None = None
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith(_UTF16_BOMS):
        candidates = ["utf-16"]
    else:
        if b"\x00" in data:
            return None
        # UTF-8 first: it validates strictly, and declared charsets are often wrong.
        candidates = ["utf-8", *([preferred] if preferred else []), "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None or "\x00" in text:
        return None
    controls = len(_CONTROL.findall(text))
    if controls > max(2, len(text) // 100):
        return None
    return text


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in a <meta> tag, GBK's aliases read as GB18030."""
    match = _META_CHARSET_RE.search(data[:4096])
    if not match:
        return None
    name = match.group(1).decode("ascii").lower()
    if name in ("gbk", "gb2312", "gb_2312-80", "x-gbk", "cp936"):
        return "gb18030"
    return name


def sniff_kind(data: bytes, filename: str) -> str:
    """The document kind ("pdf", "docx", "txt", "md", "html"), decided by content and checked
    against the file name's extension. Raises :class:`ParseError` when they disagree, when the
    name is unsafe, or when a DOCX breaks the rule for zip containers."""
    ext = _extension(filename)
    kind = EXTENSIONS[ext]
    if not data or not data.strip():
        raise ParseError(empty_message())
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise _mismatch(ext, kind, _detail(data))
        return kind
    if kind == "docx":
        if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            raise _mismatch(
                ext,
                kind,
                _("（看起来是旧版 .doc 文件或加密的 Word 文件，请在 Word 中另存为未加密的 .docx 后上传）"),
            )
        if not data.startswith(b"PK"):
            raise _mismatch(ext, kind, _detail(data))
        try:
            names = zip_members(data)
        except ArchiveCorrupt as exc:
            raise ParseError(docx_corrupt_message()) from exc
        except ArchiveOversized as exc:
            raise ParseError(docx_bomb_message()) from exc
        if "word/document.xml" not in names:
            raise _mismatch(ext, kind, _("（是压缩包，但不含 Word 正文）"))
        return kind
    if kind == "ofd":
        if not data.startswith(b"PK"):
            raise _mismatch(ext, kind, _detail(data))
        try:
            names = zip_members(data)
        except ArchiveCorrupt as exc:
            raise ParseError(ofd_corrupt_message()) from exc
        except ArchiveOversized as exc:
            raise ParseError(docx_bomb_message()) from exc
        if "OFD.xml" not in names:
            raise _mismatch(ext, kind, _("（是压缩包，但不含 OFD.xml）"))
        return kind
    # Text formats.
    if _describe_binary(data, unmistakable_only=True):
        raise _mismatch(ext, kind, _detail(data))
    text = text_decode(data, declared_charset(data) if kind == "html" else None)
    if text is None:
        if _describe_binary(data):
            raise _mismatch(ext, kind, _detail(data))
        raise ParseError(
            _("文件内容与扩展名不符：扩展名为 .%(ext)s，但内容不是可识别的文本（支持 UTF-8 或 GBK/GB18030 编码）。")
            % {"ext": ext}
        )
    if kind == "html" and not _HTML_RE.search(text):
        raise _mismatch(ext, kind)
    if kind == "txt" and _HTML_PAGE_RE.match(text.lstrip("\ufeff")):
        raise _mismatch(ext, kind, _looks_like(_KIND_NAMES["html"]))
    return kind


def _detail(data: bytes) -> str:
    description = _describe_binary(data)
    return _looks_like(description) if description else ""
