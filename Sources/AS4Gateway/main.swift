#if canImport(Glibc)
import Glibc
#endif

let usage = """
Usage: as4gw COMMAND [ARGS...]

An eDelivery AS4 gateway (ebMS 3.0 / AS4, eDelivery AS4 profile 1.15 and 2.0).

Commands:
  serve               Run the gateway (AS4 endpoint, submissions, delivery with retries)
  send FILE...        Queue a message for delivery by the running gateway
  ping PARTY          Have the running gateway send PARTY a test message; print the receipt's verdict
  inspect FILE        Read one AS4 message as it travels and print a JSON summary
  seal PAYLOAD...     Build a signed (optionally compressed and encrypted) AS4 message
  verify FILE         Decrypt and verify a message's signature; print the verdict as JSON
  pmode check DIR     Validate a P-Mode directory (every problem as file:line:col)
  pmode import domibus FILE
                      Convert a Domibus P-Mode XML file into as4gw's P-Mode JSON files
  connections add|list|revoke
                      Backend connections of the REST API (token or client certificate, addresses)
  directory import|export|lookup|limits
                      Load the e-address directory from CSV or JSON, write it out, show
                      the route decision for an address, or show and set an address's limits
  companies import|show
                      Load the company register's open data (CSV) and report what changed
  retention purge     Remove documents past their retention that no legal hold keeps
  messages list|show|retry|retry-intake
                      List stored messages, show one with its history, re-queue a Failed one,
                      or have a received one whose intake failed taken in again
  tail                Follow the message store's event history (logfmt lines)
  store status|migrate
                      Show the store's schema version, or migrate it (the only command
                      besides serve that changes the schema)
  audit verify        Check the hash chains of the event history; name the first broken link
  evidence verify FILE
                      Check an evidence bundle's seal and its receipts offline
  certs               Expiry report of the certificates named in the P-Modes
  bench codec|crypto|e2e|channel
                      Measure codec and crypto rates, two gateways end to end, or a
                      10,000-person channel lookup

Run `as4gw COMMAND --help` for a command's options.
"""

var arguments = CommandLine.arguments.dropFirst()
let command = arguments.popFirst()
let status: Int32
switch command {
case "inspect": status = InspectCommand.run(Array(arguments))
case "serve": status = ServeCommand.run(Array(arguments))
case "send": status = SendCommand.run(Array(arguments))
case "ping": status = PingCommand.run(Array(arguments))
case "seal": status = SealCommand.run(Array(arguments))
case "verify": status = VerifyCommand.run(Array(arguments))
case "bench": status = BenchCommand.run(Array(arguments))
case "pmode": status = PModeCommand.run(Array(arguments))
case "directory": status = DirectoryCommand.run(Array(arguments))
case "connections": status = ConnectionsCommand.run(Array(arguments))
case "companies": status = CompaniesCommand.run(Array(arguments))
case "messages": status = MessagesCommand.run(Array(arguments))
case "tail": status = TailCommand.run(Array(arguments))
case "store": status = StoreCommand.run(Array(arguments))
case "audit": status = AuditCommand.run(Array(arguments))
case "evidence": status = EvidenceCommand.run(Array(arguments))
case "certs": status = CertsCommand.run(Array(arguments))
case "retention": status = RetentionCommand.run(Array(arguments))
case "--help", "-h", "help": print(usage); status = 0
case nil: CLI.printError(usage); status = 2
case let other?: CLI.printError("as4gw: unknown command \(other)\n\n\(usage)"); status = 2
}
exit(status)
