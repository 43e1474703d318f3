/// Whether opening a store may change its schema.
///
/// On PostgreSQL the schema is shared by every node of the store. An operator's command of a
/// newer build that migrated it on the way (`messages list` during a rolling upgrade) would
/// upgrade the schema under the older nodes still running, and those then refuse to start
/// (`StoreError.schemaTooNew`). So only the daemon (`as4gw serve`) and the explicit `as4gw store
/// migrate` open a store with `.migrate`; every other command opens it with `.existing`.
///
/// SQLite ignores the choice: its file belongs to one node, whose commands and daemon are one
/// installed build, and every open migrates it as before (so `connections add --data DIR` may
/// still prepare a data directory before the first `serve`).
public enum SchemaAccess: Sendable {
    /// Apply the migrations this build has and the database lacks (nodes take turns).
    case migrate
    /// Use the schema as it is: one older than this build's is refused (`StoreError.schemaTooOld`),
    /// as is one newer (`StoreError.schemaTooNew`); nothing is written.
    case existing
}
