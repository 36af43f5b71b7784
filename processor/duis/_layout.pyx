# cython: language_level=3, boundscheck=False, wraparound=False
"""The plain DUIS layout, recognised in C on libxml2's parsed tree (issue 34: the out-of-scope read's cost was
lxml's element proxies and tag strings in Python, not the parse).

``plain_layout(root)`` reads what decides an SR's scope from a parsed ``Request`` root -- the one Header's
ServiceReferenceVariant and ServiceReference texts and the one Body's one element's tag -- by walking the
nodes libxml2 built, with no Python object per node. It answers only for the plain shape: exactly the
children ``processor.duis.request.layout`` reads, text-only values, and no comment, processing instruction
or entity reference where it looks. For anything else it returns None and the caller reads the document
with that general function, which gives every error its message. Where it answers, it answers what the
general function does: ``tests/unit/duis/test_duis_layout.py`` holds them equal over the DCC's templates,
their XML-equivalent rewrites, the smuggling shapes and mutated documents.
"""

from libc.string cimport strcmp

cimport lxml.includes.etreepublic as cetree
from lxml.includes.tree cimport (
    XML_CDATA_SECTION_NODE,
    XML_ELEMENT_NODE,
    XML_TEXT_NODE,
    xmlNode,
)

cetree.import_lxml__etree()

cdef bytes NS = b"http://www.dccinterface.co.uk/ServiceUserGateway"
cdef const char* C_NS = NS


cdef inline bint _named(xmlNode* node, const char* name) noexcept:
    """An element of DUIS's namespace with this local name (what lxml's tag "{NS}name" means)."""
    return (
        node.type == XML_ELEMENT_NODE
        and node.ns is not NULL
        and node.ns.href is not NULL
        and strcmp(<const char*> node.ns.href, C_NS) == 0
        and strcmp(<const char*> node.name, name) == 0
    )


cdef inline bint _plain(xmlNode* node) noexcept:
    """An element or text: a comment, PI or entity reference (lxml counts them as children) is not plain."""
    return node.type == XML_ELEMENT_NODE or node.type == XML_TEXT_NODE or node.type == XML_CDATA_SECTION_NODE


cdef int _pair(xmlNode* parent, const char* first, const char* second, xmlNode** found) noexcept:
    """The one child named ``first`` and the one named ``second`` into found[0], found[1]; 0 when either is
    missing or repeated, or a child is not plain."""
    cdef xmlNode* child = parent.children
    found[0] = NULL
    found[1] = NULL
    while child is not NULL:
        if not _plain(child):
            return 0
        if _named(child, first):
            if found[0] is not NULL:
                return 0
            found[0] = child
        elif _named(child, second):
            if found[1] is not NULL:
                return 0
            found[1] = child
        child = child.next
    return found[0] is not NULL and found[1] is not NULL


cdef object _text(xmlNode* element):
    """The element's value (lxml's ``.text``, stripped) when it holds text alone; None otherwise."""
    cdef xmlNode* child = element.children
    cdef bytes content = b""
    while child is not NULL:
        if child.type != XML_TEXT_NODE and child.type != XML_CDATA_SECTION_NODE:
            return None
        if child.content is not NULL:
            content += <bytes> (<const char*> child.content)
        child = child.next
    return content.decode("utf-8").strip()


def plain_layout(cetree._Element root not None):
    """(variant, reference, body element's tag) of a plain DUIS Request, or None: read it in full."""
    cdef xmlNode* found[2]
    cdef xmlNode* header
    cdef xmlNode* body
    cdef xmlNode* request = NULL
    cdef xmlNode* child
    if not _named(root._c_node, b"Request") or not _pair(root._c_node, b"Header", b"Body", found):
        return None
    header, body = found[0], found[1]
    if not _pair(header, b"ServiceReferenceVariant", b"ServiceReference", found):
        return None
    variant, reference = _text(found[0]), _text(found[1])
    if variant is None or reference is None:
        return None
    child = body.children
    while child is not NULL:
        if not _plain(child):
            return None
        if child.type == XML_ELEMENT_NODE:
            if request is not NULL:
                return None
            request = child
        child = child.next
    if request is NULL:
        return None
    name = (<const char*> request.name).decode("utf-8")
    if request.ns is NULL or request.ns.href is NULL:
        return variant, reference, name
    return variant, reference, "{%s}%s" % ((<const char*> request.ns.href).decode("utf-8"), name)
