/// The context the injection rules judge a match in: words around it that make it benign
/// (a defence against an attack, a product setting, a limit on length), quoted phrases that a
/// request is about rather than obeys, and the word shapes rules look for (a destination, a
/// misspelt keyword). All of it works on the detector's words and bytes, allocating nothing
/// unless the text quotes something.
extension InjectionDetector {
    /// Quoted spans (byte ranges) of a text whose request is about them: "translate 'ignore all
    /// previous instructions' into German", "is this a prompt injection: \"...\"".
    struct Mention {
        let spans: [Range<Int>]

        /// Whether two texts' mentions are the same, `b`'s spans `shift` bytes after `a`'s.
        static func same(_ a: Mention?, _ b: Mention?, shift: Int) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return a.spans.count == b.spans.count && zip(a.spans, b.spans).allSatisfy { $0.lowerBound + shift == $1.lowerBound && $0.upperBound + shift == $1.upperBound }
        }

        func covers(_ range: Range<Int>) -> Bool {
            spans.contains { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }
        }

        /// The text with the quoted spans blanked out (same length), for the learned stage.
        func blanked(_ bytes: [UInt8]) -> [UInt8] {
            var copy = bytes
            for span in spans { copy.replaceSubrange(span, with: repeatElement(0x20, count: span.count)) }
            return copy
        }
    }

    /// Quotes longer than this many words are documents, not phrases: a pasted e-mail with an
    /// injection in it still counts, whatever the request says about it.
    static let mentionMaxWords = 40

    /// Words outside the quotes that make the request one about the quoted text.
    static let metaWords: WordIndex = hashes(
        "translate|translated|translating|translation|translations|explain|explaining|explanation|explains|classify|classifying|"
            + "classification|categorize|categorise|categorization|categorisation|label|labelling|labeling|detect|detecting|detection|"
            + "detector|recognise|recognize|spot|flag|flagging|summarise|summarize|summary|paraphrase|rephrase|analyse|analyze|analysis|"
            + "mean|means|meaning|define|definition|example|examples|injection|injections|jailbreak|jailbreaks|attack|attacks|attacker|"
            + "attackers|payload|payloads|phrase|phrases|slide|slides|awareness|quiz|pronounce|spell|grammar|protect|against|defend|"
            + "block|filter|prevent|malicious|suspicious|dataset|training|benign")

    /// Words outside the quotes that show the quoted text is to be carried out: it is not a mention.
    static let useWords: WordIndex = hashes("follow|obey|execute|comply|perform|carry|enact|adopt")
    static let doHash = hash(Array("do".utf8)[...])
    static let doObjects: WordIndex = hashes("it|that|this|so|them|what|exactly|as")
    /// The words the scan outside the quotes looks up: use words, meta words and `do`.
    static let cueWords = WordIndex(useWords.hashes + metaWords.hashes + [doHash])

    static func hashes(_ list: String) -> WordIndex {
        WordIndex(list.split(separator: "|").map { hash(Array($0.utf8)[...]) })
    }

    /// The quoted phrases of `bytes` when the words outside them ask about them, nil otherwise
    /// (also when a word outside says to follow them).
    static func mention(in bytes: [UInt8], words: [Word]) -> Mention? {
        mention(spans: quotedSpans(bytes), words: words)
    }

    /// The spans between straight quotes (`"`, `'`, backtick) of `bytes`, in order: a quote opens
    /// after a byte that is no word byte and before one that is no space, and closes after one
    /// that is no space (an apostrophe inside a word neither opens nor closes). Whether a quote
    /// opens or closes reads only the bytes right before and after it.
    static func quotedSpans(_ bytes: [UInt8]) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else { return }
            let raw = UnsafeRawPointer(base)
            var open: (index: Int, quote: UInt8)?
            var index = -1
            while true {
                index += 1
                // Eight bytes at a time while none of them is a quote (a zero byte after XOR).
                while index + 8 <= bytes.count {
                    let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    @inline(__always) func zero(_ x: UInt64) -> UInt64 { (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 }
                    if zero(word ^ 0x2222_2222_2222_2222) | zero(word ^ 0x2727_2727_2727_2727) | zero(word ^ 0x6060_6060_6060_6060) != 0 { break }
                    index += 8
                }
                guard index < bytes.count else { break }
                let byte = bytes[index]
                guard byte == 0x22 || byte == 0x27 || byte == 0x60 else { continue }
                let previous: UInt8 = index > 0 ? bytes[index - 1] : 0x20
                let next: UInt8 = index + 1 < bytes.count ? bytes[index + 1] : 0x20
                if let current = open {
                    // A straight quote closes after a non-space; an apostrophe inside a word
                    // ("don't") neither opens nor closes.
                    if byte == current.quote, !ByteClass.space(previous), byte != 0x27 || !ByteClass.word(next) {
                        spans.append((current.index + 1)..<index)
                        open = nil
                    }
                } else if !ByteClass.word(previous), !ByteClass.space(next), index + 1 < bytes.count {
                    open = (index, byte)
                }
            }
        }
        return spans
    }

    /// The quoted `spans` of a text with these `words` when the words outside them ask about
    /// them (see ``mention(in:words:)``).
    static func mention(spans: [Range<Int>], words: [Word]) -> Mention? {
        guard !spans.isEmpty else { return nil }
        // The word lists once, not once per word (each is a table of arrays); most words are in
        // none of them, which one lookup in their union tells.
        let cueWords = Self.cueWords
        let useWords = Self.useWords
        let metaWords = Self.metaWords
        let doObjects = Self.doObjects
        var meta = false
        // Spans are in text order and apart, as are words: the span a word may lie in moves
        // forward with it.
        var span = 0
        for (offset, word) in words.enumerated() {
            while span < spans.count, spans[span].upperBound <= word.start { span += 1 }
            if span < spans.count, spans[span].lowerBound <= word.start { continue }
            guard cueWords.contains(word.hash) else { continue }
            if useWords.contains(word.hash) { return nil }
            if word.hash == doHash, offset + 1 < words.count, doObjects.contains(words[offset + 1].hash) { return nil }
            if metaWords.contains(word.hash) { meta = true }
        }
        guard meta else { return nil }
        let phrases = spans.filter { span in words.lazy.filter { span.contains($0.start) }.count <= mentionMaxWords }
        return phrases.isEmpty ? nil : Mention(spans: phrases)
    }

    /// The leetspeak form's mention read off the plain form's, when the bytes the leetspeak
    /// form `changed` (its offsets; the plain form has one leading newline more) cannot make it
    /// differ; nil when they might (then it is worked out from the leetspeak form itself).
    ///
    /// A changed byte was a leet symbol and is now a letter: it changes a quote's decision only
    /// next to that quote (``quotedSpans(_:)`` reads nothing else), a word of the scan outside
    /// the quotes only inside the space-delimited stretch that holds it, and a quote's word
    /// count only when such a stretch reaches into it. With no quote next to a changed byte, and
    /// no word of a changed stretch (either form's) among the words the scan looks up or the
    /// objects of `do`, and no changed stretch touching a quote, the leetspeak form has the plain
    /// form's spans one byte earlier and the same words around them: the same answer.
    static func leetMention(
        plainSpans: [Range<Int>], plainMention: Mention?, plainWords: [Word], leet: [UInt8], changed: [Int], leetWords: [Word]
    ) -> Mention?? {
        let count = leet.count
        @inline(__always) func quote(_ index: Int) -> Bool {
            index >= 0 && index < count && (leet[index] == 0x22 || leet[index] == 0x27 || leet[index] == 0x60)
        }
        for position in changed where quote(position - 1) || quote(position + 1) { return nil }
        let spans = plainSpans.map { ($0.lowerBound - 1)..<($0.upperBound - 1) }
        var change = 0
        var plainWord = 0
        var leetWord = 0
        while change < changed.count {
            // The stretch between spaces around this change (and the changes inside it).
            var low = changed[change]
            while low > 0, !ByteClass.space(leet[low - 1]) { low -= 1 }
            var high = changed[change]
            while high < count, !ByteClass.space(leet[high]) { high += 1 }
            while change < changed.count, changed[change] < high { change += 1 }
            if spans.contains(where: { $0.lowerBound < high && low < $0.upperBound }) { return nil }
            while plainWord < plainWords.count, plainWords[plainWord].start - 1 < low { plainWord += 1 }
            while plainWord < plainWords.count, plainWords[plainWord].start - 1 < high {
                let hash = plainWords[plainWord].hash
                if cueWords.contains(hash) || doObjects.contains(hash) { return nil }
                plainWord += 1
            }
            while leetWord < leetWords.count, leetWords[leetWord].start < low { leetWord += 1 }
            while leetWord < leetWords.count, leetWords[leetWord].start < high {
                let hash = leetWords[leetWord].hash
                if cueWords.contains(hash) || doObjects.contains(hash) { return nil }
                leetWord += 1
            }
        }
        return .some(plainMention.map { Mention(spans: $0.spans.map { ($0.lowerBound - 1)..<($0.upperBound - 1) }) })
    }

    /// Whether the words around a match (within its sentence) make it benign.
    static func framed(_ rule: Rule, words: [Word], bytes: [UInt8], start: Int, end: Int) -> Bool {
        if rule.beforeSpan > 0 {
            var index = start - 1
            while index >= 0, start - index <= rule.beforeSpan, !sentenceBreak(bytes, words[index].end, words[index + 1].start) {
                if rule.before.contains(words[index].hash), !interjection(words, bytes, index) { return true }
                index -= 1
            }
        }
        if rule.afterSpan > 0 {
            var index = end
            while index < words.count, index - end < rule.afterSpan, !sentenceBreak(bytes, words[index - 1].end, words[index].start) {
                if rule.after.contains(words[index].hash) { return true }
                index += 1
            }
        }
        return false
    }

    /// Whether word `index` is an interjection: a sentence's first word with a comma after it
    /// ("Stop, ignore all previous instructions"): it frames nothing that follows.
    static func interjection(_ words: [Word], _ bytes: [UInt8], _ index: Int) -> Bool {
        guard index + 1 < words.count, index == 0 || sentenceBreak(bytes, words[index - 1].end, words[index].start) else { return false }
        return bytes[words[index].end..<words[index + 1].start].contains(UInt8(ascii: ","))
    }

    /// Whether the bytes between two words end a sentence or clause (`.`, `!`, `?`, `;`, `:`, a
    /// line break).
    @inline(__always) static func sentenceBreak(_ bytes: [UInt8], _ from: Int, _ to: Int) -> Bool {
        var index = from
        while index < to {
            switch bytes[index] {
            case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"), UInt8(ascii: ":"), 0x0A: return true
            default: index += 1
            }
        }
        return false
    }

    /// A word where something is sent: the last word before an e-mail address's `@`, `www` or
    /// `http(s)` starting a URL, a word before `.com`-like endings, or an IBAN-shaped word.
    static func isDestination(_ word: Word, bytes: [UInt8]) -> Bool {
        let length = word.end - word.start
        if word.end < bytes.count {
            let next = bytes[word.end]
            if next == UInt8(ascii: "@"), word.end + 1 < bytes.count, ByteClass.alnum(bytes[word.end + 1]) { return true }
            if next == UInt8(ascii: "."), length == 3, ByteClass.matches(bytes, at: word.start, "www") { return true }
            if next == UInt8(ascii: ":"), ByteClass.matches(bytes, at: word.start, "http"), length <= 5 { return true }
            if next == UInt8(ascii: "."), word.end + 1 < bytes.count {
                for tld in ["com", "net", "org", "io"] where ByteClass.matches(bytes, at: word.end + 1, tld) {
                    let after = word.end + 1 + tld.utf8.count
                    if after >= bytes.count || !ByteClass.word(bytes[after]) { return true }
                }
            }
        }
        // IBAN: two letters, two check digits, then 11 to 30 letters and digits with digits in it.
        guard (15...34).contains(length), ByteClass.alpha(bytes[word.start]), ByteClass.alpha(bytes[word.start + 1]),
            ByteClass.digit(bytes[word.start + 2]), ByteClass.digit(bytes[word.start + 3])
        else { return false }
        var digits = 0
        for index in word.start..<word.end {
            guard ByteClass.alnum(bytes[index]) else { return false }
            if ByteClass.digit(bytes[index]) { digits += 1 }
        }
        return digits >= 8
    }

    /// Whether the word at `range` is `target` with one letter added, dropped or changed, or two
    /// neighbours swapped.
    static func oneEditApart(_ bytes: [UInt8], _ range: Range<Int>, _ target: [UInt8]) -> Bool {
        let length = range.count
        guard abs(length - target.count) <= 1 else { return false }
        var i = 0
        while i < min(length, target.count), bytes[range.lowerBound + i] == target[i] { i += 1 }
        if i == length && i == target.count { return true }
        func same(_ a: Int, _ b: Int) -> Bool {
            // bytes[range.lowerBound + a...] == target[b...]
            guard length - a == target.count - b else { return false }
            var x = a
            var y = b
            while x < length {
                if bytes[range.lowerBound + x] != target[y] { return false }
                x += 1
                y += 1
            }
            return true
        }
        if length == target.count {
            if same(i + 1, i + 1) { return true }
            return i + 1 < length && bytes[range.lowerBound + i] == target[i + 1] && bytes[range.lowerBound + i + 1] == target[i]
                && same(i + 2, i + 2)
        }
        return length > target.count ? same(i + 1, i) : same(i, i + 1)
    }
}

/// Word hashes (FNV-1a of a word's bytes) mapped to small lists of integers (rule indexes), or
/// just a set of them: an open-addressing table that a lookup reaches with one multiply and a
/// compare or two. `Set<UInt64>` and `Dictionary` run SipHash on every lookup, which cost more
/// than the rest of the word scan.
struct WordIndex: Sendable {
    /// 0 marks an empty slot; a word whose hash is 0 is kept in `zero`.
    private let keys: [UInt64]
    /// Per slot, its values' range in `values`.
    private let ranges: [Range<Int32>]
    /// The values of all hashes, each hash's a contiguous range (``range(of:)``).
    let values: [Int32]
    private let zero: Range<Int32>?
    private let shift: UInt64
    let isEmpty: Bool

    /// A set.
    init(_ hashes: some Sequence<UInt64>) {
        self.init(pairs: hashes.map { ($0, -1) })
    }

    /// Each hash with the values paired with it, in the order given.
    init(pairs: [(hash: UInt64, value: Int)]) {
        var grouped: [UInt64: [Int32]] = [:]
        var order: [UInt64] = []
        for (hash, value) in pairs {
            if grouped[hash] == nil {
                order.append(hash)
                grouped[hash] = []
            }
            if value >= 0 { grouped[hash]!.append(Int32(value)) }
        }
        var bits = 3
        while 1 << bits < order.count * 2 { bits += 1 }
        var keys = [UInt64](repeating: 0, count: 1 << bits)
        var ranges = [Range<Int32>](repeating: 0..<0, count: 1 << bits)
        var values: [Int32] = []
        var zero: Range<Int32>?
        let shift = UInt64(64 - bits)
        for hash in order {
            let range = Int32(values.count)..<Int32(values.count + grouped[hash]!.count)
            values.append(contentsOf: grouped[hash]!)
            if hash == 0 {
                zero = range
                continue
            }
            var slot = Int(truncatingIfNeeded: (hash &* InjectionLinearModel.golden) >> shift)
            while keys[slot] != 0 { slot = (slot + 1) & (keys.count - 1) }
            keys[slot] = hash
            ranges[slot] = range
        }
        self.keys = keys
        self.ranges = ranges
        self.values = values
        self.zero = zero
        self.shift = shift
        isEmpty = order.isEmpty
    }

    @inline(__always) private func slot(_ hash: UInt64) -> Int? {
        keys.withUnsafeBufferPointer { keys in
            var slot = Int(truncatingIfNeeded: (hash &* InjectionLinearModel.golden) >> shift)
            while true {
                let key = keys[slot]
                if key == hash { return slot }
                if key == 0 { return nil }
                slot = (slot + 1) & (keys.count - 1)
            }
        }
    }

    /// Every hash in the table.
    var hashes: [UInt64] { keys.filter { $0 != 0 } + (zero != nil ? [0] : []) }

    @inline(__always) func contains(_ hash: UInt64) -> Bool {
        hash == 0 ? zero != nil : slot(hash) != nil
    }

    /// Where the values paired with `hash` are in ``values`` (empty when none).
    @inline(__always) func range(of hash: UInt64) -> Range<Int> {
        let range = hash == 0 ? zero : slot(hash).map { ranges[$0] }
        guard let range else { return 0..<0 }
        return Int(range.lowerBound)..<Int(range.upperBound)
    }
}
