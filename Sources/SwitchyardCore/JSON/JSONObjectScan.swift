/// A validated view of a JSON object's top-level members, found without building a tree.
///
/// The whole text is validated (syntax, UTF-8, depth) in one pass; for each top-level member the
/// key, the value's kind and its byte range are kept so callers can read a few fields and splice
/// others without re-serialising the rest. This is the request hot path's parser.
public struct JSONObjectScan: Sendable {
    public struct Member: Sendable {
        public var key: String
        public var kind: JSONKind
        /// Byte range of the value within the scanned text.
        public var valueRange: Range<Int>
        /// Byte range of the whole member (`"key": value`) within the scanned text.
        public var memberRange: Range<Int>
    }

    /// The text the object was scanned in: all of it for a scanned text; the enclosing text for
    /// a nested object (``nested(_:)``, ``firstObjectElement(_:)``), whose own bytes are
    /// `bytes[objectRange]`. Every range of a member indexes `bytes`.
    public let bytes: [UInt8]
    /// Where the object lies in `bytes` (all of `bytes` for a scanned text, surrounding
    /// whitespace included).
    public let objectRange: Range<Int>
    public private(set) var members: [Member]
    /// Offset of the closing `}` of the object.
    public let closingBraceOffset: Int

    /// Scans `bytes`, which must hold exactly one JSON object (surrounding whitespace allowed).
    public init(_ bytes: [UInt8]) throws(JSONScanError) {
        try self.init(bytes, range: 0..<bytes.count)
    }

    /// Scans the object that `range` of `bytes` holds, in place: a nested object shares the
    /// enclosing text instead of copying its bytes out.
    init(_ bytes: [UInt8], range: Range<Int>) throws(JSONScanError) {
        self.bytes = bytes
        objectRange = range
        var members: [Member] = []
        // Room for a typical object's members at once (a stream chunk has about eight), instead
        // of growing the array three times on the way.
        members.reserveCapacity(8)
        var closing = 0
        do {
            try bytes.withUnsafeBufferPointer { (whole) throws(JSONParseError) in
                // The parser ends where the range does (its end check is the buffer's end).
                let buffer = UnsafeBufferPointer(rebasing: whole[..<range.upperBound])
                var parser = JSONParser(bytes: buffer)
                parser.position = range.lowerBound
                parser.skipWhitespace()
                guard parser.position < buffer.count else { throw parser.error(.unexpectedEnd) }
                guard buffer[parser.position] == UInt8(ascii: "{") else {
                    let start = parser.position
                    _ = try parser.skipValue()
                    try parser.expectEnd()
                    throw JSONParseError(reason: .unexpectedCharacter(buffer[start]), offset: -1)
                }
                parser.depth = 1
                parser.position += 1
                parser.skipWhitespace()
                if try parser.peek() == UInt8(ascii: "}") {
                    closing = parser.position
                    parser.position += 1
                    try parser.expectEnd()
                    return
                }
                while true {
                    parser.skipWhitespace()
                    guard try parser.peek() == UInt8(ascii: "\"") else {
                        throw parser.error(.unexpectedCharacter(buffer[parser.position]))
                    }
                    let memberStart = parser.position
                    let key = try parser.parseString()
                    parser.skipWhitespace()
                    try parser.expect(UInt8(ascii: ":"))
                    parser.skipWhitespace()
                    let valueStart = parser.position
                    let kind = try parser.skipValue()
                    members.append(
                        Member(
                            key: key,
                            kind: kind,
                            valueRange: valueStart..<parser.position,
                            memberRange: memberStart..<parser.position
                        )
                    )
                    parser.skipWhitespace()
                    let next = try parser.peek()
                    if next == UInt8(ascii: "}") {
                        closing = parser.position
                        parser.position += 1
                        break
                    }
                    guard next == UInt8(ascii: ",") else { throw parser.error(.unexpectedCharacter(next)) }
                    parser.position += 1
                }
                try parser.expectEnd()
            }
        } catch {
            if error.offset == -1 { throw .notAnObject }
            throw .invalid(error)
        }
        self.members = members
        self.closingBraceOffset = closing
    }

    /// The last member with this key (JSON parsers conventionally let the last duplicate win).
    public func member(_ key: String) -> Member? {
        members.last(where: { $0.key == key })
    }

    public func rawValue(_ member: Member) -> ArraySlice<UInt8> {
        bytes[member.valueRange]
    }

    /// The unescaped string value of `key`, or nil when absent or not a string.
    public func string(_ key: String) -> String? {
        guard let member = member(key), member.kind == .string else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer)
            parser.position = member.valueRange.lowerBound
            return try? parser.parseString()
        }
    }

    /// The boolean value of `key`, or nil when absent or not a boolean.
    public func bool(_ key: String) -> Bool? {
        switch member(key)?.kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// The numeric value of `key`, or nil when absent or not a number.
    public func number(_ key: String) -> Double? {
        guard let member = member(key), member.kind == .number else { return nil }
        return Double(String(decoding: bytes[member.valueRange], as: UTF8.self))
    }

    /// Builds the full value of one member (for small nested values such as `stream_options`).
    public func value(_ key: String) -> JSONValue? {
        guard let member = member(key) else { return nil }
        return try? JSONValue.parse(bytes[member.valueRange])
    }

    /// Scans the object held by a member (e.g. `usage` inside a response).
    public func nested(_ key: String) -> JSONObjectScan? {
        guard let member = member(key), member.kind == .object else { return nil }
        return try? JSONObjectScan(bytes, range: member.valueRange)
    }

    /// Scans the first element of an array member when that element is an object (a chunk's
    /// `choices[0]`); nil when absent, empty or not an object.
    public func firstObjectElement(_ key: String) -> JSONObjectScan? {
        guard let member = member(key), member.kind == .array else { return nil }
        var start = member.valueRange.lowerBound + 1
        while start < member.valueRange.upperBound, Self.isWhitespace(bytes[start]) { start += 1 }
        guard start < member.valueRange.upperBound, bytes[start] == UInt8(ascii: "{") else { return nil }
        let end: Int? = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer)
            parser.position = start
            guard (try? parser.skipValue()) == .object else { return nil }
            return parser.position
        }
        guard let end else { return nil }
        return try? JSONObjectScan(bytes, range: start..<end)
    }

    /// The objects an array member holds, each scanned in place (elements that are not objects
    /// are left out); nil when the member is absent or not an array.
    public func objectElements(_ key: String) -> [JSONObjectScan]? {
        guard let member = member(key), member.kind == .array else { return nil }
        let ranges: [Range<Int>] = bytes.withUnsafeBufferPointer { whole in
            // The array was validated by the scan: its elements are skipped, not checked again.
            var parser = JSONParser(bytes: UnsafeBufferPointer(rebasing: whole[..<member.valueRange.upperBound]))
            parser.position = member.valueRange.lowerBound + 1
            var ranges: [Range<Int>] = []
            while true {
                parser.skipWhitespace()
                guard parser.position < member.valueRange.upperBound, whole[parser.position] != UInt8(ascii: "]") else { break }
                let start = parser.position
                guard let kind = try? parser.skipValue() else { break }
                if kind == .object { ranges.append(start..<parser.position) }
                parser.skipWhitespace()
                guard parser.position < member.valueRange.upperBound, whole[parser.position] == UInt8(ascii: ",") else { break }
                parser.position += 1
            }
            return ranges
        }
        return ranges.compactMap { try? JSONObjectScan(bytes, range: $0) }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Whether the array value of `key` is empty (false when absent or not an array).
    public func isEmptyArray(_ key: String) -> Bool {
        guard let member = member(key), member.kind == .array else { return false }
        var index = member.valueRange.lowerBound + 1
        while index < member.valueRange.upperBound {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            case UInt8(ascii: "]"): return true
            default: return false
            }
        }
        return false
    }

    /// Returns a copy of the text with members replaced, removed or appended.
    ///
    /// `replacements` maps a key to its new raw JSON value (nil removes the member). Keys not
    /// present are appended at the end. All other bytes are kept exactly as received.
    public func rewriting(_ replacements: [(key: String, rawValue: [UInt8]?)]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(objectRange.count + 64)
        var pending = replacements
        var wroteMember = false
        var cursor = 0
        // Copy everything up to the opening brace.
        let firstMemberStart = members.first?.memberRange.lowerBound ?? closingBraceOffset
        var openBrace = firstMemberStart - 1
        while openBrace > objectRange.lowerBound && bytes[openBrace] != UInt8(ascii: "{") { openBrace -= 1 }
        output.append(contentsOf: bytes[objectRange.lowerBound...openBrace])
        cursor = openBrace + 1
        _ = cursor
        for (index, member) in members.enumerated() {
            // Drop earlier duplicates of a key: the last one is authoritative.
            if members[(index + 1)...].contains(where: { $0.key == member.key }) { continue }
            var raw: ArraySlice<UInt8> = bytes[member.memberRange]
            if let replacementIndex = pending.firstIndex(where: { $0.key == member.key }) {
                let replacement = pending.remove(at: replacementIndex)
                guard let newValue = replacement.rawValue else { continue }
                var rebuilt = Array(bytes[member.memberRange.lowerBound..<member.valueRange.lowerBound])
                rebuilt.append(contentsOf: newValue)
                raw = rebuilt[...]
            }
            if wroteMember { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: raw)
            wroteMember = true
        }
        for replacement in pending {
            guard let newValue = replacement.rawValue else { continue }
            if wroteMember { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: JSONWriter.quoted(replacement.key))
            output.append(UInt8(ascii: ":"))
            output.append(contentsOf: newValue)
            wroteMember = true
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}

/// Why a body could not be scanned as a JSON object.
public enum JSONScanError: Error, Sendable, Equatable {
    case invalid(JSONParseError)
    case notAnObject
}
