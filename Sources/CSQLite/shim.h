#ifndef AS4GW_CSQLITE_SHIM_H
#define AS4GW_CSQLITE_SHIM_H
#include <sqlite3.h>
// SQLITE_TRANSIENT is a cast macro: tell SQLite to copy bound values.
static inline sqlite3_destructor_type as4gw_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
