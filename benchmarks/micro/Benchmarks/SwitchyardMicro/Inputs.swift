import Foundation
import NIOCore
import SwitchyardCore

/// The benchmarks' inputs, read once from the repository: the wrk benchmark's request bodies
/// (`benchmarks/bodies/`) and the upstream answers of `benchmarks/micro/Fixtures/` (written by
/// `fixtures.py`, the OpenAI ones byte for byte what `benchmarks/upstream.py` serves).
enum Inputs {
    /// `benchmarks/`, found from this file's path (the benchmarks run from a checkout).
    static let benchmarksFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SwitchyardMicro
        .deletingLastPathComponent()  // Benchmarks
        .deletingLastPathComponent()  // micro
        .deletingLastPathComponent()  // benchmarks

    static func file(_ relativePath: String) -> [UInt8] {
        let path = benchmarksFolder.appendingPathComponent(relativePath).path
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            fatalError("benchmark input \(path) is missing; run from a checkout of the repository")
        }
        return [UInt8](data)
    }

    /// The ~1 KB chat request of the wrk benchmark (system prompt + customer-support message).
    static let chatRequest = file("bodies/chat.json")
    /// The same with `"stream": true` (the gateway forces `include_usage` upstream).
    static let chatStreamRequest = file("bodies/chat-stream.json")
    /// The same conversation as an Anthropic Messages request.
    static let messagesRequest = file("bodies/messages.json")

    /// A ~0.7 KB OpenAI `chat.completion`, as the benchmark's upstream answers.
    static let openAICompletion = file("micro/Fixtures/openai-chat.json")
    static let anthropicMessage = file("micro/Fixtures/anthropic-message.json")
    static let geminiResponse = file("micro/Fixtures/gemini-response.json")

    /// 50-chunk streams (a role chunk, 50 content chunks of 90 characters, finish, usage and
    /// `[DONE]` for OpenAI; the same text as Anthropic events and Gemini partial responses),
    /// cut into one read per event, as a model that streams token by token delivers them.
    static let openAIStream = reads(file("micro/Fixtures/openai-chat.sse"))
    static let anthropicStream = reads(file("micro/Fixtures/anthropic-message.sse"))
    static let geminiStream = reads(file("micro/Fixtures/gemini-response.sse"))

    /// A ~1 KB prompt with personal data (e-mail, phone, card, IBAN, address, date of birth, IP
    /// address) and one credential, for the detectors.
    static let piiPrompt = file("micro/Fixtures/prompt-pii.txt")
    static let piiPromptString = String(decoding: piiPrompt, as: UTF8.self)

    /// Splits an SSE body after each blank line (LF or CRLF framing).
    static func reads(_ body: [UInt8]) -> [ByteBuffer] {
        var buffers: [ByteBuffer] = []
        var start = 0
        var index = 0
        while index < body.count {
            if body[index] == UInt8(ascii: "\n"), index >= 1 {
                let previous = body[index - 1]
                let blank =
                    previous == UInt8(ascii: "\n")
                    || (previous == UInt8(ascii: "\r") && index >= 3 && body[index - 2] == UInt8(ascii: "\n") && body[index - 3] == UInt8(ascii: "\r"))
                if blank {
                    buffers.append(ByteBuffer(bytes: body[start...index]))
                    start = index + 1
                }
            }
            index += 1
        }
        if start < body.count { buffers.append(ByteBuffer(bytes: body[start...])) }
        return buffers
    }
}
