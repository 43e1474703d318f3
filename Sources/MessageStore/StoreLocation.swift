import Foundation

/// Where the message store lives, from the store URL of the configuration or a command line:
/// `sqlite:DIRECTORY` or `postgres://user@host:port/database` (also `postgresql://`, any libpq
/// URI). With PostgreSQL, payload files go to a directory given separately (shared by the nodes).
/// Every `open…` takes the caller's `SchemaAccess`: the stores beside the messages share their
/// database and schema, so they follow the same rule.
public enum StoreLocation: Equatable, Sendable {
    case sqlite(directory: String)
    case postgres(url: String)

    /// Parses a store URL; anything else is refused with the accepted forms in the message.
    public init(parsing text: String) throws {
        if text.hasPrefix("sqlite:") {
            let directory = String(text.dropFirst("sqlite:".count))
            guard !directory.isEmpty else { throw StoreError.invalidArgument("store URL \(text): no directory after sqlite:") }
            self = .sqlite(directory: directory)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else {
            throw StoreError.invalidArgument("store URL \(PostgresConnection.redacted(text)): expected sqlite:DIRECTORY or postgres://user@host:port/database")
        }
    }

    /// Opens the store. `schema` says whether PostgreSQL's shared schema may be migrated on the
    /// way (only `serve` and `as4gw store migrate` pass `.migrate`; see `SchemaAccess`); every
    /// caller chooses, so no command migrates by default. `payloadDirectory` is used by
    /// PostgreSQL only (nil: a store that can read but not take payloads); SQLite keeps payloads
    /// under its own directory.
    public func open(payloadDirectory: String?, schema: SchemaAccess, now: Date = Date()) throws -> any MessageStore {
        switch self {
        case let .sqlite(directory):
            return try SQLiteMessageStore(dataDirectory: directory, now: now)
        case let .postgres(url):
            return try PostgresMessageStore(url: url, payloadDirectory: payloadDirectory, schema: schema, now: now)
        }
    }

    /// The backend API's store in the same place as the message store.
    public func openMailbox(schema: SchemaAccess, now: Date = Date()) throws -> any MailboxStore {
        switch self {
        case let .sqlite(directory): try SQLiteMailboxStore(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresMailboxStore(url: url, schema: schema, now: now)
        }
    }

    /// The e-address directory in the same place as the message store.
    public func openAddressDirectory(schema: SchemaAccess, now: Date = Date()) throws -> any AddressDirectoryStore {
        switch self {
        case let .sqlite(directory): try SQLiteAddressDirectory(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresAddressDirectory(url: url, schema: schema, now: now)
        }
    }

    /// E-mail notices of mailbox arrivals in the same place as the message store.
    public func openNotices(schema: SchemaAccess, now: Date = Date()) throws -> any NoticeStore {
        switch self {
        case let .sqlite(directory): try SQLiteNoticeStore(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresNoticeStore(url: url, schema: schema, now: now)
        }
    }

    /// Legal holds, purges and mailbox sizes, beside the mailboxes (docs/RETENTION.md).
    public func openRetention(schema: SchemaAccess, now: Date = Date()) throws -> any RetentionStore {
        switch self {
        case let .sqlite(directory): try SQLiteRetentionStore(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresRetentionStore(url: url, schema: schema, now: now)
        }
    }

    /// Self-service registrations in the same place as the message store.
    public func openRegistrations(schema: SchemaAccess, now: Date = Date()) throws -> any RegistrationStore {
        switch self {
        case let .sqlite(directory): try SQLiteRegistrationStore(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresRegistrationStore(url: url, schema: schema, now: now)
        }
    }

    /// The non-digital persons, company and opt-in registers in the same place as the message store.
    public func openRecipientRegisters(schema: SchemaAccess, now: Date = Date()) throws -> any RecipientRegisters {
        switch self {
        case let .sqlite(directory): try SQLiteRecipientRegisters(dataDirectory: directory, now: now)
        case let .postgres(url): try PostgresRecipientRegisters(url: url, schema: schema, now: now)
        }
    }

    /// A store URL for logs and messages, its password masked.
    public static func redacted(_ text: String) -> String { PostgresConnection.redacted(text) }

    /// The location for logs: the password of a PostgreSQL URL is masked.
    public var description: String {
        switch self {
        case let .sqlite(directory): "sqlite:" + directory
        case let .postgres(url): PostgresConnection.redacted(url)
        }
    }
}
