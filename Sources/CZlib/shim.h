#ifndef AS4GW_CZLIB_SHIM_H
#define AS4GW_CZLIB_SHIM_H
#include <zlib.h>
// deflateInit2/inflateInit2 are macros that pass the library version and struct size.
static inline int as4gw_deflateInit2(z_streamp s, int level, int windowBits, int memLevel) {
    return deflateInit2(s, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int as4gw_inflateInit2(z_streamp s, int windowBits) { return inflateInit2(s, windowBits); }
#endif
