"""Office documents rebuilt from what is known to be safe: the allow-list behind `vault.scrub`.

A word-processing file, spreadsheet or presentation is a zip of XML parts, and identifying
traces hide in parts, elements and attributes nobody thinks of: the path of the attached
template (``C:\\Users\\<name>\\…``), the workbook's ``x15ac:absPath``, ``w14``/``w15``
document and paragraph ids, revision session ids, printer settings, custom XML, people
lists, linked files. Removing the ones someone has listed (a deny-list) misses the next
one. Here the package is rebuilt instead from:

* **parts** whose content type (Office Open XML) or name (OpenDocument) is on an
  allow-list; every other part goes, and so does every relationship or manifest entry that
  names it. Pictures and documents embedded in the package are handed back to the caller
  to be cleaned; an embedded object or picture the caller cannot clean is refused, since
  dropping it would silently change the evidence, unless only a dropped extension showed
  it (an SVG beside its PNG fallback);
* **elements and attributes** in the standard namespaces (ECMA-376 / ISO 29500 and
  OpenDocument, DrawingML, VML, MathML); vendor extensions (``w14``, ``w15``, ``x15ac``,
  ``xr``, ``loext``, ``officeooo``, …) go, and markup-compatibility blocks are replaced by
  what a reader of the standard alone shows. Within the standard namespaces, the few
  elements and attributes that name people, dates, paths or edit sessions (authors,
  initials, dates, ``rsid``s, the attached template, document variables, mail merge
  sources, protection hashes, original picture file names) are blanked or dropped;
* **links**: only web and mail hyperlinks leave the package; a link to a file (a path
  with the user's name in it) goes.

XML is parsed with lxml with entities, DTDs and the network off; a part with a DOCTYPE is
refused. The caller (`vault.scrub`) owns the zip (limits, timestamps) and error classes;
errors here are `OfficeError`, whose message names the part.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote

from lxml import etree  # type: ignore[import-untyped]

__all__ = ["OfficeError", "OfficeRefused", "rebuild_odf", "rebuild_ooxml"]


class OfficeError(ValueError):
    """A part cannot be read as what it claims to be; the message names the part."""


class OfficeRefused(OfficeError):
    """The package holds something that cannot be cleaned; the message says what."""


# A cleaner for pictures and documents embedded in a package: the cleaned bytes, or None if
# the bytes are of no type it can clean. It raises for a type it knows but cannot read.
EmbeddedCleaner = Callable[[str, bytes], bytes | None]
Reader = Callable[[str], bytes]

_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_comments=True, remove_pis=True)

_MC: Final = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
_RELS_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES_NS: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
_O_NS: Final = "urn:schemas-microsoft-com:office:office"
_R_NS: Final = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                "http://purl.oclc.org/ooxml/officeDocument/relationships")
_OOXML_NAMESPACES: Final = ("http://schemas.openxmlformats.org/", "http://purl.oclc.org/ooxml/",
                            "urn:schemas-microsoft-com:vml", "urn:schemas-microsoft-com:office:",
                            _XML_NS)
_ODF_NAMESPACES: Final = ("urn:oasis:names:tc:opendocument:xmlns:", "http://www.w3.org/1999/xlink",
                          "http://purl.org/dc/elements/1.1/", "http://www.w3.org/1998/Math/MathML",
                          "http://www.w3.org/2002/xforms", "http://www.w3.org/2001/xml-events",
                          _XML_NS)
_DC: Final = "http://purl.org/dc/elements/1.1/"
_XLINK_HREF: Final = "{http://www.w3.org/1999/xlink}href"
_ODF_MANIFEST: Final = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"

# Within the standard namespaces: attributes (by local name) that name a person, emptied
# where the schema requires them, and attributes that date or trace an edit, removed.
_BLANKED_ATTRIBUTES: Final = frozenset({"author", "initials", "userId", "providerId"})
_REMOVED_ATTRIBUTES: Final = frozenset({
    "date", "dateUtc", "dt", "ed", "edGrp", "refreshedBy", "refreshedDate",
    "refreshedDateIso", "lastEdited", "lowestEdited", "rupBuild",
    "gfxdata",  # VML: a whole zipped drawing package, base64-encoded
})
# Elements that keep going when the relationship they point at is gone (the attribute goes,
# or is emptied where DrawingML requires it); any other element pointing at one goes too.
_OPTIONAL_LINKS: Final = frozenset({"hyperlink", "pageSetup", "blip", "imagedata"})
_EMPTIED_LINKS: Final = frozenset({"hlinkClick", "hlinkHover", "hlinkMouseOver"})
# Lists the schema wants non-empty: they go when their last item went.
_LISTS: Final = frozenset({"externalReferences", "oleObjects", "controls", "custDataLst",
                           "tagLst"})
_RSID: Final = re.compile(r"rsid")
# Elements (by local name) that hold a path, a person, a hash or hidden variables.
_REMOVED_ELEMENTS: Final = frozenset({
    "attachedTemplate", "attachedSchema", "docVars", "rsids", "rsid", "mailMerge",
    "documentProtection", "writeProtection", "saveThroughXslt", "fileSharing", "fileVersion",
    "dataBinding",  # a content control's link into custom XML, by the store's GUID
})
# Elements whose text is a person's name: emptied (spreadsheet comment authors, ODF creators).
_NAME_ELEMENTS: Final = frozenset({"author", "creator", "creator-initials"})
_PATH_LIKE: Final = re.compile(r"[A-Za-z]:[\\/]|\\\\|^/|file:|/(?:Users|home)/", re.IGNORECASE)
_WEB_LINK: Final = re.compile(r"(?:https?://|mailto:)[^\s]*\Z|#", re.IGNORECASE)

_OOXML: Final = "application/vnd.openxmlformats-officedocument."
_OOXML_XML_TYPES: Final = frozenset({f"{_OOXML}{name}+xml" for name in (
    "wordprocessingml.document.main", "wordprocessingml.template.main",
    "wordprocessingml.styles", "wordprocessingml.settings", "wordprocessingml.webSettings",
    "wordprocessingml.fontTable", "wordprocessingml.numbering", "wordprocessingml.footnotes",
    "wordprocessingml.endnotes", "wordprocessingml.comments", "wordprocessingml.header",
    "wordprocessingml.footer", "wordprocessingml.document.glossary",
    "spreadsheetml.sheet.main", "spreadsheetml.template.main", "spreadsheetml.worksheet",
    "spreadsheetml.chartsheet", "spreadsheetml.dialogsheet", "spreadsheetml.sharedStrings",
    "spreadsheetml.styles", "spreadsheetml.table", "spreadsheetml.comments",
    "spreadsheetml.calcChain", "spreadsheetml.sheetMetadata",
    "spreadsheetml.volatileDependencies", "spreadsheetml.tableSingleCells",
    "spreadsheetml.pivotTable", "spreadsheetml.pivotCacheDefinition",
    "spreadsheetml.pivotCacheRecords",
    "presentationml.presentation.main", "presentationml.slideshow.main",
    "presentationml.template.main", "presentationml.slide", "presentationml.slideLayout",
    "presentationml.slideMaster", "presentationml.notesSlide", "presentationml.notesMaster",
    "presentationml.handoutMaster", "presentationml.presProps", "presentationml.viewProps",
    "presentationml.tableStyles", "presentationml.commentAuthors", "presentationml.comments",
    "theme", "themeOverride", "drawing", "drawingml.chart", "drawingml.chartshapes",
    "drawingml.diagramData", "drawingml.diagramLayout", "drawingml.diagramStyle",
    "drawingml.diagramColors",
)} | {f"{_OOXML}vmlDrawing"})
_PROPERTIES: Final = {
    "application/vnd.openxmlformats-package.core-properties+xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'xmlns:dcterms="http://purl.org/dc/terms/" '
        b'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    ),
    f"{_OOXML}extended-properties+xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'docPropsVTypes"/>'
    ),
    f"{_OOXML}custom-properties+xml": (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'docPropsVTypes"/>'
    ),
}
_ODF_HELD: Final = frozenset({"frame"})  # a picture's alternatives are in one frame
_CONTENT_FOLDERS: Final = re.compile(r"(?:^|/)(?:media|embeddings|Pictures)/")


def _unsupported(part: str) -> OfficeRefused:
    return OfficeRefused(
        f"{part}: an embedded object or picture of a type amanat cannot clean; save the "
        "document as PDF, or send the embedded file separately and the document without it"
    )


# --- XML ------------------------------------------------------------------------------------


def _parse(part: str, content: bytes) -> Any:
    try:
        tree = etree.fromstring(content, _PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise OfficeError(f"{part}: not well-formed XML ({exc})") from None
    if tree.docinfo.doctype:
        raise OfficeError(f"{part}: XML with a document type declaration is not accepted")
    return tree.getroot()


def _serialize(root: Any) -> bytes:
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                standalone=True))


def _is_link(name: str) -> bool:
    """Whether an attribute names a relationship (``r:id``, ``r:embed``, VML ``o:relid``)."""
    namespace = _namespace(name)
    return namespace in _R_NS or (namespace == _O_NS and _local(name) == "relid")


def _namespace(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _remove(element: Any) -> None:
    """Remove ``element``, keeping the text that follows it in its parent."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _resolve_alternate_content(root: Any, allowed: tuple[str, ...]) -> None:
    """Replace each ``mc:AlternateContent`` by what a reader that knows only the standard
    namespaces shows: the first ``mc:Choice`` that requires nothing else, or else the
    ``mc:Fallback``, or nothing."""
    for block in list(root.iter(f"{{{_MC}}}AlternateContent")):
        chosen = block.find(f"{{{_MC}}}Fallback")
        for choice in block.iterfind(f"{{{_MC}}}Choice"):
            required = [choice.nsmap.get(prefix) for prefix in choice.get("Requires", "").split()]
            if required and all(uri is not None and uri.startswith(allowed) for uri in required):
                chosen = choice
                break
        for child in ([] if chosen is None else list(chosen)):
            block.addprevious(child)
        _remove(block)


@lru_cache(maxsize=4096)
def _attribute_kind(name: str, allowed: tuple[str, ...]) -> str:
    """What becomes of an attribute, by its name alone: "drop", "blank", "link" (goes with
    the relationship it names), "look" (depends on its element or value) or "keep"."""
    namespace, local = _namespace(name), _local(name)
    if namespace == _MC or (namespace and not namespace.startswith(allowed)):
        return "drop"
    if local in _BLANKED_ATTRIBUTES:
        return "blank"
    if local in _REMOVED_ATTRIBUTES or _RSID.match(local):
        return "drop"
    if _is_link(name):
        return "link"
    return "look" if local in ("name", "initials", "title", "descr") else "keep"


def _clean_attributes(element: Any, allowed: tuple[str, ...], dropped_ids: frozenset[str],
                      ) -> bool:
    """Rewrite ``element``'s attributes; False if the element itself should go (it only
    pointed at a relationship that is gone)."""
    attributes = element.attrib
    local_element = ""
    for name in attributes.keys():  # noqa: SIM118 - a copy: attributes change below
        kind = _attribute_kind(name, allowed)
        if kind == "keep":
            continue
        local_element = local_element or _local(element.tag)
        local, value = _local(name), attributes[name]
        if kind == "drop":
            del attributes[name]
        elif kind == "blank" or (local in ("name", "initials") and local_element == "cmAuthor"):
            attributes[name] = ""
        elif kind == "link":
            if value not in dropped_ids:
                continue
            if local_element in _EMPTIED_LINKS:
                attributes[name] = ""
            elif local_element in _OPTIONAL_LINKS:
                del attributes[name]
            else:
                return False
        elif (local == "title" and local_element == "imagedata") or (  # a file name
                local == "descr" and _PATH_LIKE.search(value)):
            del attributes[name]
        elif local == "name" and local_element in ("docPr", "cNvPr") and (
                element.getparent() is not None
                and _local(element.getparent().tag) in ("nvPicPr", "inline", "anchor")):
            attributes[name] = f"Picture {element.get('id', '')}".strip()
    return True


@lru_cache(maxsize=4096)
def _element_goes(tag: str, allowed: tuple[str, ...]) -> bool:
    """Whether an element goes by its name alone (a vendor extension, a path, a person)."""
    namespace, local = _namespace(tag), _local(tag)
    return (namespace == _MC or bool(namespace and not namespace.startswith(allowed))
            or local in _REMOVED_ELEMENTS or (namespace == _DC and local == "date"))


def _keeps(element: Any, allowed: tuple[str, ...], dropped_ids: frozenset[str]) -> bool:
    """Whether ``element`` stays (its attributes are cleaned then), or goes with its
    content (the text after it stays)."""
    if not isinstance(element.tag, str) or _element_goes(element.tag, allowed):
        return False
    return _clean_attributes(element, allowed, dropped_ids)


def _clean_tree(root: Any, allowed: tuple[str, ...], dropped_ids: frozenset[str]) -> None:
    _resolve_alternate_content(root, allowed)
    for element in list(root.iter()):
        if element is root or element.getparent() is None:
            continue  # the root, or already gone with an ancestor
        if not _keeps(element, allowed, dropped_ids):
            _remove(element)
        elif _local(element.tag) in _NAME_ELEMENTS and len(element) == 0:
            element.text = ""
    _clean_attributes(root, allowed, dropped_ids)
    for element in list(root.iter()):
        if isinstance(element.tag, str) and _local(element.tag) in _LISTS and len(element) == 0 \
                and element.getparent() is not None:
            _remove(element)


def _links(root: Any) -> set[str]:
    """The relationship ids the tree still points at."""
    return {value for element in root.iter() if isinstance(element.tag, str)
            for name, value in element.attrib.items() if _is_link(name)}


# --- Streaming: a large part is never held as a tree ---------------------------------------
# A spreadsheet's sheet can be hundreds of megabytes of XML; as an lxml tree it would take
# many times that. Parts are cleaned as they are parsed, element by element, and written
# out at once; only small subtrees whose fate depends on what follows them (a
# markup-compatibility block, a list that may end up empty, an OpenDocument frame with
# alternative pictures) are held whole and cleaned as a tree.

_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                            '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
                                            "\r": "&#13;"})


class _Writer:
    """XML written element by element, with the source's prefixes; an element with no
    content is written ``<a/>``. Only namespaces on the allow-list are declared."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.out = io.BytesIO()
        self.out.write(_XML_DECLARATION.encode())
        self.allowed = allowed
        self.scopes: list[dict[str | None, str]] = [{}]
        self.open_tag = False

    def _end_start_tag(self) -> None:
        if self.open_tag:
            self.out.write(b">")
            self.open_tag = False

    def start(self, element: Any, in_scope: dict[str | None, str],
              prefixes: dict[str, str]) -> None:
        """Open ``element``; ``in_scope``: the source's namespaces at it, ``prefixes``: a
        prefix for each of them (for attributes)."""
        self._end_start_tag()
        scope = self.scopes[-1]
        declared = {prefix: uri for prefix, uri in in_scope.items()
                    if scope.get(prefix) != uri and uri.startswith(self.allowed) and uri != _MC}
        self.scopes.append(scope | declared if declared else scope)
        pieces = ["<", _tag_name(element)]
        for prefix, uri in declared.items():
            pieces += [" xmlns", f":{prefix}" if prefix else "", '="',
                       uri.translate(_ATTRIBUTE_ESCAPES), '"']
        for name, value in element.attrib.items():
            if name.startswith("{"):
                namespace = _namespace(name)
                prefix = "xml" if namespace == _XML_NS else prefixes.get(namespace)
                if prefix is None:
                    continue
                name = f"{prefix}:{_local(name)}"
            pieces += [" ", name, '="', value.translate(_ATTRIBUTE_ESCAPES), '"']
        self.out.write("".join(pieces).encode())
        self.open_tag = True

    def text(self, text: str | None) -> None:
        if text:
            self._end_start_tag()
            self.out.write(text.translate(_ESCAPES).encode())

    def end(self, element: Any) -> None:
        self.scopes.pop()
        if self.open_tag:
            self.out.write(b"/>")
            self.open_tag = False
        else:
            self.out.write(f"</{_tag_name(element)}>".encode())

    def subtree(self, element: Any) -> None:
        """``element`` and its content (not the text after it)."""
        nsmap = element.nsmap
        self.start(element, nsmap, {uri: prefix for prefix, uri in nsmap.items() if prefix})
        self.text(element.text)
        for child in element:
            if isinstance(child.tag, str):
                self.subtree(child)
            self.text(child.tail)
        self.end(element)

    def result(self) -> bytes:
        return self.out.getvalue()


def _tag_name(element: Any) -> str:
    return _prefixed(element.prefix, element.tag)


@lru_cache(maxsize=4096)
def _prefixed(prefix: str | None, tag: str) -> str:
    return f"{prefix}:{_local(tag)}" if prefix else _local(tag)


class _Open:
    """An element of the source being read: what becomes of it and what is still due."""

    __slots__ = ("element", "last_child", "mode", "text_done")

    def __init__(self, element: Any, mode: str) -> None:
        self.element = element
        # "keep"; "blank" (kept, its text not); "skip" (with its content); "hold" (cleaned as
        # a subtree at its end); "inside" (within a skipped or held element)
        self.mode = mode
        self.text_done = False
        self.last_child: Any = None


@dataclass(frozen=True)
class _OdfLinks:
    """What an OpenDocument part's links may point at (`_clean_links`)."""

    kept: set[str]
    folders: set[str]
    folder: str
    unusable: set[str]


def _odf_link_keeps(element: Any, odf: _OdfLinks) -> bool:
    """`_clean_links` for one element read as a stream (no alternatives known)."""
    href = element.get(_XLINK_HREF)
    if href is None or _WEB_LINK.match(href):
        return True
    target = _odf_target(odf.folder, href)
    if target is None:
        del element.attrib[_XLINK_HREF]
        return True
    if target in odf.unusable:
        raise _unsupported(target)
    return target in odf.kept or target in odf.folders


def _stream_clean(part: str, content: bytes, allowed: tuple[str, ...],
                  dropped_ids: frozenset[str] = frozenset(), *, bare_root: bool = False,
                  held: frozenset[str] = frozenset(), odf: _OdfLinks | None = None,
                  ) -> tuple[bytes, set[str]]:
    """The part cleaned as `_clean_tree` would, read and written as a stream; and the
    relationship ids it still points at. ``held``: local names of elements cleaned as a
    subtree; ``bare_root``: the root may have no namespace (legacy VML drawings)."""
    writer = _Writer(allowed)
    links: set[str] = set()
    stack: list[_Open] = []
    # The source's namespaces in scope, and a prefix for each, as the stream declares them.
    scopes: list[tuple[dict[str | None, str], dict[str, str]]] = [({}, {})]
    declaring: dict[str | None, str] = {}

    def flush(entry: _Open) -> None:
        """Write what is due inside ``entry`` before its next child or its end."""
        if not entry.text_done:
            entry.text_done = True
            if entry.mode == "keep":
                writer.text(entry.element.text)
        elif entry.last_child is not None:
            if entry.mode in ("keep", "blank"):
                writer.text(entry.last_child.tail)
            entry.element.remove(entry.last_child)  # done with: free its memory
            entry.last_child = None

    def hold_done(element: Any) -> None:
        holder = etree.Element("holder", nsmap={k: v for k, v in element.nsmap.items() if k})
        copy = deepcopy(element)
        copy.tail = None
        holder.append(copy)
        _clean_tree(holder, allowed, dropped_ids)
        if odf is not None:
            _clean_links(holder, odf.kept, odf.folders, odf.folder, odf.unusable)
        links.update(_links(holder))
        for child in holder:
            writer.subtree(child)
            writer.text(child.tail)

    events = etree.iterparse(io.BytesIO(content), events=("start-ns", "start", "end"),
                             resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for event, element in events:
            if event == "start-ns":
                prefix, uri = element
                declaring[prefix or None] = uri
                continue
            if event == "start":
                if declaring:
                    in_scope = scopes[-1][0] | declaring
                    scopes.append((in_scope, {u: p for p, u in in_scope.items() if p}))
                    declaring = {}
                else:
                    scopes.append(scopes[-1])
                if not stack:
                    if element.getroottree().docinfo.doctype:
                        raise OfficeError(
                            f"{part}: XML with a document type declaration is not accepted")
                    namespace = _namespace(element.tag)
                    if not (namespace.startswith(allowed) or (bare_root and not namespace)):
                        kind = "an OpenDocument file" if odf else "an office document"
                        raise OfficeError(
                            f"{part}: not a part of {kind} ({namespace or 'none'})")
                    _clean_attributes(element, allowed, dropped_ids)
                    mode = "keep"
                else:
                    parent = stack[-1]
                    if parent.mode in ("skip", "hold", "inside"):
                        stack.append(_Open(element, "inside"))
                        continue
                    flush(parent)
                    local = _local(element.tag)
                    if element.tag == f"{{{_MC}}}AlternateContent" or local in held:
                        mode = "hold"
                    elif not _keeps(element, allowed, dropped_ids) or (
                            odf is not None and not _odf_link_keeps(element, odf)):
                        mode = "skip"
                    else:
                        mode = "blank" if local in _NAME_ELEMENTS else "keep"
                if mode in ("keep", "blank"):
                    writer.start(element, *scopes[-1])
                    links.update(v for k, v in element.attrib.items() if _is_link(k))
                stack.append(_Open(element, mode))
                continue
            scopes.pop()
            entry = stack.pop()
            if entry.mode == "inside":
                continue
            if entry.mode in ("keep", "blank"):
                flush(entry)  # its text, if it had no child; else the last child's tail
                writer.end(element)
            elif entry.mode == "hold":
                hold_done(element)
            for child in list(element):
                element.remove(child)  # done with: free their memory
            if stack:
                stack[-1].last_child = element  # its tail is written with what follows
    except etree.XMLSyntaxError as exc:
        raise OfficeError(f"{part}: not well-formed XML ({exc})") from None
    return writer.result(), links


# --- Office Open XML ------------------------------------------------------------------------


class _ContentTypes:
    def __init__(self, content: bytes) -> None:
        root = _parse("[Content_Types].xml", content)
        self.root = root
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        for element in root:
            if element.tag == f"{{{_TYPES_NS}}}Default":
                self.defaults[element.get("Extension", "").lower()] = element.get("ContentType",
                                                                                  "")
            elif element.tag == f"{{{_TYPES_NS}}}Override":
                self.overrides[element.get("PartName", "").lower()] = element.get(
                    "ContentType", "")

    def of(self, part: str) -> str:
        extension = posixpath.splitext(part)[1][1:].lower()
        return self.overrides.get("/" + part.lower(), self.defaults.get(extension, ""))

    def rebuilt(self, kept: set[str]) -> bytes:
        kept_names = {"/" + part.lower() for part in kept}
        for element in list(self.root):
            override = element.tag == f"{{{_TYPES_NS}}}Override"
            if (override and element.get("PartName", "").lower() not in kept_names) or (
                    not override and element.tag != f"{{{_TYPES_NS}}}Default"):
                self.root.remove(element)
        return _serialize(self.root)


def _rels_source(rels_part: str) -> str:
    """The part a ``_rels/X.rels`` part describes ('' for the package itself)."""
    folder, name = posixpath.split(rels_part)
    return posixpath.join(posixpath.dirname(folder), name[: -len(".rels")])


def _target_part(source_folder: str, target: str) -> str:
    """The part an internal relationship target names (percent-encoded, relative)."""
    target = unquote(target)
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(source_folder, target))


def _linked_content(part: str, content: bytes, links: set[str] | None) -> set[str]:
    """The pictures and embedded files the relationships part links to, of its source's
    links (``links``; None: all of them)."""
    root = _parse(part, content)
    folder = posixpath.dirname(_rels_source(part))
    return {_target_part(folder, element.get("Target", "")) for element in root
            if element.get("TargetMode") != "External"
            and (links is None or element.get("Id") in links)}


def _rebuild_relationships(part: str, content: bytes, kept: set[str]) -> tuple[bytes, set[str]]:
    """The relationships part with only links to kept parts and web or mail hyperlinks;
    and the ids it no longer has."""
    root = _parse(part, content)
    source_folder = posixpath.dirname(_rels_source(part))
    dropped: set[str] = set()
    for element in list(root):
        target = element.get("Target", "")
        if element.tag != f"{{{_RELS_NS}}}Relationship":
            keep = False
        elif element.get("TargetMode") == "External":
            keep = element.get("Type", "").endswith("/hyperlink") and bool(
                _WEB_LINK.match(target))
        else:
            keep = _target_part(source_folder, target) in kept
        if not keep:
            dropped.add(element.get("Id", ""))
            root.remove(element)
        else:
            for name in list(element.attrib):
                if name not in ("Id", "Type", "Target", "TargetMode"):
                    del element.attrib[name]
    return _serialize(root), dropped


def rebuild_ooxml(names: Iterable[str], read: Reader, clean_embedded: EmbeddedCleaner,
                  ) -> Iterator[tuple[str, bytes]]:
    """The parts of a docx/xlsx/pptx (given by name, read with ``read``) rebuilt from the
    allow-list, in their order. Raises OfficeError or OfficeRefused."""
    names = list(names)
    if "[Content_Types].xml" not in names:
        raise OfficeError("[Content_Types].xml: missing")
    types = _ContentTypes(read("[Content_Types].xml"))
    kept: set[str] = set()
    thumbnails: dict[str, bytes] = {}  # pictures outside the content: kept if cleaned
    for part in names:
        content_type = types.of(part)
        if part == "[Content_Types].xml" or part.endswith(".rels"):
            continue
        if content_type in _OOXML_XML_TYPES or content_type in _PROPERTIES:
            kept.add(part)
        elif _CONTENT_FOLDERS.search(part):
            kept.add(part)  # cleaned below, or refused
        elif content_type.startswith("image/"):
            cleaned = clean_embedded(part, read(part))
            if cleaned is not None:
                thumbnails[part] = cleaned
                kept.add(part)
    kept |= {part for part in names if part.endswith(".rels") and (
        _rels_source(part) in kept or _rels_source(part) == "")}

    def relationships() -> tuple[dict[str, bytes], dict[str, frozenset[str]]]:
        rebuilt: dict[str, bytes] = {}
        dropped: dict[str, frozenset[str]] = {}
        for part in names:
            if part in kept and part.endswith(".rels"):
                rebuilt[part], ids = _rebuild_relationships(part, read(part), kept)
                dropped[_rels_source(part)] = frozenset(ids)
        return rebuilt, dropped

    def cleaned_xml(part: str) -> tuple[bytes, set[str]]:
        return _stream_clean(part, read(part), _OOXML_NAMESPACES,
                             dropped.get(part, frozenset()),
                             bare_root=types.of(part) == f"{_OOXML}vmlDrawing", held=_LISTS)

    rebuilt_rels, dropped = relationships()
    content = {part for part in kept if _CONTENT_FOLDERS.search(part)}
    if content:
        # A picture or file that only a dropped extension used (an SVG beside its PNG, an
        # HD Photo effect layer) is no longer part of the document: it goes, unread.
        linked: set[str] = set()
        for part, rebuilt in rebuilt_rels.items():
            source = _rels_source(part)
            links = None if source == "" else cleaned_xml(source)[1]
            linked |= _linked_content(part, rebuilt, links)
        kept -= content - linked
        rebuilt_rels, dropped = relationships()
    if not any(types.of(part).endswith(".main+xml") for part in kept):
        raise OfficeRefused("the main part has a type amanat cannot clean (a document with "
                            "macros?); save it as an ordinary document or as PDF")
    yield "[Content_Types].xml", types.rebuilt(kept)
    for part in names:
        if part not in kept:
            continue
        content_type = types.of(part)
        if part in rebuilt_rels:
            yield part, rebuilt_rels[part]
        elif content_type in _PROPERTIES:
            yield part, _PROPERTIES[content_type]
        elif content_type in _OOXML_XML_TYPES:
            yield part, cleaned_xml(part)[0]
        elif part in thumbnails:
            yield part, thumbnails.pop(part)
        else:
            cleaned = clean_embedded(part, read(part))
            if cleaned is None:
                raise _unsupported(part)
            yield part, cleaned


# --- OpenDocument ---------------------------------------------------------------------------


def _odf_kind(part: str) -> str | None:
    """What an OpenDocument part is kept as, or None if it goes."""
    folder, name = posixpath.split(part)
    depth_ok = folder == "" or re.fullmatch(r"Object [0-9]+", folder) is not None
    if part in ("mimetype", "META-INF/manifest.xml"):
        return part
    if depth_ok and name in ("content.xml", "styles.xml"):
        return "xml"
    if depth_ok and name == "meta.xml":
        return "meta"
    if _CONTENT_FOLDERS.search(part):
        return "embedded"
    return None


def _neutral_meta(part: str, content: bytes) -> bytes:
    root = _parse(part, content)
    version = root.get("{urn:oasis:names:tc:opendocument:xmlns:office:1.0}version") or "1.2"
    if not re.fullmatch(r"1\.[0-9]", version):
        version = "1.2"
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        b'office:version="' + version.encode() + b'"><office:meta/></office:document-meta>'
    )


def _clean_links(root: Any, kept: set[str], folders: set[str], folder: str,
                 unusable: set[str]) -> None:
    """A link to a part that is gone takes its element with it (an object's preview); a
    link to a file outside the package (a path with the user's name) loses its target;
    web and mail links stay. A picture of a type that cannot be cleaned (``unusable``) goes
    if its frame has another one to show (an SVG with its PNG fallback); else the document
    is refused."""
    for element in list(root.iter()):
        href = element.get(_XLINK_HREF) if isinstance(element.tag, str) else None
        if href is None or element.getparent() is None or _WEB_LINK.match(href):
            continue
        target = _odf_target(folder, href)
        if target is None:
            del element.attrib[_XLINK_HREF]
            continue
        alternatives = [_odf_target(folder, other.get(_XLINK_HREF, ""))
                        for other in element.getparent()
                        if other is not element and other.tag == element.tag]
        if target in unusable and not any(other in kept for other in alternatives):
            raise _unsupported(target)
        if target not in kept and target not in folders:
            _remove(element)


def _odf_target(folder: str, href: str) -> str | None:
    """The part (or folder) a link inside the package names; None for one outside it."""
    relative = href[2:] if href.startswith("./") else href
    if ":" in relative or relative.startswith(("/", "\\", "../")):
        return None
    return posixpath.normpath(posixpath.join(folder, relative))


def _rebuild_manifest(content: bytes, kept: set[str]) -> bytes:
    root = _parse("META-INF/manifest.xml", content)
    if root.tag != f"{{{_ODF_MANIFEST}}}manifest":
        raise OfficeError("META-INF/manifest.xml: not an OpenDocument manifest")
    folders = {posixpath.dirname(part) + "/" for part in kept}
    for entry in list(root):
        if entry.find(f"{{{_ODF_MANIFEST}}}encryption-data") is not None:
            raise OfficeRefused("the document is encrypted; remove the password first")
        path = entry.get(f"{{{_ODF_MANIFEST}}}full-path", "")
        if path != "/" and path not in kept and path not in folders:
            root.remove(entry)
    _clean_tree(root, (_ODF_MANIFEST, _XML_NS), frozenset())
    return _serialize(root)


def rebuild_odf(names: Iterable[str], read: Reader, clean_embedded: EmbeddedCleaner,
                ) -> Iterator[tuple[str, bytes]]:
    """The parts of an OpenDocument file rebuilt from the allow-list, ``mimetype`` first.
    Raises OfficeError or OfficeRefused."""
    names = list(names)
    kept = {part for part in names if _odf_kind(part) is not None}
    pictures = {part: clean_embedded(part, read(part)) for part in sorted(kept)
                if _odf_kind(part) == "embedded"}
    unusable = {part for part, cleaned in pictures.items() if cleaned is None}
    kept -= unusable
    folders = {posixpath.dirname(part) for part in kept} - {""}
    position = {part: index for index, part in enumerate(names)}
    for part in sorted(kept, key=lambda p: (p != "mimetype", position[p])):
        kind = _odf_kind(part)
        if kind == "embedded":
            cleaned = pictures.pop(part)
            assert cleaned is not None
            yield part, cleaned
            continue
        content = read(part)
        if kind == "META-INF/manifest.xml":
            yield part, _rebuild_manifest(content, kept)
        elif kind == "mimetype":
            yield part, content
        elif kind == "meta":
            yield part, _neutral_meta(part, content)
        elif kind == "xml":
            links = _OdfLinks(kept, folders, posixpath.dirname(part), unusable)
            yield part, _stream_clean(part, content, _ODF_NAMESPACES, held=_ODF_HELD,
                                      odf=links)[0]
