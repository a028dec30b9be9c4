/// Word-at-a-time (SWAR) byte searches for the scans that run over every stream event and
/// request body: eight bytes are tested with a few integer operations instead of eight
/// compare-and-branch steps.
///
/// `zeroBytes(v)` has the high bit set in every byte of `v` that is zero (and possibly in bytes
/// above such a byte, which callers treat as a candidate to check byte by byte), so a word
/// with no set bit certainly holds no byte that was searched for.
enum ByteScan {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080
    static let quotes = ones &* UInt64(UInt8(ascii: "\""))
    static let backslashes = ones &* UInt64(UInt8(ascii: "\\"))

    @inline(__always)
    static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    /// Like ``zeroBytes(_:)`` for the bytes below `limit` (≤ 0x80): subtracting `limit` from
    /// such a byte borrows into its high bit.
    @inline(__always)
    static func bytesBelow(_ limit: UInt8, _ v: UInt64) -> UInt64 { (v &- ones &* UInt64(limit)) & ~v & highs }

    /// The high bit set in exactly the bytes of `v` equal to `byte` (no carry between bytes,
    /// so no false candidates): their count is the result's `nonzeroBitCount`.
    @inline(__always)
    static func equalBytes(_ v: UInt64, _ byte: UInt8) -> UInt64 {
        let x = v ^ (ones &* UInt64(byte))
        return ~(((x & lows) &+ lows) | x | lows)
    }

    static let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    @inline(__always)
    static func word(_ data: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(data.baseAddress! + index).loadUnaligned(as: UInt64.self))
    }

    /// The index of the first `a` or `b` at or after `start`, or `data.count`.
    @inline(__always)
    static func first(_ a: UInt8, _ b: UInt8, in data: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let wordsOfA = ones &* UInt64(a)
        let wordsOfB = ones &* UInt64(b)
        var index = start
        while index + 8 <= data.count {
            let w = word(data, at: index)
            if zeroBytes(w ^ wordsOfA) | zeroBytes(w ^ wordsOfB) != 0 { break }
            index += 8
        }
        while index < data.count {
            let byte = data[index]
            if byte == a || byte == b { return index }
            index += 1
        }
        return data.count
    }

    /// The index of the first `"` or `\` at or after `start`, or `data.count`.
    @inline(__always)
    static func quoteOrBackslash(_ data: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        first(UInt8(ascii: "\""), UInt8(ascii: "\\"), in: data, from: start)
    }

    /// The index of the first line feed or carriage return at or after `start`, or `data.count`.
    @inline(__always)
    static func lineBreak(_ data: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        first(0x0A, 0x0D, in: data, from: start)
    }

    /// Whether some position `i` in `index..<index + 8` has a `"` at `i` and at `i + gap`
    /// (needs `index + gap + 8 <= data.count`). False means none does.
    @inline(__always)
    static func mayHaveQuotePair(_ data: UnsafeBufferPointer<UInt8>, at index: Int, gap: Int) -> Bool {
        zeroBytes(word(data, at: index) ^ quotes) & zeroBytes(word(data, at: index + gap) ^ quotes) != 0
    }
}
