import COpenSSL
import Foundation

/// An X.500 distinguished name (owns an `X509_NAME *`, freed in `deinit`).
///
/// Equality (`==`) is OpenSSL's `X509_NAME_cmp`, which compares a canonical form: string types
/// unified to UTF-8, ASCII case folded, leading/trailing spaces dropped and inner runs of spaces
/// collapsed. So `CN=Access Point A, O=Acme` parsed from an XML `ds:X509IssuerName` equals the
/// issuer in the certificate whatever the spacing, case or ASN.1 string type.
/// ``matches(_:)-swift.method`` additionally accepts the reversed RDN order (some products write
/// `C=BE,O=...,CN=...`, i.e. the DER order, instead of RFC 4514's most-specific-first order).
///
/// Why the unchecked `Sendable` conformance is safe: the `X509_NAME` is private, never modified after `init`, and only read
/// afterwards; OpenSSL recomputes the cached canonical encoding only for names marked modified,
/// which never happens after construction here (``init(parsing:)`` forces the encoding once).
public final class DistinguishedName: @unchecked Sendable, Equatable, CustomStringConvertible {
    let pointer: OpaquePointer

    /// Takes ownership of `name`.
    init(owning name: OpaquePointer) {
        pointer = name
        // Force the DER and canonical encodings now, while the object is still private to this thread.
        _ = i2d_X509_NAME(name, nil)
    }

    /// Copies a name owned by someone else (e.g. `X509_get_subject_name`).
    convenience init(copying name: OpaquePointer) throws {
        guard let copy = X509_NAME_dup(name) else { throw CryptoError.openSSL("X509_NAME_dup") }
        self.init(owning: copy)
    }

    deinit { X509_NAME_free(pointer) }

    /// Parses a string form: RFC 4514 / RFC 2253 (`CN=a,O=b`), with the usual variations found in
    /// XML `ds:X509IssuerName` values: spaces around separators, `;` separators, quoted values,
    /// `\,` and `\2C` escapes, `#hex` BER values, multi-valued RDNs (`+`), dotted OIDs and the
    /// attribute names Java/.NET emit (`E`, `EMAILADDRESS`, `S`, `SERIALNUMBER`, `OID.2.5.4.3`, ...).
    public convenience init(parsing text: String) throws {
        let rdns = try DistinguishedNameParser.parse(text)
        guard let name = X509_NAME_new() else { throw CryptoError.openSSL("X509_NAME_new") }
        do {
            // RFC 4514 writes the most specific RDN first; DER order is the reverse.
            for rdn in rdns.reversed() {
                for (index, attribute) in rdn.enumerated() {
                    try Self.add(attribute, to: name, newRDN: index == 0)
                }
            }
        } catch {
            X509_NAME_free(name)
            throw error
        }
        self.init(owning: name)
    }

    private static func add(_ attribute: DistinguishedNameParser.Attribute, to name: OpaquePointer, newRDN: Bool) throws {
        guard let object = DistinguishedNameParser.object(forAttributeType: attribute.type) else {
            throw CryptoError.decodingFailed(what: "distinguished name", openSSLError: "unknown attribute type \(attribute.type)")
        }
        defer { ASN1_OBJECT_free(object) }
        let set: Int32 = newRDN ? 0 : -1
        let length = try int32Length(attribute.value.count, "attribute value")
        if let berType = attribute.berStringType {
            guard X509_NAME_add_entry_by_OBJ(name, object, berType, attribute.value, length, -1, set) == 1 else {
                throw CryptoError.decoding("distinguished name attribute \(attribute.type)")
            }
            return
        }
        if X509_NAME_add_entry_by_OBJ(name, object, MBSTRING_UTF8, attribute.value, length, -1, set) == 1 { return }
        // The attribute's preferred string type refused the value (e.g. a three-letter country code):
        // keep it as a UTF8String so that it can still be compared.
        OpenSSLErrorQueue.clear()
        guard X509_NAME_add_entry_by_OBJ(name, object, V_ASN1_UTF8STRING, attribute.value, length, -1, set) == 1 else {
            throw CryptoError.decoding("distinguished name attribute \(attribute.type)")
        }
    }

    /// RFC 2253 string, most specific RDN first (`CN=red_gw,O=eDelivery,C=BE`); UTF-8 kept unescaped.
    public var rfc2253: String {
        guard let bio = try? MemoryBIO(), X509_NAME_print_ex(bio.pointer, pointer, 0, as4gw_XN_FLAG_RFC2253_UTF8()) >= 0 else {
            return ""
        }
        return bio.string
    }

    public var description: String { rfc2253 }

    /// DER encoding of the Name.
    public var derBytes: [UInt8] {
        get throws { try derEncode("Name") { i2d_X509_NAME(pointer, $0) } }
    }

    /// The values of one attribute, in DER order (e.g. `values(for: "CN")`, `values(for: "O")`).
    public func values(for attributeType: String) -> [String] {
        guard let object = DistinguishedNameParser.object(forAttributeType: attributeType) else { return [] }
        defer { ASN1_OBJECT_free(object) }
        var result: [String] = []
        var index: Int32 = -1
        while true {
            index = X509_NAME_get_index_by_OBJ(pointer, object, index)
            guard index >= 0, let entry = X509_NAME_get_entry(pointer, index) else { break }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
            if length >= 0, let utf8 {
                result.append(String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self))
                as4gw_OPENSSL_free(utf8)
            }
        }
        OpenSSLErrorQueue.clear()
        return result
    }

    /// The first common name, if any.
    public var commonName: String? { values(for: "CN").first }

    /// Canonical equality in the exact RDN order (`X509_NAME_cmp`).
    public static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        X509_NAME_cmp(lhs.pointer, rhs.pointer) == 0
    }

    /// Canonical equality in either RDN order (see the type documentation).
    public func matches(_ other: DistinguishedName) -> Bool {
        if self == other { return true }
        guard let reversed = try? other.reversed() else { return false }
        return self == reversed
    }

    /// Parses `text` and compares it with ``matches(_:)-swift.method``; unparseable text never matches.
    public func matches(_ text: String) -> Bool {
        guard let other = try? DistinguishedName(parsing: text) else { return false }
        return matches(other)
    }

    /// The same RDNs in the opposite order (multi-valued RDNs kept together).
    func reversed() throws -> DistinguishedName {
        guard let name = X509_NAME_new() else { throw CryptoError.openSSL("X509_NAME_new") }
        var previousSet: Int32 = -1
        var index = X509_NAME_entry_count(pointer) - 1
        while index >= 0 {
            guard let entry = X509_NAME_get_entry(pointer, index) else { break }
            let set = X509_NAME_ENTRY_set(entry)
            if X509_NAME_add_entry(name, entry, -1, set == previousSet ? -1 : 0) != 1 {
                X509_NAME_free(name)
                throw CryptoError.openSSL("X509_NAME_add_entry")
            }
            previousSet = set
            index -= 1
        }
        return DistinguishedName(owning: name)
    }
}
