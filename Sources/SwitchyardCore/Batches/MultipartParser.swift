/// An incremental `multipart/form-data` parser (RFC 7578): bytes in as they arrive, parts out,
/// with no part's body held whole — an uploaded file can be written to disk chunk by chunk.
public struct MultipartParser: Sendable {
    public enum Event: Sendable, Equatable {
        /// A part begins; its headers (names lowercased).
        case partStart(headers: [String: String])
        /// Some of the current part's body.
        case data([UInt8])
        case partEnd
    }

    public struct MalformedError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    private enum State {
        case preamble
        case afterDelimiter
        case headers
        case body
        case done
    }

    /// `\r\n--boundary`: what ends a part (the first delimiter may come without the CRLF).
    private let delimiter: [UInt8]
    private var pending: [UInt8] = [13, 10]
    private var state = State.preamble
    /// Bound on one part's header block.
    private let maximumHeaderBytes = 16 * 1024

    /// The parser for a `Content-Type: multipart/form-data; boundary=…` value; nil when it is not
    /// one or names no usable boundary.
    public init?(contentType: String) {
        let mediaType = contentType.prefix { $0 != ";" }.trimmingWhitespace().lowercased()
        guard mediaType == "multipart/form-data", let boundary = Self.parameter("boundary", in: contentType),
            (1...200).contains(boundary.utf8.count)
        else { return nil }
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// Whether the closing delimiter has been read.
    public var isComplete: Bool { if case .done = state { true } else { false } }

    /// The events `bytes` completes.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(MalformedError) -> [Event] {
        if case .done = state { return [] }
        pending.append(contentsOf: bytes)
        var events: [Event] = []
        var position = 0
        loop: while true {
            switch state {
            case .preamble, .body:
                if let found = Self.find(delimiter, in: pending, from: position) {
                    // A delimiter is followed by `--`, a line break or transport padding;
                    // anything else makes it part of the body.
                    let after = found + delimiter.count
                    guard pending.count - after >= 2 else {
                        if case .body = state, found > position { events.append(.data(Array(pending[position..<found]))) }
                        position = found
                        break loop
                    }
                    let next = (pending[after], pending[after + 1])
                    guard next == (45, 45) || next == (13, 10) || next.0 == 32 || next.0 == 9 else {
                        if case .body = state { events.append(.data(Array(pending[position...found]))) }
                        position = found + 1
                        continue loop
                    }
                    if case .body = state {
                        if found > position { events.append(.data(Array(pending[position..<found]))) }
                        events.append(.partEnd)
                    }
                    position = found + delimiter.count
                    state = .afterDelimiter
                } else {
                    // Keep what could be the start of a delimiter split across reads.
                    let keep = max(position, pending.count - (delimiter.count - 1))
                    if case .body = state, keep > position { events.append(.data(Array(pending[position..<keep]))) }
                    position = keep
                    break loop
                }
            case .afterDelimiter:
                guard pending.count - position >= 2 else { break loop }
                if pending[position] == 45 && pending[position + 1] == 45 {
                    state = .done
                    position = pending.count
                    break loop
                }
                // Transport padding (spaces, tabs) may precede the CRLF.
                var index = position
                while index < pending.count, pending[index] == 32 || pending[index] == 9 { index += 1 }
                guard pending.count - index >= 2 else { break loop }
                guard pending[index] == 13 && pending[index + 1] == 10 else {
                    throw MalformedError(description: "a multipart boundary is not followed by a line break")
                }
                position = index + 2
                state = .headers
            case .headers:
                guard pending.count - position >= 2 else { break loop }
                if pending[position] == 13 && pending[position + 1] == 10 {
                    // A part without headers: the blank line comes at once.
                    events.append(.partStart(headers: [:]))
                    position += 2
                    state = .body
                    continue loop
                }
                guard let end = Self.find([13, 10, 13, 10], in: pending, from: position) else {
                    if pending.count - position > maximumHeaderBytes { throw MalformedError(description: "a part's headers are too long") }
                    break loop
                }
                guard end - position <= maximumHeaderBytes else { throw MalformedError(description: "a part's headers are too long") }
                events.append(.partStart(headers: Self.headers(pending[position..<end])))
                position = end + 4
                state = .body
            case .done:
                position = pending.count
                break loop
            }
        }
        pending.removeFirst(position)
        return events
    }

    /// Checks that the body ended with the closing delimiter.
    public func finish() throws(MalformedError) {
        guard case .done = state else { throw MalformedError(description: "the multipart body ends before its closing boundary") }
    }

    /// A parameter of a header value (`boundary` of Content-Type, `name` and `filename` of
    /// Content-Disposition), quoted or not.
    public static func parameter(_ name: String, in value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingWhitespace().lowercased() == name else { continue }
            var text = pair[1].trimmingWhitespace()
            if text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") {
                text = String(text.dropFirst().dropLast()).replacingBackslashEscapes()
            }
            return text
        }
        return nil
    }

    private static func headers(_ bytes: ArraySlice<UInt8>) -> [String: String] {
        var headers: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].trimmingWhitespace().lowercased()] = line[line.index(after: colon)...].trimmingWhitespace()
        }
        return headers
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count - start >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            guard let candidate = haystack[index...last].firstIndex(of: first) else { return nil }
            if haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) { return candidate }
            index = candidate + 1
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    fileprivate func replacingBackslashEscapes() -> String {
        var result = ""
        var escaped = false
        for character in self {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}
