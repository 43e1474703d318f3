import Foundation

/// RFC 9110 §10.2.3 Retry-After: delay-seconds or an HTTP-date. A peer that answers 503 or 429
/// with it is waited for (at most an hour, so a wrong value cannot park a message for days;
/// the P-Mode's retry budget still counts the attempt).
enum RetryAfter {
    static let longest: TimeInterval = 3600

    static func seconds(_ value: String?, now: Date) -> TimeInterval? {
        guard let text = value?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let n = Double(text) { return min(n, longest) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        return min(max(0, date.timeIntervalSince(now)), longest)
    }
}
