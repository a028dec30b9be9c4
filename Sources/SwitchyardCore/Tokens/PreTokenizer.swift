/// Splits text into the pieces that tiktoken's split regexes produce, with a hand-written scanner
/// over UTF-8 bytes instead of a regex engine.
///
/// Character classes follow the Rust `regex` crate that tiktoken uses: `\s` is the Unicode
/// `White_Space` property, `\p{L}` / `\p{N}` / `\p{M}` are general-category groups, and `(?i:...)`
/// uses simple case folding (so `'ſ` — U+017F LONG S — counts as the contraction `'s`).
/// Categories come from the Swift standard library's Unicode tables.
enum PreTokenizer: Sendable {
    /// cl100k_base, as in tiktoken 0.14's `tiktoken_ext/openai_public.py`:
    /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    case cl100k
    /// o200k_base: the `|` join of
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
    /// `\p{N}{1,3}`, ` ?[^\s\p{L}\p{N}]+[\r\n/]*`, `\s*[\r\n]+`, `\s+(?!\S)` and `\s+`.
    case o200k
}

/// Bit flags describing one Unicode scalar, as the split regexes see it.
enum ScalarClass {
    /// `\p{L}`: any letter.
    static let letter: UInt8 = 1 << 0
    /// `\p{N}`: any number.
    static let number: UInt8 = 1 << 1
    /// `\s`: the `White_Space` property.
    static let space: UInt8 = 1 << 2
    /// `\r` or `\n`.
    static let newline: UInt8 = 1 << 3
    /// o200k's "upper" class `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
    static let upper: UInt8 = 1 << 4
    /// o200k's "lower" class `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`. Marks are in both o200k classes and,
    /// being neither letters nor numbers, in `[^\r\n\p{L}\p{N}]` and `[^\s\p{L}\p{N}]` too.
    static let lower: UInt8 = 1 << 5

    /// The newest Unicode version whose assignments tiktoken's regex engine knows. tiktoken 0.14's
    /// Rust `regex` tables are Unicode 16.0, while Swift 6.3's standard library has Unicode 17.0:
    /// scalars first assigned in 17.0 must stay unassigned (`\p{Cn}`) here. Checked by encoding
    /// every scalar of planes 0-3 (and every 7th above) in 11 contexts with both: nothing else
    /// differs. Raise it when tiktoken's tables move on; a toolchain whose tables are older than
    /// 16.0 would miscount scalars added in between.
    static let tiktokenUnicodeVersion = (major: 16, minor: 0)

    /// The class of one scalar, from the standard library's Unicode properties.
    static func compute(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return 0 }
        let properties = scalar.properties
        if let age = properties.age, (age.major, age.minor) > tiktokenUnicodeVersion { return 0 }
        var bits: UInt8
        switch properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: bits = letter | upper
        case .lowercaseLetter: bits = letter | lower
        case .modifierLetter, .otherLetter: bits = letter | upper | lower
        case .nonspacingMark, .spacingMark, .enclosingMark: bits = upper | lower
        case .decimalNumber, .letterNumber, .otherNumber: bits = number
        default: bits = 0
        }
        if properties.isWhitespace { bits |= space }
        if value == 0x0A || value == 0x0D { bits |= newline }
        return bits
    }

    /// Scalars below this have a precomputed class: planes 0 and 1 (most scripts, symbols and emoji).
    static let tableLimit: UInt32 = 0x2_0000

    /// Classes of every scalar below `tableLimit`, computed once (128 KiB, about 10 ms). Scalars
    /// above it (CJK extensions, tags, private use) are computed on demand.
    static let table: [UInt8] = (0..<Int(tableLimit)).map { compute(UInt32($0)) }
}

/// Finds piece boundaries in valid UTF-8. Holds raw pointers: use only while they are valid.
struct PieceScanner {
    let text: UnsafePointer<UInt8>
    let count: Int
    let classes: UnsafePointer<UInt8>

    private static let apostrophe: UInt8 = 0x27

    /// The class and byte length of the scalar starting at `i` (which must be `< count`).
    @inline(__always)
    func scalar(at i: Int) -> (cls: UInt8, length: Int) {
        let b0 = UInt32(text[i])
        if b0 < 0x80 { return (classes[Int(b0)], 1) }
        // Valid UTF-8 is guaranteed by String; the bounds checks only guard against misuse.
        if b0 < 0xE0, i &+ 1 < count {
            let v = (b0 & 0x1F) << 6 | UInt32(text[i &+ 1] & 0x3F)
            return (classes[Int(v)], 2)
        }
        if b0 < 0xF0, i &+ 2 < count {
            let v = (b0 & 0x0F) << 12 | UInt32(text[i &+ 1] & 0x3F) << 6 | UInt32(text[i &+ 2] & 0x3F)
            return (classes[Int(v)], 3)
        }
        if i &+ 3 < count {
            let v = (b0 & 0x07) << 18 | UInt32(text[i &+ 1] & 0x3F) << 12 | UInt32(text[i &+ 2] & 0x3F) << 6 | UInt32(text[i &+ 3] & 0x3F)
            return (v < ScalarClass.tableLimit ? classes[Int(v)] : ScalarClass.compute(v), 4)
        }
        return (0, 1)
    }

    /// The end of the run of scalars, from `i`, whose class has any bit of `bits`.
    @inline(__always)
    func run(from i: Int, while bits: UInt8) -> Int {
        var e = i
        while e < count {
            let (cls, length) = scalar(at: e)
            if cls & bits == 0 { break }
            e &+= length
        }
        return e
    }

    /// The end of the run of scalars, from `i`, in `[^\s\p{L}\p{N}]`.
    @inline(__always)
    func otherRun(from i: Int) -> Int {
        var e = i
        while e < count {
            let (cls, length) = scalar(at: e)
            if cls & (ScalarClass.space | ScalarClass.letter | ScalarClass.number) != 0 { break }
            e &+= length
        }
        return e
    }

    /// Where a whitespace piece starting at `i` ends, for both patterns' trailing alternatives.
    /// `o200k` selects `\s*[\r\n]+|\s+(?!\S)|\s+`; otherwise `\s++$|\s*[\r\n]|\s+(?!\S)|\s`.
    @inline(__always)
    func whitespaceEnd(from i: Int, o200k: Bool) -> Int {
        var e = i
        var afterLastNewline = -1
        var lastStart = i
        var scalars = 0
        while e < count {
            let (cls, length) = scalar(at: e)
            if cls & ScalarClass.space == 0 { break }
            if cls & ScalarClass.newline != 0 { afterLastNewline = e &+ length }
            lastStart = e
            e &+= length
            scalars &+= 1
        }
        if o200k {
            if afterLastNewline >= 0 { return afterLastNewline }
            if e == count { return e }
        } else {
            if e == count { return e }
            if afterLastNewline >= 0 { return afterLastNewline }
        }
        // `\s+(?!\S)` backs off one scalar; a lone one is `\s` / `\s+`.
        return scalars >= 2 ? lastStart : e
    }

    /// The length of a contraction suffix (`(?i:'s|'t|'re|'ve|'m|'ll|'d)`) at `i`, or 0.
    /// Under simple case folding `s` also matches U+017F LATIN SMALL LETTER LONG S.
    @inline(__always)
    func contractionLength(at i: Int) -> Int {
        guard i &+ 1 < count, text[i] == Self.apostrophe else { return 0 }
        // `| 0x20` folds ASCII upper case to lower case; only `S`/`s` give `s`, and so on.
        switch text[i &+ 1] | 0x20 {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            guard i &+ 2 < count, text[i &+ 2] | 0x20 == UInt8(ascii: "e") else { return 0 }
            return 3
        case UInt8(ascii: "l"):
            guard i &+ 2 < count, text[i &+ 2] | 0x20 == UInt8(ascii: "l") else { return 0 }
            return 3
        default:
            // U+017F is C5 BF in UTF-8.
            if text[i &+ 1] == 0xC5, i &+ 2 < count, text[i &+ 2] == 0xBF { return 3 }
            return 0
        }
    }

    // MARK: cl100k_base

    /// The end of the cl100k_base piece that starts at `i` (`i < count`).
    @inline(__always)
    func nextCL100K(_ i: Int) -> Int {
        let (c0, l0) = scalar(at: i)
        // '(?i:[sdmt]|ll|ve|re): the same contractions as o200k's suffix, here as a piece of their own.
        if text[i] == Self.apostrophe {
            let length = contractionLength(at: i)
            if length > 0 { return i &+ length }
        }
        // [^\r\n\p{L}\p{N}]?+\p{L}++
        if c0 & ScalarClass.letter != 0 { return run(from: i &+ l0, while: ScalarClass.letter) }
        if c0 & (ScalarClass.newline | ScalarClass.number) == 0, i &+ l0 < count {
            let (c1, l1) = scalar(at: i &+ l0)
            if c1 & ScalarClass.letter != 0 { return run(from: i &+ l0 &+ l1, while: ScalarClass.letter) }
        }
        // \p{N}{1,3}+
        if c0 & ScalarClass.number != 0 { return numberEnd(from: i &+ l0) }
        //  ?[^\s\p{L}\p{N}]++[\r\n]*+
        if let start = otherStart(i, c0) {
            var e = otherRun(from: start)
            while e < count, text[e] == 0x0A || text[e] == 0x0D { e &+= 1 }
            return e
        }
        return whitespaceEnd(from: i, o200k: false)
    }

    /// After one number scalar, up to two more: `\p{N}{1,3}`.
    @inline(__always)
    private func numberEnd(from i: Int) -> Int {
        var e = i
        for _ in 0..<2 {
            guard e < count else { break }
            let (cls, length) = scalar(at: e)
            if cls & ScalarClass.number == 0 { break }
            e &+= length
        }
        return e
    }

    /// Where ` ?[^\s\p{L}\p{N}]+` starts its run, or nil when it does not match at `i`.
    @inline(__always)
    private func otherStart(_ i: Int, _ c0: UInt8) -> Int? {
        let notOther = ScalarClass.space | ScalarClass.letter | ScalarClass.number
        if text[i] == 0x20, i &+ 1 < count, scalar(at: i &+ 1).cls & notOther == 0 { return i &+ 1 }
        return c0 & notOther == 0 ? i : nil
    }

    // MARK: o200k_base

    /// The end of the o200k_base piece that starts at `i` (`i < count`).
    @inline(__always)
    func nextO200K(_ i: Int) -> Int {
        let (c0, l0) = scalar(at: i)
        let isPrefix = c0 & (ScalarClass.newline | ScalarClass.letter | ScalarClass.number) == 0
        let isWordScalar = c0 & (ScalarClass.upper | ScalarClass.lower) != 0
        if isPrefix || isWordScalar {
            // The regex tries the optional prefix first, then backs off to no prefix (which can
            // only help when the first scalar is a mark: marks are prefixes and word scalars).
            if isPrefix, let e = lowerWordEnd(from: i &+ l0) { return e }
            if isWordScalar, let e = lowerWordEnd(from: i) { return e }
            if isPrefix, let e = upperWordEnd(from: i &+ l0) { return e }
            if isWordScalar, let e = upperWordEnd(from: i) { return e }
        }
        // \p{N}{1,3}
        if c0 & ScalarClass.number != 0 { return numberEnd(from: i &+ l0) }
        //  ?[^\s\p{L}\p{N}]+[\r\n/]*
        if let start = otherStart(i, c0) {
            var e = otherRun(from: start)
            while e < count, text[e] == 0x0A || text[e] == 0x0D || text[e] == 0x2F { e &+= 1 }
            return e
        }
        return whitespaceEnd(from: i, o200k: true)
    }

    /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` plus an optional contraction,
    /// from `q`, with the regex's backtracking: the upper run is greedy, and when no lower scalar
    /// follows it the match ends after the last scalar of the run that is in both classes.
    @inline(__always)
    private func lowerWordEnd(from q: Int) -> Int? {
        var e = q
        var afterLastBoth = -1
        while e < count {
            let (cls, length) = scalar(at: e)
            if cls & ScalarClass.upper == 0 {
                if cls & ScalarClass.lower != 0 {
                    let end = run(from: e &+ length, while: ScalarClass.lower)
                    return end &+ contractionLength(at: end)
                }
                break
            }
            e &+= length
            if cls & ScalarClass.lower != 0 { afterLastBoth = e }
        }
        guard afterLastBoth >= 0 else { return nil }
        return afterLastBoth &+ contractionLength(at: afterLastBoth)
    }

    /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` plus an optional contraction.
    @inline(__always)
    private func upperWordEnd(from q: Int) -> Int? {
        let e = run(from: q, while: ScalarClass.upper)
        guard e > q else { return nil }
        let end = run(from: e, while: ScalarClass.lower)
        return end &+ contractionLength(at: end)
    }
}
