/// Appends compact JSON to a byte array. Strings are escaped per RFC 8259.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .number(_, let rawText): raw(rawText)
        case .string(let text): writeString(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func raw(_ data: some Sequence<UInt8>) {
        bytes.append(contentsOf: data)
    }

    public mutating func writeString(_ text: String) {
        Self.appendQuoted(text, to: &bytes)
    }

    public static func quoted(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &output)
        return output
    }

    /// Appends `text` as a JSON string literal. Runs of bytes that need no escape (nearly all
    /// of them) are copied at once.
    public static func appendQuoted(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { appendEscaped($0, to: &output) }
        output.append(UInt8(ascii: "\""))
    }

    /// Appends UTF-8 text escaped for the inside of a JSON string (RFC 8259: quote, backslash and
    /// control characters; `\n`, `\r`, `\t` by name, the rest as `\u00XX`).
    ///
    /// Eight bytes at a time to the first byte that needs an escape (most strings have none and
    /// are one copy); past it, the escaped length is counted, the output grown once, and the
    /// text written in place: the runs between escapes copied, each escape written byte by byte.
    /// A JSON body logged inside a JSON line has a quote every few bytes, and appending each
    /// run and each escape to the array was most of what writing it cost.
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        let count = bytes.count
        guard let base = bytes.baseAddress, count > 0 else { return }
        let first = nextEscape(base, count, from: 0)
        guard first < count else {
            output.append(contentsOf: bytes)
            return
        }
        var escapedCount = count
        for index in first..<count { escapedCount += Int(escapeExtra[Int(base[index])]) }
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: escapedCount))
        output.withUnsafeMutableBufferPointer { buffer in
            let out = buffer.baseAddress! + start
            out.update(from: base, count: first)
            var written = first
            var index = first
            while index < count {
                let byte = base[index]
                index += 1
                out[written] = UInt8(ascii: "\\")
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out[written + 1] = byte
                case 0x0A: out[written + 1] = UInt8(ascii: "n")
                case 0x0D: out[written + 1] = UInt8(ascii: "r")
                case 0x09: out[written + 1] = UInt8(ascii: "t")
                default:
                    out[written + 1] = UInt8(ascii: "u")
                    out[written + 2] = UInt8(ascii: "0")
                    out[written + 3] = UInt8(ascii: "0")
                    out[written + 4] = hexDigit(byte >> 4)
                    out[written + 5] = hexDigit(byte & 0x0F)
                    written += 4
                }
                written += 2
                let next = nextEscape(base, count, from: index)
                (out + written).update(from: base + index, count: next - index)
                written += next - index
                index = next
            }
        }
    }

    /// Bytes an escape adds: 1 for `\"`, `\\`, `\n`, `\r`, `\t`; 5 for `\u00XX`; 0 for the rest.
    static let escapeExtra: [UInt8] = (0..<256).map { byte in
        switch byte {
        case 0x22, 0x5C, 0x0A, 0x0D, 0x09: 1
        case 0..<0x20: 5
        default: 0
        }
    }

    /// The first index from `start` whose byte needs an escape (`count` when none does).
    @inline(__always) static func nextEscape(_ base: UnsafePointer<UInt8>, _ count: Int, from start: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = start
        // A word holds a byte below 0x20, a quote or a backslash exactly when one of these is
        // not zero (the usual "has a byte less than n" and "has a zero byte" tests).
        while index + 8 <= count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let control = (word &- ones &* 0x20) & ~word
            let quote = (quotes &- ones) & ~quotes
            let backslash = (backslashes &- ones) & ~backslashes
            if (control | quote | backslash) & highs != 0 { break }
            index += 8
        }
        while index < count {
            let byte = base[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return index }
            index += 1
        }
        return count
    }

    /// A lowercase hexadecimal digit for `value` (0–15).
    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
