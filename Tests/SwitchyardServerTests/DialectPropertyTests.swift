import Foundation
import NIOCore
import Testing

@testable import SwitchyardCore
@testable import SwitchyardProviders

/// Property: a canonical stream sent to an Anthropic client and read back by the Anthropic
/// provider decoder (OpenAI → Anthropic → OpenAI) keeps its text, reasoning with its signature,
/// every tool call (id, name, arguments as the same JSON) in index order, the finish reason and
/// the usage, whatever the content (quotes, newlines, emoji, other scripts), however tool-call
/// fragments interleave, and wherever the transport cuts the bytes. 300 generated streams from a
/// fixed seed, so a failure names a reproducible case.
@Suite struct DialectPropertyTests {
    struct Case {
        var text = ""
        var reasoning = ""
        var signature: String?
        /// (id, name, arguments) by tool index.
        var tools: [(id: String, name: String, arguments: JSONValue)] = []
        var usage = TokenUsage()
        var chunks: [JSONValue] = []
    }

    struct Assembled: Equatable {
        var text = ""
        var reasoning = ""
        var signatures: [String] = []
        var tools: [Int: (id: String, name: String, arguments: String)] = [:]
        var finish: String?
        var usage: JSONValue?

        static func == (lhs: Assembled, rhs: Assembled) -> Bool {
            lhs.text == rhs.text && lhs.reasoning == rhs.reasoning && lhs.signatures == rhs.signatures && lhs.finish == rhs.finish
                && lhs.usage == rhs.usage && lhs.tools.keys.sorted() == rhs.tools.keys.sorted()
                && lhs.tools.allSatisfy { index, call in
                    rhs.tools[index].map { $0.id == call.id && $0.name == call.name && $0.arguments == call.arguments } ?? false
                }
        }
    }

    static let alphabet: [String] = ["a", "b", "Z", " ", "\n", "\"", "\\", "{", "}", "é", "日本", "🙂", "\t", "<", "&", "0", "x y"]

    static func text(_ random: inout SplitMix64, maxLength: Int) -> String {
        (0..<Int.random(in: 0...maxLength, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    static func arguments(_ random: inout SplitMix64) -> JSONValue {
        var object = JSONObject()
        for index in 0..<Int.random(in: 0...3, using: &random) {
            switch Int.random(in: 0...3, using: &random) {
            case 0: object["k\(index)"] = .string(text(&random, maxLength: 6))
            case 1: object["n\(index)"] = JSONValue(Int.random(in: -1000...1000, using: &random))
            case 2: object["b\(index)"] = .bool(Bool.random(using: &random))
            default: object["l\(index)"] = .array([JSONValue(1), .string(text(&random, maxLength: 3)), .null])
            }
        }
        return .object(object)
    }

    /// Splits `text` into 1...4 pieces at character boundaries.
    static func pieces(_ text: String, _ random: inout SplitMix64) -> [String] {
        let characters = Array(text)
        guard characters.count > 1 else { return [text] }
        var cuts = Set((0..<Int.random(in: 0...3, using: &random)).map { _ in Int.random(in: 1..<characters.count, using: &random) })
        cuts.insert(characters.count)
        var start = 0
        return cuts.sorted().map { end in
            defer { start = end }
            return String(characters[start..<end])
        }
    }

    static func makeCase(_ random: inout SplitMix64) -> Case {
        var value = Case()
        func chunk(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
            ["model": "m", "choices": [["index": 0, "delta": .object(delta), "finish_reason": finish.map(JSONValue.string) ?? .null]]]
        }
        value.chunks.append(chunk(["role": "assistant", "content": ""]))
        if Bool.random(using: &random) {
            value.reasoning = "r" + text(&random, maxLength: 30)
            for piece in pieces(value.reasoning, &random) { value.chunks.append(chunk(["reasoning_content": .string(piece)])) }
            if Bool.random(using: &random) {
                value.signature = "sig-" + String(random.next() % 100_000)
                value.chunks.append(chunk(["thinking_blocks": [["type": "thinking", "thinking": "", "signature": .string(value.signature!)]]]))
            }
        }
        value.text = text(&random, maxLength: 40)
        for piece in pieces(value.text, &random) where !piece.isEmpty { value.chunks.append(chunk(["content": .string(piece)])) }
        // Tool calls, their argument fragments interleaved across indexes.
        var fragments: [(index: Int, head: Bool, text: String)] = []
        for index in 0..<Int.random(in: 0...3, using: &random) {
            let call = (id: "call_\(index)_\(random.next() % 1000)", name: "tool_\(index)", arguments: arguments(&random))
            value.tools.append(call)
            fragments.append((index, true, ""))
            for piece in pieces(call.arguments.serialized(), &random) { fragments.append((index, false, piece)) }
        }
        var pending = fragments
        while !pending.isEmpty {
            // Any fragment whose call's earlier fragments went already.
            let ready = pending.indices.filter { candidate in
                !pending[..<candidate].contains { $0.index == pending[candidate].index }
            }
            let pick = ready.randomElement(using: &random)!
            let fragment = pending.remove(at: pick)
            var call: JSONObject = ["index": JSONValue(fragment.index)]
            if fragment.head {
                call["id"] = .string(value.tools[fragment.index].id)
                call["type"] = "function"
                call["function"] = ["name": .string(value.tools[fragment.index].name), "arguments": ""]
            } else {
                call["function"] = ["arguments": .string(fragment.text)]
            }
            value.chunks.append(chunk(["tool_calls": [.object(call)]]))
        }
        value.chunks.append(chunk([:], finish: value.tools.isEmpty ? (Bool.random(using: &random) ? "stop" : "length") : "tool_calls"))
        let cached = Int.random(in: 0...50, using: &random)
        value.usage = TokenUsage(
            promptTokens: cached + Int.random(in: 1...500, using: &random), completionTokens: Int.random(in: 0...500, using: &random),
            cachedPromptTokens: cached)
        return value
    }

    static func assemble(_ output: ByteBuffer) throws -> Assembled {
        var result = Assembled()
        for line in String(buffer: output).components(separatedBy: "\n") where line.hasPrefix("data: ") && line != "data: [DONE]" {
            let chunk = try JSONValue.parse(Array(line.dropFirst(6).utf8))
            if let usage = chunk["usage"], !usage.isNull { result.usage = usage }
            guard let choice = chunk["choices"]?.arrayValue?.first else { continue }
            let delta = choice["delta"]
            result.text += delta?["content"]?.stringValue ?? ""
            result.reasoning += delta?["reasoning_content"]?.stringValue ?? ""
            for block in delta?["thinking_blocks"]?.arrayValue ?? [] { result.signatures.append(block["signature"]?.stringValue ?? "") }
            for call in delta?["tool_calls"]?.arrayValue ?? [] {
                let index = call["index"]?.intValue ?? -1
                var entry = result.tools[index] ?? ("", "", "")
                if let id = call["id"]?.stringValue { entry.id = id }
                if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { entry.name = name }
                entry.arguments += call["function"]?["arguments"]?.stringValue ?? ""
                result.tools[index] = entry
            }
            if let finish = choice["finish_reason"]?.stringValue { result.finish = finish }
        }
        return result
    }

    @Test func openAIToAnthropicToOpenAIKeepsEverything() throws {
        var random = SplitMix64(seed: 0x5717_c4ad)
        for number in 0..<300 {
            let value = Self.makeCase(&random)
            var encoder = AnthropicStreamEncoder(requestID: "req_\(number)")
            var anthropic = ByteBuffer()
            for chunk in value.chunks { encoder.chunk(chunk, into: &anthropic) }
            encoder.finish(usage: value.usage, into: &anthropic)

            // Read back, cut at random places.
            let bytes = Array(anthropic.readableBytesView)
            var decoder = AnthropicStreamDecoder()
            var canonical = ByteBuffer()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 1...64, using: &random))
                try decoder.feed(ByteBuffer(bytes: bytes[start..<end]), into: &canonical)
                start = end
            }
            let result = try Self.assemble(canonical)
            let label = "case \(number)"
            #expect(result.text == value.text, "\(label)")
            #expect(result.reasoning == value.reasoning, "\(label)")
            #expect(result.signatures == (value.signature.map { [$0] } ?? []), "\(label)")
            #expect(result.tools.count == value.tools.count, "\(label)")
            for (index, call) in value.tools.enumerated() {
                #expect(result.tools[index]?.id == call.id && result.tools[index]?.name == call.name, "\(label) tool \(index)")
                #expect((try? JSONValue.parse(Array((result.tools[index]?.arguments ?? "").utf8))) == call.arguments, "\(label) tool \(index)")
            }
            #expect(
                result.finish
                    == (value.tools.isEmpty ? (value.chunks.last?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue) : "tool_calls"),
                "\(label)")
            #expect(result.usage?["prompt_tokens"]?.intValue == value.usage.promptTokens, "\(label)")
            #expect(result.usage?["prompt_tokens_details"]?["cached_tokens"]?.intValue == value.usage.cachedPromptTokens, "\(label)")
            #expect(result.usage?["completion_tokens"]?.intValue == value.usage.completionTokens, "\(label)")
        }
    }
}
