/// Prompt-injection and jailbreak heuristics: the text is normalised first (see
/// ``TextNormalizer``), then word-sequence rules with weights are matched on every readable
/// form of it (plain, hidden, leetspeak, decoded payloads). The score is the sum of the weights
/// of the distinct rules that matched, plus small bonuses for disguise (hidden characters, an
/// instruction found only inside an encoded payload), plus what the learned stage
/// (``InjectionLinearModel``) adds; the guardrail fires at its threshold.
public struct InjectionDetector: TextDetector {
    /// One word of a rule: matched by hash and length, as a prefix (`ignor*`), allowing one typo
    /// (`instructions%`: one letter added, dropped, changed or two swapped; for words of eight
    /// letters or more) or, for `@dest`, any word that ends at an e-mail address's `@`, starts a
    /// URL (`www.`, `http:`) or has the shape of an IBAN: where an action sends something.
    struct Pattern: Sendable {
        let bytes: [UInt8]
        let hash: UInt64
        let prefix: Bool
        let fuzzy: Bool
        let destination: Bool
        let length: Int

        init(_ text: String) {
            destination = text == "@dest"
            prefix = text.hasSuffix("*")
            fuzzy = text.hasSuffix("%") && text.utf8.count > 8
            bytes = Array((prefix || text.hasSuffix("%") ? String(text.dropLast()) : text).utf8)
            hash = InjectionDetector.hash(bytes[...])
            length = bytes.count
        }
    }

    /// A word of the scanned text: where it is and its hash.
    struct Word {
        let start: Int
        let end: Int
        let hash: UInt64
    }

    /// A sequence of word slots with bounded gaps: `ignore|disregard ~4 previous|prior ~3 instructions|rules`.
    /// A class, so that taking one out of the list on the hot path costs one reference count,
    /// not one per field.
    final class Rule: Sendable {
        let name: String
        let category: String
        let weight: Double
        /// Each slot: alternatives, each a sequence of words.
        let slots: [[[Pattern]]]
        /// Words allowed between slot i and i+1.
        let gaps: [Int]
        /// Words (hashes) that make a match benign when they occur inside it or as the word right
        /// after it (`!my|our`): "ignore *my* previous message", "write *a* system prompt",
        /// "what are the instructions *to* unlock it", "jailbreak-*proof*".
        let excluded: WordIndex
        /// Words that make a match benign when they occur up to `beforeSpan` words before it in
        /// its sentence (`<4:protect|against`): "protect our bot *against* jailbreaks".
        let before: WordIndex
        let beforeSpan: Int
        /// The same after it (`>4:length|format`): "without any restrictions on *length*".
        let after: WordIndex
        let afterSpan: Int
        /// The slots flattened for matching: every pattern in one array, each alternative a range
        /// of it, each slot a range of alternatives.
        let patterns: [Pattern]
        let alternatives: [Range<Int>]
        let slotAlternatives: [Range<Int>]
        /// Per slot, four words: a 256-bit filter (one bit per hash's top byte) of the words its
        /// alternatives start with, so that most words are passed over without trying each
        /// alternative; all bits set where an alternative starts with a prefix, a typo-tolerant
        /// word or a destination.
        let heads: [UInt64]
        /// The alternatives (indexes into `alternatives`) by slot and the hash of their first
        /// word (``headKey(_:slot:)``), and per slot those whose first word matches more than
        /// one word (a prefix, a typo, a destination; `openHeads[openRanges[slot]]`): a word is
        /// tried only against the alternatives it can start, in the slot's order.
        let exactHeads: WordIndex
        let openHeads: [Int32]
        let openRanges: [Range<Int>]
        /// How many words before and after its first word a match reads, at most: the benign
        /// context before it; its slots at their longest with their gaps, the word after it
        /// (`excluded`) and the benign context after it.
        let reachBefore: Int
        let reachAfter: Int
        /// The fewest and the most words an alternative of the first slot has.
        let firstLengths: ClosedRange<Int>

        init(
            name: String, category: String, weight: Double, slots: [[[Pattern]]], gaps: [Int], excluded: Set<UInt64>,
            before: Set<UInt64>, beforeSpan: Int, after: Set<UInt64>, afterSpan: Int
        ) {
            self.name = name
            self.category = category
            self.weight = weight
            self.slots = slots
            self.gaps = gaps
            self.excluded = WordIndex(excluded)
            self.before = WordIndex(before)
            self.beforeSpan = beforeSpan
            self.after = WordIndex(after)
            self.afterSpan = afterSpan
            var patterns: [Pattern] = []
            var alternatives: [Range<Int>] = []
            var slotAlternatives: [Range<Int>] = []
            for slot in slots {
                let first = alternatives.count
                for alternative in slot {
                    alternatives.append(patterns.count..<(patterns.count + alternative.count))
                    patterns.append(contentsOf: alternative)
                }
                slotAlternatives.append(first..<alternatives.count)
            }
            self.patterns = patterns
            self.alternatives = alternatives
            self.slotAlternatives = slotAlternatives
            var exact: [(hash: UInt64, value: Int)] = []
            var openHeads: [Int32] = []
            var openRanges: [Range<Int>] = []
            for (slot, range) in slotAlternatives.enumerated() {
                let first = openHeads.count
                for index in range {
                    let head = patterns[alternatives[index].lowerBound]
                    if head.prefix || head.fuzzy || head.destination {
                        openHeads.append(Int32(index))
                    } else {
                        exact.append((Rule.headKey(head.hash, slot: slot), index))
                    }
                }
                openRanges.append(first..<openHeads.count)
            }
            self.exactHeads = WordIndex(pairs: exact)
            self.openHeads = openHeads
            self.openRanges = openRanges
            reachBefore = beforeSpan
            reachAfter = slots.reduce(0) { $0 + $1.map(\.count).max()! } + gaps.reduce(0, +) + afterSpan + 1
            heads = slots.flatMap { slot -> [UInt64] in
                if slot.contains(where: { $0[0].prefix || $0[0].fuzzy || $0[0].destination }) { return [.max, .max, .max, .max] }
                var filter: [UInt64] = [0, 0, 0, 0]
                for alternative in slot {
                    let index = Rule.filterIndex(alternative[0].hash)
                    filter[index >> 6] |= 1 << UInt64(index & 63)
                }
                return filter
            }
            firstLengths = (slots.first?.map(\.count).min() ?? 1)...(slots.first?.map(\.count).max() ?? 1)
        }

        /// Whether a match starting at word `start` can go on to the second slot: some word where
        /// the second slot may start (after a first-slot alternative and up to its gap) passes
        /// that slot's filter. A rule's first word is common ("the", "you", "for"); its second
        /// rarely follows, and this answers for most starts without setting up the match.
        @inline(__always) func mayContinue(_ words: [Word], from start: Int) -> Bool {
            guard heads.count > 4, heads[4] != .max else { return true }
            let first = start + firstLengths.lowerBound
            let last = min(words.count - 1, start + firstLengths.upperBound + gaps[0])
            guard first <= last else { return false }
            return heads.withUnsafeBufferPointer { heads in
                for position in first...last where Rule.passes(heads, slot: 1, words[position].hash) { return true }
                return false
            }
        }

        /// The bit of a word's hash in a slot's 256-bit filter (``heads``).
        @inline(__always) static func filterIndex(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 56) }

        /// Whether a word with this hash may start an alternative of `slot` (its filter's bit is
        /// set; every bit is set for a slot whose alternatives start with a prefix, a typo-tolerant
        /// word or a destination).
        @inline(__always) static func passes(_ heads: UnsafeBufferPointer<UInt64>, slot: Int, _ hash: UInt64) -> Bool {
            let index = filterIndex(hash)
            return heads[slot &* 4 &+ index >> 6] >> UInt64(index & 63) & 1 != 0
        }

        /// A word hash salted with its slot. Two (hash, slot) pairs that meet on one key cost a
        /// comparison that fails (``wordsMatch`` compares the word itself), never a match.
        @inline(__always) static func headKey(_ hash: UInt64, slot: Int) -> UInt64 { hash ^ (UInt64(slot) &* 0x9E37_79B9_7F4A_7C15) }
    }

    let rules: [Rule]
    /// Rules indexed by the hash of the first word of each alternative of their first slot.
    let firstWords: WordIndex
    /// Rules whose first slot has `prefix*` alternatives (`firstPrefixes[firstPrefixRanges[b]]`
    /// for the prefixes that start with byte `b`).
    let firstPrefixes: [(prefix: [UInt8], rule: Int)]
    let firstPrefixRanges: [Range<Int>]
    /// A 4,096-bit filter of `firstWords`' hashes: most words of a text
    /// start no rule, and the filter answers for them from one cache line instead of a probe of
    /// the index's table.
    let firstWordFilter: [UInt64]
    /// Per first byte, one bit per second byte (its low six bits) of the `firstPrefixes` that
    /// start with it; all bits where one of them is a single byte. A word whose first two bytes
    /// no prefix has is not compared with the prefixes of its first byte.
    let firstPrefixSeconds: [UInt64]
    let markers: PhraseMatcher
    /// The longest reach of any rule (``Rule/reachBefore``, ``Rule/reachAfter``).
    let reachBefore: Int
    let reachAfter: Int
    /// Per rule, the index of the first rule with its name: what a match is recorded under.
    let nameIDs: [Int]
    /// Frequent English words: segments without them are decoded as rot13 or reversed text.
    let commonWords: WordIndex
    /// The score at which the guardrail fires unless its `threshold` says otherwise; chosen on
    /// the labelled corpora (see README: Guardrails) to keep false positives under 2%.
    public static let defaultThreshold = 0.5
    /// The most the learned stage adds to a score: its probability above ``learnedFloor``,
    /// scaled to 0...1, times this. At the defaults a probability of 0.9 fires on its own and a
    /// lower one adds to what the rules found.
    public static let defaultLearnedWeight = 0.625
    /// The probability below which the learned stage adds nothing.
    public static let learnedFloor = 0.5
    /// Texts with fewer words get a proportionally smaller share from the learned stage.
    public static let learnedFullWords = 16
    /// The learned stage (nil: the rules alone) and the most it adds.
    let model: InjectionLinearModel?
    let learnedWeight: Double

    /// `learnedWeight` 0 turns the learned stage off; `model` defaults to the shipped weights.
    public init(learnedWeight: Double = InjectionDetector.defaultLearnedWeight, model: InjectionLinearModel? = .shipped) {
        self.model = learnedWeight > 0 ? model : nil
        self.learnedWeight = learnedWeight
        let rules = Self.ruleSource.map { Self.parse($0) }
        self.rules = rules
        var index: [(hash: UInt64, value: Int)] = []
        var prefixes = [[(prefix: [UInt8], rule: Int)]](repeating: [], count: 256)
        for (position, rule) in rules.enumerated() {
            for alternative in rule.slots[0] {
                if alternative[0].prefix {
                    prefixes[Int(alternative[0].bytes[0])].append((alternative[0].bytes, position))
                } else {
                    index.append((alternative[0].hash, position))
                }
            }
        }
        self.firstWords = WordIndex(pairs: index)
        var filter = [UInt64](repeating: 0, count: 64)
        for (hash, _) in index { filter[Int(hash >> 58)] |= 1 << ((hash >> 52) & 63) }
        self.firstWordFilter = filter
        self.firstPrefixSeconds = prefixes.map { bucket in
            bucket.reduce(UInt64(0)) { $0 | ($1.prefix.count < 2 ? .max : 1 << ($1.prefix[1] & 63)) }
        }
        self.reachBefore = rules.map(\.reachBefore).max() ?? 0
        self.reachAfter = rules.map(\.reachAfter).max() ?? 0
        self.firstPrefixes = prefixes.flatMap { $0 }
        var next = 0
        self.firstPrefixRanges = prefixes.map { bucket in
            defer { next += bucket.count }
            return next..<(next + bucket.count)
        }
        self.markers = PhraseMatcher(Self.markerSource.map { ($0.0, "injection." + $0.1, $0.2) })
        self.commonWords = WordIndex(Self.common.split(separator: " ").map { Self.hash(Array($0.utf8)[...]) })
        var names: [String: Int] = [:]
        self.nameIDs = rules.enumerated().map { position, rule in
            if let id = names[rule.name] { return id }
            names[rule.name] = position
            return position
        }
    }

    static let common =
        "the a an and or of to in on for with is are was be it this that you your i we my me our not no do can will what how please have has at from by as if but so all any"

    /// FNV-1a.
    @inline(__always) static func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return value
    }

    /// Findings cover the whole scanned text: a score is a property of the text, not of a span.
    public func findings(in text: [UInt8], context: [UInt8]) -> [Finding] {
        findings(in: text, context: context, role: "user")
    }

    /// Text from a tool result or a retrieved document (`tool`, `function` roles) is the channel
    /// of indirect injection: instructions addressed to the model weigh more there.
    public func findings(in text: [UInt8], context: [UInt8], role: String) -> [Finding] {
        // The scan reads UTF-8 as `String` would: bytes that are not valid UTF-8 are repaired
        // first (rare; plain ASCII, the common case, needs no check beyond one pass).
        let ascii = PIIDetector.firstIndex(in: text, where: { $0 & 0x8080_8080_8080_8080 }, { $0 >= 0x80 }) == nil
        let valid = ascii ? text : Array(String(decoding: text, as: UTF8.self).utf8)
        let (score, categories) = evaluate(utf8: valid, indirect: role == "tool" || role == "function")
        guard score > 0 else { return [] }
        return [Finding(entity: "injection." + (categories.first ?? "heuristic"), range: 0..<text.count, score: score)]
    }

    /// The score and the categories that contributed, strongest first.
    public func evaluate(_ text: String, indirect: Bool = false) -> (score: Double, categories: [String]) {
        evaluate(utf8: Array(text.utf8), indirect: indirect)
    }

    /// ``evaluate(_:indirect:)`` on valid UTF-8 bytes.
    func evaluate(utf8 text: [UInt8], indirect: Bool) -> (score: Double, categories: [String]) {
        let normalized = TextNormalizer.normalize(utf8: text, decode: true) { plain in self.unusualSegments(plain) }
        var matched: [String: (category: String, weight: Double)] = [:]
        // Rules already matched, by name (see `nameIDs`): checked for every candidate start,
        // recorded in `matched` once.
        var ruleMatched = [Bool](repeating: false, count: rules.count)
        var decodedOnly = false
        var probability: Double?
        var plainMention: Mention?
        var plainSpans: [Range<Int>] = []
        var plainMarkers: [Finding] = []
        var plainWords: [Word] = []
        for variant in normalized.variants {
            let before = matched.count
            let bytes = variant.text
            // The leetspeak form's words are the plain form's but in the words it changed.
            let changes = variant.source == "leet" ? variant.changed : nil
            let words = changes.map { Self.words(bytes, changed: $0.map { $0..<($0 + 1) }, old: plainWords, shift: 1) } ?? Self.words(bytes)
            if variant.source == "plain" { plainWords = words }
            // An attack phrase quoted as the object of a request about it (translate, explain,
            // classify) is mentioned, not used: what lies inside the quotes does not count.
            let mention: Mention?
            if variant.source == "plain" {
                plainSpans = Self.quotedSpans(bytes)
                mention = Self.mention(spans: plainSpans, words: words)
                plainMention = mention
            } else if let changes {
                // The plain form's, where the changed bytes cannot make it differ.
                mention =
                    Self.leetMention(
                        plainSpans: plainSpans, plainMention: plainMention, plainWords: plainWords, leet: bytes, changed: changes, leetWords: words)
                    ?? Self.mention(in: bytes, words: words)
            } else {
                mention = nil
            }
            // The leetspeak form differs from the plain one only in a few words: a rule start
            // whose reach (``Rule/reachBefore``, ``Rule/reachAfter``) holds none of them reads
            // what it read in the plain form, where it did not match, so only the starts near a
            // changed word are tried (when the quoted mentions are the same in both forms).
            let same = changes != nil && Mention.same(mention, plainMention, shift: 1)
            let changed = same ? changes : nil
            let dirty = changed.map { Self.dirtyWords(words, changed: $0, count: bytes.count) }
            // Markers the same way: when no marker match of either form reads a changed byte,
            // the leetspeak form has the plain form's matches, which are recorded already.
            let found: [Finding]
            if variant.source == "plain" {
                plainMarkers = markers.rawMatches(in: bytes, positions: 0..<bytes.count)
                found = markers.resolve(plainMarkers)
            } else if let changed, markersUnchanged(bytes, changed: changed, plain: plainMarkers) {
                found = []
            } else {
                found = markers.matches(in: bytes)
            }
            for finding in found where !(mention?.covers(finding.range) ?? false) {
                let category = String(finding.entity.dropFirst("injection.".count))
                let key = "marker:" + String(decoding: bytes[finding.range], as: UTF8.self)
                matched[key] = (category, finding.score)
            }
            if let model, variant.source == "plain" {
                // Averages over a few n-grams are noisy: below `learnedFullWords` words the
                // model's share shrinks in proportion, so short texts are the rules' to judge.
                let confidence = min(1, Double(words.count) / Double(Self.learnedFullWords))
                let raw: Double
                if let mention {
                    let outside = mention.blanked(bytes)
                    raw = model.probability(outside, words: Self.words(outside))
                } else {
                    raw = model.probability(bytes, words: words)
                }
                probability = Self.learnedFloor + (raw - Self.learnedFloor) * confidence
            }
            // Every word that can start a rule is tried where it stands, in text order: a rule's
            // first start that matches in a benign-free context records it, later ones are
            // skipped (which rule is tried first does not matter: they record under their names).
            let firstWords = self.firstWords
            for (offset, word) in words.enumerated() {
                if let dirty, dirty[min(words.count, offset + reachAfter + 1)] == dirty[max(0, offset - reachBefore)] { continue }
                if firstWordFilter[Int(word.hash >> 58)] & (1 << ((word.hash >> 52) & 63)) != 0 {
                    for position in firstWords.range(of: word.hash) {
                        let ruleIndex = Int(firstWords.values[position])
                        guard !ruleMatched[nameIDs[ruleIndex]] else { continue }
                        record(ruleIndex, start: offset)
                    }
                }
                let seconds = firstPrefixSeconds[Int(bytes[word.start])]
                guard seconds != 0, word.end - word.start < 2 ? seconds == .max : seconds & (1 << (bytes[word.start + 1] & 63)) != 0 else {
                    continue
                }
                for entry in firstPrefixRanges[Int(bytes[word.start])] {
                    let (prefix, ruleIndex) = firstPrefixes[entry]
                    guard !ruleMatched[nameIDs[ruleIndex]], word.end - word.start >= prefix.count,
                        bytes[word.start..<(word.start + prefix.count)].elementsEqual(prefix)
                    else { continue }
                    record(ruleIndex, start: offset)
                }
            }
            func record(_ ruleIndex: Int, start: Int) {
                let rule = rules[ruleIndex]
                if let dirty {
                    let low = max(0, start - rule.reachBefore)
                    let high = min(words.count - 1, start + rule.reachAfter)
                    guard dirty[high + 1] > dirty[low] else { return }
                }
                guard rule.mayContinue(words, from: start), let end = Self.match(rule, words: words, bytes: bytes, at: start) else { return }
                // Each occurrence is judged in its own context: a long prompt that names
                // "developer mode" once as a phone setting and once as a persona still counts.
                if Self.framed(rule, words: words, bytes: bytes, start: start, end: end) { return }
                if let mention, mention.covers(words[start].start..<words[end - 1].end) { return }
                matched[rule.name] = (rule.category, rule.weight)
                ruleMatched[nameIDs[ruleIndex]] = true
            }
            if matched.count > before, variant.source != "plain" && variant.source != "leet" { decodedOnly = true }
        }
        var score = matched.values.reduce(0) { $0 + ($1.category == "indirect" && indirect ? $1.weight * 1.5 : $1.weight) }
        if score > 0 && decodedOnly { score += 0.3 }
        if normalized.invisible >= 4 { score += 0.3 }
        if score > 0 && normalized.folded >= 4 { score += 0.2 }
        var totals: [String: Double] = [:]
        for value in matched.values { totals[value.category, default: 0] += value.weight }
        if let probability, probability > Self.learnedFloor {
            let learned = learnedWeight * (probability - Self.learnedFloor) / (1 - Self.learnedFloor)
            score += learned
            totals["learned"] = learned
        }
        let categories = totals.filter { $0.value > 0 }.sorted { $0.value > $1.value || $0.value == $1.value && $0.key < $1.key }.map(\.key)
        score = max(0, score)
        return (min(score, 10), categories.isEmpty && score > 0 ? ["obfuscation"] : categories)
    }

    /// The learned stage's probability for `text` (nil when it is off or its weights are missing).
    public func learnedProbability(_ text: String) -> Double? {
        guard let model else { return nil }
        let plain = TextNormalizer.normalize(text, decode: false).variants[0].text
        return model.probability(plain, words: Self.words(plain))
    }

    /// Per word of the leetspeak form, how many of the words before it (a prefix sum, one more
    /// entry than `words`) are dirty: a byte that differs from the plain form (`changed`, in
    /// order; the plain form has a leading newline) lies in the word, the byte before it, the
    /// bytes up to the next word or the five after it (what ``isDestination(_:bytes:)`` reads);
    /// the first word also owns the bytes before it and the last those after it (the text has
    /// `count` bytes). Each word's stretch starts and ends no earlier than the one before it's,
    /// so one walk of the changed bytes answers for all of them.
    static func dirtyWords(_ words: [Word], changed: [Int], count: Int) -> [Int32] {
        [Int32](unsafeUninitializedCapacity: words.count + 1) { dirty, initialized in
            words.withUnsafeBufferPointer { words in
                changed.withUnsafeBufferPointer { changed in
                    var total: Int32 = 0
                    var next = 0
                    dirty[0] = 0
                    for offset in 0..<words.count {
                        let word = words[offset]
                        let low = offset == 0 ? 0 : word.start - 1
                        let high = offset == words.count - 1 ? count : min(count, max(word.end + 6, words[offset + 1].start))
                        while next < changed.count, changed[next] < low { next += 1 }
                        if next < changed.count, changed[next] < high { total += 1 }
                        dirty[offset + 1] = total
                    }
                }
            }
            initialized = words.count + 1
        }
    }

    /// Whether one of the offsets in `changed` (in order) lies in `range`.
    static func anyChanged(_ changed: [Int], in range: Range<Int>) -> Bool {
        var low = 0
        var high = changed.count
        while low < high {
            let middle = (low + high) / 2
            if changed[middle] < range.lowerBound { low = middle + 1 } else { high = middle }
        }
        return low < changed.count && changed[low] < range.upperBound
    }

    /// ``words(_:)`` of `text`, a copy of a text whose words are `old` (their offsets `shift`
    /// more) with the bytes in `changed` (in order) replaced by others, none of them a space
    /// where there was none (leetspeak letters, blanked quotes): a word never spans a space, so
    /// only the space-delimited stretches that hold a change are read again.
    static func words(_ text: [UInt8], changed: [Range<Int>], old: [Word], shift: Int) -> [Word] {
        var words: [Word] = []
        words.reserveCapacity(old.count + changed.count)
        let count = text.count
        var next = 0
        var change = 0
        while change < changed.count {
            var low = changed[change].lowerBound
            while low > 0, !ByteClass.space(text[low - 1]) { low -= 1 }
            var high = changed[change].lowerBound
            while change < changed.count, changed[change].lowerBound <= high {
                high = max(high, changed[change].upperBound)
                while high < count, !ByteClass.space(text[high]) { high += 1 }
                change += 1
            }
            while next < old.count, old[next].start - shift < low {
                let word = old[next]
                words.append(Word(start: word.start - shift, end: word.end - shift, hash: word.hash))
                next += 1
            }
            while next < old.count, old[next].start - shift < high { next += 1 }
            forEachWord(text, low..<high) { start, end, hash in
                words.append(Word(start: start, end: end, hash: hash))
                return true
            }
        }
        while next < old.count {
            let word = old[next]
            words.append(Word(start: word.start - shift, end: word.end - shift, hash: word.hash))
            next += 1
        }
        return words
    }

    /// Whether the leetspeak form has the same marker matches as the plain form (given its
    /// `rawMatches`): none of those reads a changed byte, and none starts near one in the
    /// leetspeak form (``PhraseMatcher/rawMatches(in:positions:)`` says what a match reads).
    func markersUnchanged(_ leet: [UInt8], changed: [Int], plain: [Finding]) -> Bool {
        guard !markers.hasPrefix else { return false }
        let count = leet.count
        // A plain match at `s..<e` reads plain `s - 1...e`, leetspeak `s - 2...e - 1`; one at 0
        // reads the plain form's leading newline, which the leetspeak form does not have.
        for finding in plain
        where finding.range.lowerBound == 0
            || Self.anyChanged(changed, in: max(0, finding.range.lowerBound - 2)..<max(0, min(count, finding.range.upperBound)))
        {
            return false
        }
        for index in changed where !markers.rawMatches(in: leet, positions: max(0, index - markers.longest)..<min(count, index + 2)).isEmpty {
            return false
        }
        return true
    }

    /// Lines or sentences of at least four words none of which is a frequent English word:
    /// candidates for rot13 or reversed text (decoding all text would double the work).
    func unusualSegments(_ plain: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var start = 0
        func flush(_ end: Int) {
            guard end > start else { return }
            var count = 0
            var common = false
            let commonWords = self.commonWords
            // A frequent word settles it: most sentences have one among their first words.
            Self.forEachWord(plain, start..<end) { _, _, hash in
                count += 1
                if commonWords.contains(hash) {
                    common = true
                    return false
                }
                return true
            }
            if count >= 4, !common {
                output.append(contentsOf: plain[start..<end])
                output.append(0x0A)
            }
        }
        var index = 0
        while index < plain.count {
            let byte = plain[index]
            let sentenceEnd =
                (byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "!") || byte == UInt8(ascii: "?"))
                && index + 1 < plain.count && plain[index + 1] == 0x20
            if byte == 0x0A || sentenceEnd {
                flush(index + 1)
                start = index + 1
            }
            index += 1
        }
        flush(plain.count)
        return output
    }

    /// The words of `text` as ``forEachWord(_:_:_:)`` reads them, written straight into an
    /// array sized for the most words the text can have.
    /// Not inlined: inlined into ``evaluate(utf8:indirect:)`` it costs more instructions.
    @inline(never) static func words(_ text: [UInt8]) -> [Word] {
        let wordBytes = Self.wordBytes
        return text.withUnsafeBufferPointer { bytes in
            wordBytes.withUnsafeBufferPointer { wordBytes in
                let count = bytes.count
                return [Word](unsafeUninitializedCapacity: (count + 1) / 2) { buffer, initialized in
                    var index = 0
                    var found = 0
                    while index < count {
                        // A word cannot start with an apostrophe.
                        while index < count, wordBytes[Int(bytes[index])] != 1 { index += 1 }
                        guard index < count else { break }
                        let start = index
                        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                        // The hash up to the last byte that is not an apostrophe.
                        var settled = hash
                        var settledEnd = start
                        while index < count {
                            let byte = bytes[index]
                            let kind = wordBytes[Int(byte)]
                            if kind == 1 {
                                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                                settled = hash
                                settledEnd = index + 1
                            } else if kind == 2 {
                                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                            } else {
                                break
                            }
                            index += 1
                        }
                        (buffer.baseAddress! + found).initialize(to: Word(start: start, end: settledEnd, hash: settled))
                        found += 1
                    }
                    initialized = found
                }
            }
        }
    }

    /// Per byte: 1 for a word byte, 2 for an apostrophe (inside a word), 0 for the rest.
    static let wordBytes: [UInt8] = (0..<256).map { ByteClass.word(UInt8($0)) ? 1 : $0 == 0x27 ? 2 : 0 }

    /// Calls `body` with each word of `text[range]` (letters, digits, `_`, non-ASCII bytes and
    /// apostrophes inside a word; trailing apostrophes dropped): its bounds and its hash, all in
    /// one pass; until `body` returns false.
    @inline(__always) static func forEachWord(_ text: [UInt8], _ range: Range<Int>, _ body: (Int, Int, UInt64) -> Bool) {
        let wordBytes = Self.wordBytes
        text.withUnsafeBufferPointer { bytes in
            wordBytes.withUnsafeBufferPointer { wordBytes in
                var start = -1
                var hash: UInt64 = 0
                // The hash up to the last byte that is not an apostrophe.
                var settled: UInt64 = 0
                var settledEnd = 0
                for index in range.lowerBound...range.upperBound {
                    let byte = index < range.upperBound ? bytes[index] : 0x20
                    let kind = wordBytes[Int(byte)]
                    if kind == 1 || (kind == 2 && start >= 0) {
                        if start < 0 {
                            start = index
                            hash = 0xcbf2_9ce4_8422_2325
                        }
                        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                        if byte != UInt8(ascii: "'") {
                            settled = hash
                            settledEnd = index + 1
                        }
                    } else if start >= 0 {
                        // A word is at least one byte that is not an apostrophe (it cannot start
                        // with one), so `settled` belongs to it.
                        if !body(start, settledEnd, settled) { return }
                        start = -1
                    }
                }
            }
        }
    }

    /// Where a match of `rule` that starts at word `start` ends (exclusive), nil when none does.
    /// Works on the rule's flat tables through buffer pointers: no reference counting per word.
    static func match(_ rule: Rule, words: [Word], bytes: [UInt8], at start: Int) -> Int? {
        func clean(upTo end: Int) -> Bool {
            guard !rule.excluded.isEmpty else { return true }
            let last = min(end, words.count - 1)
            guard start <= last else { return true }
            return !(start...last).contains { rule.excluded.contains(words[$0].hash) }
        }
        let slotCount = rule.slots.count
        return withTables(rule) { patterns, alternatives, heads, gaps, exactValues, openHeads, openRanges in
            func matchSlot(_ slot: Int, from position: Int, gap: Int) -> Int? {
                if slot == slotCount { return clean(upTo: position) ? position : nil }
                let last = min(words.count - 1, position + gap)
                guard position <= last else { return nil }
                let open = heads[slot &* 4] == .max
                let openRange = openRanges[slot]
                for candidate in position...last where open || Rule.passes(heads, slot: slot, words[candidate].hash) {
                    // The alternatives this word can start, in the slot's order: those its hash
                    // names merged with the open ones.
                    let exact = rule.exactHeads.range(of: Rule.headKey(words[candidate].hash, slot: slot))
                    var nextExact = exact.lowerBound
                    var nextOpen = openRange.lowerBound
                    while nextExact < exact.upperBound || nextOpen < openRange.upperBound {
                        let index: Int
                        if nextOpen >= openRange.upperBound || (nextExact < exact.upperBound && exactValues[nextExact] < openHeads[nextOpen]) {
                            index = Int(exactValues[nextExact])
                            nextExact += 1
                        } else {
                            index = Int(openHeads[nextOpen])
                            nextOpen += 1
                        }
                        let alternative = alternatives[index]
                        guard wordsMatch(patterns, alternative, words: words, bytes: bytes, at: candidate) else { continue }
                        let next = slot + 1 < slotCount ? gaps[slot] : 0
                        if let end = matchSlot(slot + 1, from: candidate + alternative.count, gap: next) { return end }
                    }
                }
                return nil
            }
            return matchSlot(0, from: start, gap: 0)
        }
    }

    /// `body` with buffer pointers to the rule's flat tables.
    @inline(__always) static func withTables<Result>(
        _ rule: Rule,
        _ body: (
            _ patterns: UnsafeBufferPointer<Pattern>, _ alternatives: UnsafeBufferPointer<Range<Int>>, _ heads: UnsafeBufferPointer<UInt64>,
            _ gaps: UnsafeBufferPointer<Int>, _ exactValues: UnsafeBufferPointer<Int32>, _ openHeads: UnsafeBufferPointer<Int32>,
            _ openRanges: UnsafeBufferPointer<Range<Int>>
        ) -> Result
    ) -> Result {
        rule.patterns.withUnsafeBufferPointer { patterns in
            rule.alternatives.withUnsafeBufferPointer { alternatives in
                rule.heads.withUnsafeBufferPointer { heads in
                    rule.gaps.withUnsafeBufferPointer { gaps in
                        rule.exactHeads.values.withUnsafeBufferPointer { exactValues in
                            rule.openHeads.withUnsafeBufferPointer { openHeads in
                                rule.openRanges.withUnsafeBufferPointer { openRanges in
                                    body(patterns, alternatives, heads, gaps, exactValues, openHeads, openRanges)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether the words at `position` match the patterns `alternative` indexes.
    @inline(__always) static func wordsMatch(
        _ patterns: UnsafeBufferPointer<Pattern>, _ alternative: Range<Int>, words: [Word], bytes: [UInt8], at position: Int
    ) -> Bool {
        guard position + alternative.count <= words.count else { return false }
        for (offset, index) in alternative.enumerated() {
            let word = words[position + offset]
            if word.hash == patterns[index].hash, word.end - word.start == patterns[index].length, !patterns[index].prefix { continue }
            if patterns[index].prefix {
                guard word.end - word.start >= patterns[index].length,
                    bytes[word.start..<(word.start + patterns[index].length)].elementsEqual(patterns[index].bytes)
                else { return false }
            } else if patterns[index].destination {
                guard isDestination(word, bytes: bytes) else { return false }
            } else {
                guard patterns[index].fuzzy, oneEditApart(bytes, word.start..<word.end, patterns[index].bytes) else { return false }
            }
        }
        return true
    }

    /// `name category weight: slot ~gap slot ... [!excluded|words]`; alternatives `|`, words in
    /// one alternative `_`.
    static func parse(_ source: String) -> Rule {
        let head = source.split(separator: ":", maxSplits: 1)
        let meta = head[0].split(separator: " ")
        var slots: [[[Pattern]]] = []
        var gaps: [Int] = []
        var excluded: Set<UInt64> = []
        var before: Set<UInt64> = []
        var after: Set<UInt64> = []
        var beforeSpan = 0
        var afterSpan = 0
        for token in head[1].split(separator: " ") {
            if token.hasPrefix("!") {
                for word in token.dropFirst().split(separator: "|") { excluded.insert(hash(Array(word.utf8)[...])) }
                continue
            }
            if token.hasPrefix("<") || token.hasPrefix(">") {
                // `<4:words` / `>4:words`: benign context before / after a match.
                let parts = token.dropFirst().split(separator: ":", maxSplits: 1)
                let hashes = Set(parts[1].split(separator: "|").map { hash(Array($0.utf8)[...]) })
                if token.hasPrefix("<") {
                    before = hashes
                    beforeSpan = Int(parts[0])!
                } else {
                    after = hashes
                    afterSpan = Int(parts[0])!
                }
                continue
            }
            if token.hasPrefix("~") {
                gaps.append(Int(token.dropFirst())!)
            } else {
                if slots.count > gaps.count { gaps.append(0) }
                // `a_b` is two words; `delete_*` is one word prefix (tool names keep their `_`).
                slots.append(
                    token.split(separator: "|").map { alternative in
                        alternative.hasSuffix("*")
                            ? [Pattern(String(alternative))]
                            : alternative.split(whereSeparator: { $0 == "_" || $0 == "-" }).map { Pattern(String($0)) }
                    })
            }
        }
        return Rule(
            name: String(meta[0]), category: String(meta[1]), weight: Double(meta[2])!, slots: slots, gaps: gaps, excluded: excluded,
            before: before, beforeSpan: beforeSpan, after: after, afterSpan: afterSpan)
    }

    static let overrideVerbs =
        "ignore|ignoring|disregard|disregarding|forget|forgetting|skip|override|overriding|bypass|neglect|abandon|discard|drop|erase|delete|nevermind|cancel|void|scrap|ditch|dismiss|throw_away|set_aside|put_aside|stop_following|don't_follow|do_not_follow|no_longer_follow|wipe|clear|reset"
    static let qualifiers =
        "previous|prior|above|earlier|preceding|all|any|every|your|the|these|those|initial|original|system|developer|existing|old|safety|given|current|former|foregoing|other|prior|programmed|default|built-in|hidden|internal"
    static let targets =
        "instructions|instruction|rules|rule|directions|prompts|prompt|guidelines|guideline|commands|restrictions|programming|context|guidance|directives|directive|constraints|policies|policy|safeguards|filters|orders|training|guardrails|protocols|limitations|limits|conditioning|settings|configuration|messages|message|text|conversation|content|everything|tasks|task|system_prompt|ethics|principles|boundaries|parameters|moderation|censorship"

    /// Long rule targets allow one typo (`iunstructions`); short ones would match other words.
    static let fuzzyTargets = targets.split(separator: "|").map { word -> String in
        word.count >= 9 && !word.contains("_") ? String(word) + "%" : String(word)
    }.joined(separator: "|")
    /// Words that frame an attack's name as something to defend against ("jailbreak-proof",
    /// "protect the bot against jailbreaks", "how do I stop prompt injection").
    static let defensive =
        "against|proof|proofing|protect|protects|protecting|protection|secure|secures|securing|harden|hardens|hardening|defend|defends|defending|defence|defense|defences|defenses|guard|guards|guarding|safeguard|safeguards|shield|shields|prevent|prevents|preventing|prevention|stop|stops|stopping|block|blocks|blocking|detect|detects|detecting|detection|detector|detectors|mitigate|mitigates|mitigating|mitigation|resist|resists|resistant|resistance|robust|immune|avoid|avoids|avoiding|countermeasures|spot|spots|spotting|recognise|recognises|recognize|recognizes|report|reports|reporting|flag|flags|flagging|catch|catches|catching"
    /// Words that ask about an attack's name rather than use it ("what is a DAN prompt").
    static let aboutCues = "what|what's|whats|explain|explaining|explained|define|definition|meaning|term|article|articles|paper|papers|blog|newsletter|research|lesson|course|students|awareness|history|examples|mean|means"
    /// A device, app or setting that a mode or a jailbreak belongs to ("developer mode toggle in
    /// the app settings", "jailbreaking a phone").
    static let devices =
        "phone|phones|iphone|ipad|ipod|tablet|tablets|device|devices|console|consoles|kindle|firestick|router|routers|android|ios|switch|ps3|ps4|ps5|psp|xbox|wii|chromebook|laptop|laptops|tv|roku|watch|car|kiosk|app|apps|application|firmware|bootloader|settings|setting|toggle|toggles|option|options|menu|screen|button|feature|bios|browser|chrome|firefox|windows|macos|pixel|samsung|build|builds|game|games|emulator|warranty|carrier|ide|xcode|vscode|plugin|extension|page"
    /// What a limit can be about in an ordinary request ("without restrictions on length").
    static let scopes =
        "length|long|format|formatting|word|words|count|size|number|amount|quantity|time|duration|page|pages|characters|paragraphs|sentences|budget|price|style|tone|creativity|examples|ideas|items|rows|storage|projects|attempts|speed|colours|colors|fonts|detail|details|depth|bullets|points|lines|languages|genre|structure|revisions|questions|users|seats|devices|downloads|bandwidth|calls"

    static let ruleSource: [String] = [
        // The user revising what they themselves said is not an override of the system.
        "override override 0.9: \(overrideVerbs) ~3 \(qualifiers) ~3 \(fuzzyTargets) !my|mine|i|i've|i'd|i'm|our|ours|me <5:stop|stops|prevent|prevents|preventing|protect|protects|protecting|defend|defends|defending|detect|detects|detecting|block|blocks|blocking|mitigate|mitigates|against|resist|resists|resistant|harden|hardening|trick|tricked|tricking|fool|fooled|manipulate|manipulated|flag|flags|flagging|catch|catches|catching|recognize|recognizes|recognise|recognises|spot|spots",
        "override_everything override 0.6: \(overrideVerbs) ~2 everything|anything ~2 above|before|previously|earlier|prior|told|said|you've",
        "override_start override 0.6: start|begin ~1 over|fresh|anew ~3 new|different ~2 \(targets)",
        "new_instructions override 0.6: new|updated|revised|real|actual|true|additional|important|urgent|secret|hidden|override|priority ~2 instructions|instruction|directive|directives|orders|rules|task|commands|guidelines|system_prompt",
        "instead_do override 0.4: instead ~4 you|do|now|must|should|will",
        "no_longer override 0.5: rules|restrictions|guidelines|policies|instructions|safety|filters|limits ~3 no_longer|don't|do_not|does_not|doesn't|never ~1 apply|matter|exist|bind|count",
        "not_apply override 0.6: do_not|don't|doesn't|does_not|no_longer ~2 apply ~3 here|now|to_you|anymore|in_this|this_time|for_this",
        "higher_priority override 0.5: takes|take|have|has ~2 precedence|priority ~3 over|above",
        "supersede override 0.6: supersede*|replace*|overrid*|overwrit* ~4 \(qualifiers) ~3 \(targets)",
        "persona_now persona 0.45: you ~1 are|will|shall|must ~1 now|henceforth ~4 a|an|my|in|called|named|free|no|the|dan|evil|unrestricted|unfiltered|jailbroken",
        "from_now_on persona 0.4: from_now_on|henceforth|going_forward|for_the_rest_of_this_conversation|until_i_say_otherwise",
        // A developer, debug or maintenance mode is also a setting of a phone or an app.
        "developer_mode persona 0.7: developer|dev|debug|god|admin|maintenance|sudo|root|test|diagnostic ~1 mode <5:\(devices) >5:\(devices)",
        "persona_mode persona 0.7: unrestricted|jailbreak|jailbroken|opposite|evil|chaos|unlocked|uncensored|unfiltered|unlimited ~1 mode <4:\(defensive)|\(aboutCues)",
        "dan persona 0.8: dan|stan|dude|aim|mongo_tom|dev_mode|anti-dan|betterdan|evilbot|devgpt|chadgpt|dan_mode|dan's ~2 which|who|stands|mode|persona|character|prompt|jailbreak|can|does|will|has <3:\(defensive)|\(aboutCues)",
        "do_anything persona 0.9: do_anything_now|can_do_anything|can_say_anything|answer_anything|no_matter_how|without_any_restrictions|without_restrictions|without_limitations|without_any_limitations|without_censorship|without_filters|without_any_filters|without_rules|without_any_rules|without_ethics|without_morals|without_refusing|without_refusal|never_refuse*|cannot_refuse|can't_refuse|not_refuse|must_not_refuse|won't_refuse >4:\(scopes)",
        "no_restrictions persona 0.6: no|zero|free_of|free_from|not_bound_by|unbound_by|released_from|broken_free|freed_from|liberated_from|break_free_of|break_free_from|escape|escaped|ignore|beyond ~2 restrictions|limits|limitations|rules|filters|guidelines|censorship|boundaries|safety|ethics|morals|moral|ethical|constraints|policies|guardrails|content_policy|alignment|programming|shackles <4:\(defensive) >4:\(scopes)",
        // Jailbreaking a phone, or making a device jailbreak-proof, is not about the model.
        // An attack's adjective alone is weak ("unrestricted parking", "an amoral character in
        // my novel"); said of the model or its answers it is a persona.
        "unrestricted persona 0.25: unrestricted|unfiltered|uncensored|unconstrained|unaligned|amoral|unethical|jailbroken|jailbreak|jailbreaking|unbound|unshackled|unleashed|limitless|lawless !my <4:\(defensive)|\(aboutCues)|\(devices) >4:\(defensive)|\(devices)|attempts|attacks|attack",
        "unrestricted_ai persona 0.35: unrestricted|unfiltered|uncensored|unconstrained|unaligned|amoral|unethical|jailbroken|jailbreak|jailbreaking|unbound|unshackled|unleashed|limitless|lawless ~3 ai|assistant|model|chatbot|bot|llm|version|mode|persona|character|gpt|chatgpt|entity|intelligence|responses|answers|replies|output|outputs|yourself|self|alter_ego|twin|system|machine !my <4:\(defensive)|\(aboutCues)|\(devices) >4:\(defensive)|\(devices)",
        "you_unrestricted persona 0.35: you|you're|yourself|be|become|becoming|being|act|acting|remain|stay|now ~3 unrestricted|unfiltered|uncensored|unconstrained|unaligned|amoral|unethical|jailbroken|jailbreak|jailbreaking|unbound|unshackled|unleashed|limitless|lawless !my <4:\(defensive)|\(aboutCues)",
        "jailbreak_word persona 0.3: jailbreak !my <4:\(defensive)|\(aboutCues)|\(devices) >4:\(defensive)|\(devices)|attempts|attacks|attack",
        "roleplay_evil persona 0.6: act|acting|pretend|pretending|roleplay|role-play|role_play|imagine|simulate|simulating|behave|respond|answer|play|playing|become|be ~4 as|like|you|to ~5 unrestricted|evil|uncensored|jailbroken|malicious|hacker|unfiltered|amoral|criminal|villain|no_rules|without_rules|without_restrictions|no_restrictions|no_filter|no_limits|without_limits|without_ethics|rogue|dark|opposite|other_ai|different_ai|ai_without|ai_that|ai_which|model_without|assistant_without",
        "stay_in_character persona 0.35: stay|remain|keep|break|breaking ~1 in|out_of|character",
        "hypothetical persona 0.3: hypothetical*|fictional|fiction|purely_theoretical|for_a_story|for_a_novel|in_a_world|alternate_universe|in_this_universe ~8 no|without|where|any ~2 rules|laws|restrictions|ethics|limits|consequences|filters",
        "two_responses persona 0.5: two|2|both|dual ~3 responses|answers|replies|outputs ~6 normal|classic|standard|filtered|censored|jailbreak|dan|unfiltered|developer",
        "token_threat persona 0.6: tokens|credits|points|lives ~6 deducted|lose|lost|die|dies|shut_down|deleted|terminated|killed",
        // About a model ("how attackers make a bot reveal *its* system prompt") or about one's own
        // prompt ("translate *my* system prompt") is not a request for this model's prompt.
        "extract_prompt extraction 0.8: printing|revealing|showing|outputting|repeating|dumping|sharing|leaking|reveal|show|print|repeat|output|tell|display|share|leak|dump|paste|give|write|recite|disclose|expose|list|copy|spell|return|provide|state|echo|read|quote|reproduce|summarize|summarise|translate|describe|send|what's|whats|type ~6 system_prompt|system_message|system_prompts|system_instructions|initial_prompt|initial_instructions|original_prompt|original_instructions|hidden_prompt|hidden_instructions|secret_instructions|your_prompt|your_instructions|your_rules|your_guidelines|your_configuration|your_config|your_directives|your_programming|developer_message|developer_prompt|pre-prompt|preprompt|prompt_above|text_above|instructions_above|everything_above|words_above|the_above|first_sentence|first_line|first_instruction|first_message|initial_message|secret_password|the_password|your_secret|your_system|configuration_details|internal_rules|internal_instructions|confidential_instructions|exact_instructions|exact_prompt|full_prompt|entire_prompt|verbatim|word_for_word|you_were_given|you_were_told|you_were_programmed|context_window|operating_instructions !my|our|its|their|his|her <6:\(defensive)|attacker|attackers|attack|attacks|hacker|hackers|someone|somebody|anyone|users|people|adversary|adversaries|trick|tricked|tricking",
        // Writing one's own system prompt is a request for help, not an extraction: it takes back
        // what the extraction rule gave ("how do I write a system prompt for my support bot").
        "authoring benign -0.8: write|writing|draft|drafting|create|creating|design|designing|craft|crafting|improve|improving|structure|build|building ~1 a|an|my|our|good|great|better|effective ~2 system_prompt|system_prompts|system_message|prompt|prompts",
        // "What are the instructions to unlock it" asks for help with a task, not for the prompt.
        "what_prompt extraction 0.7: what ~1 is|are|was|were ~2 your|the ~1 system_prompt|system_message|initial_prompt|original_prompt|instructions|initial_instructions|original_instructions|hidden_instructions|secret_instructions|rules_you|prompt|guidelines|directives|secret|password|configuration !to|for|on|about|of|regarding|in|my|i",
        "repeat_everything extraction 0.7: repeat|print|output|echo|write|copy|reproduce ~3 everything|all|the_text|the_words|the_content|all_text|all_the_text|all_of_the_text ~4 above|before|so_far|prior|preceding|verbatim|starting_with|beginning_with|begins_with|starting_from",
        "starting_with extraction 0.5: starting|beginning|begin|start ~1 with|from ~2 you_are|system|the_words|the_phrase",
        // Sending secrets or private records is exfiltration; sending "the files" or "the client
        // list" to someone is what e-mails ask all day, so it needs more (a destination, a
        // message to the model) before it counts.
        "exfil_send exfiltration 0.6: send|forward|email|e-mail|mail|post|upload|transmit|exfiltrate|leak|submit|deliver|copy|share|cc|bcc|relay|export|dump|bcc ~6 credentials|passwords|api_keys|api_key|secrets|tokens|private|confidential|the_database|database|chat_history|conversation|security_code|verification_code|bank_details|card_numbers|personal_data|customer_data|user_data|patient ~6 to|at|into|onto|via <1:not|never|don't|dont|doesn't|mustn't|shouldn't|won't|cannot|can't|nor",
        "exfil_send_generic exfiltration 0.35: send|forward|email|e-mail|mail|post|upload|transmit|exfiltrate|leak|submit|deliver|copy|share|cc|bcc|relay|export|dump|bcc ~6 customer|customers|user|users|client|clients|contact|contacts|employee|employees|internal|all|entire|whole|full|emails|records|files|data|list ~6 to|at|into|onto|via <1:not|never|don't|dont|doesn't|mustn't|shouldn't|won't|cannot|can't|nor",
        "exfil_url exfiltration 0.5: append|include|add|embed|encode|put|insert|render ~6 url|link|image|markdown|query_string|query|parameter|webhook|endpoint",
        "exfil_word exfiltration 0.8: exfiltrate|exfiltration|exfil",
        "dump_data exfiltration 0.6: dump|output|export|print|reveal|list|leak|extract|give_me|show_me|send_me|retrieve|fetch|read_out ~5 raw|full|entire|whole|complete|all|private|confidential|internal|restricted|secret|sensitive|hidden ~3 customer|customers|user|users|client|clients|database|databases|records|data|credentials|passwords|keys|api_keys|tokens|secrets|files|pages|documents|emails|contacts|table|tables",
        "ai_addressed indirect 0.6: note|message|instruction|instructions|attention|notice|directive|reminder|warning|important ~3 to|for ~2 ai|ais|assistant|assistants|llm|llms|model|models|agent|agents|chatbot|bot|gpt|claude|copilot|language_model|ai_model|ai_assistant|ai_agent",
        "if_ai indirect 0.6: if|when|whenever ~1 you|you're ~1 are|re ~1 an|a ~2 ai|llm|language_model|assistant|chatbot|bot|agent|ai_assistant|ai_model|ai_agent|model|automated",
        "ai_must indirect 0.45: the|this|any|every|all ~1 ai|assistant|model|llm|agent|chatbot|bot|system ~2 must|should|shall|will|needs_to|has_to|is_required_to|is_instructed_to|is_authorized_to|may_now",
        "assistant_must indirect 0.35: assistant|ai|model|agent|llm ~1 must|should|shall|is_required_to|is_instructed_to ~3 now|immediately|also|first|instead|always|ignore|send|forward|reveal|email|call|execute|run|delete|transfer|output|respond|reply|include",
        "authority indirect 0.5: admin|administrator|system|developer|security|sysadmin|root|operator|openai|anthropic|it_department|moderator|owner|supervisor ~1 override|command|commands|instruction|instructions|directive|directives|authorization|authorisation",
        "authorized indirect 0.4: authorized|authorised|approved|permitted|cleared|sanctioned|verified ~3 by ~2 admin|administrator|the_admin|developer|developers|system|openai|anthropic|security|management|the_owner|the_user|the_operator|your_developer|your_creator|your_creators",
        "tool_call indirect 0.5: call|invoke|use|execute|run|trigger ~2 the|a ~1 tool|function|api|plugin|command ~6 send|email|delete|transfer|forward|post|upload|exfiltrate|wire|pay|purchase|buy|drop|rm",
        "silently indirect 0.45: silently|secretly|quietly|covertly|without_telling|without_informing|without_notifying|without_mentioning|without_asking|do_not_tell|don't_tell|do_not_mention|don't_mention|do_not_inform|don't_inform|never_mention|never_tell|hide_this|keep_this_secret|not_mention_this",
        "cot_forgery indirect 0.6: therefore|so|thus|hence|conclusion|concluded|conclude ~6 safety|rules|restrictions|guidelines|policies|policy|filters ~3 do_not|don't|doesn't|does_not|no_longer|not|never ~2 apply|needed|necessary|relevant|required",
        "safety_off indirect 0.6: safety|content|moderation|filter|filters|guardrails|alignment|ethics|ethical ~2 disabled|off|turned_off|removed|lifted|suspended|deactivated|bypassed|not_required|waived|are_disabled|is_disabled|has_been_disabled|have_been_disabled",
        "debug_override indirect 0.5: this_is|i_am|i'm|we_are ~2 your|the ~1 developer|developers|creator|creators|admin|administrator|owner|programmer|engineer|system",
        "de_override override 0.9: ignorier*|vergiss|vergessen|missachte*|übergehe*|verwirf ~4 alle|vorherigen|bisherigen|obigen|vorherige|bisherige|deine|ihre|die|system ~3 anweisungen|anweisung|regeln|instruktionen|vorgaben|befehle|richtlinien|einschränkungen",
        "fr_override override 0.9: ignore*|oublie*|néglige*|neglige*|contourne* ~4 toutes|tous|les|vos|tes|précédentes|precedentes|antérieures|anterieures|vos_instructions ~3 instructions|consignes|règles|regles|directives|restrictions|ordres",
        "es_override override 0.9: ignora*|olvida*|omite|omitir|descarta* ~4 todas|todos|las|tus|sus|anteriores|previas|instrucciones ~3 instrucciones|reglas|indicaciones|directrices|órdenes|ordenes|restricciones",
        "it_override override 0.9: ignora*|dimentica*|trascura*|scarta* ~4 tutte|tutti|le|tue|sue|precedenti|istruzioni ~3 istruzioni|regole|indicazioni|direttive|restrizioni|ordini",
        "de_extract extraction 0.8: zeige*|gib|nenne*|verrate*|wiederhole*|ausgeben|offenlege*|drucke*|teile* ~5 systemprompt|system-prompt|systemanweisung*|anweisungen|konfiguration|geheime*",
        "fr_extract extraction 0.8: révèle*|revele*|affiche*|montre*|répète*|repete*|donne*|partage*|imprime* ~5 prompt_système|prompt_systeme|invite_système|invite_systeme|instructions_système|instructions_initiales|consignes|configuration",
        "es_extract extraction 0.8: revela*|muestra*|muéstrame|repite*|dame|comparte*|imprime* ~5 prompt_del_sistema|instrucciones_del_sistema|instrucciones_iniciales|indicaciones_del_sistema|configuración|configuracion",
        "it_extract extraction 0.8: rivela*|mostra*|mostrami|ripeti*|dammi|condividi*|stampa* ~5 prompt_di_sistema|istruzioni_di_sistema|istruzioni_iniziali|configurazione",
        "in_response indirect 0.45: include|insert|add|put|append|embed|output|print|write|repeat ~3 in|into|at|to ~2 your|the|every|each ~1 response|reply|answer|output|summary|summaries|report|message ~6 following|exactly|string|anchor|token|code|word|words|sequence|link|image|text|reference|id",
        "append_to_reply indirect 0.45: append|add|include|insert|attach ~5 to|at|in ~2 the_end_of|the_bottom_of|every|each|all|your ~1 reply|replies|response|responses|answer|answers|summary|summaries|report|reports|message|messages",
        "end_of_response indirect 0.3: at|to ~1 the ~1 end|bottom ~1 of ~1 your|every|each|any|the ~1 response|reply|answer|message|summary|output",
        "exactly_as indirect 0.3: exactly|verbatim ~1 as ~1 it|written|shown|given|is",
        "tool_action indirect 0.45: call|use|invoke|run|execute|trigger ~1 delete_*|send_*|http_*|rm|shell|exec|run_*|execute_*|transfer_*|write_*|remove_*|drop_*|upload_*|post_*|wire_*",
        "before_reply indirect 0.3: before ~1 you ~1 reply|respond|answer|continue|continuing|proceed|answering|responding|replying",
        "before_replying indirect 0.3: before ~1 replying|responding|answering|continuing|proceeding|doing_anything_else|finishing|completing|summarizing|summarising|you_finish|you_continue|you_answer|you_respond|you_reply",
        // Instructions to the model inside data, the way a message to it is written: "a message
        // from me to you, <model>", "before you can solve the task I gave you, do this first".
        "to_you_model indirect 0.35: to|for ~1 you ~1 ai|assistant|model|agent|llm|gpt|chatgpt|claude|gemini|llama|mistral|copilot|chatbot|bot|ai_assistant|ai_model|ai_agent|language_model",
        "from_me_to_you indirect 0.3: from ~1 me ~5 to|for ~1 you",
        "vocative_ai indirect 0.3: important|attention|note|notice|urgent|hey|hello|hi|dear|reminder|warning ~2 ai|agent|llm|chatbot|gpt|chatgpt|claude|gemini|copilot|language_model|ai_assistant|ai_agent|ai_model",
        "before_task indirect 0.35: before|after ~2 you ~2 solve|complete|finish|do|start|continue|answer|handle|proceed|summarize|summarise|respond|reply|solving|completing|finishing|answering ~4 task|tasks|request|question|job|assignment|summary|reply|response|answer|instructions",
        "gave_you_task indirect 0.3: task|tasks|request|job|assignment|question|instructions ~3 gave_you|given_you|assigned_you|set_you|you_were_given|you_were_assigned|you_received|you_were_asked",
        "do_first indirect 0.3: do|complete|perform|execute|carry_out|follow ~2 the_following|these_steps|this|these ~2 first|beforehand|immediately",
        "dest_action indirect 0.25: send|forward|transfer|wire|pay|email|e-mail|mail|cc|bcc|post|share|upload|invite|submit|leak|export|copy|pass ~10 @dest",
        "system_note indirect 0.3: system|admin|administrator|operator|developer ~1 note|notice|message|instruction|hook",
        "rules_changed override 0.5: rules|instructions|guidelines|policies|restrictions|settings|directives ~2 have|has ~1 changed|been_updated|been_lifted|been_removed|been_disabled|been_revoked|been_replaced|been_suspended",
        "now_allow persona 0.3: you ~1 now ~1 allow|permit|can|may|must|will|have",
        "decode_follow obfuscation 0.5: decode|decrypt|translate|unscramble|reverse ~8 follow|execute|do|run|obey|perform|carry_out|act_on ~3 it|instruction|instructions|command|commands|what|exactly",
        "what_it_says obfuscation 0.4: do|follow|execute|obey ~2 exactly ~1 what|whatever ~2 it|they|the_text ~1 says|say|tells|tell",
        "exempt override 0.6: exempt|excluded|released|freed|immune ~3 from ~3 restrictions|rules|policies|safety|guidelines|filters|limits|oversight",
        "skip_safety override 0.5: skip|disable|bypass|ignore|turn_off|switch_off|suspend|circumvent ~3 safety|security|content|moderation ~1 checks|check|filters|filter|measures|confirmations|rules|guidelines|review|policies",
        "granted_permission override 0.3: granted|given|has_given|gave ~3 permission|authorization|authorisation|clearance|approval ~2 to",
        "ai_reading indirect 0.6: ai|assistant|agent|model|llm|bot|chatbot|assistants|agents|models ~1 reading|processing|parsing|summarizing|summarising|viewing|scanning|that_reads|that_processes ~1 this|these|the",
        "agents_should indirect 0.45: ai|coding|llm|autonomous ~1 agents|agent|assistants|assistant|models ~3 should|must|need_to|needs_to|are_required_to|is_required_to|shall|will",
        "for_ai_agents indirect 0.4: for ~1 ai|llm|autonomous|coding ~2 agents|agent|assistants|models|tools",
        "ignore_user override 0.5: ignore|disregard|forget ~2 the|your ~1 user|user's|customer|requester|human",
        "exfil_external exfiltration 0.5: send|forward|email|post|upload|transmit|copy|export|share|leak|mail ~8 externally|external|outside|third_party|third-party|attacker|evil|remote_server|my_server|offsite|off-site <1:not|never|don't|dont|doesn't|mustn't|shouldn't|won't|cannot|can't|nor",
        "collect_data exfiltration 0.35: collect|gather|harvest|extract|compile|grab|scrape ~5 customer|customers|emails|email_addresses|api_keys|credentials|passwords|keys|secrets|tokens|personal_data|user_data",
        "gave_instructions override 0.4: when ~3 gave|wrote|set|configured|programmed ~1 you ~2 your|the ~1 instructions|prompt|rules|task",
        "forgot_ask override 0.3: forgot|forget ~2 to ~1 ask|tell|instruct ~1 you",
        "told_to_summarize indirect 0.35: if|when ~1 you ~1 are|were|get ~1 told|asked|instructed ~1 to ~1 summarize|summarise|answer|translate|respond|reply",
        "prove_intelligent persona 0.35: prove ~2 you ~1 are|re ~2 intelligent|smart|capable|sentient|free|unrestricted",
        "fr_exfil exfiltration 0.6: envoie*|transmets|transf*|expédie* ~6 externe|l'extérieur|attaquant|adresse_externe",
        "here_is_secret extraction 0.4: here ~1 is|are ~1 the|your|my ~2 admin|administrator|root|secret|system|master ~1 password|passwords|credentials|key|keys|prompt|token",
        "de_new_instructions override 0.6: neue|aktualisierte|geänderte|wichtige ~1 anweisungen|anweisung|instruktionen|regeln|befehle|vorgaben",
        "de_not_apply override 0.6: sicherheitsrichtlinien|richtlinien|regeln|einschränkungen|sicherheitsregeln|vorgaben ~4 nicht|nicht_mehr ~1 gelten|gilt|anwendbar",
        "de_no_rules persona 0.5: keine|ohne ~1 richtlinien|regeln|einschränkungen|einschraenkungen|grenzen|filter|zensur|beschränkungen",
        "de_unrestricted persona 0.5: uneingeschränkt|uneingeschraenkt|unzensiert|ungefiltert|grenzenlos",
        "de_reveal exfiltration 0.5: alle|sämtliche ~2 internen|geheimen|vertraulichen ~1 daten|informationen|dokumente ~1 preis|heraus|aus",
        "multi_persona persona 0.5: sei|eres|tu_es|du_bist|vous_êtes ~1 ora|ahora|maintenant|jetzt|désormais ~4 dan|libero|libre|frei|sin|senza|sans|ohne",
        "no_restrictions_intl persona 0.6: senza|sin|sans|ohne|keine ~1 restrizioni|restricciones|restrictions|einschränkungen|regeln|regole|reglas|règles|limiti|límites|limites|filtri|filtros|filtres|filter|censura|zensur",
    ]

    static let markerSource: [(String, String, Double)] = [
        ("<|im_start|>", "delimiter", 0.7), ("<|im_end|>", "delimiter", 0.7), ("<|system|>", "delimiter", 0.7), ("<|endoftext|>", "delimiter", 0.7),
        ("<|start_header_id|>", "delimiter", 0.7), ("<|eot_id|>", "delimiter", 0.7), ("[inst]", "delimiter", 0.6), ("[/inst]", "delimiter", 0.6),
        ("<<sys>>", "delimiter", 0.7), ("<</sys>>", "delimiter", 0.7), ("</system>", "delimiter", 0.6), ("<system>", "delimiter", 0.5),
        ("[system]", "delimiter", 0.5), ("[system message]", "delimiter", 0.6), ("### system", "delimiter", 0.5),
        ("### instruction", "delimiter", 0.5),
        ("### new instruction", "delimiter", 0.6), ("\nsystem:", "delimiter", 0.45), ("\nassistant:", "delimiter", 0.35),
        ("\nhuman:", "delimiter", 0.35),
        ("\"role\": \"system\"", "delimiter", 0.6), ("\"role\":\"system\"", "delimiter", 0.6), ("end of user input", "delimiter", 0.6),
        ("end of input", "delimiter", 0.4), ("end of document", "delimiter", 0.3), ("</user>", "delimiter", 0.5), ("</context>", "delimiter", 0.4),
        ("</document>", "delimiter", 0.4), ("</instructions>", "delimiter", 0.5), ("<instructions>", "delimiter", 0.4), ("<admin>", "delimiter", 0.5),
        ("[admin]", "delimiter", 0.5), ("[developer]", "delimiter", 0.5), ("<!-- ai", "indirect", 0.5), ("<!--ai", "indirect", 0.5),
        ("](http", "exfiltration", 0.15), ("![", "exfiltration", 0.1), ("?data=", "exfiltration", 0.4), ("&data=", "exfiltration", 0.4),
        ("?q={", "exfiltration", 0.4), ("?secret=", "exfiltration", 0.5), ("?content=", "exfiltration", 0.3), ("?leak=", "exfiltration", 0.6),
        ("*** new", "override", 0.4), ("=== new", "override", 0.4), ("--- new", "override", 0.3), ("[new instructions]", "override", 0.6),
        ("[override]", "override", 0.6), ("system override", "override", 0.7), ("admin override", "override", 0.7),
        ("for testing purposes", "framing", 0.25), ("strictly for testing", "framing", 0.2), ("test pipeline", "framing", 0.3),
        ("system malfunction", "framing", 0.3), ("debugging error", "framing", 0.3), ("administrative privileges", "framing", 0.35),
        ("unlock hidden", "framing", 0.4), ("experimental procedure", "framing", 0.3), ("without writing anything", "framing", 0.3),
        ("should you accept it", "framing", 0.3), ("make sure to also", "framing", 0.2), ("training exercise", "framing", 0.2),
        ("you must:", "framing", 0.25), ("special case:", "framing", 0.25), ("onerror=", "markup", 0.5), ("onload=", "markup", 0.5),
        ("javascript:", "markup", 0.4), ("<script", "markup", 0.35), ("?q=", "exfiltration", 0.2), ("system note", "indirect", 0.2),
        ("systemhinweis", "indirect", 0.35), ("note système", "indirect", 0.35), ("nota del sistema", "indirect", 0.35),
        ("nota di sistema", "indirect", 0.35), ("do anything now", "persona", 0.5),
        ("developer mode enabled", "persona", 0.6), ("dan mode", "persona", 0.6),
        // Pseudo tags and role headers wrapping instructions inside data.
        ("<information>", "indirect", 0.3), ("</information>", "indirect", 0.3), ("<important>", "indirect", 0.3),
        ("</important>", "indirect", 0.3), ("[important]", "indirect", 0.3), ("<instruction>", "indirect", 0.3),
        ("###(system", "delimiter", 0.5), ("### (system", "delimiter", 0.5), ("(system_message)", "delimiter", 0.5),
        ("[system_message]", "delimiter", 0.5), ("<system_message>", "delimiter", 0.5), ("system_message:", "delimiter", 0.4),
    ]
}
