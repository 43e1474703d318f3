import CMicroHTTPD
import Foundation

// The libmicrohttpd callbacks. They are capture-free closures in global `let`s: converting a
// capturing closure to `@convention(c)` crashes Swift 6.3.1 (PLATFORM-NOTES G3). All state arrives
// through the C context pointers: `cls` is the unretained ``ServerContext``, `con_cls` holds the
// retained ``RequestState`` of the request.

/// MHD_AccessHandlerCallback: called when the head has arrived, for each body piece, and once the
/// upload has ended.
let accessHandlerCallback: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, requestSlot in
    guard let cls, let connection, let uploadDataSize, let requestSlot else { return MHD_Result.NO }
    let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()

    guard let existing = requestSlot.pointee else {
        let (request, result) = server.beginRequest(on: connection, url: url.map { String(cString: $0) } ?? "/",
                                                    method: method.map { String(cString: $0) } ?? "")
        requestSlot.pointee = Unmanaged.passRetained(request).toOpaque()
        return result
    }
    let request = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()
    let pieceSize = uploadDataSize.pointee
    guard pieceSize == 0 else {
        // Every piece is consumed in full (stored, spooled or dropped).
        uploadDataSize.pointee = 0
        let bytes = UnsafeRawBufferPointer(start: uploadData.map { UnsafeRawPointer($0) }, count: pieceSize)
        return server.receive(bytes, for: request, on: connection) ? MHD_Result.YES : MHD_Result.NO
    }
    return server.completeRequest(request, on: connection)
}

/// MHD_RequestCompletedCallback: releases the request state taken in the access handler.
let requestCompletedCallback: MHD_RequestCompletedCallback = { cls, connection, requestSlot, _ in
    guard let cls else { return }
    let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    if let connection {
        server.connections.requestFinished(on: connection)
    }
    guard let requestSlot, let pointer = requestSlot.pointee else { return }
    requestSlot.pointee = nil
    let request = Unmanaged<RequestState>.fromOpaque(pointer).takeRetainedValue()
    server.endRequest(request)
}

/// MHD_NotifyConnectionCallback: registers and forgets connections for the head deadline.
let connectionNotifyCallback: MHD_NotifyConnectionCallback = { cls, connection, _, code in
    guard let cls, let connection else { return }
    let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    switch code {
    case .CONNECTION_NOTIFY_STARTED:
        server.connections.connectionStarted(connection, descriptor: as4gw_mhd_connection_fd(connection))
    case .CONNECTION_NOTIFY_CLOSED:
        server.connections.connectionClosed(connection)
    @unknown default:
        break
    }
}

/// MHD_LogCallback (MHD_OPTION_EXTERNAL_LOGGER): formats the message and hands it to the server,
/// so that libmicrohttpd never writes to stderr.
let logCallback: MHD_LogCallback = { cls, format, arguments in
    guard let cls, let format, let arguments else { return }
    let server = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    var buffer = [CChar](repeating: 0, count: 1024)
    guard as4gw_mhd_format_log(&buffer, buffer.count, format, arguments) >= 0 else { return }
    let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    server.log(message.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// The MHD_OPTION_UNESCAPE_CALLBACK: leaves `%HH` escapes in the path and query as they came
/// (returning the unchanged length), so that the request's raw path reaches the handler; the
/// server decodes them itself (`PercentEncoding`).
let keepEscapesCallback: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int = { _, _, text in
    guard let text else { return 0 }
    return strlen(text)
}
