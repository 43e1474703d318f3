import EnvelopeXML
import Foundation
import HTTPServer

/// A `multipart/form-data` body (RFC 7578), read with the project's MIME parser (the framing of
/// every multipart type).
/// Parts stay ranges of the request's spool file when the body was spooled; nothing is copied.
struct FormData {
    struct Field {
        var name: String
        var filename: String?
        /// The raw `filename*` (RFC 8187 ext-value), decoded by `DocumentFileName.fromForm`.
        var extendedFilename: String?
        var contentType: String?
        var body: PartBody
        /// Parameters of its Content-Disposition given more than once (lower-case names): RFC 6266
        /// §4.1 makes such a header invalid, and readers differ on which value counts.
        var repeatedParameters: Set<String> = []
    }

    var fields: [Field]
    /// Files made while parsing (decoded base64 parts), not the request's own file: the caller
    /// removes them with ``removeSpoolFiles()`` once done with the fields.
    var spoolFiles: [String] = []

    func removeSpoolFiles() {
        for path in spoolFiles { unlink(path) }
    }

    static func parse(_ body: HTTPRequestBody, contentType: String?, spoolDirectory: String) throws(Problem) -> FormData {
        guard let contentType, let type = try? MediaType.parse(contentType), type.hasEssence("multipart/form-data") else {
            throw Problem(415, "unsupported-media-type", "Submissions are multipart/form-data",
                          "Content-Type is \(contentType ?? "absent"); send multipart/form-data with a metadata part and file parts")
        }
        guard let boundary = type[parameter: "boundary"] else {
            throw Problem.badRequest("the multipart/form-data Content-Type has no boundary parameter")
        }
        let input: PartBody
        switch body {
        case .empty: throw Problem.badRequest("the request body is empty")
        case .bytes(let b): input = .bytes(b)
        case .file(let path, let length): input = .file(path: path, offset: 0, length: length)
        }
        var limits = MIMELimits()
        limits.maxRootPartSize = limits.maxTotalSize
        let parts: [MIMEPart]
        do {
            parts = try MultipartRelated.parseFormData(input, boundary: boundary, limits: limits, spoolDirectory: spoolDirectory)
        } catch let e as EbmsError {
            throw Problem.badRequest("the multipart body cannot be read: \(e.reason)")
        } catch {
            throw Problem.badRequest("the multipart body cannot be read: \(error)")
        }
        let requestFile: String? = { if case .file(let path, _) = body { return path } else { return nil } }()
        var spoolFiles: [String] = []
        for part in parts {
            if case .file(let path, _, _) = part.body, path != requestFile, !spoolFiles.contains(path) { spoolFiles.append(path) }
        }
        var fields: [Field] = []
        for (i, part) in parts.enumerated() {
            // As for the fields the MIME parser allows once: two readers could each take another.
            if part.headers.values(for: "Content-Disposition").count > 1 {
                for path in spoolFiles { unlink(path) }
                throw Problem.badRequest("part \(i + 1) has \(part.headers.values(for: "Content-Disposition").count) Content-Disposition headers; give it one")
            }
            guard let disposition = part.headers["Content-Disposition"], let list = Self.dispositionList(disposition),
                  let name = Self.parameters(list)["name"] else {
                for path in spoolFiles { unlink(path) }
                throw Problem.badRequest("part \(i + 1) has no Content-Disposition: form-data with a name")
            }
            let params = Self.parameters(list)
            let repeated = Set(Dictionary(grouping: list.map(\.name), by: { $0 }).filter { $0.value.count > 1 }.keys)
            // Which part it is must not depend on the reader: a part named twice is refused whole.
            if repeated.contains("name") {
                for path in spoolFiles { unlink(path) }
                throw Problem.badRequest("part \(i + 1)'s Content-Disposition gives name more than once; give it once (RFC 6266 makes such a header invalid)")
            }
            fields.append(Field(name: name, filename: params["filename"], extendedFilename: params["filename*"], contentType: part.headers["Content-Type"],
                                body: part.body, repeatedParameters: repeated))
        }
        return FormData(fields: fields, spoolFiles: spoolFiles)
    }

    /// The parameters of `form-data; name="x"; filename="y"` (quoted or token values), or nil
    /// when the disposition is not form-data.
    static func dispositionParameters(_ value: String) -> [String: String]? {
        dispositionList(value).map(parameters)
    }

    /// Each parameter by its last value (repeats are judged on the list).
    private static func parameters(_ list: [(name: String, value: String)]) -> [String: String] {
        Dictionary(list.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    /// The parameters in their order, names lower-case, or nil when the disposition is not form-data.
    private static func dispositionList(_ value: String) -> [(name: String, value: String)]? {
        var items: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for ch in value {
            if escaped { current.append(ch); escaped = false; continue }
            if quoted && ch == "\\" { escaped = true; continue }
            if ch == "\"" { quoted.toggle(); continue }
            if ch == ";" && !quoted { items.append(current); current = ""; continue }
            current.append(ch)
        }
        items.append(current)
        guard items.first?.trimmingCharacters(in: .whitespaces).lowercased() == "form-data" else { return nil }
        var out: [(name: String, value: String)] = []
        for item in items.dropFirst() {
            guard let eq = item.firstIndex(of: "=") else { continue }
            out.append((item[..<eq].trimmingCharacters(in: .whitespaces).lowercased(), String(item[item.index(after: eq)...]).trimmingCharacters(in: .whitespaces)))
        }
        return out
    }
}
