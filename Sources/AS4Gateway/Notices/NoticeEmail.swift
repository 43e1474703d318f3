import Foundation

/// The e-mail that tells a person or company that a message waits in its e-address mailbox.
/// It says nothing of the message (no sender, subject or file): an e-mail is not a secure
/// channel, and the message is read in the mailbox. Latvian first, then English.
struct NoticeEmail {
    var to: String
    var from: String
    var address: String
    var noticeId: Int64
    var domain: String
    var portalURL: String
    var date: Date

    var subject: String { "Jauns ziņojums e-adresē / New message in your e-address" }

    var text: String {
        """
        Labdien!

        Jūsu e-adresē \(address) ir saņemts jauns ziņojums.
        Lai to izlasītu, piesakieties \(portalURL).
        Šis paziņojums ir nosūtīts automātiski; uz to nav jāatbild.

        Hello,

        A new message has arrived in your e-address mailbox \(address).
        To read it, sign in at \(portalURL).
        This notice was sent automatically; please do not reply.
        """
    }

    /// RFC 5322 with CRLF line ends: UTF-8 subject as an RFC 2047 word, body in base64 (no line
    /// of the text can then be taken for SMTP's end-of-data dot).
    func rendered() -> [UInt8] {
        let body = Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let headers = [
            "From: e-adrese <\(from)>",
            "To: <\(to)>",
            "Subject: =?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?=",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: <notice-\(noticeId)@\(domain)>",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: base64",
        ]
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n").utf8)
    }

    static func rfc5322Date(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: date)
    }
}
