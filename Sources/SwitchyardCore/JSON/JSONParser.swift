/// A strict RFC 8259 parser over a byte buffer.
///
/// It validates UTF-8 inside strings, rejects control characters, bounds nesting depth, and can
/// either build a ``JSONValue`` or skip a value while validating it (the hot path's mode).
struct JSONParser: ~Copyable {
    static let maximumDepth = 256

    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int = 0
    var depth: Int = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        try expectEnd()
        return value
    }

    mutating func expectEnd() throws(JSONParseError) {
        skipWhitespace()
        if position != bytes.count { throw error(.trailingData) }
    }

    func error(_ reason: JSONParseError.Reason) -> JSONParseError {
        JSONParseError(reason: reason, offset: position)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() throws(JSONParseError) -> UInt8 {
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        return bytes[position]
    }

    // MARK: Building values

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            try enter()
            defer { depth -= 1 }
            position += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if try peek() == UInt8(ascii: "}") {
                position += 1
                return .object(JSONObject())
            }
            while true {
                skipWhitespace()
                guard try peek() == UInt8(ascii: "\"") else { throw error(.unexpectedCharacter(bytes[position])) }
                let key = try parseString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                let value = try parseValue()
                members.append((key, value))
                skipWhitespace()
                let next = try peek()
                position += 1
                if next == UInt8(ascii: "}") { break }
                if next != UInt8(ascii: ",") {
                    position -= 1
                    throw error(.unexpectedCharacter(next))
                }
            }
            return .object(JSONObject(members))
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if try peek() == UInt8(ascii: "]") {
                position += 1
                return .array([])
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue())
                skipWhitespace()
                let next = try peek()
                position += 1
                if next == UInt8(ascii: "]") { break }
                if next != UInt8(ascii: ",") {
                    position -= 1
                    throw error(.unexpectedCharacter(next))
                }
            }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            let start = position
            try skipNumber()
            let raw = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Self.exactDouble(bytes, start, position) ?? Double(raw) else {
                position = start
                throw error(.invalidNumber)
            }
            return .number(value, raw: raw)
        }
    }

    @inline(__always)
    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maximumDepth { throw error(.tooDeep) }
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(JSONParseError) {
        let found = try peek()
        guard found == byte else { throw error(.unexpectedCharacter(found)) }
        position += 1
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for index in 0..<count {
            let found = try peek()
            guard found == start[index] else { throw error(.unexpectedCharacter(found)) }
            position += 1
        }
    }

    /// Parses a string starting at the opening quote and returns its unescaped value.
    mutating func parseString() throws(JSONParseError) -> String {
        let start = position + 1
        let hasEscapes = try skipString()
        let end = position - 1
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if !hasEscapes {
            return String(decoding: raw, as: UTF8.self)
        }
        return Self.unescape(raw)
    }

    /// Decodes the escapes of a string body that ``skipString()`` already validated (escape
    /// syntax, hex digits, surrogate pairing), so nothing here can fail.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte != UInt8(ascii: "\\") {
                output.append(byte)
                index += 1
                continue
            }
            let kind = raw[index + 1]
            switch kind {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalarValue = UInt32(hexValue(raw, at: index + 2) ?? 0xFFFD)
                index += 6
                if (0xD800...0xDBFF).contains(scalarValue) {
                    let low = UInt32(hexValue(raw, at: index + 2) ?? 0xDC00)
                    scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                output.append(contentsOf: String(Character(Unicode.Scalar(scalarValue) ?? "\u{FFFD}")).utf8)
                continue
            default:
                output.append(kind)  // `"`, `\\` and `/`
            }
            index += 2
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The value of the four hex digits at `start`, or nil when they are not four hex digits.
    static func hexValue(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt16? {
        guard start >= 0, start + 4 <= buffer.count else { return nil }
        var value: UInt16 = 0
        for index in start..<(start + 4) {
            let byte = buffer[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    // MARK: Validating skips

    /// Skips a string (position at the opening quote), validating escapes and UTF-8.
    /// Returns whether the string contains escapes.
    @discardableResult
    mutating func skipString() throws(JSONParseError) -> Bool {
        position += 1
        var hasEscapes = false
        while position < bytes.count {
            // Eight plain ASCII bytes at a time (no quote, backslash, control byte or non-ASCII),
            // the bulk of any prompt; the byte loop below takes the rest.
            while position + 8 <= bytes.count {
                guard Self.isPlainASCII(ByteScan.word(bytes, at: position)) else { break }
                position += 8
            }
            guard position < bytes.count else { break }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return hasEscapes
            }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                guard position + 1 < bytes.count else { throw error(.unexpectedEnd) }
                switch bytes[position + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 2
                case UInt8(ascii: "u"):
                    let unit = try hexEscape(at: position)
                    position += 6
                    if (0xD800...0xDBFF).contains(unit) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                            bytes[position + 1] == UInt8(ascii: "u"),
                            (0xDC00...0xDFFF).contains(try hexEscape(at: position))
                        else { throw error(.invalidEscape) }
                        position += 6
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        throw error(.invalidEscape)
                    }
                default:
                    throw error(.invalidEscape)
                }
                continue
            }
            if byte < 0x20 { throw error(.controlCharacterInString) }
            if byte < 0x80 {
                position += 1
                continue
            }
            try skipUTF8Sequence(lead: byte)
        }
        throw error(.unexpectedEnd)
    }

    /// Whether none of the word's eight bytes is a quote, a backslash, a control byte (< 0x20)
    /// or non-ASCII (``ByteScan``'s word operations).
    @inline(__always)
    static func isPlainASCII(_ word: UInt64) -> Bool {
        word & ByteScan.highs == 0 && ByteScan.bytesBelow(0x20, word) == 0
            && ByteScan.zeroBytes(word ^ ByteScan.quotes) | ByteScan.zeroBytes(word ^ ByteScan.backslashes) == 0
    }

    /// The code unit of the `\\uXXXX` escape starting at `start` (the backslash).
    func hexEscape(at start: Int) throws(JSONParseError) -> UInt16 {
        guard start + 6 <= bytes.count else { throw error(.unexpectedEnd) }
        guard let value = Self.hexValue(bytes, at: start + 2) else { throw error(.invalidEscape) }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF).
    @inline(__always)
    mutating func skipUTF8Sequence(lead: UInt8) throws(JSONParseError) {
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: throw error(.invalidUTF8)
        }
        guard position + length <= bytes.count else { throw error(.invalidUTF8) }
        let second = bytes[position + 1]
        guard second >= lowerBound && second <= upperBound else { throw error(.invalidUTF8) }
        var index = position + 2
        while index < position + length {
            guard bytes[index] & 0xC0 == 0x80 else { throw error(.invalidUTF8) }
            index += 1
        }
        position += length
    }

    /// Powers of ten that a `Double` holds exactly.
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The value of the JSON number in `bytes[start..<end]` (as ``skipNumber()`` accepted it) when
    /// one multiplication or division computes it correctly rounded (Clinger's fast path): its
    /// significant digits, read as an integer, below 2^53 and its decimal exponent within ±22,
    /// both exact in a `Double`. That is nearly every number an API sends (embedding vectors,
    /// scores, prices, token counts); nil for the rest, which `Double(String)` converts. Reading
    /// the digits in place spares the text conversion, most of a number's cost (a 256-float
    /// embedding was ~16 µs).
    static func exactDouble(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var index = start
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        // Digits of the integer part, then of the fraction (each lowering the exponent). Leading
        // zeros are not significant; past 19 significant digits the integer could overflow.
        var fraction = false
        while index < end {
            let value = bytes[index] &- 0x30
            if value >= 10 {
                guard !fraction, bytes[index] == UInt8(ascii: ".") else { break }
                fraction = true
                index += 1
                continue
            }
            if mantissa != 0 || value != 0 { significant += 1 }
            if significant > 19 { return nil }
            mantissa = mantissa &* 10 &+ UInt64(value)
            if fraction { exponent -= 1 }
            index += 1
        }
        if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var exponentNegative = false
            if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var explicit = 0
            while index < end, bytes[index] &- 0x30 < 10 {
                explicit = explicit * 10 + Int(bytes[index] &- 0x30)
                if explicit > 1000 { return nil }
                index += 1
            }
            exponent += exponentNegative ? -explicit : explicit
        }
        guard index == end, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
        let magnitude = exponent >= 0 ? Double(mantissa) * exactPowersOfTen[exponent] : Double(mantissa) / exactPowersOfTen[-exponent]
        return negative ? -magnitude : magnitude
    }

    mutating func skipNumber() throws(JSONParseError) {
        let start = position
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if bytes[position] >= UInt8(ascii: "1") && bytes[position] <= UInt8(ascii: "9") {
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                position += 1
            }
        } else {
            let found = bytes[position]
            position = start
            throw error(.unexpectedCharacter(found))
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            try skipDigits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            try skipDigits()
        }
    }

    mutating func skipDigits() throws(JSONParseError) {
        let start = position
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            position += 1
        }
        if position == start { throw error(.invalidNumber) }
    }

    /// Skips any value, validating it completely. Returns its kind.
    mutating func skipValue() throws(JSONParseError) -> JSONKind {
        switch try peek() {
        case UInt8(ascii: "{"):
            try enter()
            defer { depth -= 1 }
            position += 1
            skipWhitespace()
            if try peek() == UInt8(ascii: "}") {
                position += 1
                return .object
            }
            while true {
                skipWhitespace()
                guard try peek() == UInt8(ascii: "\"") else { throw error(.unexpectedCharacter(bytes[position])) }
                try skipString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                _ = try skipValue()
                skipWhitespace()
                let next = try peek()
                position += 1
                if next == UInt8(ascii: "}") { return .object }
                if next != UInt8(ascii: ",") {
                    position -= 1
                    throw error(.unexpectedCharacter(next))
                }
            }
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            position += 1
            skipWhitespace()
            if try peek() == UInt8(ascii: "]") {
                position += 1
                return .array
            }
            while true {
                skipWhitespace()
                _ = try skipValue()
                skipWhitespace()
                let next = try peek()
                position += 1
                if next == UInt8(ascii: "]") { return .array }
                if next != UInt8(ascii: ",") {
                    position -= 1
                    throw error(.unexpectedCharacter(next))
                }
            }
        case UInt8(ascii: "\""):
            try skipString()
            return .string
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .true
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .false
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            try skipNumber()
            return .number
        }
    }
}

/// The kind of a JSON value found by a scan.
public enum JSONKind: Sendable, Equatable {
    case object, array, string, number, `true`, `false`, null

    public var typeName: String {
        switch self {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number: "number"
        case .true, .false: "boolean"
        case .null: "null"
        }
    }
}
