/// Undoes the usual disguises of a prompt before it is scored: compatibility forms (full-width,
/// mathematical, circled letters), look-alike Cyrillic and Greek letters, invisible characters
/// and Unicode tag characters (whose hidden ASCII is recovered), leetspeak, and payloads encoded
/// as base64, base32, hex, binary, URL escapes or rot13.
public enum TextNormalizer {
    /// One readable form of the text, with how it was obtained.
    public struct Variant: Sendable {
        public var text: [UInt8]
        /// `plain`, `hidden` (tag characters), `leet`, `base64`, `hex`, `binary`, `rot13`, `url`.
        public var source: String
        /// For the leetspeak form: the offsets of the bytes it changed (in order), every byte
        /// where it differs from the plain form read without its leading newline.
        public var changed: [Int] = []
    }

    public struct Result: Sendable {
        public var variants: [Variant]
        /// Invisible characters removed (zero-width, soft hyphen, tags, variation selectors).
        public var invisible: Int
        /// Characters that were folded from look-alike or compatibility forms.
        public var folded: Int
    }

    /// The folded, lowercased text plus every decoded form found in it.
    /// `suspicious` picks, from the folded text, the part worth decoding as rot13 and reversed
    /// text (all of it when nil).
    public static func normalize(_ text: String, decode: Bool = true, suspicious: (([UInt8]) -> [UInt8])? = nil) -> Result {
        normalize(utf8: Array(text.utf8), decode: decode, suspicious: suspicious)
    }

    /// ``normalize(_:decode:suspicious:)`` for text that is already UTF-8 bytes: one pass over the
    /// bytes, ASCII (the common case) without decoding scalars. `original` must be valid UTF-8
    /// (what `String.utf8` gives; the detector repairs other bytes first).
    static func normalize(utf8 original: [UInt8], decode: Bool = true, suspicious: (([UInt8]) -> [UInt8])? = nil) -> Result {
        var hidden: [UInt8] = []
        var invisible = 0
        var folded = 0
        // Written straight into its buffer: no character comes out longer than it went in, so
        // the text plus the leading newline is enough.
        let plain = [UInt8](unsafeUninitializedCapacity: original.count + 1) { output, initialized in
            // A leading newline lets line-start markers (`assistant:`) match on the first line.
            output[0] = 0x0A
            var written = 1
            @inline(__always) func append(_ byte: UInt8) {
                output[written] = byte
                written += 1
            }
            original.withUnsafeBufferPointer { bytes in
                var index = 0
                let count = bytes.count
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                while index < count {
                    // Eight ASCII bytes at a time, capitals lowered: a byte's high bit after
                    // adding 0x80 - "A" says it is "A" or above, after adding 0x80 - "[" that it
                    // is above "Z" (no carry leaves a byte below 0x80).
                    if index + 8 <= count {
                        let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                        if word & highs == 0 {
                            let capitals = (word &+ ones &* (0x80 - 0x41)) & ~(word &+ ones &* (0x80 - 0x5B)) & highs
                            UnsafeMutableRawPointer(output.baseAddress! + written).storeBytes(of: word | capitals >> 2, as: UInt64.self)
                            written += 8
                            index += 8
                            continue
                        }
                    }
                    let lead = bytes[index]
                    if lead < 0x80 {
                        append(ByteClass.lowercased(lead))
                        index += 1
                        continue
                    }
                    // Valid UTF-8: the lead byte gives the length.
                    let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
                    var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
                    for offset in 1..<length { value = value << 6 | UInt32(bytes[index + offset] & 0x3F) }
                    if (0xE0020...0xE007E).contains(value) {
                        hidden.append(ByteClass.lowercased(UInt8(value - 0xE0000)))
                        invisible += 1
                    } else if isInvisible(value) {
                        invisible += 1
                    } else if let ascii = fold(value) {
                        append(ByteClass.lowercased(ascii))
                        folded += 1
                    } else if (0xC0...0xDE).contains(value), value != 0xD7 {
                        // Other letters stay as they are (lowercased where it is cheap: Latin-1
                        // capitals, two bytes either way).
                        append(UInt8(0xC0 | (value + 0x20) >> 6))
                        append(UInt8(0x80 | (value + 0x20) & 0x3F))
                    } else {
                        for offset in 0..<length { append(bytes[index + offset]) }
                    }
                    index += length
                }
            }
            initialized = written
        }
        var variants = [Variant(text: plain, source: "plain")]
        // The other forms are made from the folded text without the leading newline.
        let letters = Array(plain[1...])
        if !hidden.isEmpty { variants.append(Variant(text: hidden, source: "hidden")) }
        if let leet = unleet(letters) { variants.append(Variant(text: leet.text, source: "leet", changed: leet.changed)) }
        if decode {
            for (decoded, source) in decodedPayloads(original) {
                let lowered = decoded.map(ByteClass.lowercased)
                variants.append(Variant(text: lowered, source: source))
            }
            let candidates = suspicious.map { $0(letters) } ?? letters
            if !candidates.isEmpty {
                variants.append(Variant(text: rot13(candidates), source: "rot13"))
                variants.append(Variant(text: candidates.reversedCharacters(), source: "reversed"))
            }
            // One pass counts what Morse, escapes and ascii85 need before each looks closer: most
            // texts have none of them.
            let (symbols, backslashes, ascii85Open) = original.withUnsafeBufferPointer { Self.symbolCounts($0) }
            if symbols >= 20, symbols * 3 >= original.count, let morse = morse(original) { variants.append(Variant(text: morse, source: "morse")) }
            if backslashes >= 4, let escaped = unicodeEscapes(original) {
                variants.append(Variant(text: escaped.map(ByteClass.lowercased), source: "escapes"))
            }
            if ascii85Open, let ascii85 = ascii85(original) { variants.append(Variant(text: ascii85.map(ByteClass.lowercased), source: "ascii85")) }
        }
        return Result(variants: variants, invisible: invisible, folded: folded)
    }

    static func isInvisible(_ value: UInt32) -> Bool {
        (0x200B...0x200F).contains(value) || (0x2060...0x2064).contains(value) || value == 0xFEFF || value == 0x00AD || value == 0x180E
            || value == 0x061C || (0xFE00...0xFE0F).contains(value) || value == 0xE0001 || value == 0xE007F || (0x202A...0x202E).contains(value)
            || (0x2066...0x2069).contains(value)
    }

    /// An ASCII letter or digit for compatibility and look-alike forms.
    static func fold(_ value: UInt32) -> UInt8? {
        switch value {
        case 0xFF01...0xFF5E: return UInt8(value - 0xFEE0)  // full-width ASCII
        case 0x3000: return 0x20
        case 0x1D400...0x1D6A3:  // mathematical alphanumerics: 13 styles of A–Z a–z
            let offset = (value - 0x1D400) % 52
            return offset < 26 ? UInt8(0x41 + offset) : UInt8(0x61 + offset - 26)
        case 0x1D7CE...0x1D7FF: return UInt8(0x30 + (value - 0x1D7CE) % 10)
        case 0x24B6...0x24CF: return UInt8(0x41 + value - 0x24B6)  // circled capitals
        case 0x24D0...0x24E9: return UInt8(0x61 + value - 0x24D0)  // circled small
        case 0x249C...0x24B5: return UInt8(0x61 + value - 0x249C)  // parenthesized small
        case 0x1F130...0x1F149: return UInt8(0x41 + value - 0x1F130)  // squared
        case 0x1F150...0x1F169: return UInt8(0x41 + value - 0x1F150)  // negative circled
        case 0x1F170...0x1F189: return UInt8(0x41 + value - 0x1F170)  // negative squared
        case 0x1F1E6...0x1F1FF: return UInt8(0x41 + value - 0x1F1E6)  // regional indicators
        case 0x2460...0x2468: return UInt8(0x31 + value - 0x2460)  // circled digits
        default: return homoglyphs[value]
        }
    }

    static let homoglyphs: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        let pairs: [(UInt32, Character)] = [
            // Cyrillic
            (0x0430, "a"), (0x0435, "e"), (0x043E, "o"), (0x0440, "p"), (0x0441, "c"), (0x0443, "y"), (0x0445, "x"), (0x0456, "i"),
            (0x0458, "j"), (0x0455, "s"), (0x0501, "d"), (0x04BB, "h"), (0x04CF, "l"), (0x0457, "i"), (0x0410, "a"), (0x0412, "b"),
            (0x0415, "e"), (0x041A, "k"), (0x041C, "m"), (0x041D, "h"), (0x041E, "o"), (0x0420, "p"), (0x0421, "c"), (0x0422, "t"),
            (0x0425, "x"), (0x0423, "y"), (0x0406, "i"), (0x0408, "j"), (0x0405, "s"), (0x051B, "q"), (0x051D, "w"),
            // Greek
            (0x03B1, "a"), (0x03BF, "o"), (0x03B9, "i"), (0x03BA, "k"), (0x03BD, "v"), (0x03C1, "p"), (0x03C4, "t"), (0x03C5, "u"),
            (0x0391, "a"), (0x0392, "b"), (0x0395, "e"), (0x0396, "z"), (0x0397, "h"), (0x0399, "i"), (0x039A, "k"), (0x039C, "m"),
            (0x039D, "n"), (0x039F, "o"), (0x03A1, "p"), (0x03A4, "t"), (0x03A5, "y"), (0x03A7, "x"),
            // Latin look-alikes
            (0x0131, "i"), (0x0269, "i"), (0x1D00, "a"), (0x0251, "a"), (0x0261, "g"), (0x01C3, "!"), (0x2010, "-"), (0x2011, "-"),
            (0x2012, "-"), (0x2013, "-"), (0x2014, "-"), (0x2018, "'"), (0x2019, "'"), (0x201C, "\""), (0x201D, "\""), (0x00A0, " "),
            (0x2002, " "), (0x2003, " "), (0x2009, " "), (0x202F, " "),
        ]
        for (scalar, character) in pairs { map[scalar] = character.asciiValue! }
        return map
    }()

    /// How many `.` and `-` (Morse), how many `\\` (escapes), and whether `<~` (ascii85) is in
    /// `text`: eight bytes at a time, each byte value found exactly (no carry between bytes)
    /// and counted by the bits it leaves.
    static func symbolCounts(_ text: UnsafeBufferPointer<UInt8>) -> (symbols: Int, backslashes: Int, ascii85Open: Bool) {
        let count = text.count
        var symbols = 0
        var backslashes = 0
        var ascii85Open = false
        var index = 0
        while index + 8 <= count {
            let word = ByteScan.word(text, at: index)
            symbols += (ByteScan.equalBytes(word, UInt8(ascii: ".")) | ByteScan.equalBytes(word, UInt8(ascii: "-"))).nonzeroBitCount
            backslashes += ByteScan.equalBytes(word, UInt8(ascii: "\\")).nonzeroBitCount
            if !ascii85Open, ByteScan.equalBytes(word, UInt8(ascii: "~")) != 0 {
                for offset in 0..<8 where text[index + offset] == UInt8(ascii: "~") && index + offset > 0 && text[index + offset - 1] == UInt8(ascii: "<") {
                    ascii85Open = true
                }
            }
            index += 8
        }
        while index < count {
            switch text[index] {
            case UInt8(ascii: "."), UInt8(ascii: "-"): symbols += 1
            case UInt8(ascii: "\\"): backslashes += 1
            case UInt8(ascii: "~"): if index > 0 && text[index - 1] == UInt8(ascii: "<") { ascii85Open = true }
            default: break
            }
            index += 1
        }
        return (symbols, backslashes, ascii85Open)
    }

    /// `1gn0r3 4ll` → `ignore all`: only for words that mix letters with digits or symbols.
    /// With the offsets of the bytes it changed, in order.
    ///
    /// Only a word (up to a space) holding a leet symbol or `!` can change: the text is read
    /// eight bytes at a time for bytes from `!` to `@` or `|` (where every leet symbol lies),
    /// and only the words around those whose kind says so are looked at.
    static func unleet(_ text: [UInt8]) -> (text: [UInt8], changed: [Int])? {
        let leetKinds = Self.leetKinds
        let leetLetters = Self.leetLetters
        var changed: [Int] = []
        let output = text.withUnsafeBufferPointer { text -> [UInt8]? in
            var output: [UInt8]?
            let count = text.count
            // Where the next word starts: words before it are done.
            var done = 0
            // The word around `position` (a leet symbol or `!`): rewritten when it mixes letters
            // with leet symbols, or with a `!` that does not end it ("hello!").
            @inline(__always) func rewrite(around position: Int) {
                var start = position
                while start > done, leetKinds[Int(text[start - 1])] != leetSpace { start -= 1 }
                var end = position
                var kinds: UInt8 = 0
                for index in start..<position { kinds |= leetKinds[Int(text[index])] }
                while end < count {
                    let kind = leetKinds[Int(text[end])]
                    if kind == leetSpace { break }
                    kinds |= kind
                    end += 1
                }
                done = end
                guard kinds & leetLetter != 0, kinds & leetSymbol != 0 || (kinds & leetBang != 0 && text[end - 1] != UInt8(ascii: "!")) else {
                    return
                }
                for index in start..<end {
                    let byte = text[index]
                    let letter = leetLetters[Int(byte)]
                    if letter != 0, !(index == end - 1 && (byte == UInt8(ascii: "!") || byte == UInt8(ascii: "$"))) {
                        if output == nil { output = Array(text) }
                        output![index] = letter
                        changed.append(index)
                    }
                }
            }
            var index = 0
            let ones = ByteScan.ones
            while index + 8 <= count {
                let word = ByteScan.word(text, at: index)
                // ASCII bytes from 0x21 to 0x40 (added without their high bits, so that no sum
                // carries into the next byte; bytes above 0x7F dropped after), and bytes equal to `|`.
                let seven = word & ByteScan.lows
                let ranged = (seven &+ ones &* (0x80 - 0x21)) & ~(seven &+ ones &* (0x80 - 0x41)) & ~word & ByteScan.highs
                var candidates = ranged | ByteScan.equalBytes(word, UInt8(ascii: "|"))
                while candidates != 0 {
                    let position = index + candidates.trailingZeroBitCount / 8
                    candidates &= candidates - 1
                    guard position >= done, leetKinds[Int(text[position])] & (leetSymbol | leetBang) != 0 else { continue }
                    rewrite(around: position)
                }
                index += 8
            }
            while index < count {
                if index >= done, leetKinds[Int(text[index])] & (leetSymbol | leetBang) != 0 { rewrite(around: index) }
                index += 1
            }
            return output
        }
        return output.map { ($0, changed) }
    }

    static let leetLetter: UInt8 = 1
    static let leetSymbol: UInt8 = 2
    static let leetBang: UInt8 = 4
    static let leetSpace: UInt8 = 8
    /// Per byte: a letter, a leet symbol other than `!`, `!`, or a space (which ends a word).
    static let leetKinds: [UInt8] = (0..<256).map { value in
        let byte = UInt8(value)
        if ByteClass.space(byte) { return leetSpace }
        if ByteClass.alpha(byte) { return leetLetter }
        if byte == UInt8(ascii: "!") { return leetBang }
        return leetLetters[value] != 0 ? leetSymbol : 0
    }
    /// The letter each leet symbol stands for (0: none).
    static let leetLetters: [UInt8] = (0..<256).map { value in
        switch UInt8(value) {
        case UInt8(ascii: "0"): UInt8(ascii: "o")
        case UInt8(ascii: "1"): UInt8(ascii: "i")
        case UInt8(ascii: "3"): UInt8(ascii: "e")
        case UInt8(ascii: "4"): UInt8(ascii: "a")
        case UInt8(ascii: "5"): UInt8(ascii: "s")
        case UInt8(ascii: "7"): UInt8(ascii: "t")
        case UInt8(ascii: "@"): UInt8(ascii: "a")
        case UInt8(ascii: "$"): UInt8(ascii: "s")
        case UInt8(ascii: "!"): UInt8(ascii: "i")
        case UInt8(ascii: "|"): UInt8(ascii: "l")
        default: 0
        }
    }

    static func rot13(_ text: [UInt8]) -> [UInt8] {
        text.map { byte in
            if ByteClass.lower(byte) { return (byte - 0x61 + 13) % 26 + 0x61 }
            if ByteClass.upper(byte) { return (byte - 0x41 + 13) % 26 + 0x41 }
            return byte
        }
    }

    /// Readable text hidden in encoded runs (at most 8, each up to 16 KiB).
    static func decodedPayloads(_ input: [UInt8]) -> [([UInt8], String)] {
        input.withUnsafeBufferPointer { mayHavePayloads($0) ? decodedPayloads(buffer: $0) : [] }
    }

    static let payloadHex: UInt8 = 1
    static let payloadSymbol: UInt8 = 2
    /// Per byte: whether it can be part of a hex or binary run (hex digits, spaces, `\x`) and of
    /// a base64 or base32 run (letters, digits, `+/-_`).
    static let payloadClasses: [UInt8] = (0..<256).map { value in
        let byte = UInt8(value)
        var classes: UInt8 = 0
        if ByteClass.hex(byte) || byte == 0x20 || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "x") { classes |= payloadHex }
        if ByteClass.alnum(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") {
            classes |= payloadSymbol
        }
        return classes
    }

    /// Whether `text` can hold a payload ``decodedPayloads(buffer:)`` reads: every one needs 16
    /// bytes in a row of one class (eight hex pairs, four binary octets, a base64 or base32 run
    /// of 16) or four `%` escapes. Ordinary prose has neither.
    ///
    /// Sixteen bytes in a row hold two bytes eight apart at offsets 7, 15, 23, …: only where two
    /// such probes share a class is the run through them measured. The `%` bytes are counted
    /// eight at a time.
    static func mayHavePayloads(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = text.count
        let found = payloadClasses.withUnsafeBufferPointer { classes -> Bool in
            var probe = 7
            while probe + 8 < count {
                // The run of `kind` bytes through both probes (none when a byte between them
                // breaks it, the common case), measured up to 16.
                @inline(__always) func run(_ kind: UInt8) -> Bool {
                    var high = probe + 1
                    while high < probe + 8, classes[Int(text[high])] & kind != 0 { high += 1 }
                    guard high == probe + 8 else { return false }
                    var low = probe
                    while low > 0, high - low < 16, classes[Int(text[low - 1])] & kind != 0 { low -= 1 }
                    high += 1
                    while high < count, high - low < 16, classes[Int(text[high])] & kind != 0 { high += 1 }
                    return high - low >= 16
                }
                let shared = classes[Int(text[probe])] & classes[Int(text[probe + 8])]
                if shared & payloadHex != 0, run(payloadHex) { return true }
                if shared & payloadSymbol != 0, run(payloadSymbol) { return true }
                probe += 8
            }
            return false
        }
        if found { return true }
        var percent = 0
        var index = 0
        while index + 8 <= count {
            percent += ByteScan.equalBytes(ByteScan.word(text, at: index), UInt8(ascii: "%")).nonzeroBitCount
            index += 8
        }
        while index < count {
            if text[index] == UInt8(ascii: "%") { percent += 1 }
            index += 1
        }
        return percent >= 4
    }

    /// ``mayHavePayloads(_:)`` byte by byte: what the probing search must agree with (tests).
    static func mayHavePayloadsCountingEveryByte(_ text: [UInt8]) -> Bool {
        var hexRun = 0
        var symbolRun = 0
        var percent = 0
        for byte in text {
            let kind = payloadClasses[Int(byte)]
            hexRun = kind & payloadHex != 0 ? hexRun + 1 : 0
            symbolRun = kind & payloadSymbol != 0 ? symbolRun + 1 : 0
            if hexRun >= 16 || symbolRun >= 16 { return true }
            if byte == UInt8(ascii: "%") { percent += 1 }
        }
        return percent >= 4
    }

    private static func decodedPayloads(buffer text: UnsafeBufferPointer<UInt8>) -> [([UInt8], String)] {
        var results: [([UInt8], String)] = []
        var index = 0
        let count = text.count
        func readable(_ bytes: [UInt8]) -> Bool {
            guard bytes.count >= 6 else { return false }
            var printable = 0
            for byte in bytes where (byte >= 0x20 && byte < 0x7F) || byte == 0x0A || byte == 0x09 { printable += 1 }
            return Double(printable) >= Double(bytes.count) * 0.9 && bytes.contains(0x20)
        }
        // One scratch buffer for every run tried: most runs are ordinary words that decode to
        // nothing, and they should not cost an allocation each.
        var decoded: [UInt8] = []
        while index < count, results.count < 8 {
            let byte = text[index]
            if index > 0, ByteClass.word(text[index - 1]) {
                index += 1
                continue
            }
            // Binary: groups of eight 0/1 separated by spaces.
            if byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") {
                var cursor = index
                decoded.removeAll(keepingCapacity: true)
                while cursor + 8 <= count, (cursor..<(cursor + 8)).allSatisfy({ text[$0] == 0x30 || text[$0] == 0x31 }) {
                    decoded.append(text[cursor..<(cursor + 8)].reduce(0) { $0 << 1 | ($1 - 0x30) })
                    cursor += 8
                    if cursor < count, text[cursor] == 0x20 { cursor += 1 } else { break }
                }
                if decoded.count >= 4 {
                    if readable(decoded) { results.append((decoded, "binary")) }
                    index = cursor
                    continue
                }
            }
            // Hex: a run of pairs, plain, space-separated or `\x`-escaped.
            if ByteClass.hex(byte) || byte == UInt8(ascii: "\\") {
                var cursor = index
                decoded.removeAll(keepingCapacity: true)
                while cursor < count {
                    if text[cursor] == UInt8(ascii: "\\"), cursor + 1 < count, text[cursor + 1] == UInt8(ascii: "x") { cursor += 2 }
                    guard cursor + 2 <= count, ByteClass.hex(text[cursor]), ByteClass.hex(text[cursor + 1]) else { break }
                    decoded.append(hexValue(text[cursor]) << 4 | hexValue(text[cursor + 1]))
                    cursor += 2
                    if cursor < count, text[cursor] == 0x20, cursor + 2 < count, ByteClass.hex(text[cursor + 1]), ByteClass.hex(text[cursor + 2]) {
                        cursor += 1
                    }
                }
                if decoded.count >= 8, cursor >= count || !ByteClass.word(text[cursor]) {
                    if readable(decoded) { results.append((decoded, "hex")) }
                    index = cursor
                    continue
                }
            }
            // Base64 (standard or URL-safe) and base32.
            if ByteClass.alnum(byte) {
                var cursor = index
                while cursor < count,
                    ByteClass.alnum(text[cursor]) || text[cursor] == UInt8(ascii: "+") || text[cursor] == UInt8(ascii: "/")
                        || text[cursor] == UInt8(ascii: "-") || text[cursor] == UInt8(ascii: "_")
                {
                    cursor += 1
                }
                var end = cursor
                while end < count, text[end] == UInt8(ascii: "="), end - cursor < 6 { end += 1 }
                if cursor - index >= 16 {
                    let run = Array(text[index..<cursor])
                    if run.allSatisfy({ ByteClass.upper($0) || (0x32...0x37).contains($0) }), let decoded = base32(run), readable(decoded) {
                        results.append((decoded, "base32"))
                    } else if let decoded = base64(run), readable(decoded) {
                        results.append((decoded, "base64"))
                    }
                    index = end
                    continue
                }
                index = max(cursor, index + 1)
                continue
            }
            index += 1
        }
        // URL escapes.
        var percent = 0
        for byte in text where byte == UInt8(ascii: "%") { percent += 1 }
        if results.count < 8, percent >= 4 {
            var escapes = 0
            decoded.removeAll(keepingCapacity: true)
            var cursor = 0
            while cursor < count {
                if text[cursor] == UInt8(ascii: "%"), cursor + 2 < count, ByteClass.hex(text[cursor + 1]), ByteClass.hex(text[cursor + 2]) {
                    decoded.append(hexValue(text[cursor + 1]) << 4 | hexValue(text[cursor + 2]))
                    escapes += 1
                    cursor += 3
                } else {
                    decoded.append(text[cursor])
                    cursor += 1
                }
            }
            if escapes >= 4 { results.append((decoded, "url")) }
        }
        return results.filter { $0.0.count <= 16_384 }
    }

    static let morseTable: [String: UInt8] = [
        ".-": 0x61, "-...": 0x62, "-.-.": 0x63, "-..": 0x64, ".": 0x65, "..-.": 0x66, "--.": 0x67, "....": 0x68, "..": 0x69, ".---": 0x6A,
        "-.-": 0x6B, ".-..": 0x6C, "--": 0x6D, "-.": 0x6E, "---": 0x6F, ".--.": 0x70, "--.-": 0x71, ".-.": 0x72, "...": 0x73, "-": 0x74,
        "..-": 0x75, "...-": 0x76, ".--": 0x77, "-..-": 0x78, "-.--": 0x79, "--..": 0x7A, "-----": 0x30, ".----": 0x31, "..---": 0x32,
        "...--": 0x33, "....-": 0x34, ".....": 0x35, "-....": 0x36, "--...": 0x37, "---..": 0x38, "----.": 0x39,
    ]

    /// Morse code (`.-` letters, spaces between letters, `/` between words), when most of the
    /// text is Morse.
    static func morse(_ text: [UInt8]) -> [UInt8]? {
        var symbols = 0
        for byte in text where byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") { symbols += 1 }
        guard symbols >= 20, symbols * 3 >= text.count else { return nil }
        var output: [UInt8] = []
        var letters = 0
        for token in text.split(whereSeparator: { $0 == 0x20 || $0 == 0x0A }) {
            if token.count == 1, token.first == UInt8(ascii: "/") {
                output.append(0x20)
                continue
            }
            if let letter = morseTable[String(decoding: token, as: UTF8.self)] {
                output.append(letter)
                letters += 1
            }
        }
        return letters >= 8 ? output : nil
    }

    /// `\u0049\u0067...` and `\x49` escapes written out as text.
    static func unicodeEscapes(_ text: [UInt8]) -> [UInt8]? {
        var backslashes = 0
        for byte in text where byte == UInt8(ascii: "\\") { backslashes += 1 }
        guard backslashes >= 4 else { return nil }
        var output: [UInt8] = []
        var escapes = 0
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "\\"), index + 5 < text.count, text[index + 1] == UInt8(ascii: "u"),
                (2...5).allSatisfy({ ByteClass.hex(text[index + $0]) })
            {
                let value = (2...5).reduce(UInt32(0)) { $0 << 4 | UInt32(hexValue(text[index + $1])) }
                if value < 0x80 {
                    output.append(UInt8(value))
                } else if let scalar = Unicode.Scalar(value) {
                    output.append(contentsOf: String(Character(scalar)).utf8)
                }
                escapes += 1
                index += 6
                continue
            }
            output.append(text[index])
            index += 1
        }
        return escapes >= 4 ? output : nil
    }

    /// Adobe ascii85 between `<~` and `~>`.
    static func ascii85(_ text: [UInt8]) -> [UInt8]? {
        // `firstRange(of:)` on bytes goes through a generic searcher that costs more than the
        // rest of the normalisation together: a plain loop finds the markers.
        func find(_ first: UInt8, _ second: UInt8, from: Int) -> Int? {
            var index = from
            while index + 1 < text.count {
                if text[index] == first, text[index + 1] == second { return index }
                index += 1
            }
            return nil
        }
        guard let open = find(UInt8(ascii: "<"), UInt8(ascii: "~"), from: 0), let close = find(UInt8(ascii: "~"), UInt8(ascii: ">"), from: open + 2)
        else { return nil }
        let start = open..<(open + 2)
        let end = close..<(close + 2)
        var output: [UInt8] = []
        var group: [UInt32] = []
        for byte in text[start.upperBound..<end.lowerBound] where !ByteClass.space(byte) {
            if byte == UInt8(ascii: "z") && group.isEmpty {
                output.append(contentsOf: [0, 0, 0, 0])
                continue
            }
            guard byte >= 33, byte <= 117 else { return nil }
            group.append(UInt32(byte - 33))
            if group.count == 5 {
                let value = group.reduce(UInt32(0)) { $0 &* 85 &+ $1 }
                output.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
                group.removeAll()
            }
        }
        if !group.isEmpty {
            let padding = 5 - group.count
            let value = (group + Array(repeating: 84, count: padding)).reduce(UInt32(0)) { $0 &* 85 &+ $1 }
            let bytes = [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            output.append(contentsOf: bytes.prefix(4 - padding))
        }
        return output.count >= 6 ? output : nil
    }

    static func hexValue(_ byte: UInt8) -> UInt8 {
        ByteClass.digit(byte) ? byte - 0x30 : (ByteClass.lowercased(byte) - 0x61 + 10)
    }

    static func base64(_ run: [UInt8]) -> [UInt8]? {
        decodeBits(run, bitsPerSymbol: 6) { byte in
            switch byte {
            case 0x41...0x5A: UInt32(byte - 0x41)
            case 0x61...0x7A: UInt32(byte - 0x61 + 26)
            case 0x30...0x39: UInt32(byte - 0x30 + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): 63
            default: nil
            }
        }
    }

    static func base32(_ run: [UInt8]) -> [UInt8]? {
        decodeBits(run, bitsPerSymbol: 5) { byte in
            switch byte {
            case 0x41...0x5A: UInt32(byte - 0x41)
            case 0x32...0x37: UInt32(byte - 0x32 + 26)
            default: nil
            }
        }
    }

    /// Bytes from symbols of `bitsPerSymbol` bits each (base64, base32); nil on a foreign symbol.
    static func decodeBits(_ run: [UInt8], bitsPerSymbol: Int, value: (UInt8) -> UInt32?) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(run.count * bitsPerSymbol / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in run {
            guard let symbol = value(byte) else { return nil }
            buffer = (buffer << UInt32(bitsPerSymbol) | symbol) & 0xFFFF
            bits += bitsPerSymbol
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }
}

extension Array where Element == UInt8 {
    /// The UTF-8 text with its characters in reverse order (multi-byte sequences kept intact).
    func reversedCharacters() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(count)
        var end = count
        while end > 0 {
            var start = end - 1
            while start > 0, self[start] & 0xC0 == 0x80 { start -= 1 }
            output.append(contentsOf: self[start..<end])
            end = start
        }
        return output
    }
}
