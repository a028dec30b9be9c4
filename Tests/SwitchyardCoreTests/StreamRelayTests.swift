import Foundation
import NIOCore
import Testing

@testable import SwitchyardCore

@Suite struct StreamRelayTests {
    static let content = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"# + "\n\n"
    static let finish = #"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"# + "\n\n"
    static let usage =
        #"data: {"id":"c","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#
        + "\n\n"
    static let done = "data: [DONE]\n\n"

    func run(_ relay: inout OpenAIStreamRelay, _ pieces: [String]) -> String {
        var output = ByteBuffer()
        for piece in pieces { relay.consume(ByteBuffer(string: piece), into: &output) }
        return String(buffer: output)
    }

    @Test func dropsForcedUsageChunkButRecordsUsage() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        let output = run(&relay, [Self.content, Self.finish, Self.usage, Self.done])
        #expect(!output.contains("prompt_tokens"))
        #expect(output.components(separatedBy: "data: ").count - 1 == 2)
        #expect(relay.state == .done)
        #expect(relay.usage == TokenUsage(promptTokens: 11, completionTokens: 7, totalTokens: 18, cachedPromptTokens: 4, reasoningTokens: 2))
    }

    @Test func dropsAUsageChunkWithEmptyChoicesLikeLiteLLMs() {
        let litellm =
            #"data: {"id":"c","choices":[{"index":0,"delta":{"content":null,"role":null}}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}"#
            + "\n\n"
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        let output = run(&relay, [Self.content, Self.finish, litellm, Self.done])
        #expect(!output.contains("prompt_tokens"))
        #expect(relay.usage?.completionTokens == 7)
        // Usage on a chunk that carries something is kept with it.
        var kept = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        let finishWithUsage = #"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"# + "\n\n"
        #expect(run(&kept, [Self.content, finishWithUsage, Self.done]).contains(#""finish_reason":"stop""#))
    }

    @Test func forwardsUsageChunkWhenClientAsked() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: true, provider: "p")
        let output = run(&relay, [Self.content + Self.finish + Self.usage + Self.done])
        #expect(output.contains("\"prompt_tokens\":11"))
        #expect(relay.forwardedEvents == 3)
    }

    @Test func doneIsNotForwardedByConsumeSoItIsWrittenExactlyOnce() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        let output = run(&relay, [Self.content, Self.done, Self.content])
        #expect(!output.contains("[DONE]"))
        #expect(relay.forwardedEvents == 1)
    }

    @Test func inBandErrorFailsTheStream() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        _ = run(&relay, [Self.content, #"data: {"error":{"message":"overloaded","type":"server_error"}}"# + "\n\n"])
        #expect(relay.state == .failed)
        #expect(relay.upstreamError?.message.contains("overloaded") == true)
    }

    @Test func malformedEventFailsTheStream() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        _ = run(&relay, ["data: {\"id\": \"broken\n\n"])
        #expect(relay.state == .failed)
        #expect(relay.upstreamError?.code == .upstreamInvalidStream)
    }

    @Test func truncatedStreamIsDetected() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        _ = run(&relay, [Self.content, "data: {\"id\":"])
        #expect(relay.finishUpstream() == true)
        #expect(relay.state == .failed)
    }

    @Test func errorEventIsWellFormedAndEndsWithDone() throws {
        var output = ByteBuffer()
        OpenAIStreamRelay.writeError(.upstreamUnavailable("boom"), into: &output)
        let text = String(buffer: output)
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        let first = try #require(text.components(separatedBy: "\n\n").first)
        let json = try JSONValue.parse(String(first.dropFirst(6)))
        #expect(json["error"]?["message"]?.stringValue == "boom")
        #expect(json["error"]?["type"]?.stringValue == "api_error")
    }
}

@Suite struct HostileInputTests {
    @Test func absurdUsageNumbersDoNotTrap() throws {
        let scan = try JSONObjectScan(
            Array(#"{"usage":{"prompt_tokens":1e300,"completion_tokens":-5,"total_tokens":1.5,"prompt_tokens_details":{"cached_tokens":"x"}}}"#.utf8))
        let usage = try #require(TokenUsage(openAIResponse: scan))
        #expect(usage.promptTokens == 1_000_000_000_000_000)
        #expect(usage.completionTokens == 0)
        #expect(usage.totalTokens == 1)
        #expect(usage.cachedPromptTokens == 0)
    }

    @Test func absurdConfigUnitsAreRejectedNotTrapped() {
        #expect(ConfigUnits.parseDuration("1e300s") == nil)
        #expect(ConfigUnits.parseByteSize("9223372036854775807GiB") == nil)
    }
}

@Suite struct StreamRelayPrefilterTests {
    @Test func prefilterNeverMissesTopLevelUsageOrError() {
        let positives = [
            #"{"usage":{"prompt_tokens":1}}"#, #"{"usage" : {"a":1}}"#, #"{"error":{"message":"x"}}"#, #"{"error" :"x"}"#,
            "{\"choices\":[],\"usage\":\n{}}",
        ]
        for text in positives { #expect(OpenAIStreamRelay.mayCarryUsageOrError(Array(text.utf8)), "\(text)") }
        let negatives = [#"{"usage":null,"choices":[{"delta":{"content":"error"}}]}"#, #"{"id":"x","choices":[]}"#]
        for text in negatives { #expect(!OpenAIStreamRelay.mayCarryUsageOrError(Array(text.utf8)), "\(text)") }
    }

    /// Text of fast-path events is read only when asked for (or once enough waits): in order
    /// with the text of events that are parsed at once, across the bound, and counted the same.
    @Test func textReadLaterIsTheTextForwardedInOrder() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        var expected: [UInt8] = []
        var output = ByteBuffer()
        // Enough events to pass the bound on the pending bytes several times, and now and then
        // an event that is parsed at once (it carries a usage object).
        for index in 0..<1_500 {
            let words = "w\(index) " + String(repeating: "é", count: index % 3) + "\\t"
            let usage = index % 97 == 5 ? #","usage":null,"x":{"usage":{"a":1}}"# : ""
            let event = #"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"\#(words)"}}]\#(usage)}"# + "\n\n"
            relay.consume(ByteBuffer(string: event), into: &output)
            expected += Array("w\(index) ".utf8) + Array(String(repeating: "é", count: index % 3).utf8) + [0x09]
            if index == 700 { #expect(relay.streamedText == expected, "asked for in the middle: \(relay.streamedText.count) bytes") }
        }
        #expect(relay.streamedTextBytes == expected.count)
        #expect(relay.streamedText == expected, "\(relay.streamedText.count) of \(expected.count) bytes")
        #expect(relay.streamedCompletionTokens(model: "gpt-4o") == PromptTokens.count(String(decoding: expected, as: UTF8.self), model: "gpt-4o"))
    }

    /// The prefilter and the text scan skip eight bytes at a time: keys, quotes and escapes at
    /// every offset of a word must still be seen.
    @Test func wordAtATimeScansSeeKeysAtEveryOffset() {
        for pad in 0..<17 {
            let filler = String(repeating: "x", count: pad)
            let usage = #"{"id":"\#(filler)","choices":[],"usage":{"prompt_tokens":3}}"#
            #expect(OpenAIStreamRelay.mayCarryUsageOrError(Array(usage.utf8)), "\(usage)")
            let error = #"{"\#(filler)":1,"error":"boom"}"#
            #expect(OpenAIStreamRelay.mayCarryUsageOrError(Array(error.utf8)), "\(error)")
            let quoted = #"{"id":"\#(filler)","choices":[{"delta":{"content":"the \"usage\": of \"error\":"}}]}"#
            #expect(!OpenAIStreamRelay.mayCarryUsageOrError(Array(quoted.utf8)), "\(quoted)")
        }
        // The text a stream forwarded (kept for counting when the provider reports no usage):
        // escapes and quotes at every offset, across events.
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        var expected: [UInt8] = []
        var output = ByteBuffer()
        for pad in 0..<17 {
            let filler = String(repeating: "y", count: pad)
            let event = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"\#(filler)a\"b\\c\nd"}}]}"# + "\n\n"
            relay.consume(ByteBuffer(string: event), into: &output)
            expected += Array(filler.utf8) + Array("a\"b\\c\nd".utf8)
        }
        #expect(relay.streamedText == expected)
        for (index, byte) in [UInt8(ascii: "\""), UInt8(ascii: "\\")].enumerated() {
            for offset in 0..<20 {
                var bytes = Array(repeating: UInt8(ascii: "a"), count: 40)
                bytes[offset] = byte
                bytes.withUnsafeBufferPointer { data in
                    #expect(ByteScan.quoteOrBackslash(data, from: 0) == offset, "kind \(index) at \(offset)")
                    #expect(ByteScan.quoteOrBackslash(data, from: offset + 1) == 40)
                }
            }
        }
    }

    /// The SSE parser finds line ends eight bytes at a time: on random texts of line feeds,
    /// carriage returns, their neighbours in value and UTF-8, fed in random pieces, it splits
    /// events exactly where a byte-by-byte split does.
    @Test func lineBreaksFoundAWordAtATimeAreTheOnesAByteWalkFinds() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x0A, 0x0D, 0x09, 0x0B, 0x0C, 0x0E, 0x1A, 0x2A, 0x8A, 0x8D, 0xCA, UInt8(ascii: "a"), UInt8(ascii: "d")]
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...70, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            bytes.withUnsafeBufferPointer { data in
                for start in 0...data.count {
                    let expected = data[start...].firstIndex { $0 == 0x0A || $0 == 0x0D } ?? data.count
                    #expect(ByteScan.lineBreak(data, from: start) == expected)
                }
            }
        }
        // Events split across pieces at every offset come out whole, with CRLF, CR and LF ends.
        let stream = "data: one\r\n\r\ndata: two\rdata: more\r\rdata: three\n\n: note\nevent: x\ndata: four\n\n"
        var reference: [String] = []
        var whole = SSEParser()
        try? whole.feed(ByteBuffer(string: stream)) { reference.append(String(decoding: $0.data, as: UTF8.self)) }
        #expect(reference == ["one", "two\nmore", "three", "four"])
        for _ in 0..<500 {
            var parser = SSEParser()
            var events: [String] = []
            var rest = Array(stream.utf8)[...]
            while !rest.isEmpty {
                let piece = rest.prefix(Int.random(in: 1...12, using: &generator))
                rest = rest.dropFirst(piece.count)
                try? parser.feed(ByteBuffer(bytes: piece)) { events.append(String(decoding: $0.data, as: UTF8.self)) }
            }
            #expect(events == reference)
        }
    }

    @Test func fastPathStillCatchesTruncatedEvents() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        var output = ByteBuffer()
        relay.consume(ByteBuffer(string: StreamRelayTests.content + "data: {\"id\":\"c\",\"choices\":[\n\n"), into: &output)
        #expect(relay.state == .failed)
        #expect(relay.forwardedEvents == 1)
    }

    @Test func usageAfterManyFastPathChunksIsStillRecorded() {
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "p")
        var output = ByteBuffer()
        for _ in 0..<20 { relay.consume(ByteBuffer(string: StreamRelayTests.content), into: &output) }
        relay.consume(ByteBuffer(string: StreamRelayTests.usage + StreamRelayTests.done), into: &output)
        #expect(relay.usage?.promptTokens == 11)
        #expect(relay.forwardedEvents == 20)
        #expect(!String(buffer: output).contains("prompt_tokens"))
    }
}

/// A translated stream's text chunks read from their bytes give exactly the text the scanned
/// chunk gives, and nothing where the scan gives nothing or the chunk is malformed.
@Suite struct PlainTextDeltaTests {
    static func scanned(_ text: String) -> ArraySlice<UInt8>?? {
        guard let scan = try? JSONObjectScan(Array(text.utf8)) else { return .none }
        return .some(OpenAIStreamRelay.plainTextDelta(scan))
    }

    @Test func bytesGiveTheScansTextOrNothing() {
        let contents = [#""hi""#, #""""#, #""a \"quoted\" \\ line\n""#, #""\u00e9t\u00e9""#, "\"été\"", "null", "3", #"["x"]"#]
        let extras = [
            "", #","role":"assistant""#, #","role":null"#, #","tool_calls":null"#, #","tool_calls":[{"index":0}]"#, #","refusal":"no""#,
            #","content":"again""#, #","reasoning_content":null"#,
        ]
        let finishes = ["", #","finish_reason":null"#, #","finish_reason":"stop""#, #","finish_reason":null,"finish_reason":"stop""#]
        var shapes: [String] = []
        for content in contents {
            for extra in extras {
                for finish in finishes {
                    let delta = "{\"content\":\(content)\(extra)}"
                    shapes.append(#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":"# + delta + finish + #"}],"usage":null}"#)
                    shapes.append(#"{ "choices" : [ { "delta" : "# + delta + finish + #" , "logprobs" : null } , {"index":1} ] , "model" : "m" }"#)
                }
            }
        }
        shapes += [
            #"{"choices":[],"id":"c"}"#, #"{"choices":null}"#, #"{"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{"content":"b"}}]}"#,
            #"{"choices":[{"delta":{"content":"a"},"delta":{"content":"b"}}]}"#, #"{"ch\u006fices":[{"delta":{"content":"a"}}]}"#,
            #"{"choices":[{"delta":{"content":"a"}}]"#, #"{"choices":[{"delta":{"content":"a"}}]} x"#, #"{"choices":[{"delta":{"content":"a"}}],}"#,
            #"["choices"]"#, "", "  ", #"{"choices":[{"delta":{"content":"a"}}], "x": tru}"#, #"{"choices":[{"delta":{"content":"a\u0001"}}]}"#,
            "{\"choices\":[{\"delta\":{\"content\":\"a\u{1}\"}}]}", "{\"chöices\":[{\"delta\":{\"content\":\"a\"}}]}",
            #"{"choices":[{"delta":{"content":"a"}}],"usage":null,"system_fingerprint":"fp"}"#, #"{"choices":["x",{"delta":{"content":"a"}}]}"#,
        ]
        var given = 0
        for shape in shapes {
            let fromBytes = OpenAIStreamRelay.plainTextDelta(bytes: Array(shape.utf8))
            let fromScan = Self.scanned(shape)
            if let fromBytes {
                given += 1
                #expect(fromScan == .some(.some(fromBytes)), "\(shape)")
            } else if case .none = fromScan {
                // Malformed: neither reads it.
            }
        }
        #expect(given > 40, "the plain chunks are read from their bytes (\(given))")
    }
}
