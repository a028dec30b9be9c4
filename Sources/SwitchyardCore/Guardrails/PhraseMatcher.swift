/// Finds phrases (ASCII case-insensitive, on word boundaries) in UTF-8 text without a regex
/// engine: phrases are bucketed by their first byte and tried only at word starts.
public struct PhraseMatcher: Sendable {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let label: String
        let weight: Double
        /// `*` at the end of a configured word: any word that starts with it.
        let prefix: Bool
    }

    private var buckets: [[Entry]] = Array(repeating: [], count: 256)
    /// Whether any phrase starts with the byte (in either case): most bytes of a text start
    /// none, and are passed over with one load.
    private var firstBytes = [Bool](repeating: false, count: 256)
    /// Whether any phrase starts with the two bytes (one bit per pair, all pairs of the first
    /// byte for a one-byte phrase): most bytes that pass `firstBytes` start no phrase.
    private var firstPairs = [UInt64](repeating: 0, count: 1024)
    public private(set) var isEmpty = true
    /// The longest phrase in bytes, and whether any is a `prefix*` (whose matches have no
    /// bounded length): what ``rawMatches(in:positions:)`` of a changed stretch must cover.
    private(set) var longest = 0
    private(set) var hasPrefix = false

    public init() {}

    public init(_ phrases: [(phrase: String, label: String, weight: Double)]) {
        for item in phrases { add(item.phrase, label: item.label, weight: item.weight) }
    }

    public mutating func add(_ phrase: String, label: String, weight: Double = 1) {
        var text = phrase.lowercased()
        var prefix = false
        if text.hasSuffix("*") {
            prefix = true
            text.removeLast()
        }
        let bytes = Array(text.utf8)
        guard let first = bytes.first else { return }
        buckets[Int(first)].append(Entry(bytes: bytes, label: label, weight: weight, prefix: prefix))
        firstBytes[Int(first)] = true
        // Both cases of a letter: the text is looked up as it is.
        if ByteClass.lower(first) { firstBytes[Int(first) - 0x20] = true }
        longest = max(longest, bytes.count)
        if prefix { hasPrefix = true }
        if bytes.count >= 2 {
            let key = Int(first) << 8 | Int(bytes[1])
            firstPairs[key >> 6] |= 1 << UInt64(key & 63)
        } else {
            for word in (Int(first) << 2)..<(Int(first) << 2 + 4) { firstPairs[word] = .max }
        }
        isEmpty = false
    }

    /// Every match (non-overlapping per phrase) with its label and weight.
    public func matches(in text: [UInt8]) -> [Finding] {
        resolve(rawMatches(in: text, positions: 0..<text.count))
    }

    /// Every phrase that matches at a position in `positions` (reading the bytes around it), in
    /// text order, overlaps included: what ``resolve(_:)`` makes ``matches(in:)`` of. A match
    /// at `i` reads `text[i - 1]` to `text[i + length]`, nothing else.
    func rawMatches(in text: [UInt8], positions: Range<Int>) -> [Finding] {
        guard !isEmpty else { return [] }
        var found: [Finding] = []
        text.withUnsafeBufferPointer { text in
            ByteClass.wordTable.withUnsafeBufferPointer { wordBytes in
                firstBytes.withUnsafeBufferPointer { firstBytes in
                    firstPairs.withUnsafeBufferPointer { firstPairs in
                        var index = positions.lowerBound
                        let count = text.count
                        while index < positions.upperBound {
                            // A phrase starts at a word's start or at a byte that is no word byte:
                            // the rest of a word is passed over at once.
                            if index > 0, wordBytes[Int(text[index])], wordBytes[Int(text[index - 1])] {
                                index += 1
                                while index < count, wordBytes[Int(text[index])] { index += 1 }
                                continue
                            }
                            guard firstBytes[Int(text[index])] else {
                                index += 1
                                continue
                            }
                            let byte = ByteClass.lowercased(text[index])
                            if index + 1 < count {
                                let key = Int(byte) << 8 | Int(ByteClass.lowercased(text[index + 1]))
                                guard firstPairs[key >> 6] >> UInt64(key & 63) & 1 != 0 else {
                                    index += 1
                                    continue
                                }
                            }
                            for entry in buckets[Int(byte)] where ByteClass.matches(text, at: index, entry.bytes) {
                                var end = index + entry.bytes.count
                                if entry.prefix {
                                    while end < count, ByteClass.word(text[end]) { end += 1 }
                                } else if end < count, ByteClass.word(text[end]), ByteClass.word(entry.bytes[entry.bytes.count - 1]) {
                                    continue
                                }
                                found.append(Finding(entity: entry.label, range: index..<end, score: entry.weight))
                            }
                            index += 1
                        }
                    }
                }
            }
        }
        return found
    }

    /// Overlapping phrases (`how to make a bomb`, `make a bomb`) count once: the heavier.
    func resolve(_ found: [Finding]) -> [Finding] {
        guard found.count > 1 else { return found }
        var kept: [Finding] = []
        for finding in found.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            if let last = kept.last, finding.range.overlaps(last.range) {
                if finding.score > last.score || finding.score == last.score && finding.range.count > last.range.count {
                    kept[kept.count - 1] = finding
                }
                continue
            }
            kept.append(finding)
        }
        return kept
    }
}
