// HTTP server over libmicrohttpd (placeholder until the transport lands).
