import Foundation
import Synchronization

/// Shared tokenizers for OpenAI-family models, plus an estimator for every other model.
///
/// The ranks files ship as SwiftPM resources of SwitchyardCore (`Resources/tokenizers`, copied as a
/// folder). Each encoding is loaded on first use and then shared; when its file cannot be found
/// or parsed the accessor returns nil, and callers should fall back to `estimateTokens(_:)`.
public enum Tokenizers {
    /// `cl100k_base` (GPT-4, GPT-3.5, text-embedding-3, ada-002); nil when the resource is missing.
    public static let cl100kBase: BPEEncoding? = load(
        "cl100k_base",
        specialTokens: [
            "<|endoftext|>": 100_257, "<|fim_prefix|>": 100_258, "<|fim_middle|>": 100_259, "<|fim_suffix|>": 100_260,
            "<|endofprompt|>": 100_276,
        ])

    /// `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series, gpt-oss); nil when the resource is missing.
    public static let o200kBase: BPEEncoding? = load("o200k_base", specialTokens: ["<|endoftext|>": 199_999, "<|endofprompt|>": 200_018])

    /// The shared encoding with this name (`cl100k_base` or `o200k_base`), loading it on first use.
    public static func encoding(named name: String) -> BPEEncoding? {
        switch name {
        case "cl100k_base": cl100kBase
        case "o200k_base": o200kBase
        default: nil
        }
    }

    /// The shared encoding for a model name, or nil when the model is not an OpenAI model with a
    /// known encoding (or the encoding failed to load).
    public static func tokenizer(forModel model: String) -> BPEEncoding? {
        encoding(forModel: model).flatMap { encoding(named: $0) }
    }

    /// The tiktoken encoding name for a model, as tiktoken's `encoding_for_model` maps it:
    /// `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1, o3, o4, chatgpt-4o and gpt-oss models;
    /// `cl100k_base` for gpt-4, gpt-3.5 (and Azure's gpt-35), davinci-002, babbage-002,
    /// text-embedding-ada-002 and text-embedding-3; nil for anything else.
    ///
    /// Matching ignores case, provider prefixes (`openai/`, `azure/`, `openrouter/openai/`: everything
    /// up to the last `/`) and the `ft:` prefix of fine-tuned models.
    public static func encoding(forModel model: String) -> String? {
        // Remembered per model name (a few per deployment): matching lowercases the name and
        // compares it with each prefix character by character, microseconds on every request that
        // counts a prompt. Bounded, since clients name models.
        if let known = encodingsByModel.withLock({ $0[model] }) { return known }
        let found = matchEncoding(forModel: model)
        encodingsByModel.withLock { if $0.count < 1024 { $0[model] = found } }
        return found
    }
    private static let encodingsByModel = Mutex<[String: String?]>([:])

    private static func matchEncoding(forModel model: String) -> String? {
        var name = Substring(model.lowercased())
        if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
        if name.hasPrefix("ft:") { name = name.dropFirst(3) }
        for (prefix, encoding) in modelPrefixes where name.hasPrefix(prefix) {
            // The o-series prefixes are short: "o1" matches "o1" and "o1-mini", not "o1x".
            if prefix.count == 2, let next = name.dropFirst(2).first, next.isLetter || next.isNumber { continue }
            return encoding
        }
        return nil
    }

    /// Counts `text` for a model: exactly when its encoding is known and loaded, otherwise with
    /// `estimateTokens(_:)`.
    public static func countTokens(_ text: String, model: String) -> Int {
        if let tokenizer = tokenizer(forModel: model) { return tokenizer.count(text) }
        return estimateTokens(text)
    }

    /// A quick estimate of a text's token count, for models without a known tokenizer.
    ///
    /// A linear model over per-text counts: ASCII letter runs (words) and letters, digit groups
    /// of up to three, ASCII punctuation, newlines, extra spaces and tabs, and non-ASCII scalars by
    /// UTF-8 length (CJK, kana, Hangul and full-width forms apart). Coefficients were fitted by
    /// non-negative least squares on relative error against `o200k_base` counts of 2,760 chunks
    /// (200–3,000 characters) of English prose (licences, release notes), Markdown, Python and
    /// Swift source, HTML, JSON, sentences in 30 scripts, Chinese, Japanese and Korean text, and
    /// emoji. On the held-out third the median error is 5 % (English 3 %, code 5 %, JSON 6 %,
    /// other scripts 9 %, CJK about 20 % on a small sample; 90th percentile 13 %), and the total is 2 % low. On random
    /// strings of rare scalars, which o200k splits into single bytes, it undercounts by about
    /// 20 % (median). Cost: one pass over the UTF-8 bytes, no allocation.
    ///
    /// ASCII bytes are counted through a class table without a branch on the byte: the counts
    /// differ by letter, digit, space and punctuation, and branching on that went one way or
    /// another at every word's edge, mispredicted (most of the estimate's cost on prose).
    public static func estimateTokens(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { estimateTokens(utf8: $0) }
    }

    /// Per ASCII byte: 1 letter, 2 digit, 4 newline, 8 space, 16 other white space (tab, vertical
    /// tab, form feed, carriage return), 32 punctuation (everything else).
    static let asciiClasses: [UInt8] = (0..<128).map { value in
        switch UInt8(value) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): 1
        case UInt8(ascii: "0")...UInt8(ascii: "9"): 2
        case 0x0A: 4
        case 0x20: 8
        case 0x09, 0x0B, 0x0C, 0x0D: 16
        default: 32
        }
    }

    /// The high bit of each byte of `word` (all ASCII) that is at least `limit` (1...0x80):
    /// `byte | 0x80 - limit` never borrows from the next byte.
    @inline(__always) static func atLeast(_ limit: UInt8, _ word: UInt64) -> UInt64 {
        ((word | ByteScan.highs) &- ByteScan.ones &* UInt64(limit)) & ByteScan.highs
    }

    static func estimateTokens(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var words = 0, letters = 0, digitGroups = 0, punctuation = 0, newlines = 0, extraSpaces = 0
        var twoByte = 0, cjk = 0, threeByte = 0, fourByte = 0
        // 1 or 0.
        var previousLetter = 0, previousSpace = 0
        var digitRun = 0
        let count = bytes.count
        Self.asciiClasses.withUnsafeBufferPointer { classes in
            var index = 0
            while index < count {
                // Eight ASCII bytes without a digit at a time (most of a prose prompt): each class
                // as a mask of byte high bits, counted by population count.
                if index + 8 <= count {
                    let word = ByteScan.word(bytes, at: index)
                    if word & ByteScan.highs == 0 {
                        let digit = Self.atLeast(0x30, word) & ~Self.atLeast(0x3A, word)
                        if digit == 0 {
                            let folded = word | ByteScan.ones &* 0x20
                            let letter = Self.atLeast(0x61, folded) & ~Self.atLeast(0x7B, folded)
                            let newline = Self.atLeast(0x0A, word) & ~Self.atLeast(0x0B, word)
                            let space = Self.atLeast(0x20, word) & ~Self.atLeast(0x21, word)
                            let otherSpace = Self.atLeast(0x09, word) & ~Self.atLeast(0x0E, word) & ~newline
                            letters &+= letter.nonzeroBitCount
                            words &+= (letter & ~(letter << 8 | UInt64(previousLetter) << 7)).nonzeroBitCount
                            newlines &+= newline.nonzeroBitCount
                            extraSpaces &+= (space & (space << 8 | UInt64(previousSpace) << 7)).nonzeroBitCount &+ otherSpace.nonzeroBitCount
                            punctuation &+= (ByteScan.highs & ~(letter | newline | space | otherSpace)).nonzeroBitCount
                            if digitRun != 0 {
                                digitGroups &+= (digitRun &+ 2) / 3
                                digitRun = 0
                            }
                            previousLetter = Int(letter >> 63)
                            previousSpace = Int(space >> 63)
                            index += 8
                            continue
                        }
                    }
                }
                let lead = bytes[index]
                if lead < 0x80 {
                    let kind = Int(classes[Int(lead)])
                    let letter = kind & 1
                    let digit = kind >> 1 & 1
                    let space = kind >> 3 & 1
                    letters &+= letter
                    words &+= letter & (previousLetter ^ 1)
                    newlines &+= kind >> 2 & 1
                    extraSpaces &+= (space & previousSpace) | (kind >> 4 & 1)
                    punctuation &+= kind >> 5
                    // A run of digits ends at any other character: its groups of up to three,
                    // counted then (rare in prose: a branch that is seldom taken costs less than a
                    // division on every byte).
                    if digitRun != 0 && digit == 0 {
                        digitGroups &+= (digitRun &+ 2) / 3
                    }
                    digitRun = (digitRun &+ 1) & (0 &- digit)
                    previousLetter = letter
                    previousSpace = space
                    index += 1
                    continue
                }
                if lead < 0xC0 {
                    index += 1  // a continuation byte; never reached for valid UTF-8
                    continue
                }
                if lead < 0xE0 {
                    twoByte += 1
                    index += 2
                } else if lead < 0xF0 {
                    let b1 = index + 1 < count ? bytes[index + 1] : 0x80
                    let b2 = index + 2 < count ? bytes[index + 2] : 0x80
                    let value = UInt32(lead & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F)
                    switch value {
                    case 0x3000...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0xFF00...0xFFEF: cjk += 1
                    default: threeByte += 1
                    }
                    index += 3
                } else {
                    fourByte += 1
                    index += 4
                }
                digitGroups &+= (digitRun &+ 2) / 3
                digitRun = 0
                previousLetter = 0
                previousSpace = 0
            }
        }
        digitGroups += (digitRun + 2) / 3
        var estimate = 0.7186 * Double(words) + 0.0717 * Double(letters) + 1.4726 * Double(digitGroups)
        estimate += 0.4746 * Double(punctuation) + 1.1695 * Double(newlines) + 0.0492 * Double(extraSpaces)
        estimate += 0.6609 * Double(twoByte) + 0.7961 * Double(cjk) + 0.6471 * Double(threeByte) + 2.7648 * Double(fourByte)
        return count == 0 ? 0 : max(1, Int(estimate.rounded(.up)))
    }

    // MARK: Model names

    /// Longest prefixes first, so `gpt-4o` wins over `gpt-4`.
    private static let modelPrefixes: [(String, String)] = [
        ("chatgpt-4o", "o200k_base"), ("gpt-4o", "o200k_base"), ("gpt-4.1", "o200k_base"), ("gpt-4.5", "o200k_base"),
        ("gpt-5", "o200k_base"), ("gpt-oss", "o200k_base"), ("o1", "o200k_base"), ("o3", "o200k_base"), ("o4", "o200k_base"),
        ("text-embedding-ada-002", "cl100k_base"), ("text-embedding-3-", "cl100k_base"), ("gpt-3.5", "cl100k_base"),
        ("gpt-35", "cl100k_base"), ("gpt-4", "cl100k_base"), ("davinci-002", "cl100k_base"), ("babbage-002", "cl100k_base"),
    ]

    // MARK: Loading

    private static func load(_ name: String, specialTokens: [String: Int]) -> BPEEncoding? {
        guard let url = resourceURL(name), let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try? BPEEncoding(name: name, ranksFile: [UInt8](data), specialTokens: specialTokens)
    }

    /// Finds `tokenizers/<name>.tiktoken` in SwitchyardCore's resource bundle.
    static func resourceURL(_ name: String) -> URL? {
        BundledResources.url(name, extension: "tiktoken", subdirectory: "tokenizers")
    }
}
