import EnvelopeXML
import Foundation

/// Loads and validates a P-Mode directory: `parties.json` plus every `*.pmode.json` (format:
/// docs/PMODES.md). Every file is checked and every problem reported, each as
/// `file:line:col: path message`; the set is returned only when there are none.
public enum PModeLoader {
    public struct Options: Sendable, Equatable {
        /// When false, certificate files that do not exist yet are skipped instead of reported
        /// (the shipped samples name files the development PKI creates on first start). Files that
        /// exist but do not parse are always errors.
        public var requireCertificates: Bool
        /// Accept `http://` endpoints (tests, local experiments). Production endpoints are https.
        public var allowInsecureEndpoints: Bool

        /// The gateway the set is loaded for: the legs under which it signs must name its
        /// signing certificate in a way that certificate allows (`KeyReferenceCheck`). nil: not
        /// checked (a directory looked at without knowing whose it is).
        public var signer: Signer?

        public init(requireCertificates: Bool = true, allowInsecureEndpoints: Bool = false, signer: Signer? = nil) {
            self.requireCertificates = requireCertificates
            self.allowInsecureEndpoints = allowInsecureEndpoints
            self.signer = signer
        }
    }

    /// Our party and the certificates we sign with.
    public struct Signer: Sendable, Equatable {
        public var party: String
        /// Primary first, as the daemon holds its signing identities. nil: the party's signing
        /// certificates in parties.json, which a gateway without configured keys signs with.
        public var certificates: [PartyCertificate]?

        public init(party: String, certificates: [PartyCertificate]? = nil) {
            self.party = party
            self.certificates = certificates
        }
    }

    static let pmodeSuffix = ".pmode.json"
    static let maxFileBytes = 16 << 20

    public static func load(directory: String, options: Options = Options()) throws(PModeLoadErrors) -> PModeSet {
        let log = DiagnosticLog()
        let directoryURL = URL(fileURLWithPath: directory, isDirectory: true)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw PModeLoadErrors([PModeDiagnostic(file: "", line: 0, column: 0, message: "cannot read the P-Mode directory \(directory)")])
        }

        var parties: [DecodedParty] = []
        var declaredParties: Set<String> = []
        if names.contains(PartiesDecoder.fileName) {
            if let root = read(PartiesDecoder.fileName, in: directoryURL, log: log) {
                declaredParties = PartiesDecoder.declaredNames(root)
                parties = PartiesDecoder(directory: directoryURL, options: options, log: log).decode(root)
            }
        } else {
            log.error(file: PartiesDecoder.fileName, "missing: a P-Mode directory needs parties.json")
        }

        var pmodes: [DecodedPMode] = []
        let pmodeFiles = names.filter { $0.hasSuffix(pmodeSuffix) }
        if pmodeFiles.isEmpty {
            log.error(file: "", "\(directory) has no *\(pmodeSuffix) file")
        }
        for name in pmodeFiles {
            if let root = read(name, in: directoryURL, log: log) {
                pmodes += PModeDecoder(file: name, log: log).decode(root)
            }
        }
        for name in names where name.hasSuffix(".json") && name != PartiesDecoder.fileName && !name.hasSuffix(pmodeSuffix) {
            log.error(file: name, "is neither parties.json nor a *\(pmodeSuffix) file (misnamed P-Mode file?)")
        }

        PModeCrossChecks(parties: parties, declaredParties: declaredParties, log: log).check(pmodes)
        if let signer = options.signer { KeyReferenceCheck.report(pmodes, parties: parties, signer: signer, log: log) }

        if !log.isEmpty { throw PModeLoadErrors(log.sorted) }
        return PModeSet(uncheckedParties: parties.map(\.party), pmodes: pmodes.map(\.pmode), directory: directoryURL.path)
    }

    /// Reads and parses one file; problems become diagnostics and nil.
    private static func read(_ name: String, in directory: URL, log: DiagnosticLog) -> JSONValue? {
        let url = directory.appendingPathComponent(name).resolvingSymlinksInPath()
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              (attributes[.type] as? FileAttributeType) != .typeDirectory else {
            log.error(file: name, "is not a readable file")
            return nil
        }
        if let size = attributes[.size] as? Int, size > maxFileBytes {
            log.error(file: name, "is larger than \(maxFileBytes >> 20) MiB")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            log.error(file: name, "cannot be read")
            return nil
        }
        do {
            return try JSONReader.parse([UInt8](data))
        } catch {
            log.error(name, error.location, "JSON: \(error.message)")
            return nil
        }
    }
}

extension PartiesDecoder {
    /// Every party name written in the file, even of parties with other errors, so references to
    /// them are not reported a second time as unknown.
    static func declaredNames(_ root: JSONValue) -> Set<String> {
        let parties = root.members?.first { $0.key == "parties" }?.value.elements ?? []
        return Set(parties.compactMap { $0.members?.first { $0.key == "name" }?.value.string })
    }
}
