#ifndef AS4GW_CMICROHTTPD_SHIM_H
#define AS4GW_CMICROHTTPD_SHIM_H
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>

/*
 * Non-variadic wrappers for libmicrohttpd's variadic entry points, which Swift cannot call.
 * Every daemon option travels in one MHD_OptionItem array terminated by MHD_OPTION_END
 * (MHD reads single-pointer options from `ptr_value`, integers and function pointers from `value`).
 */

/** MHD_start_daemon with all options given as an MHD_OPTION_ARRAY; no accept-policy callback. */
static inline struct MHD_Daemon *
as4gw_mhd_start_daemon(unsigned int flags, uint16_t port,
                       MHD_AccessHandlerCallback handler, void *handler_cls,
                       struct MHD_OptionItem *options)
{
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/** The port the daemon is bound to (useful when port 0 was asked for); 0 when unknown. */
static inline uint16_t
as4gw_mhd_daemon_bind_port(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/** The connection's GnuTLS session (a gnutls_session_t), or NULL for plain HTTP. */
static inline void *
as4gw_mhd_connection_tls_session(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return info == NULL ? NULL : info->tls_session;
}

/** The client's socket address, or NULL. */
static inline const struct sockaddr *
as4gw_mhd_connection_client_address(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}

/** The connection's socket (MHD keeps owning it), or -1. */
static inline int
as4gw_mhd_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/**
 * Formats an MHD log message (printf format + va_list) into `buffer`; returns the untruncated length
 * like vsnprintf. Used by the MHD_OPTION_EXTERNAL_LOGGER callback.
 */
static inline int
as4gw_mhd_format_log(char *buffer, size_t size, const char *format, va_list arguments)
{
    return vsnprintf(buffer, size, format, arguments);
}

#endif
