import Foundation
import Routing

/// `as4gw pmode check DIR` and `as4gw pmode import domibus FILE`: validate a P-Mode directory
/// the way the daemon loads it, and convert a Domibus P-Mode into our JSON files.
enum PModeCommand {
    static let help = """
    Usage: as4gw pmode check DIR [--party NAME] [--allow-missing-certificates] [--allow-insecure-endpoints] [--strict]
           as4gw pmode import domibus FILE [--out DIR] [--force]

    check    Loads the P-Mode directory DIR (parties.json and *.pmode.json, see docs/PMODES.md)
             with the daemon's loader. Prints "DIR: N parties, M P-Modes: OK", or every problem
             of every file on stderr as `DIR/file:line:col: message`, one per line.
             --party NAME                  check the directory as the gateway of party NAME
                                           loads it: a leg under which NAME signs with
                                           keyReference "ski" while its signing certificate
                                           in parties.json has no Subject Key Identifier is
                                           an error (the daemon refuses such a set; serve
                                           --check-config checks the configured keys)
             --allow-missing-certificates  skip certificate files that do not exist yet (the
                                           development PKI writes them on first start); files
                                           that exist must still parse
             --allow-insecure-endpoints    accept http:// endpoints (tests, experiments)
             --strict                      exit 1 on warnings too
             Warnings (on stderr, "DIR: warning: ..."; the set still loads): an e-address
             document leg whose receiver has no EAddressStatus leg back to its sender; a
             certificate that expired, is not valid yet or expires within 30 days; a signing
             certificate the gateway refuses as a message signer (keyUsage without
             digitalSignature or nonRepudiation, or a CA certificate); an encryption
             certificate whose keyUsage allows neither keyEncipherment nor keyAgreement;
             without --party, a leg with keyReference "ski" that a party signs under with a
             signing certificate that has no Subject Key Identifier (an error for the gateway
             of that party).

    import domibus
             Converts a Domibus P-Mode XML file into parties.json and one <process>.pmode.json
             per process. Without --out the files are printed to stdout, each after a
             "==> NAME <==" header; with --out they are written to DIR (created if needed;
             existing files are not replaced unless --force). What was left out is printed on
             stderr as warnings. A file with a DTD or entity (XXE) is refused. Certificates are
             not part of a Domibus P-Mode: add them to parties.json before production use.

    Exit status: 0 success (warnings included, unless --strict); 1 the P-Modes have problems (or
    warnings, with --strict), or the Domibus file was refused or is inconsistent; 2 usage or I/O error.
    """

    static func run(_ args: [String]) -> Int32 {
        var rest = args[...]
        switch rest.popFirst() {
        case "check": return check(Array(rest))
        case "import":
            switch rest.popFirst() {
            case "domibus": return importDomibus(Array(rest))
            case "--help", "-h": print(help); return 0
            case nil: return CLI.usageError("pmode import needs a format: domibus", help: help)
            case let other?: return CLI.usageError("pmode import: unknown format \(other) (known: domibus)", help: help)
            }
        case "--help", "-h", "help": print(help); return 0
        case nil: return CLI.usageError("pmode needs a subcommand: check or import", help: help)
        case let other?: return CLI.usageError("pmode: unknown subcommand \(other)", help: help)
        }
    }

    // MARK: check

    static func check(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["party"], flags: ["allow-missing-certificates", "allow-insecure-endpoints", "strict"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("pmode check takes exactly one DIR", help: help) }
        let directory = a.positionals[0]
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: directory) else {
            return CLI.ioError("cannot read the P-Mode directory \(directory)")
        }
        let party = a.value("party")
        let options = PModeLoader.Options(requireCertificates: !a.has("allow-missing-certificates"),
                                          allowInsecureEndpoints: a.has("allow-insecure-endpoints"),
                                          signer: party.map { PModeLoader.Signer(party: $0) })
        do {
            let set = try PModeLoader.load(directory: directory, options: options)
            if let party, set.party(named: party) == nil {
                CLI.printError("\(directory)/parties.json: --party \(party) is not a party in it")
                return 1
            }
            let warnings = EAddressAgreementCheck.findings(in: set).map(\.description)
                + PModeCertificateCheck.findings(in: set).map(\.description)
                + (party == nil ? keyReferenceWarnings(set) : [])
            for warning in warnings { CLI.printError("\(directory): warning: \(warning)") }
            let verdict = warnings.isEmpty ? "OK" : "OK with \(count(warnings.count, "warning", "warnings"))"
            print("\(directory): \(count(set.parties.count, "party", "parties")), \(count(set.pmodes.count, "P-Mode", "P-Modes")): \(verdict)")
            return warnings.isEmpty || !a.has("strict") ? 0 : 1
        } catch {
            CLI.printError(error.diagnostics.map { located($0, in: directory) }.joined(separator: "\n"))
            return 1
        }
    }

    /// Without knowing whose gateway the directory serves: each party that would sign with an
    /// SKI reference to a certificate without the extension, if it were ours (`KeyReferenceCheck`).
    static func keyReferenceWarnings(_ set: PModeSet) -> [String] {
        set.parties.flatMap { party in
            KeyReferenceCheck.problems(in: set.pmodes, party: party.name, signers: party.certificates[.signing] ?? []).map { problem in
                let pmode = set.pmodes[problem.pmode]
                return "\(pmode.source): P-Mode \"\(pmode.id)\" legs[\(problem.leg)].security.keyReference "
                    + problem.explanation(who: "party \"\(party.name)\"") + " (an error when \(party.name) is this gateway's party: --party \(party.name))"
            }
        }
    }

    /// The diagnostic with its file named as the user would open it from the current directory.
    static func located(_ d: PModeDiagnostic, in directory: String) -> String {
        var shown = d
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        shown.file = d.file.isEmpty ? base : base + "/" + d.file
        return shown.description
    }

    private static func count(_ n: Int, _ one: String, _ many: String) -> String {
        "\(n) \(n == 1 ? one : many)"
    }

    // MARK: import domibus

    static func importDomibus(_ args: [String]) -> Int32 {
        let a: Arguments
        do {
            a = try Arguments(args, valued: ["out"], flags: ["force"])
        } catch {
            return CLI.usageError("\(error)", help: help)
        }
        if a.has("help") { print(help); return 0 }
        guard a.positionals.count == 1 else { return CLI.usageError("pmode import domibus takes exactly one FILE", help: help) }
        if a.has("force") && a.value("out") == nil { return CLI.usageError("--force only applies with --out", help: help) }
        let path = a.positionals[0]

        let result: DomibusImport
        do {
            result = try DomibusImporter.importFile(path)
        } catch {
            if case .unreadable = error { return CLI.ioError("\(error)") }
            CLI.printError("as4gw: \(error)")
            return 1
        }
        let source = URL(fileURLWithPath: path).lastPathComponent
        for warning in result.warnings {
            CLI.printError("\(source): warning: \(warning)")
        }
        let files = [("parties.json", result.parties)] + result.pmodes.map { ($0.fileName, $0.json) }

        guard let out = a.value("out") else {
            for (index, (name, json)) in files.enumerated() {
                if index > 0 { print() }
                print("==> \(name) <==")
                print(json, terminator: json.hasSuffix("\n") ? "" : "\n")
            }
            return 0
        }
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            return CLI.ioError("cannot create \(out): \(error.localizedDescription)")
        }
        let base = out.hasSuffix("/") ? String(out.dropLast()) : out
        if !a.has("force") {
            let existing = files.map { base + "/" + $0.0 }.filter { fm.fileExists(atPath: $0) }
            if !existing.isEmpty {
                return CLI.ioError("not replacing existing \(existing.joined(separator: ", ")) (use --force)")
            }
        }
        for (name, json) in files {
            let target = base + "/" + name
            do {
                try Data(json.utf8).write(to: URL(fileURLWithPath: target), options: .atomic)
            } catch {
                return CLI.ioError("cannot write \(target): \(error.localizedDescription)")
            }
            print(target)
        }
        return 0
    }
}
