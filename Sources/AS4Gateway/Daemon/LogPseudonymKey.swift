/// The key of the pseudonyms the log writes for personal codes (`EventLog`), kept in the data
/// directory (`log-pseudonym.key`) so that one person has the same pseudonym across restarts.
/// It is a secret: personal codes are few enough to be guessed by trying them all against a
/// known key. Each node has its own.
enum LogPseudonymKey {
    static let fileName = "log-pseudonym.key"

    static func load(dataDirectory: String) throws -> [UInt8] {
        try DataDirectorySecret.load(fileName, dataDirectory: dataDirectory)
    }
}
