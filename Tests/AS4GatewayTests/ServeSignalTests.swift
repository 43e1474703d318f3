import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A stop signal is never lost: sent while the gateway is still starting, or the moment its log
/// says "started", it stops the process cleanly (the signal handlers are installed first).
final class ServeSignalTests: XCTestCase {
    func testSIGTERMDuringOrRightAfterTheStartStopsTheGateway() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        // The first start writes the development PKI; later starts are quick.
        try h.start("gw-a")
        h.stop("gw-a")
        for delay in [0.0, 0.02, 0.05, 0.1, 0.2] {
            try h.start("gw-a", waitForStart: false)
            let p = try XCTUnwrap(h.nodes["gw-a"]!.process)
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(30)
            while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            XCTAssertFalse(p.isRunning, "SIGTERM \(delay) s after the launch was lost")
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            h.nodes["gw-a"]!.process = nil
        }
        // And right at the "started" line, as the harness always does.
        for _ in 0..<3 {
            try h.start("gw-a")
            h.stop("gw-a")
        }
    }
}
