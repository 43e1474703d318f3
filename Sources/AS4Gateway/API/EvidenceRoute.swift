import Foundation
import HTTPServer
import MessageStore

/// `GET /api/v1/messages/{id}/evidence`: the sealed evidence bundle (docs/EVIDENCE.md). The
/// sender's connection gets every recipient; a recipient's connection gets the document with
/// its own recipients and their events only, the metadata's list of recipients reduced to them
/// (as `GET /messages/{id}` shows it); anyone else 403.
struct EvidenceRoute {
    let r: APIRequest
    let id: String
    init(_ r: APIRequest, id: String) {
        self.r = r
        self.id = id
    }

    func bundle() throws -> HTTPResponse {
        let a = try MessageRoutes(r, id: id).access()
        let d = a.document
        let shown = a.isSender ? d.recipients : d.recipients.filter { rec in a.held.contains { $0.address == rec.address } }
        let bytes = try EvidenceBundle(context: r.context).build(d, recipients: shown, wholeMetadata: a.isSender)
        var response = HTTPResponse.bytes(200, contentType: "application/xml", bytes)
        response.headers["Content-Disposition"] = "attachment; filename=\"evidence.xml\""
        return response
    }
}
