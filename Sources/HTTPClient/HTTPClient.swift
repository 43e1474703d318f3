// HTTP client over libcurl (placeholder until the transport lands).
