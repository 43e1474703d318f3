#ifndef AS4GW_COPENSSL_SHIM_H
#define AS4GW_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/bio.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/pkcs12.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/provider.h>

// Function-like macros and variadics that Swift cannot import (PLATFORM-NOTES G7).
static inline void as4gw_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline long as4gw_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline EVP_PKEY *as4gw_EVP_RSA_gen(unsigned int bits) { return EVP_RSA_gen(bits); }
static inline EVP_PKEY *as4gw_keygen_named(const char *type) { return EVP_PKEY_Q_keygen(NULL, NULL, type); }
static inline EVP_PKEY *as4gw_keygen_ec(const char *curve) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve); }
static inline OSSL_PARAM as4gw_OSSL_PARAM_END(void) { OSSL_PARAM p = OSSL_PARAM_END; return p; }
static inline int as4gw_sk_X509_num(const STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *as4gw_sk_X509_value(const STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline STACK_OF(X509) *as4gw_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int as4gw_sk_X509_push(STACK_OF(X509) *s, X509 *x) { return sk_X509_push(s, x); }
static inline void as4gw_sk_X509_free(STACK_OF(X509) *s) { sk_X509_free(s); }
static inline void as4gw_sk_X509_pop_free(STACK_OF(X509) *s) { sk_X509_pop_free(s, X509_free); }
static inline STACK_OF(X509_CRL) *as4gw_sk_X509_CRL_new_null(void) { return sk_X509_CRL_new_null(); }
static inline int as4gw_sk_X509_CRL_push(STACK_OF(X509_CRL) *s, X509_CRL *c) { return sk_X509_CRL_push(s, c); }
static inline void as4gw_sk_X509_CRL_pop_free(STACK_OF(X509_CRL) *s) { sk_X509_CRL_pop_free(s, X509_CRL_free); }

// Composite flag macros Swift cannot import ("structure not supported").
// RFC 2253 name printing, but keeping UTF-8 characters as they are instead of \xx escapes.
static inline unsigned long as4gw_XN_FLAG_RFC2253_UTF8(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }
static inline int as4gw_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int as4gw_EVP_PKEY_KEYPAIR(void) { return EVP_PKEY_KEYPAIR; }
// STACK_OF(X509_REVOKED) accessors (macros over OPENSSL_sk_*).
static inline int as4gw_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *s) { return sk_X509_REVOKED_num(s); }
static inline X509_REVOKED *as4gw_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *s, int i) { return sk_X509_REVOKED_value(s, i); }
#endif
