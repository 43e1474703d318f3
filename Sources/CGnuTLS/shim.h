#ifndef AS4GW_CGNUTLS_SHIM_H
#define AS4GW_CGNUTLS_SHIM_H
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/*
 * gnutls_free is a global function-pointer variable, which Swift 6 refuses to touch
 * (shared mutable state); call it from C instead.
 */
static inline void
as4gw_gnutls_free(void *pointer)
{
    gnutls_free(pointer);
}

/** The peer's certificate chain (DER, leaf first) of a session given as an untyped pointer (as MHD returns it). */
static inline const gnutls_datum_t *
as4gw_gnutls_peer_certificates(void *session, unsigned int *count)
{
    *count = 0;
    if (session == NULL) return NULL;
    return gnutls_certificate_get_peers((gnutls_session_t)session, count);
}

#endif
