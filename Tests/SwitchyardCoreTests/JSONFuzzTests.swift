import Foundation
import Testing

@testable import SwitchyardCore

/// Differential fuzzing: the hand-written parser must agree with Foundation's JSONSerialization
/// on what is valid JSON, and must never crash, on mutated and random inputs.
@Suite struct JSONFuzzTests {
    static let seeds: [String] = [
        #"{"model":"gpt-4o","messages":[{"role":"user","content":"héllo \u00e9 \ud83d\ude00"}],"stream":true,"temperature":0.7}"#,
        #"{"a":[1,-2.5e10,true,false,null,{"b":"c\n\t\"q\""}],"d":{}}"#,
        #"[{"x":[[[]]]},"\/",0,-0,1E+2]"#,
        #"{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}]}"#,
    ]

    /// A small deterministic generator so failures reproduce.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let interesting: [UInt8] =
        Array(#"{}[]",:\ -+.eE0123456789tfnulrsa"#.utf8) + [0x00, 0x0A, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xA0, 0xF0, 0x9F, 0xFF]

    func mutate(_ input: [UInt8], using rng: inout SplitMix) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !bytes.isEmpty else { bytes.append(Self.interesting.randomElement(using: &rng)!); continue }
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: bytes[index] = Self.interesting.randomElement(using: &rng)!
            case 1: bytes.insert(Self.interesting.randomElement(using: &rng)!, at: index)
            case 2: bytes.remove(at: index)
            default: bytes = Array(bytes[..<index])
            }
        }
        return bytes
    }

    func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
    }

    @Test func agreesWithFoundationOnMutatedDocuments() {
        var rng = SplitMix(state: 42)
        var disagreements: [String] = []
        for round in 0..<20_000 {
            let seed = Array(Self.seeds[round % Self.seeds.count].utf8)
            let input = mutate(seed, using: &rng)
            let ours = (try? JSONValue.parse(input)) != nil
            let theirs = foundationAccepts(input)
            // Foundation accepts a few things RFC 8259 forbids; we only require: whatever we
            // accept, Foundation accepts too (we are never laxer), and valid objects round-trip.
            // RFC 8259 §6 allows numbers beyond Double's range; Foundation refuses them, the
            // gateway passes them through untouched.
            let hugeExponent = String(decoding: input, as: UTF8.self).range(of: #"[eE][+-]?[0-9]{3,}"#, options: .regularExpression) != nil
            if ours && !theirs && !hugeExponent {
                disagreements.append(String(decoding: input, as: UTF8.self))
            }
            if ours, let value = try? JSONValue.parse(input) {
                #expect((try? JSONValue.parse(value.serializedBytes())) == value)
            }
            // The scanner must agree with the full parser on objects.
            if let first = input.first(where: { $0 != 0x20 }), first == UInt8(ascii: "{") {
                #expect(((try? JSONObjectScan(input)) != nil) == ours, "\(String(decoding: input, as: UTF8.self))")
            }
        }
        #expect(disagreements.isEmpty, "accepted but Foundation rejects: \(disagreements.prefix(5))")
    }

    @Test func neverCrashesOnRandomBytes() {
        var rng = SplitMix(state: 7)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<length).map { _ in Self.interesting.randomElement(using: &rng)! }
            _ = try? JSONValue.parse(bytes)
            _ = try? JSONObjectScan(bytes)
            _ = try? OpenAIRequest(endpoint: .chatCompletions, body: bytes)
            var parser = SSEParser(maximumLineLength: 1024)
            try? bytes.withUnsafeBufferPointer { buffer in try parser.feed(buffer) { _ in } }
        }
    }
}

/// An object of many members parses in time proportional to its size (duplicates looked up in
/// a table, not among the members before each): 100,000 keys, a 1 MiB body, took most of a
/// minute and held an event loop; duplicates still keep the first place and the last value.
@Suite struct JSONManyMembersTests {
    @Test func manyMembersParseInLinearTime() throws {
        var text = #"{"input":"hi""#
        for index in 0..<100_000 { text += #","k\#(String(index, radix: 16))":0"# }
        text += #","input":"last","k0":1}"#
        let start = ContinuousClock.now
        let value = try JSONValue.parse(Array(text.utf8))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(5), "\(elapsed)")
        guard case .object(let object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object.members.count == 100_001)
        #expect(object.members.first?.key == "input" && object["input"]?.stringValue == "last")
        #expect(object.members[1].key == "k0" && object["k0"] == JSONValue(1))
    }
}
