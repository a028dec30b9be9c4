/// Something a detector found in a text: what it is, where (UTF-8 byte offsets into the text
/// that was scanned) and how much it weighs towards the guardrail's threshold.
public struct Finding: Sendable, Equatable {
    /// `email`, `credit_card`, `injection.override`, `content.violence`, `word`, `regex.<name>`.
    public var entity: String
    /// Byte range in the scanned text's UTF-8 form.
    public var range: Range<Int>
    /// Weight towards the threshold: 1 for a PII entity, a heuristic weight for scores.
    public var score: Double

    public init(entity: String, range: Range<Int>, score: Double = 1) {
        self.entity = entity
        self.range = range
        self.score = score
    }
}

/// A detector that works on text alone (no I/O); runs on the request path, so it must be fast.
public protocol TextDetector: Sendable {
    /// Findings in `text` (UTF-8 bytes). `context` is text just before it (already scanned and
    /// released, for streams) that keyword-dependent patterns may look back into; findings
    /// never point into it.
    func findings(in text: [UInt8], context: [UInt8]) -> [Finding]
    /// The same for a text of a message with this role (`user`, `tool`, ...); detectors that
    /// weigh content by where it came from override it.
    func findings(in text: [UInt8], context: [UInt8], role: String) -> [Finding]
}

extension TextDetector {
    public func findings(in text: [UInt8], context: [UInt8], role: String) -> [Finding] { findings(in: text, context: context) }
}

/// Byte classes used by the scanners (ASCII only: non-ASCII bytes are never part of a match).
enum ByteClass {
    @inline(__always) static func digit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func upper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
    @inline(__always) static func lower(_ b: UInt8) -> Bool { b &- 0x61 < 26 }
    /// One comparison: setting bit 5 maps `A`–`Z` onto `a`–`z` and nothing else into it.
    @inline(__always) static func alpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
    @inline(__always) static func alnum(_ b: UInt8) -> Bool { digit(b) || alpha(b) }
    @inline(__always) static func hex(_ b: UInt8) -> Bool { digit(b) || b &- 0x61 < 6 || b &- 0x41 < 6 }
    @inline(__always) static func word(_ b: UInt8) -> Bool { alnum(b) || b == 0x5F || b >= 0x80 }
    /// ``word(_:)`` by byte, for loops that read it at every byte (one load, no branches).
    static let wordTable: [Bool] = (0..<256).map { word(UInt8($0)) }
    @inline(__always) static func space(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    @inline(__always) static func lowercased(_ b: UInt8) -> UInt8 { upper(b) ? b | 0x20 : b }

    /// Whether `needle` (lowercase ASCII) occurs in `haystack[range]`, ignoring ASCII case.
    static func contains(_ haystack: [UInt8], _ range: Range<Int>, _ needle: [UInt8]) -> Bool {
        guard needle.count <= range.count else { return false }
        var index = range.lowerBound
        while index + needle.count <= range.upperBound {
            if matches(haystack, at: index, needle) { return true }
            index += 1
        }
        return false
    }

    /// Whether `needle` (lowercase ASCII) starts at `index`, ignoring ASCII case.
    @inline(__always) static func matches(_ haystack: [UInt8], at index: Int, _ needle: [UInt8]) -> Bool {
        guard index >= 0, index + needle.count <= haystack.count else { return false }
        for offset in 0..<needle.count where lowercased(haystack[index + offset]) != needle[offset] { return false }
        return true
    }

    /// `matches` on a buffer (scanners that loop over a buffer pointer).
    @inline(__always) static func matches(_ haystack: UnsafeBufferPointer<UInt8>, at index: Int, _ needle: [UInt8]) -> Bool {
        guard index >= 0, index + needle.count <= haystack.count else { return false }
        for offset in 0..<needle.count where lowercased(haystack[index + offset]) != needle[offset] { return false }
        return true
    }

    /// `matches` for a literal (ASCII lowercase, or exact non-ASCII bytes), without allocating.
    @inline(__always) static func matches(_ haystack: [UInt8], at index: Int, _ needle: String) -> Bool {
        guard index >= 0 else { return false }
        var position = index
        for byte in needle.utf8 {
            guard position < haystack.count, lowercased(haystack[position]) == byte else { return false }
            position += 1
        }
        return true
    }

    /// `matchesExactly` for a literal, without allocating.
    @inline(__always) static func matchesExactly(_ haystack: [UInt8], at index: Int, _ needle: String) -> Bool {
        guard index >= 0 else { return false }
        var position = index
        for byte in needle.utf8 {
            guard position < haystack.count, haystack[position] == byte else { return false }
            position += 1
        }
        return true
    }

    /// `contains` for a literal.
    static func contains(_ haystack: [UInt8], _ range: Range<Int>, _ needle: String) -> Bool {
        let count = needle.utf8.count
        guard count > 0, count <= range.count, let first = needle.utf8.first else { return false }
        var index = range.lowerBound
        while index + count <= range.upperBound {
            if lowercased(haystack[index]) == first, matches(haystack, at: index, needle) { return true }
            index += 1
        }
        return false
    }

    /// Whether `needle` starts at `index`, case-sensitive.
    @inline(__always) static func matchesExactly(_ haystack: [UInt8], at index: Int, _ needle: [UInt8]) -> Bool {
        guard index >= 0, index + needle.count <= haystack.count else { return false }
        for offset in 0..<needle.count where haystack[index + offset] != needle[offset] { return false }
        return true
    }
}
