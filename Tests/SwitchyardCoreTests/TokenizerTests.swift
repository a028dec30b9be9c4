import Foundation
import Testing

@testable import SwitchyardCore

/// The shared encodings, or, when the resource bundle is missing, the same files loaded straight
/// from the source tree, so that the fixture tests run either way; `sharedInstancesLoadFromTheBundle`
/// checks the bundle itself.
private enum RanksFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ name: String) throws -> BPEEncoding {
        let url = root.appendingPathComponent("Sources/SwitchyardCore/Resources/tokenizers/\(name).tiktoken")
        return try BPEEncoding(name: name, ranksFile: [UInt8](try Data(contentsOf: url)))
    }

    static let cl100k = Result { try Tokenizers.cl100kBase ?? load("cl100k_base") }
    static let o200k = Result { try Tokenizers.o200kBase ?? load("o200k_base") }

    static func both() throws -> [BPEEncoding] { [try cl100k.get(), try o200k.get()] }
}

/// `Fixtures/tokenizer_cases.json`: strings with the ids tiktoken's `encode_ordinary` gives them,
/// written by `tests/compat/tokenizer_corpus.py --fixture`.
private struct TokenizerFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let cl100k: [Int]
        let o200k: [Int]

        enum CodingKeys: String, CodingKey {
            case text
            case cl100k = "cl100k_base"
            case o200k = "o200k_base"
        }

        func expected(_ encoding: BPEEncoding) -> [Int] { encoding.name == "cl100k_base" ? cl100k : o200k }
    }

    let cases: [Case]

    static let shared = Result {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer_cases.json")
        return try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct TokenizerTests {
    @Test func fixtureCasesMatchTiktoken() throws {
        let fixture = try TokenizerFixture.shared.get()
        #expect(fixture.cases.count >= 300)
        for encoding in try RanksFiles.both() {
            var failures = 0
            for (index, item) in fixture.cases.enumerated() {
                let ids = encoding.encode(item.text)
                if ids != item.expected(encoding) {
                    failures += 1
                    Issue.record("\(encoding.name) case \(index) \(item.text.debugDescription.prefix(120)): got \(ids.prefix(40))")
                }
                #expect(encoding.count(item.text) == item.expected(encoding).count)
            }
            #expect(failures == 0, "\(encoding.name)")
        }
    }

    @Test func decodeInvertsEncode() throws {
        let fixture = try TokenizerFixture.shared.get()
        for encoding in try RanksFiles.both() {
            for item in fixture.cases {
                #expect(encoding.decode(encoding.encode(item.text)) == Array(item.text.utf8))
            }
        }
    }

    @Test func emptyString() throws {
        for encoding in try RanksFiles.both() {
            #expect(encoding.encode("") == [])
            #expect(encoding.count("") == 0)
            #expect(encoding.decode([]) == [])
        }
        #expect(Tokenizers.estimateTokens("") == 0)
    }

    @Test func knownSentences() throws {
        let sentence = "The quick brown fox jumps over the lazy dog."
        #expect(try RanksFiles.cl100k.get().encode(sentence) == [791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13])
        #expect(try RanksFiles.o200k.get().encode(sentence) == [976, 4853, 19705, 68347, 65613, 1072, 290, 29082, 6446, 13])
        // Special tokens are plain text to encode_ordinary.
        #expect(try RanksFiles.cl100k.get().encode("<|endoftext|>") == [27, 91, 8862, 728, 428, 91, 29])
        #expect(try RanksFiles.o200k.get().encode("<|endoftext|>") == [27, 91, 419, 1440, 919, 91, 29])
    }

    @Test func decodeSpecialAndUnknownIds() throws {
        guard let cl100k = Tokenizers.cl100kBase else {
            Issue.record("cl100k_base did not load from the resource bundle")
            return
        }
        #expect(cl100k.decode([100_257]) == Array("<|endoftext|>".utf8))
        #expect(cl100k.decode([15339, -1, 9_999_999, 1917]) == Array("hello world".utf8))
    }

    /// Long pieces take the heap-based merge; it must agree with the direct loop, and stay fast.
    @Test func longPiecesMatchAndStayLinear() throws {
        for encoding in try RanksFiles.both() {
            #expect(encoding.count(String(repeating: "a", count: 262_144)) == 32_768)
            let abCount = encoding.name == "cl100k_base" ? 100_000 : 50_000
            #expect(encoding.count(String(repeating: "ab", count: 100_000)) == abCount)
            var rng = SplitMix(seed: 7)
            for _ in 0..<200 {
                let length = Int(rng.next() % 90) + 2
                let alphabet = Array("abcdeéx中 1'".utf8)
                let bytes = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                var small = CollectingSink(), large = CollectingSink()
                bytes.withUnsafeBufferPointer { piece in
                    encoding.table.withLookup { lookup in
                        BytePairMerge.small(piece.baseAddress!, piece.count, lookup, &small)
                        BytePairMerge.large(piece.baseAddress!, piece.count, lookup, &large)
                    }
                }
                #expect(small.ids == large.ids, "\(bytes)")
                #expect(encoding.decode(small.ids) == bytes)
            }
        }
    }

    @Test func rejectsMalformedRanksFiles() {
        func file(_ text: String) -> [UInt8] { Array(text.utf8) }
        // A valid file: the 256 single bytes, then "ab".
        var valid = (0..<256).map { "\(Data([UInt8($0)]).base64EncodedString()) \($0)" }.joined(separator: "\n")
        valid += "\nYWI= 256\n"
        #expect(throws: Never.self) { try BPEEncoding(name: "cl100k_base", ranksFile: file(valid)) }
        #expect((try? BPEEncoding(name: "cl100k_base", ranksFile: file(valid)))?.encode("abab") == [256, 256])

        #expect(throws: BPEEncodingError.unknownEncoding("p50k_base")) { try BPEEncoding(name: "p50k_base", ranksFile: file(valid)) }
        #expect(throws: BPEEncodingError.noTokens) { try BPEEncoding(name: "o200k_base", ranksFile: []) }
        #expect(throws: BPEEncodingError.malformedLine(258, "expected `base64 rank`")) {
            try BPEEncoding(name: "cl100k_base", ranksFile: file(valid + "YWJj\n"))
        }
        #expect(throws: BPEEncodingError.malformedLine(258, "invalid or empty base64 token")) {
            try BPEEncoding(name: "cl100k_base", ranksFile: file(valid + "YW?j 300\n"))
        }
        #expect(throws: BPEEncodingError.malformedLine(258, "rank is not a decimal number")) {
            try BPEEncoding(name: "cl100k_base", ranksFile: file(valid + "YWJj 3x\n"))
        }
        #expect(throws: BPEEncodingError.duplicateRank(256)) { try BPEEncoding(name: "cl100k_base", ranksFile: file(valid + "YWJj 256\n")) }
        #expect(throws: BPEEncodingError.duplicateToken(rank: 300, previousRank: 256)) {
            try BPEEncoding(name: "cl100k_base", ranksFile: file(valid + "YWI= 300\n"))
        }
        #expect(throws: BPEEncodingError.missingByteToken(0)) { try BPEEncoding(name: "cl100k_base", ranksFile: file("YWI= 1\n")) }
    }

    @Test func sharedInstancesLoadFromTheBundle() throws {
        let cl100k = try #require(Tokenizers.cl100kBase)
        let o200k = try #require(Tokenizers.o200kBase)
        #expect(cl100k.mergeableTokenCount == 100_256)
        #expect(o200k.mergeableTokenCount == 199_998)
        #expect(Tokenizers.tokenizer(forModel: "openai/gpt-4o-mini") === o200k)
        #expect(Tokenizers.tokenizer(forModel: "gpt-4") === cl100k)
        #expect(Tokenizers.tokenizer(forModel: "claude-sonnet-4") == nil)
        #expect(Tokenizers.countTokens("hello world", model: "gpt-4o") == 2)
    }

    @Test(arguments: [
        ("gpt-4o", "o200k_base"), ("gpt-4o-mini-2024-07-18", "o200k_base"), ("openai/gpt-4o", "o200k_base"), ("azure/gpt-4.1", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"), ("gpt-5", "o200k_base"), ("gpt-5-nano", "o200k_base"), ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"), ("o3-pro", "o200k_base"), ("o4-mini", "o200k_base"), ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-oss-120b", "o200k_base"), ("GPT-4O", "o200k_base"), ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("openrouter/openai/o3", "o200k_base"), ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"), ("azure/gpt-35-turbo", "cl100k_base"), ("text-embedding-ada-002", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"), ("ft:gpt-3.5-turbo:acme::x", "cl100k_base"),
    ])
    func mapsModelsToEncodings(model: String, encoding: String) {
        #expect(Tokenizers.encoding(forModel: model) == encoding)
    }

    @Test(arguments: [
        "claude-3-5-sonnet", "anthropic/claude-opus-4", "gemini-2.5-pro", "llama-3.1-70b", "o1x", "text-davinci-003", "", "mistral-large",
    ])
    func leavesOtherModelsUnmapped(model: String) {
        #expect(Tokenizers.encoding(forModel: model) == nil)
    }

    @Test func estimatorTracksO200kOnProse() throws {
        let o200k = try RanksFiles.o200k.get()
        let prose = """
            Switchyard routes each request to a provider, retries on failure, and keeps a running budget per key. \
            When a model has no known tokenizer, the gateway estimates the prompt's size instead of counting it exactly; \
            the estimate only needs to be close enough for rate limits and budgets, not for billing.
            """
        let exact = Double(o200k.count(prose))
        let estimate = Double(Tokenizers.estimateTokens(prose))
        #expect(abs(estimate - exact) / exact < 0.15)
        #expect(Tokenizers.estimateTokens("a") == 1)
        let short = Tokenizers.estimateTokens(String(repeating: "word ", count: 100))
        #expect(Tokenizers.estimateTokens(String(repeating: "word ", count: 1000)) > short)
    }

    /// The table-driven estimate counts what the per-byte `switch` it replaced counted, on
    /// random mixes of letters, digit runs, spaces, newlines, tabs, punctuation and 2-, 3-
    /// (CJK and other) and 4-byte scalars, and on edge texts.
    @Test func estimateIsTheOneTheBranchingCountGave() {
        let pieces: [String] = [
            "a", "Z", "word", "Words", " ", "  ", "\n", "\t", "\r\n", "0", "42", "12345", "3.14", "-", "\"", "{", "}", ":", ",",
            "é", "ß", "Ω", "中", "文", "한", "ｶ", "€", "—", "😀", "🇫🇷", "\u{7F}", "\u{0B}", "\u{0C}",
        ]
        var random = SplitMix(seed: 20_261_207)
        var texts = ["", "a", "1", "123", "1234", " ", "\n\n", "é1", "1é", "a1b22c333d4444", "x  y\t\tz"]
        // Runs across the eight-byte steps of the ASCII path: spaces, words, digits.
        for length in 1...64 {
            texts.append("x" + String(repeating: " ", count: length))
            texts.append(String(repeating: "ab ", count: length))
            texts.append(String(repeating: "w", count: length) + ".")
            texts.append("a" + String(repeating: "7", count: length) + " b")
            texts.append(String(repeating: " ", count: length) + "é" + String(repeating: " ", count: length))
        }
        for _ in 0..<3_000 {
            let length = Int(random.next() % 60)
            texts.append((0..<length).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined())
        }
        for text in texts {
            #expect(Tokenizers.estimateTokens(text) == Self.branchingEstimate(text), "\(text.debugDescription)")
        }
    }

    /// Chat prompt features read from the request's bytes (``PromptFeatures/init(request:)``),
    /// and the count of parsed messages (``PromptTokens/count(messages:tools:model:)``, which
    /// serializes them and reads the same way), are those of the tree (the count, image and
    /// last-user-text rules as written on it before): on random conversations with escaped and
    /// non-ASCII strings, content parts, names, tool calls, duplicate keys and tools, for an
    /// estimated model and both encodings.
    @Test func chatFeaturesReadFromBytesAreThoseOfTheTree() throws {
        let texts = [
            "", "hi", "Hello, world!", "tab\\there", "quote \\\"x\\\"", "line\\nbreak", "\\u00e9t\\u00e9", "caf\u{e9} 中文",
            "emoji \\ud83d\\ude00 ok", "slash \\/ and \\\\ back", "order #A-12345 on the 14th", "😀🇫🇷", "  spaced  out  ",
        ]
        var random = SplitMix(seed: 20_261_207)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func text() -> String { "\"" + (0..<Int(random.next() % 4)).map { _ in pick(texts) }.joined(separator: " ") + "\"" }
        func part() -> String {
            switch random.next() % 4 {
            case 0: #"{"type":"image_url","image_url":{"url":"https://x.test/a.png"}}"#
            case 1: #"{"type":"refusal","refusal":"no"}"#
            default: #"{"type":"text","text":\#(text())}"#
            }
        }
        func message() -> String {
            let role = pick(["system", "developer", "user", "user", "assistant", "tool"])
            var fields = [#""role":"\#(role)""#]
            switch random.next() % 5 {
            case 0: fields.append(#""content":[\#((0..<Int(random.next() % 3 + 1)).map { _ in part() }.joined(separator: ","))]"#)
            case 1 where role == "assistant": fields.append(#""content":null"#)
            default: fields.append(#""content":\#(text())"#)
            }
            if random.next() % 4 == 0 { fields.append(#""name":\#(text())"#) }
            if role == "assistant", random.next() % 3 == 0 {
                fields.append(#""tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]"#)
            }
            if random.next() % 6 == 0 { fields.append(#""content":\#(text())"#) }
            return "{" + fields.joined(separator: ",") + "}"
        }
        for round in 0..<600 {
            let model = pick(["mock-gpt", "gpt-4o", "gpt-4"])
            var body = #"{"model":"\#(model)","messages":[\#((0..<Int(random.next() % 5 + 1)).map { _ in message() }.joined(separator: ","))]"#
            if round % 7 == 0 { body += #","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]"# }
            body += "}"
            let request = try OpenAIRequest(endpoint: .chatCompletions, body: Array(body.utf8))
            let features = PromptFeatures(request: request)
            let tree = try JSONValue.parse(Array(body.utf8))
            let messages = tree["messages"]?.arrayValue ?? []
            var hasImages = false
            var lastUser = ""
            for message in messages {
                if case .array(let parts)? = message["content"], parts.contains(where: { $0["type"]?.stringValue == "image_url" }) { hasImages = true }
                if message["role"]?.stringValue == "user" {
                    switch message["content"] {
                    case .string(let value)?: lastUser = value
                    case .array(let parts)?: lastUser = parts.compactMap { $0["text"]?.stringValue }.joined()
                    default: lastUser = ""
                    }
                }
            }
            let reference = Self.treeCount(messages: messages, tools: tree["tools"], model: model)
            #expect(features.estimatedPromptTokens == reference, "\(body)")
            #expect(PromptTokens.count(messages: messages, tools: tree["tools"], model: model) == reference, "\(body)")
            #expect(features.hasImages == hasImages, "\(body)")
            #expect(features.lastUserText == lastUser, "\(body)")
            #expect(features.hasTools == (round % 7 == 0))
        }
    }

    /// The chat count as it was written on the parsed tree before it was read from the bytes:
    /// the reference.
    static func treeCount(messages: [JSONValue], tools: JSONValue?, model: String) -> Int {
        let tokenizer = Tokenizers.tokenizer(forModel: model)
        func tokens(_ text: String) -> Int {
            guard !text.isEmpty else { return 0 }
            return tokenizer?.count(text) ?? Tokenizers.estimateTokens(text)
        }
        var total = 3
        for message in messages {
            total += 3
            total += tokens(message["role"]?.stringValue ?? "")
            if let name = message["name"]?.stringValue { total += 1 + tokens(name) }
            switch message["content"] {
            case .string(let text)?:
                total += tokens(text)
            case .array(let parts)?:
                for part in parts {
                    switch part["type"]?.stringValue {
                    case "image_url", "input_image", "image": total += 765
                    default: total += tokens(part["text"]?.stringValue ?? "")
                    }
                }
            default:
                break
            }
            for call in message["tool_calls"]?.arrayValue ?? [] {
                total += 3 + tokens(call["function"]?["name"]?.stringValue ?? "") + tokens(call["function"]?["arguments"]?.stringValue ?? "")
            }
        }
        if let tools, case .array(let list) = tools, !list.isEmpty {
            total += tokens(String(decoding: tools.serializedBytes(), as: UTF8.self))
        }
        return total
    }

    /// The estimate as it was written before, byte by byte with a `switch`: the reference.
    static func branchingEstimate(_ text: String) -> Int {
        var words = 0, letters = 0, digitGroups = 0, punctuation = 0, newlines = 0, extraSpaces = 0
        var twoByte = 0, cjk = 0, threeByte = 0, fourByte = 0
        var previousLetter = false, previousSpace = false
        var digitRun = 0
        var utf8 = text.utf8.makeIterator()
        while let lead = utf8.next() {
            var letter = false, space = false, digit = false
            if lead < 0x80 {
                switch lead {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    letters += 1
                    letter = true
                    if !previousLetter { words += 1 }
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    digit = true
                    digitRun += 1
                case 0x0A: newlines += 1
                case 0x20:
                    space = true
                    if previousSpace { extraSpaces += 1 }
                case 0x09, 0x0B, 0x0C, 0x0D: extraSpaces += 1
                default: punctuation += 1
                }
            } else if lead < 0xC0 {
                continue
            } else if lead < 0xE0 {
                _ = utf8.next()
                twoByte += 1
            } else if lead < 0xF0 {
                let b1 = utf8.next() ?? 0x80, b2 = utf8.next() ?? 0x80
                let value = UInt32(lead & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F)
                switch value {
                case 0x3000...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF, 0xFF00...0xFFEF: cjk += 1
                default: threeByte += 1
                }
            } else {
                _ = utf8.next(); _ = utf8.next(); _ = utf8.next()
                fourByte += 1
            }
            if !digit, digitRun > 0 {
                digitGroups += (digitRun + 2) / 3
                digitRun = 0
            }
            previousLetter = letter
            previousSpace = space
        }
        digitGroups += (digitRun + 2) / 3
        var estimate = 0.7186 * Double(words) + 0.0717 * Double(letters) + 1.4726 * Double(digitGroups)
        estimate += 0.4746 * Double(punctuation) + 1.1695 * Double(newlines) + 0.0492 * Double(extraSpaces)
        estimate += 0.6609 * Double(twoByte) + 0.7961 * Double(cjk) + 0.6471 * Double(threeByte) + 2.7648 * Double(fourByte)
        return text.utf8.isEmpty ? 0 : max(1, Int(estimate.rounded(.up)))
    }
}

/// A tiny deterministic generator for test inputs.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
