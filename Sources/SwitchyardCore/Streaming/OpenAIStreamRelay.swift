import NIOCore

/// Forwards an OpenAI-dialect SSE stream event by event while watching it.
///
/// A value-type state machine: upstream bytes in, client bytes out, no I/O. It learns the
/// token usage, drops the usage-only chunk the gateway forced upstream when the client did not
/// ask for it, turns an in-band `{"error":...}` event into a ``GatewayError`` and guarantees the
/// client stream ends with exactly one `data: [DONE]`.
public struct OpenAIStreamRelay: Sendable {
    public enum State: Sendable, Equatable {
        case streaming
        /// `[DONE]` seen; anything after it is ignored.
        case done
        /// The upstream sent an error event or garbage; the stream must end with an error.
        case failed
    }

    public let forwardUsageChunk: Bool
    public private(set) var state: State = .streaming
    public private(set) var usage: TokenUsage?
    public private(set) var upstreamError: GatewayError?
    /// Events forwarded to the client so far.
    public private(set) var forwardedEvents = 0
    /// The upstream's `model` field from the first chunk.
    public private(set) var responseModel: String?
    private var parser = SSEParser()
    private let provider: String
    /// When set, events are re-encoded for the client's dialect (Anthropic Messages, OpenAI
    /// Responses) instead of forwarded.
    public var encoder: ClientStreamEncoder?
    /// The upstream itself speaks Anthropic and so does the client: events are forwarded byte
    /// for byte while usage, errors and the end are watched.
    public var anthropicPassthrough = false
    /// Collect the answer's text (up to 64 KiB) for comparisons such as shadow traffic.
    public var captureText = false
    public private(set) var capturedText = ""
    /// Output guardrails: each chunk's text goes through the guard before it is sent.
    public var textGuard: StreamTextGuard?
    /// Removes provider credentials from error messages a provider sends mid-stream (some echo
    /// the key they were given) before they reach the client or the logs.
    public var scrubber: SecretScrubber?
    /// `id` and `created` of the last chunk, for chunks the guard adds (released text, a block).
    private var lastChunkID: JSONValue = .string("chatcmpl-guardrail")
    private var lastCreated: JSONValue = JSONValue(0)
    /// Tool-call argument text held back per choice and tool index (a placeholder may be cut).
    private var heldArguments: [Int: [Int: String]] = [:]
    /// The answer's text as forwarded (content, reasoning, refusals, tool arguments), for
    /// counting completion tokens when the provider reports none (or the client leaves first).
    /// Kept up to ``streamedTextLimit`` bytes; past that only counted.
    public var streamedText: [UInt8] { withPendingRead().text }
    /// All bytes of answer text seen, kept or not.
    public var streamedTextBytes: Int { withPendingRead().bytes }
    public static let streamedTextLimit = 256 * 1024
    /// The text read so far, and its length read or not.
    private var notedText: [UInt8] = []
    private var notedTextBytes = 0
    /// Events forwarded on the fast path whose text is not read yet: their bytes one after
    /// another and where each ends. Most streams end with the provider's usage and a client
    /// still there, and then nobody asks for the text: it is read only when asked for, or
    /// once ``pendingTextLimit`` bytes wait (so a stream holds at most that much more).
    private var pendingText: [UInt8] = []
    private var pendingEnds: [Int] = []
    static let pendingTextLimit = 64 * 1024
    /// Usage the gateway counted itself (the provider reported none); sent to a client that
    /// asked for a usage chunk.
    public private(set) var usageCountedByGateway = false
    /// `id` and `created` of the first chunk, for a usage chunk the gateway writes itself.
    private var firstChunkID: JSONValue?
    private var firstCreated: JSONValue?

    public init(forwardUsageChunk: Bool, provider: String) {
        self.forwardUsageChunk = forwardUsageChunk
        self.provider = provider
    }

    /// Consumes upstream bytes and appends what the client should receive to `output`.
    public mutating func consume(_ bytes: ByteBuffer, into output: inout ByteBuffer) {
        guard state == .streaming else { return }
        // The parser is taken out while it calls back into the relay (swapped, not copied: a
        // copy would share its buffers and copy them at its first write), and the output gets
        // room for about what came in at once instead of doubling event by event.
        var parser = SSEParser()
        swap(&parser, &self.parser)
        defer { swap(&parser, &self.parser) }
        output.reserveCapacity(minimumWritableBytes: bytes.readableBytes + 64)
        do {
            try parser.feed(bytes) { event in
                handle(event, into: &output)
            }
        } catch {
            fail(.upstreamUnavailable("Provider '\(provider)' sent a stream line longer than the gateway accepts.", code: .upstreamInvalidStream))
        }
    }

    private mutating func handle(_ event: SSEEvent, into output: inout ByteBuffer) {
        guard state == .streaming else { return }
        if anthropicPassthrough {
            handleAnthropic(event, into: &output)
            return
        }
        if event.data.count == 6, event.data.elementsEqual("[DONE]".utf8) {
            flushGuard(into: &output)
            state = .done
            return
        }
        // Fast path for the common chunk: no `"usage": {` and no `"error":` anywhere in the
        // bytes means neither can be a top-level member, so the event is forwarded after a
        // cheap shape check instead of a full parse. The first event is always parsed (for the
        // response model) and so is anything the prefilter cannot rule out.
        if responseModel != nil, encoder == nil, !captureText, textGuard == nil, !Self.mayCarryUsageOrError(event.data) {
            guard Self.looksLikeObject(event.data) else {
                fail(.upstreamUnavailable("Provider '\(provider)' sent a malformed stream event.", code: .upstreamInvalidStream))
                return
            }
            deferText(event.data)
            event.write(to: &output)
            forwardedEvents += 1
            return
        }
        // The same for a translated stream's text chunks: the text is read from the bytes,
        // without scanning the chunk into members.
        if encoder != nil, responseModel != nil, !captureText, textGuard == nil, !Self.mayCarryUsageOrError(event.data),
            let text = Self.plainTextDelta(bytes: event.data)
        {
            deferText(event.data)
            if !encoder!.textDelta(text, into: &output), let chunk = try? JSONValue.parse(event.data) {
                encoder!.chunk(chunk, into: &output)
            }
            forwardedEvents += 1
            return
        }
        let scan: JSONObjectScan
        do {
            scan = try JSONObjectScan(event.data)
        } catch {
            fail(.upstreamUnavailable("Provider '\(provider)' sent a malformed stream event.", code: .upstreamInvalidStream))
            return
        }
        if let errorMember = scan.member("error"), errorMember.kind != .null {
            let detail = scan.value("error")
            let reported = detail?["message"]?.stringValue ?? detail?.stringValue ?? "unknown error"
            let message = scrubber?.scrub(reported) ?? reported
            var error = GatewayError.upstreamUnavailable(
                "Provider '\(provider)' reported an error mid-stream: \(message)", code: .upstreamStreamError)
            if let type = detail?["type"]?.stringValue, type == "rate_limit_error" || type == "rate_limit_exceeded" {
                error = .rateLimited(error.message, headers: [HeaderField("Retry-After", "1")])
            }
            fail(error)
            return
        }
        if responseModel == nil {
            responseModel = scan.string("model")
            firstChunkID = scan.value("id")
            firstCreated = scan.value("created")
        }
        deferText(event.data)
        if captureText, capturedText.utf8.count < 65_536,
            let text = scan.value("choices")?.arrayValue?.first?["delta"]?["content"]?.stringValue
        {
            capturedText += text
        }
        if let member = scan.member("usage"), member.kind == .object, let reported = TokenUsage(openAIResponse: scan) {
            usage = reported
            if !forwardUsageChunk, scan.isEmptyArray("choices") || Self.choicesCarryNothing(scan) { return }
        }
        if textGuard != nil {
            guard case .object(let object) = (try? JSONValue.parse(event.data)) ?? .null else {
                fail(.upstreamUnavailable("Provider '\(provider)' sent a malformed stream event.", code: .upstreamInvalidStream))
                return
            }
            guardChunk(object, into: &output)
            return
        }
        if encoder != nil {
            // A chunk that only carries text (nearly all of them) is re-encoded from its bytes;
            // anything else is parsed into a tree for the encoder.
            if let text = Self.plainTextDelta(scan), encoder!.textDelta(text, into: &output) {
            } else if let chunk = try? JSONValue.parse(event.data) {
                encoder!.chunk(chunk, into: &output)
            }
        } else {
            event.write(to: &output)
        }
        forwardedEvents += 1
    }

    private mutating func handleAnthropic(_ event: SSEEvent, into output: inout ByteBuffer) {
        guard let data = try? JSONValue.parse(event.data) else {
            fail(.upstreamUnavailable("Provider '\(provider)' sent a malformed stream event.", code: .upstreamInvalidStream))
            return
        }
        switch data["type"]?.stringValue ?? event.event {
        case "error":
            let reported = data["error"]?["message"]?.stringValue ?? "unknown error"
            let message = scrubber?.scrub(reported) ?? reported
            fail(.upstreamUnavailable("Provider '\(provider)' reported an error mid-stream: \(message)", code: .upstreamStreamError))
            return
        case "message_start":
            responseModel = data["message"]?["model"]?.stringValue
            usage = Self.anthropicUsage(data["message"]?["usage"], previous: nil)
        case "message_delta":
            usage = Self.anthropicUsage(data["usage"], previous: usage)
        case "message_stop":
            state = .done
        case "content_block_delta":
            noteText(event.data, keys: Self.anthropicTextKeys)
            if captureText, capturedText.utf8.count < 65_536, let text = data["delta"]?["text"]?.stringValue { capturedText += text }
        default:
            break
        }
        event.write(to: &output)
        forwardedEvents += 1
    }

    /// Anthropic usage (input excludes cache reads and writes) → canonical usage.
    /// message_delta counts are cumulative and replace earlier ones field by field.
    public static func anthropicUsage(_ value: JSONValue?, previous: TokenUsage?) -> TokenUsage? {
        guard let value, value.objectValue != nil else { return previous }
        let input = value["input_tokens"]?.intValue ?? 0
        let cacheRead = value["cache_read_input_tokens"]?.intValue ?? 0
        let cacheWrite = value["cache_creation_input_tokens"]?.intValue ?? 0
        let prompt = input + cacheRead + cacheWrite
        let keepsPrevious = prompt == 0 && previous != nil
        return TokenUsage(
            promptTokens: keepsPrevious ? previous!.promptTokens : prompt,
            completionTokens: value["output_tokens"]?.intValue ?? previous?.completionTokens ?? 0,
            cachedPromptTokens: keepsPrevious ? previous!.cachedPromptTokens : cacheRead,
            cacheWriteTokens: keepsPrevious ? previous!.cacheWriteTokens : cacheWrite
        )
    }

    /// The raw JSON string (quotes and escapes as received) of `choices[0].delta.content` when
    /// that is all a chunk carries for a client encoder: non-empty text, no finish reason, and no
    /// other non-null delta member but `role` (which encoders ignore after the first chunk).
    static func plainTextDelta(_ scan: JSONObjectScan) -> ArraySlice<UInt8>? {
        guard let choice = scan.firstObjectElement("choices"), choice.member("finish_reason").map({ $0.kind == .null }) ?? true,
            let delta = choice.nested("delta")
        else { return nil }
        var text: ArraySlice<UInt8>?
        for member in delta.members {
            switch member.key {
            case "content":
                guard member.kind == .string, member.valueRange.count > 2 else { return nil }
                text = delta.rawValue(member)
            case "role":
                continue
            default:
                guard member.kind == .null else { return nil }
            }
        }
        return text
    }

    /// ``plainTextDelta(_:)`` of a chunk read straight from its bytes: one pass that validates
    /// the chunk as the scan does but keeps no key strings or member lists and copies neither
    /// `choices[0]` nor `delta`. The same text whenever it gives one; nil for any other chunk
    /// and wherever it would have to look closer (a key with an escape or a non-ASCII byte, a
    /// member given twice, malformed or too deeply nested JSON): the caller then scans.
    static func plainTextDelta(bytes data: [UInt8]) -> ArraySlice<UInt8>? {
        let found: Range<Int>? = data.withUnsafeBufferPointer { buffer -> Range<Int>? in
            var parser = JSONParser(bytes: buffer)
            do {
                parser.skipWhitespace()
                guard parser.position < buffer.count, buffer[parser.position] == UInt8(ascii: "{") else { return nil }
                parser.depth = 1
                var choices: Range<Int>?
                var choicesSeen = 0
                guard
                    try walkMembers(&parser, { key, kind, value in
                        if Self.isKey(key, "choices") {
                            choicesSeen += 1
                            choices = kind == .array ? value : nil
                        }
                        return true
                    })
                else { return nil }
                try parser.expectEnd()
                guard choicesSeen == 1, let choices else { return nil }
                // choices[0], an object.
                parser.position = choices.lowerBound + 1
                parser.skipWhitespace()
                guard parser.position < choices.upperBound, buffer[parser.position] == UInt8(ascii: "{") else { return nil }
                parser.depth = 2
                var finishSeen = 0
                var finished = false
                var delta: Range<Int>?
                var deltaSeen = 0
                guard
                    try walkMembers(&parser, { key, kind, value in
                        if Self.isKey(key, "finish_reason") {
                            finishSeen += 1
                            finished = kind != .null
                        } else if Self.isKey(key, "delta") {
                            deltaSeen += 1
                            delta = kind == .object ? value : nil
                        }
                        return true
                    })
                else { return nil }
                guard finishSeen <= 1, !finished, deltaSeen == 1, let delta else { return nil }
                // Its delta: non-empty text, nothing else but a role or nulls.
                parser.position = delta.lowerBound
                parser.depth = 3
                var text: Range<Int>?
                var contentSeen = 0
                guard
                    try walkMembers(&parser, { key, kind, value in
                        if Self.isKey(key, "content") {
                            contentSeen += 1
                            guard kind == .string, value.count > 2 else { return false }
                            text = value
                        } else if !Self.isKey(key, "role"), kind != .null {
                            return false
                        }
                        return true
                    })
                else { return nil }
                return contentSeen == 1 ? text : nil
            } catch {
                return nil
            }
        }
        return found.map { data[$0] }
    }

    /// Whether a key's bytes are `name` (its length first: most keys differ in it).
    @inline(__always) private static func isKey(_ key: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        let bytes = name.utf8Start
        for index in 0..<key.count where key[index] != bytes[index] { return false }
        return true
    }

    /// Walks the members of the object at the parser's position (its `{`), validating each
    /// value: `visit` gets each key's bytes (between the quotes), the value's kind and its
    /// range; false from `visit`, or a key with an escape, a control or a non-ASCII byte, ends
    /// the walk with false. Past the object's `}` when it returns true.
    private static func walkMembers(
        _ parser: inout JSONParser, _ visit: (UnsafeBufferPointer<UInt8>, JSONKind, Range<Int>) -> Bool
    ) throws(JSONParseError) -> Bool {
        parser.position += 1
        parser.skipWhitespace()
        if try parser.peek() == UInt8(ascii: "}") {
            parser.position += 1
            return true
        }
        while true {
            parser.skipWhitespace()
            guard try parser.peek() == UInt8(ascii: "\"") else { throw parser.error(.unexpectedCharacter(parser.bytes[parser.position])) }
            let keyStart = parser.position + 1
            var keyEnd = keyStart
            while keyEnd < parser.bytes.count, parser.bytes[keyEnd] != UInt8(ascii: "\"") {
                let byte = parser.bytes[keyEnd]
                guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return false }
                keyEnd += 1
            }
            guard keyEnd < parser.bytes.count else { return false }
            parser.position = keyEnd + 1
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: ":"))
            parser.skipWhitespace()
            let valueStart = parser.position
            let kind = try parser.skipValue()
            guard visit(UnsafeBufferPointer(rebasing: parser.bytes[keyStart..<keyEnd]), kind, valueStart..<parser.position) else { return false }
            parser.skipWhitespace()
            let next = try parser.peek()
            if next == UInt8(ascii: "}") {
                parser.position += 1
                return true
            }
            guard next == UInt8(ascii: ",") else { throw parser.error(.unexpectedCharacter(next)) }
            parser.position += 1
        }
    }

    /// Whether `data` contains `"usage"` followed by `:` and `{`, or `"error"` followed by `:`
    /// (whitespace allowed). Never false for an event that has either as a top-level member.
    static func mayCarryUsageOrError(_ data: [UInt8]) -> Bool {
        data.withUnsafeBufferPointer { data in
            let count = data.count
            var index = 0
            while index + 7 <= count {
                // Only a quote followed, six bytes on, by another quote can open the keys:
                // eight positions at a time where none can.
                if index + 14 <= count, !ByteScan.mayHaveQuotePair(data, at: index, gap: 6) {
                    index += 8
                    continue
                }
                guard data[index] == UInt8(ascii: "\""), data[index + 6] == UInt8(ascii: "\"") else {
                    index += 1
                    continue
                }
                let isUsage =
                    data[index + 1] == UInt8(ascii: "u") && data[index + 2] == UInt8(ascii: "s") && data[index + 3] == UInt8(ascii: "a")
                    && data[index + 4] == UInt8(ascii: "g") && data[index + 5] == UInt8(ascii: "e")
                let isError =
                    !isUsage && data[index + 1] == UInt8(ascii: "e") && data[index + 2] == UInt8(ascii: "r")
                    && data[index + 3] == UInt8(ascii: "r") && data[index + 4] == UInt8(ascii: "o") && data[index + 5] == UInt8(ascii: "r")
                if isUsage || isError {
                    var cursor = skipWhitespace(data, from: index + 7)
                    if cursor < count, data[cursor] == UInt8(ascii: ":") {
                        if isError { return true }
                        cursor = skipWhitespace(data, from: cursor + 1)
                        if cursor < count, data[cursor] == UInt8(ascii: "{") { return true }
                    }
                }
                index += 1
            }
            return false
        }
    }

    private static func skipWhitespace(_ data: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var index = start
        while index < data.count, data[index] == 0x20 || data[index] == 0x0A || data[index] == 0x0D || data[index] == 0x09 {
            index += 1
        }
        return index
    }

    private static func skipWhitespace(_ data: [UInt8], from start: Int) -> Int {
        var index = start
        while index < data.count, data[index] == 0x20 || data[index] == 0x0A || data[index] == 0x0D || data[index] == 0x09 {
            index += 1
        }
        return index
    }

    /// A cheap check that an event is a complete JSON object: `{ ... }` modulo whitespace.
    static func looksLikeObject(_ data: [UInt8]) -> Bool {
        let start = skipWhitespace(data, from: 0)
        var end = data.count - 1
        while end > start, data[end] == 0x20 || data[end] == 0x0A || data[end] == 0x0D || data[end] == 0x09 { end -= 1 }
        return end > start && data[start] == UInt8(ascii: "{") && data[end] == UInt8(ascii: "}")
    }

    private mutating func fail(_ error: GatewayError) {
        state = .failed
        upstreamError = error
    }

    /// Call when the upstream body ended cleanly. Returns whether the stream was truncated
    /// (no `[DONE]` and an unterminated event pending).
    public mutating func finishUpstream() -> Bool {
        let truncated = parser.finish()
        if state == .streaming && truncated {
            fail(.upstreamUnavailable("Provider '\(provider)' closed the stream in the middle of an event.", code: .upstreamStreamTruncated))
            return true
        }
        if state == .streaming { state = .done }
        return false
    }

    /// Passes a chunk's text through the output guardrails and sends what they release.
    private mutating func guardChunk(_ chunk: JSONObject, into output: inout ByteBuffer) {
        var object = chunk
        if let id = object["id"] { lastChunkID = id }
        if let created = object["created"] { lastCreated = created }
        if case .array(let choices) = object["choices"] ?? .null {
            var kept: [JSONValue] = []
            for choice in choices {
                guard case .object(var entry) = choice else {
                    kept.append(choice)
                    continue
                }
                let index = entry["index"]?.intValue ?? 0
                let finished = !(entry["finish_reason"]?.isNull ?? true)
                var delta = entry["delta"]?.objectValue ?? JSONObject()
                let content = delta["content"]?.stringValue
                var text = ""
                if content != nil || finished { text = textGuard!.feed(content ?? "", choice: index, final: finished) }
                if textGuard!.blocked != nil {
                    writeGuardBlock(into: &output)
                    return
                }
                delta["content"] = text.isEmpty ? nil : .string(text)
                if let pseudonyms = textGuard?.output.pseudonyms, !pseudonyms.isEmpty {
                    restoreToolArguments(&delta, choice: index, finished: finished, pseudonyms: pseudonyms)
                }
                if delta["content"] == nil && !finished && !delta.keys.contains(where: { $0 != "content" }) { continue }
                entry["delta"] = .object(delta)
                kept.append(.object(entry))
            }
            if kept.isEmpty && !choices.isEmpty && (object["usage"]?.isNull ?? true) { return }
            object["choices"] = .array(kept)
        }
        if captureText, capturedText.utf8.count < 65_536,
            let text = object["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue
        {
            capturedText += text
        }
        writeChunk(.object(object), into: &output)
    }

    /// Puts pseudonymized values back into streamed tool-call arguments. A fragment that ends
    /// in what may be the start of a placeholder (`[EMA`) is held until the rest arrives.
    private mutating func restoreToolArguments(_ delta: inout JSONObject, choice: Int, finished: Bool, pseudonyms: Pseudonyms) {
        var calls = delta["tool_calls"]?.arrayValue ?? []
        var seen: Set<Int> = []
        for callIndex in calls.indices {
            guard case .object(var call) = calls[callIndex] else { continue }
            let tool = call["index"]?.intValue ?? callIndex
            seen.insert(tool)
            guard case .object(var function) = call["function"] ?? .null, let fragment = function["arguments"]?.stringValue else { continue }
            var pending = Array((heldArguments[choice]?[tool] ?? "").utf8) + Array(fragment.utf8)
            var release = pending.count
            if !finished, let open = pending.lastIndex(of: UInt8(ascii: "[")), !pending[open...].contains(UInt8(ascii: "]")),
                pending.count - open < pseudonyms.longest
            {
                release = open
            }
            let released = pseudonyms.restore(Array(pending[0..<release]), escapeForJSON: true)
            pending.removeFirst(release)
            heldArguments[choice, default: [:]][tool] = pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
            function["arguments"] = .string(String(decoding: released, as: UTF8.self))
            call["function"] = .object(function)
            calls[callIndex] = .object(call)
        }
        if finished, let held = heldArguments.removeValue(forKey: choice) {
            for (tool, text) in held.sorted(by: { $0.key < $1.key }) where !seen.contains(tool) {
                let restored = String(decoding: pseudonyms.restore(Array(text.utf8), escapeForJSON: true), as: UTF8.self)
                calls.append(["index": JSONValue(tool), "function": ["arguments": .string(restored)]])
            }
        }
        if !calls.isEmpty { delta["tool_calls"] = .array(calls) }
    }

    private mutating func writeChunk(_ chunk: JSONValue, into output: inout ByteBuffer) {
        if encoder != nil {
            encoder!.chunk(chunk, into: &output)
        } else {
            output.writeStaticString("data: ")
            output.writeBytes(chunk.serializedBytes())
            output.writeStaticString("\n\n")
        }
        forwardedEvents += 1
    }

    private func chunkEnvelope(_ choices: [JSONValue]) -> JSONValue {
        [
            "id": lastChunkID, "object": "chat.completion.chunk", "created": lastCreated, "model": .string(responseModel ?? ""),
            "choices": .array(choices),
        ]
    }

    /// Sends the text the guard still holds (the upstream ended without a finish reason).
    private mutating func flushGuard(into output: inout ByteBuffer) {
        guard textGuard != nil else { return }
        for index in textGuard!.heldChoices {
            let text = textGuard!.feed("", choice: index, final: true)
            if textGuard!.blocked != nil {
                writeGuardBlock(into: &output)
                return
            }
            guard !text.isEmpty else { continue }
            writeChunk(chunkEnvelope([["index": JSONValue(index), "delta": ["content": .string(text)], "finish_reason": .null]]), into: &output)
        }
    }

    /// A block ends the answer: every choice finishes with `content_filter` and a refusal
    /// naming the guardrail; the upstream is not read any further.
    private mutating func writeGuardBlock(into output: inout ByteBuffer) {
        guard let decision = textGuard?.blocked else { return }
        let refusal = "The answer was blocked by guardrail '\(decision.name)': \(decision.reason)."
        let indices = Set(textGuard!.choices.keys).union([0]).sorted()
        let choices: [JSONValue] = indices.map { index in
            ["index": JSONValue(index), "delta": ["refusal": .string(refusal)], "finish_reason": "content_filter"]
        }
        writeChunk(chunkEnvelope(choices), into: &output)
        state = .done
    }

    /// Ends the client's stream in its dialect (`[DONE]`, or Anthropic's closing events).
    public mutating func writeClientEnd(into output: inout ByteBuffer) {
        if state != .failed, textGuard?.blocked == nil { flushGuard(into: &output) }
        if anthropicPassthrough {
            return  // message_stop was forwarded as sent
        }
        if encoder != nil {
            encoder!.finish(usage: usage, into: &output)
        } else {
            if usageCountedByGateway, forwardUsageChunk, let usage {
                // The client asked for usage and the provider sent none: the gateway's count.
                let chunk: JSONValue = [
                    "id": firstChunkID ?? lastChunkID, "object": "chat.completion.chunk", "created": firstCreated ?? lastCreated,
                    "model": .string(responseModel ?? ""), "choices": [], "usage": usage.openAIJSON,
                ]
                output.writeStaticString("data: ")
                output.writeBytes(chunk.serializedBytes())
                output.writeStaticString("\n\n")
            }
            Self.writeDone(into: &output)
        }
    }

    /// Whether every choice of a chunk is empty: no delta content and no finish reason. LiteLLM
    /// sends its usage chunk so (`"choices":[{"index":0,"delta":{}}]`): it is the usage-only
    /// chunk in another shape and goes when the client did not ask for usage.
    static func choicesCarryNothing(_ scan: JSONObjectScan) -> Bool {
        guard let choices = scan.value("choices")?.arrayValue, !choices.isEmpty else { return false }
        return choices.allSatisfy { choice in
            guard let object = choice.objectValue else { return false }
            for (key, value) in object.members where key != "index" && value != .null {
                guard key == "delta", let delta = value.objectValue else { return false }
                if delta.members.contains(where: { $0.value != .null && $0.value != .string("") }) { return false }
            }
            return true
        }
    }

    /// Sets the usage the gateway counted when the provider reported none; call before
    /// ``writeClientEnd(into:)`` so that a client that asked for usage receives it.
    public mutating func supplyUsage(_ counted: TokenUsage) {
        guard usage == nil else { return }
        usage = counted
        usageCountedByGateway = true
    }

    /// The completion tokens of the text forwarded so far, counted with `model`'s tokenizer
    /// (extrapolated past the kept text). Never zero once any text was forwarded.
    public func streamedCompletionTokens(model: String) -> Int {
        let (streamedText, streamedTextBytes) = withPendingRead()
        guard streamedTextBytes > 0 else { return 0 }
        let kept = PromptTokens.count(String(decoding: streamedText, as: UTF8.self), model: model)
        guard streamedTextBytes > streamedText.count, !streamedText.isEmpty else { return max(1, kept) }
        return max(1, Int((Double(kept) * Double(streamedTextBytes) / Double(streamedText.count)).rounded(.up)))
    }

    static let openAITextKeys: [[UInt8]] = ["\"content\"", "\"arguments\"", "\"reasoning_content\"", "\"refusal\""].map { Array($0.utf8) }
    static let anthropicTextKeys: [[UInt8]] = ["\"text\"", "\"partial_json\"", "\"thinking\""].map { Array($0.utf8) }

    /// Appends the string values of `keys` found in an event to ``streamedText`` (a byte scan,
    /// no parse: the fast path forwards events without parsing them).
    private mutating func noteText(_ data: [UInt8], keys: [[UInt8]]) {
        if !pendingEnds.isEmpty { readPending() }
        data.withUnsafeBufferPointer { Self.noteText($0, keys: keys, text: &notedText, bytes: &notedTextBytes) }
    }

    /// Keeps a fast-path event's bytes for ``noteText(_:keys:)`` when its text is wanted.
    private mutating func deferText(_ data: [UInt8]) {
        pendingText.append(contentsOf: data)
        pendingEnds.append(pendingText.count)
        if pendingText.count > Self.pendingTextLimit { readPending() }
    }

    private mutating func readPending() {
        Self.read(pendingText, ends: pendingEnds, text: &notedText, bytes: &notedTextBytes)
        pendingText.removeAll(keepingCapacity: true)
        pendingEnds.removeAll(keepingCapacity: true)
    }

    /// The text and its length with the pending events read, without changing the relay.
    private func withPendingRead() -> (text: [UInt8], bytes: Int) {
        var text = notedText
        var bytes = notedTextBytes
        Self.read(pendingText, ends: pendingEnds, text: &text, bytes: &bytes)
        return (text, bytes)
    }

    private static func read(_ pending: [UInt8], ends: [Int], text: inout [UInt8], bytes: inout Int) {
        pending.withUnsafeBufferPointer { pending in
            var start = 0
            for end in ends {
                noteText(UnsafeBufferPointer(rebasing: pending[start..<end]), keys: openAITextKeys, text: &text, bytes: &bytes)
                start = end
            }
        }
    }

    private static func noteText(_ data: UnsafeBufferPointer<UInt8>, keys: [[UInt8]], text streamedText: inout [UInt8], bytes streamedTextBytes: inout Int) {
        let limit = Self.streamedTextLimit
        let count = data.count
        var index = 0
        while index < count {
            guard data[index] == UInt8(ascii: "\"") else {
                // Outside strings a JSON event has no backslash: on to the next quote.
                index = ByteScan.quoteOrBackslash(data, from: index + 1)
                continue
            }
            var matchedLength = 0
            for key in keys where index + key.count <= count && data[index + 1] == key[1] {
                var equal = true
                for offset in 2..<key.count where data[index + offset] != key[offset] {
                    equal = false
                    break
                }
                if equal {
                    matchedLength = key.count
                    break
                }
            }
            guard matchedLength > 0 else {
                // Not a wanted key: skip the whole string (a value may contain `"content"`).
                index = Self.endOfString(data, openingQuote: index)
                continue
            }
            var cursor = Self.skipWhitespace(data, from: index + matchedLength)
            guard cursor < count, data[cursor] == UInt8(ascii: ":") else {
                index += matchedLength
                continue
            }
            cursor = Self.skipWhitespace(data, from: cursor + 1)
            guard cursor < count, data[cursor] == UInt8(ascii: "\"") else {
                index = cursor
                continue
            }
            cursor += 1
            while cursor < count, data[cursor] != UInt8(ascii: "\"") {
                // A run without escapes is copied at once.
                let runStart = cursor
                cursor = ByteScan.quoteOrBackslash(data, from: cursor)
                if cursor > runStart {
                    let length = cursor - runStart
                    streamedTextBytes += length
                    let room = limit - streamedText.count
                    if room > 0 { streamedText.append(contentsOf: UnsafeBufferPointer(rebasing: data[runStart..<runStart + min(length, room)])) }
                    continue
                }
                guard data[cursor] == UInt8(ascii: "\\"), cursor + 1 < count else {
                    cursor += 1
                    continue
                }
                cursor += 1
                var byte: UInt8
                switch data[cursor] {
                case UInt8(ascii: "n"): byte = 0x0A
                case UInt8(ascii: "t"): byte = 0x09
                case UInt8(ascii: "r"): byte = 0x0D
                case UInt8(ascii: "u"):
                    // A \uXXXX escape: one placeholder character is enough for counting.
                    byte = UInt8(ascii: "?")
                    cursor = min(cursor + 4, count - 1)
                default: byte = data[cursor]
                }
                streamedTextBytes += 1
                if streamedText.count < limit { streamedText.append(byte) }
                cursor += 1
            }
            index = cursor + 1
        }
    }

    /// The index after the string that opens at `openingQuote` (escapes honoured).
    private static func endOfString(_ data: UnsafeBufferPointer<UInt8>, openingQuote: Int) -> Int {
        var cursor = openingQuote + 1
        while cursor < data.count {
            cursor = ByteScan.quoteOrBackslash(data, from: cursor)
            guard cursor < data.count else { break }
            switch data[cursor] {
            case UInt8(ascii: "\""): return cursor + 1
            case UInt8(ascii: "\\"): cursor += 2
            default: cursor += 1
            }
        }
        return data.count
    }

    /// Ends the client's stream with an error event in its dialect.
    public mutating func writeClientError(_ error: GatewayError, into output: inout ByteBuffer) {
        if encoder != nil {
            encoder!.fail(error, into: &output)
        } else if anthropicPassthrough {
            AnthropicStreamEncoder.writeError(error, into: &output)
        } else {
            Self.writeError(error, into: &output)
        }
    }

    /// The closing `data: [DONE]` event.
    public static func writeDone(into output: inout ByteBuffer) {
        output.writeStaticString("data: [DONE]\n\n")
    }

    /// An error event in the OpenAI dialect, then the closing `[DONE]`.
    public static func writeError(_ error: GatewayError, into output: inout ByteBuffer) {
        output.writeStaticString("data: ")
        output.writeBytes(error.envelope())
        output.writeStaticString("\n\n")
        writeDone(into: &output)
    }
}

/// Re-encodes the canonical chunk stream for a client that speaks another dialect.
///
/// Each method takes the encoder out of `self` (`consume`) before changing it, so that the text
/// and tool arguments it accumulates are uniquely referenced and grow in place rather than
/// being copied at every chunk.
public enum ClientStreamEncoder: Sendable {
    case anthropic(AnthropicStreamEncoder)
    case responses(ResponsesStreamEncoder)

    mutating func chunk(_ chunk: JSONValue, into output: inout ByteBuffer) {
        switch consume self {
        case .anthropic(var encoder):
            encoder.chunk(chunk, into: &output)
            self = .anthropic(encoder)
        case .responses(var encoder):
            encoder.chunk(chunk, into: &output)
            self = .responses(encoder)
        }
    }

    /// Re-encodes a chunk that carries only text, given as its raw JSON string; false when the
    /// encoder has not started (the first chunk goes through ``chunk(_:into:)``).
    mutating func textDelta(_ rawText: ArraySlice<UInt8>, into output: inout ByteBuffer) -> Bool {
        switch consume self {
        case .anthropic(var encoder):
            guard encoder.started else {
                self = .anthropic(encoder)
                return false
            }
            encoder.textDelta(rawText, into: &output)
            self = .anthropic(encoder)
        case .responses(var encoder):
            guard encoder.started, let text = JSONValue.decodeString(rawText) else {
                self = .responses(encoder)
                return false
            }
            encoder.textDelta(text, raw: rawText, into: &output)
            self = .responses(encoder)
        }
        return true
    }

    mutating func finish(usage: TokenUsage?, into output: inout ByteBuffer) {
        switch consume self {
        case .anthropic(var encoder):
            encoder.finish(usage: usage, into: &output)
            self = .anthropic(encoder)
        case .responses(var encoder):
            encoder.finish(usage: usage, into: &output)
            self = .responses(encoder)
        }
    }

    mutating func fail(_ error: GatewayError, into output: inout ByteBuffer) {
        switch consume self {
        case .anthropic(let encoder):
            AnthropicStreamEncoder.writeError(error, into: &output)
            self = .anthropic(encoder)
        case .responses(var encoder):
            encoder.fail(error, into: &output)
            self = .responses(encoder)
        }
    }
}
