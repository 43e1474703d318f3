#ifndef AS4GW_CLIBXML2_SHIM_H
#define AS4GW_CLIBXML2_SHIM_H
// Debian's libxml2 is built with ICU; <libxml/encoding.h> would pull <unicode/ucnv.h>, whose
// UErrorCode clashes with Foundation's private ICU. libxml2's headers only use pointers to these
// types, so pre-define the ucnv include guard and forward-declare them (PLATFORM-NOTES G1).
#include <libxml/xmlversion.h>
#ifdef LIBXML_ICU_ENABLED
#define UCNV_H
struct UConverter;
typedef struct UConverter UConverter;
typedef unsigned short UChar;
#endif
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/c14n.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlsave.h>
#include <libxml/uri.h>
#include <stdlib.h>

// xmlFree is a global function-pointer variable: Swift 6 refuses to touch it directly.
static inline void as4gw_xmlFree(void *p) { xmlFree(p); }

// libxml2's generic error handler is variadic, which Swift cannot define; some failures of the
// push parser ("xmlParseChunk: encoder error") go only there, and by default to stderr.
static void as4gw_discardGenericError(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static inline void as4gw_discardGenericErrors(void) {
    xmlThrDefSetGenericErrorFunc(NULL, as4gw_discardGenericError);
    xmlSetGenericErrorFunc(NULL, as4gw_discardGenericError);
}

// xmlXPathNodeSetItem / xmlXPathNodeSetGetLength are macros.
static inline int as4gw_nodeSetCount(xmlNodeSetPtr set) { return set ? set->nodeNr : 0; }
static inline xmlNodePtr as4gw_nodeSetItem(xmlNodeSetPtr set, int i) {
    return (set && i >= 0 && i < set->nodeNr) ? set->nodeTab[i] : NULL;
}
// For namespace nodes libxml2 hands an xmlNs* cast to xmlNodePtr to the c14n callback; both structs
// start with (next, type), so reading the type through xmlNs is safe for either.
static inline int as4gw_nodeKind(void *node) { return node ? (int)((xmlNsPtr)node)->type : 0; }

#endif
