// swift-tools-version:6.0
// as4gw: an eDelivery AS4 gateway. No package dependencies: Foundation plus Debian C libraries
// reached through system library targets (one module map and one thin shim header each).
import PackageDescription

let package = Package(
    name: "as4gw",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "as4gw", targets: ["AS4Gateway"]),
        .library(name: "EnvelopeXML", targets: ["EnvelopeXML"]),
        .library(name: "Routing", targets: ["Routing"]),
    ],
    targets: [
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CGnuTLS", pkgConfig: "gnutls", providers: [.apt(["libgnutls28-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        .target(name: "EnvelopeXML", dependencies: ["CLibXML2", "CZlib"]),
        .target(name: "AS4Crypto", dependencies: ["COpenSSL"]),
        .target(name: "WSSecurity", dependencies: ["EnvelopeXML", "AS4Crypto"]),
        .target(name: "HTTPServer", dependencies: ["CMicroHTTPD", "CGnuTLS", "AS4Crypto"]),
        .target(name: "HTTPClient", dependencies: ["CCurl"]),
        .target(name: "MessageStore", dependencies: ["CSQLite", "CLibPQ", "COpenSSL"]),
        .target(name: "Routing", dependencies: ["EnvelopeXML", "AS4Crypto"]),
        .executableTarget(name: "AS4Gateway", dependencies: ["EnvelopeXML", "AS4Crypto", "WSSecurity", "HTTPServer", "HTTPClient",
                                                             "MessageStore", "Routing"]),

        .testTarget(name: "EnvelopeXMLTests", dependencies: ["EnvelopeXML"]),
        .testTarget(name: "AS4CryptoTests", dependencies: ["AS4Crypto"]),
        .testTarget(name: "HTTPTransportTests", dependencies: ["HTTPServer", "HTTPClient", "AS4Crypto"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "MessageStoreTests", dependencies: ["MessageStore"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "EnvelopeXML"]),
        .testTarget(name: "WSSecurityTests", dependencies: ["WSSecurity", "EnvelopeXML", "AS4Crypto"]),
        .testTarget(name: "AS4GatewayTests", dependencies: ["AS4Gateway", "EnvelopeXML", "AS4Crypto", "MessageStore", "HTTPClient"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (docs/FUZZING.md). They exist only when scripts/fuzz sets AS4GW_FUZZ=1: they
// call libFuzzer's driver, which only -sanitize=fuzzer links in, so the ordinary build could not
// link them; and it stays as fast as it was.
if Context.environment["AS4GW_FUZZ"] == "1" {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .executableTarget(name: "MIMEFuzzer", dependencies: ["EnvelopeXML", "CLibFuzzer"], path: "Fuzz/MIMEFuzzer"),
        .executableTarget(name: "EnvelopeFuzzer", dependencies: ["EnvelopeXML", "CLibFuzzer"], path: "Fuzz/EnvelopeFuzzer"),
        .executableTarget(name: "SignatureFuzzer", dependencies: ["EnvelopeXML", "AS4Crypto", "WSSecurity", "CLibFuzzer"],
                          path: "Fuzz/SignatureFuzzer"),
    ]
}
