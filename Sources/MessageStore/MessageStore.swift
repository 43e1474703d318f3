// Durable store over SQLite (placeholder until the store lands).
