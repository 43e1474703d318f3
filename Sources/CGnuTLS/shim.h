#ifndef AS4GW_CGNUTLS_SHIM_H
#define AS4GW_CGNUTLS_SHIM_H
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#endif
