import Testing

@testable import SwitchyardCore

@Suite struct JSONTests {
    /// Numbers are read in place when one multiplication or division is exact (most of them);
    /// every value must be bit for bit what the full text conversion gives, in every form JSON
    /// allows (signs, leading and trailing zeros, fractions, exponents, long mantissas, the
    /// edges of the fast path: 2^53, 10^22, 19 digits).
    @Test func numbersAreReadExactlyAsTheFullConversionReadsThem() throws {
        var texts = [
            "0", "-0", "0.0", "-0.0", "0e0", "1", "-1", "10", "0.1", "0.2", "0.3", "0.30000000000000004", "1e22", "1e23", "1e-22", "1e-23",
            "9007199254740992", "9007199254740993", "-9007199254740993", "1234567890123456789", "12345678901234567890", "0.000000000000000000001",
            "1E5", "1e+5", "2.5E-3", "-1.7976931348623157e308", "2.2250738585072014e-308", "5e-324", "123.456e-7", "100000000000000000000000",
            "0.0261640600", "-0.07788439", "3.141592653589793", "2.718281828459045e0", "6.02214076e23", "1.602176634e-19", "0.1e1", "00.5e-0",
        ]
        texts.removeAll { $0.hasPrefix("00") }  // not JSON
        var random = SplitMix64(seed: 20261207)
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...21, using: &random)
            var mantissa = String(Int.random(in: 1...9, using: &random))
            for _ in 1..<digits { mantissa.append(String(Int.random(in: 0...9, using: &random))) }
            var text = Bool.random(using: &random) ? "-" : ""
            let point = Int.random(in: 0...digits, using: &random)
            if point == 0 {
                text += "0." + String(repeating: "0", count: Int.random(in: 0...3, using: &random)) + mantissa
            } else if point == digits {
                text += mantissa
            } else {
                text += String(mantissa.prefix(point)) + "." + String(mantissa.dropFirst(point))
            }
            if Int.random(in: 0..<3, using: &random) == 0 { text += (Bool.random(using: &random) ? "e" : "E-") + String(Int.random(in: 0...40, using: &random)) }
            texts.append(text)
        }
        let parsed = try JSONValue.parse("[" + texts.joined(separator: ",") + "]").arrayValue ?? []
        #expect(parsed.count == texts.count)
        for (text, value) in zip(texts, parsed) {
            let expected = try #require(Double(text))
            #expect(value.doubleValue?.bitPattern == expected.bitPattern, "\(text)")
        }
    }

    /// The search that decides whether a canonical body may hold reasoning members finds a
    /// needle wherever a plain search does: at the start and the end, overlapping partial
    /// matches, near misses, with the anchor byte elsewhere in the text.
    @Test func reasoningMemberSearchFindsWhatAPlainSearchFinds() {
        func plain(_ needle: String, _ text: [UInt8]) -> Bool {
            let needle = Array(needle.utf8)
            guard needle.count <= text.count else { return false }
            return (0...(text.count - needle.count)).contains { text[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
        let pieces = ["\"thinking", "\"thinkin", "thinking", "k", "_", "\"reasoning_content\"", "\"reasoning_conten", "\"", "x", "{\"a\":1}", " "]
        var state: UInt64 = 0x2026_1207
        for _ in 0..<3_000 {
            var text: [UInt8] = []
            for _ in 0..<Int(state % 7) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += Array(pieces[Int((state >> 33) % UInt64(pieces.count))].utf8)
            }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            #expect(CanonicalChat.occurs("\"thinking", anchor: 5, in: text) == plain("\"thinking", text), "\(String(decoding: text, as: UTF8.self))")
            #expect(
                CanonicalChat.occurs("\"reasoning_content\"", anchor: 10, in: text) == plain("\"reasoning_content\"", text),
                "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test func parsesNestedDocument() throws {
        let value = try JSONValue.parse(#"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"d\n\u00e9\ud83d\ude00"}}"#)
        #expect(value["a"]?.arrayValue?.count == 6)
        #expect(value["a"]?.arrayValue?[1].doubleValue == 2.5)
        #expect(value["a"]?.arrayValue?[2].doubleValue == -300)
        #expect(value["b"]?["c"]?.stringValue == "d\né😀")
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"abc", "tru", "{\"a\":1}x", "\"\\x\"", "\"\\ud800\"",
        "\"a\u{01}\"", "[1 2]", "{'a':1}",
    ])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    /// Strings are skipped eight plain ASCII bytes at a time: a quote, backslash, control byte
    /// or non-ASCII byte at any position of a word must still stop the fast path.
    @Test func wordAtATimeStringScanSeesEverySpecialByteAtEveryOffset() throws {
        #expect(JSONParser.isPlainASCII(0x6867_6665_6463_6261))  // "abcdefgh"
        for special: UInt8 in [0x22, 0x5C, 0x00, 0x01, 0x1F, 0x80, 0xC3, 0xFF] {
            for offset in 0..<8 {
                var word: UInt64 = 0x6867_6665_6463_6261
                word &= ~(UInt64(0xFF) << (offset * 8))
                word |= UInt64(special) << (offset * 8)
                #expect(!JSONParser.isPlainASCII(word), "byte \(special) at \(offset)")
            }
        }
        for byte: UInt8 in [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F] {
            #expect(JSONParser.isPlainASCII(UInt64(byte) &* 0x0101_0101_0101_0101))
        }
        let prefix = "lorem ipsum dolor sit amet, consectetur"
        for cut in 0...prefix.count {
            let head = String(prefix.prefix(cut))
            let escaped = try JSONValue.parse(Array(#"{"a":""#.utf8) + Array(head.utf8) + Array(#"\"q\u00e9 é tail"}"#.utf8))
            #expect(escaped["a"]?.stringValue == head + "\"qé é tail")
            #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(#"{"a":""#.utf8) + Array(head.utf8) + [0x0A] + Array(#"x"}"#.utf8)) }
            #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(#"{"a":""#.utf8) + Array(head.utf8) + [0xC3, 0x28] + Array(#"x"}"#.utf8)) }
            #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(#"{"a":""#.utf8) + Array(head.utf8)) }
        }
    }

    @Test func rejectsInvalidUTF8WithOffset() {
        let bytes: [UInt8] = Array(#"{"model":"a"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        do {
            _ = try JSONValue.parse(bytes)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .invalidUTF8)
            #expect(error.offset == 11)
        }
    }

    @Test func rejectsOverlongAndSurrogateEncodings() {
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let bytes = [UInt8(ascii: "\"")] + bad + [UInt8(ascii: "\"")]
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
        }
        #expect((try? JSONValue.parse([UInt8(ascii: "\""), 0xE2, 0x82, 0xAC, UInt8(ascii: "\"")]))?.stringValue == "€")
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        do {
            _ = try JSONValue.parse(deep)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .tooDeep)
        }
        let ok = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSONValue.parse(ok)) != nil)
    }

    @Test func scanFindsTopLevelMembersAndKinds() throws {
        let text = #" { "model" : "gpt-4o", "stream": true, "n": 2, "messages": [{"role":"user","content":"hi"}], "x": null } "#
        let scan = try JSONObjectScan(Array(text.utf8))
        #expect(scan.string("model") == "gpt-4o")
        #expect(scan.bool("stream") == true)
        #expect(scan.number("n") == 2)
        #expect(scan.member("messages")?.kind == .array)
        #expect(scan.member("x")?.kind == .null)
        #expect(scan.member("absent") == nil)
    }

    @Test func scanRejectsNonObjects() {
        #expect(throws: JSONScanError.notAnObject) { try JSONObjectScan(Array("[1,2]".utf8)) }
        #expect(throws: JSONScanError.self) { try JSONObjectScan(Array(#"{"a":1"#.utf8)) }
    }

    @Test func rewritingKeepsOtherBytesAndAppendsNewKeys() throws {
        let text = #"{"model":"alias","messages":[{"role":"user","content":"h\u00e9"}],"extra":{"k":[1,2]}}"#
        let scan = try JSONObjectScan(Array(text.utf8))
        let rewritten = scan.rewriting([("model", JSONWriter.quoted("real-model")), ("stream_options", Array(#"{"include_usage":true}"#.utf8))])
        let output = String(decoding: rewritten, as: UTF8.self)
        #expect(
            output
                == #"{"model":"real-model","messages":[{"role":"user","content":"h\u00e9"}],"extra":{"k":[1,2]},"stream_options":{"include_usage":true}}"#
        )
    }

    /// A nested object is scanned in the enclosing text (no copy): its ranges index that text,
    /// and reading or rewriting it gives what a scan of its own bytes gives.
    @Test func nestedObjectsAreScannedInPlaceAndReadLikeTheirOwnText() throws {
        let text = #"{"id":"x","choices":[ {"index":0,"delta":{"content":"hi \"there\"","role":"assistant"}} ],"usage":{"prompt_tokens":12, "completion_tokens":3,"prompt_tokens_details":{"cached_tokens":5}}}"#
        let scan = try JSONObjectScan(Array(text.utf8))
        let usage = try #require(scan.nested("usage"))
        let own = try JSONObjectScan(Array(scan.bytes[usage.objectRange]))
        #expect(usage.bytes.count == text.utf8.count, "shares the enclosing text")
        #expect(usage.number("prompt_tokens") == 12 && usage.number("completion_tokens") == 3)
        #expect(usage.nested("prompt_tokens_details")?.number("cached_tokens") == 5)
        #expect(usage.members.map(\.key) == own.members.map(\.key))
        #expect(usage.members.map { Array(usage.rawValue($0)) } == own.members.map { Array(own.rawValue($0)) })
        #expect(usage.rewriting([("total_tokens", Array("15".utf8))]) == own.rewriting([("total_tokens", Array("15".utf8))]))
        #expect(String(decoding: usage.rewriting([("prompt_tokens_details", nil)]), as: UTF8.self) == #"{"prompt_tokens":12,"completion_tokens":3}"#)
        let choice = try #require(scan.firstObjectElement("choices"))
        let delta = try #require(choice.nested("delta"))
        #expect(String(decoding: delta.rawValue(try #require(delta.member("content"))), as: UTF8.self) == #""hi \"there\"""#)
        #expect(delta.string("role") == "assistant" && choice.number("index") == 0)
        #expect(scan.nested("id") == nil && scan.firstObjectElement("usage") == nil)
    }

    @Test func objectElementsScanEachObjectOfAnArrayInPlace() throws {
        let text = #"{"choices": [ 7, {"index":0,"message":{"content":"a \"b\""}} ,null,{"index":1,"x":[{"y":1}]},[] ], "n": {}, "e": []}"#
        let scan = try JSONObjectScan(Array(text.utf8))
        let elements = try #require(scan.objectElements("choices"))
        #expect(elements.map { $0.number("index") } == [0, 1])
        #expect(elements[0].nested("message")?.string("content") == #"a "b""#)
        #expect(elements[1].members.map(\.key) == ["index", "x"])
        #expect(String(decoding: elements[1].bytes[elements[1].objectRange], as: UTF8.self) == #"{"index":1,"x":[{"y":1}]}"#)
        #expect(scan.objectElements("e")?.isEmpty == true)
        #expect(scan.objectElements("n") == nil && scan.objectElements("missing") == nil)
    }

    @Test func rewritingDropsDuplicateKeysKeepingTheLast() throws {
        let scan = try JSONObjectScan(Array(#"{"model":"a","model":"b","x":1}"#.utf8))
        #expect(scan.string("model") == "b")
        let output = String(decoding: scan.rewriting([("model", JSONWriter.quoted("c"))]), as: UTF8.self)
        #expect(output == #"{"model":"c","x":1}"#)
    }

    @Test func writerEscapesControlCharactersAndQuotes() {
        let value: JSONValue = ["s": .string("a\"b\\c\n\u{01}é")]
        #expect(value.serialized() == #"{"s":"a\"b\\c\n\u0001é"}"#)
        #expect((try? JSONValue.parse(value.serialized())) == value)
    }
}

/// JSON string escaping against a byte-by-byte reference, on texts of every length up to a
/// few words, with escapes at every position and alignment.
@Suite struct JSONEscapeTests {
    static func reference(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case 0x22: out += Array(#"\""#.utf8)
            case 0x5C: out += Array(#"\\"#.utf8)
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x0D: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + [Array("0123456789abcdef".utf8)[Int(byte >> 4)], Array("0123456789abcdef".utf8)[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        return out
    }

    @Test func escapingMatchesTheByteByByteReference() {
        var generator = SystemRandomNumberGenerator()
        // Plain bytes, the three kinds of escape, and bytes around their values.
        let alphabet: [UInt8] = [0x61, 0x7A, 0x20, 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x00, 0x01, 0x1F, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x80, 0xC3, 0xA9, 0xFF]
        for length in 0..<70 {
            for _ in 0..<40 {
                let plain = Int.random(in: 0...10, using: &generator)
                let text = (0..<length).map { _ in
                    Int.random(in: 0...10, using: &generator) < plain ? UInt8(ascii: "x") : alphabet.randomElement(using: &generator)!
                }
                var output: [UInt8] = [0x7B]
                text.withUnsafeBufferPointer { JSONWriter.appendEscaped($0, to: &output) }
                #expect(output == [0x7B] + Self.reference(text), "\(text)")
            }
        }
        var quoted: [UInt8] = []
        JSONWriter.appendQuoted("say \"hi\"\n\u{1}", to: &quoted)
        #expect(String(decoding: quoted, as: UTF8.self) == #""say \"hi\"\n\u0001""#)
    }
}
