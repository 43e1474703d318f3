import Foundation

/// Finds a member name given twice in one JSON object. RFC 8259 §4 leaves what such an object
/// means to the reader: Foundation keeps the last value, others the first or refuse it. A DMS's
/// `recipients` given twice would then name one list to a scanner or log in front of the gateway
/// and another to the gateway, so the API refuses such a body instead of picking one.
enum JSONDuplicateNames {
    private struct Frame {
        var isObject: Bool
        var path: String
        var names: Set<String> = []
        var expectingName = true
        var current = ""
        var index = 0
    }

    /// The JSON Pointer (RFC 6901) of the first member whose object already has its name, in
    /// text that already parsed as JSON; names are compared decoded (`"a"` and `"\u0061"` are one).
    static func first(in bytes: [UInt8]) -> String? {
        var stack: [Frame] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                let end = stringEnd(bytes, from: i)
                if var top = stack.last, top.isObject, top.expectingName {
                    let name = decoded(Array(bytes[i..<end]))
                    if top.names.contains(name) { return top.path + "/" + escaped(name) }
                    top.names.insert(name)
                    top.expectingName = false
                    top.current = name
                    stack[stack.count - 1] = top
                }
                i = end
                continue
            case UInt8(ascii: "{"): stack.append(Frame(isObject: true, path: childPath(stack)))
            case UInt8(ascii: "["): stack.append(Frame(isObject: false, path: childPath(stack)))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = stack.popLast()
            case UInt8(ascii: ","):
                if stack.last?.isObject == true { stack[stack.count - 1].expectingName = true } else if !stack.isEmpty { stack[stack.count - 1].index += 1 }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The index just past the string token opening at `start`.
    private static func stringEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
            if bytes[i] == UInt8(ascii: "\"") { return i + 1 }
            i += 1
        }
        return bytes.count
    }

    private static func decoded(_ token: [UInt8]) -> String {
        (try? JSONSerialization.jsonObject(with: Data(token), options: .fragmentsAllowed)) as? String ?? String(decoding: token, as: UTF8.self)
    }

    private static func childPath(_ stack: [Frame]) -> String {
        guard let top = stack.last else { return "" }
        return top.path + "/" + (top.isObject ? escaped(top.current) : String(top.index))
    }

    private static func escaped(_ name: String) -> String {
        name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
