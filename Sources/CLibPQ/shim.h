#ifndef AS4GW_CLIBPQ_SHIM_H
#define AS4GW_CLIBPQ_SHIM_H
#include <libpq-fe.h>
// PG_DIAG_* are character-literal macros; hand Swift the field code as an int.
static inline int as4gw_pq_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int as4gw_pq_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
#endif
