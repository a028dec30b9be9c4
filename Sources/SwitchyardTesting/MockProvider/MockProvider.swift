import Foundation
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import Synchronization

/// A deterministic OpenAI-dialect model provider for tests, benchmarks and offline use.
///
/// It produces chat completions (with tool calls when tools are offered), legacy completions,
/// embeddings, rerankings, moderation verdicts and model lists, streamed or not, and can misbehave on demand (see
/// ``MockBehaviour``). The same engine backs the in-process adapter (`type: mock`) and the HTTP
/// server (`switchyard mock-provider`). It records what it received, so tests can check what
/// the gateway sent upstream.
public final class MockProvider: Sendable {
    public let defaults: MockBehaviour
    /// Models listed by `GET /v1/models`.
    public let models: [String]
    /// When set, requests must carry `Authorization: Bearer <key>` or get 401.
    public let requiredAPIKey: String?
    let state = Mutex(MockStats())
    private let random: Mutex<SplitMix64>
    /// Where requests with the `hold` or `hold_after` knob wait until the test opens it.
    public let gate = HoldGate()
    /// Files and batches of the mock's OpenAI and Anthropic batch APIs (see `MockProvider+Batches`).
    let batchState = Mutex(MockBatchState())

    public init(defaults: MockBehaviour = MockBehaviour(), models: [String] = ["mock-gpt", "mock-embedding"], requiredAPIKey: String? = nil) {
        self.defaults = defaults
        self.models = models
        self.requiredAPIKey = requiredAPIKey
        self.random = Mutex(SplitMix64(seed: defaults.seed))
    }

    /// What the mock has seen so far.
    public var stats: MockStats { state.withLock { $0 } }

    public func resetStats() { state.withLock { $0 = MockStats() } }

    func recordStreamStart() {
        state.withLock { $0.startedStreams += 1 }
    }

    func recordStreamEnd(cancelled: Bool) {
        state.withLock { stats in
            if cancelled { stats.cancelledStreams += 1 } else { stats.completedStreams += 1 }
        }
    }

    /// `fail_first` / `fail_percent`: turns this request into a failure when its turn has come.
    func applyPlannedFailure(_ behaviour: inout MockBehaviour) {
        guard behaviour.status == nil else { return }
        let number = state.withLock { $0.requests }
        if number <= behaviour.failFirst
            || (behaviour.failPercent > 0 && random.withLock { Double.random(in: 0..<100, using: &$0) } < behaviour.failPercent)
        {
            behaviour.status = behaviour.failStatus
        }
    }

    /// How the mock answers one request: status, headers and the body as timed pieces.
    public struct Plan: Sendable {
        public var status: Int
        public var headers: [HeaderField]
        public var latency: Duration
        public var pieces: [Piece]
        /// Close the connection abruptly after the pieces instead of ending the body.
        public var dropConnection: Bool
        public var isStream: Bool
        /// Wait at the mock's gate before answering at all (`hold`).
        public var holdBeforeAnswer = false
        /// Wait at the mock's gate before sending the piece at this index (`hold_after`).
        public var holdBeforePiece: Int? = nil
        /// The longest any of those waits lasts when the gate is never opened.
        public var holdLimit: Duration = .seconds(30)

        public struct Piece: Sendable {
            public var delay: Duration
            public var bytes: ByteBuffer
        }
    }

    /// Plans the answer to `method path` with the given headers and body.
    public func plan(method: String, path: String, headers: [HeaderField], body: [UInt8], totalBytes: Int? = nil) -> Plan {
        let fullPath = path
        let path = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if path == "/v1/traces" {
            // An OpenTelemetry collector stand-in (OTLP/HTTP JSON): counts the spans it gets.
            let spans = (try? JSONValue.parse(body))?["resourceSpans"]?.arrayValue?.reduce(0) { total, resource in
                total + (resource["scopeSpans"]?.arrayValue ?? []).reduce(0) { $0 + ($1["spans"]?.arrayValue?.count ?? 0) }
            }
            guard let spans else {
                return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_json", message: "Not an OTLP JSON trace export.")
            }
            state.withLock { $0.spansReceived += spans }
            return jsonPlan(.object([:]), behaviour: defaults)
        }
        // Requests that name an end user are counted by it (how tests see that each line of a
        // batch reached the provider exactly once, and at what rate).
        let user = body.count < 1 << 20 && String(decoding: body, as: UTF8.self).contains(#""user""#) ? (try? JSONValue.parse(body))?["user"]?.stringValue : nil
        state.withLock { stats in
            stats.requests += 1
            if let user {
                stats.requestsByUser[user, default: 0] += 1
                stats.userRequestTimes.append(.now)
            }
            stats.lastPath = path
            stats.lastURL = fullPath
            stats.lastHeaders = headers
            stats.lastBody = body
        }
        if let requiredAPIKey {
            let presented = headers.first(where: { $0.name.lowercased() == "authorization" })?.value
            if presented != "Bearer \(requiredAPIKey)" {
                return errorPlan(
                    status: 401, type: "invalid_request_error", code: "invalid_api_key",
                    message: "Incorrect API key provided: \(presented ?? "none").")
            }
        }
        var behaviour = defaults
        for header in headers where header.name.lowercased().hasPrefix("x-mock-") {
            behaviour.apply(String(header.name.dropFirst(7)), header.value)
        }
        if let batchPlan = batchPlan(method: method, path: path, headers: headers, body: body) { return batchPlan }
        if method == "GET" {
            if path.hasSuffix("/models") {
                let data = models.map { model -> JSONValue in
                    .object(["id": .string(model), "object": "model", "created": JSONValue(1_700_000_000), "owned_by": "switchyard-mock"])
                }
                return jsonPlan(.object(["object": "list", "data": .array(data)]), behaviour: behaviour)
            }
            return errorPlan(status: 404, type: "invalid_request_error", code: "not_found", message: "Unknown path \(path).")
        }
        if let media = mediaPlan(path: path, headers: headers, head: body, totalBytes: totalBytes ?? body.count, behaviour: behaviour) {
            return media
        }
        if path.hasSuffix(":countTokens") {
            let text = (try? JSONValue.parse(body))?["contents"]?.arrayValue?.flatMap { $0["parts"]?.arrayValue ?? [] }
                .compactMap { $0["text"]?.stringValue }.joined(separator: " ")
            guard let text else { return geminiError(status: 400, message: "Invalid JSON payload received.") }
            return jsonPlan(["totalTokens": JSONValue(Self.approximateTokens(text.utf8.count))], behaviour: behaviour)
        }
        if path.hasSuffix("/messages") {
            return anthropicPlan(path: path, headers: headers, body: body, behaviour: behaviour)
        }
        if path == "/v2/chat" || path == "/v2/embed" || path == "/v2/rerank" {
            return coherePlan(path: path, body: body, behaviour: behaviour)
        }
        if path.hasPrefix("/model/"), path.hasSuffix("/invoke") {
            // Bedrock InvokeModel for embedding models: Titan (`inputText`) or Cohere (`texts`).
            guard let request = (try? JSONValue.parse(body))?.objectValue else {
                return bedrockError(status: 400, type: "ValidationException", message: "Malformed input request.")
            }
            if let image = bedrockImagePlan(request, behaviour: behaviour) { return image }
            if let texts = request["texts"]?.arrayValue?.compactMap(\.stringValue) {
                let vectors: [JSONValue] = texts.map { .array(Self.embedding(for: $0, dimensions: 1024).map { JSONValue(Double($0)) }) }
                return jsonPlan(
                    ["id": "mock", "embeddings": .array(vectors), "response_type": "embeddings_floats", "texts": .array(texts.map { .string($0) })],
                    behaviour: behaviour)
            }
            guard let text = request["inputText"]?.stringValue else {
                return bedrockError(status: 400, type: "ValidationException", message: "Malformed input request: inputText is required.")
            }
            let dimensions = request["dimensions"]?.intValue ?? 1024
            return jsonPlan(
                [
                    "embedding": .array(Self.embedding(for: text, dimensions: min(max(1, dimensions), 4096)).map { JSONValue(Double($0)) }),
                    "inputTextTokenCount": JSONValue(Self.approximateTokens(text.utf8.count)),
                ],
                behaviour: behaviour
            )
        }
        if path.hasPrefix("/model/"), path.hasSuffix("/converse") || path.hasSuffix("/converse-stream") {
            return bedrockPlan(path: path, body: body, behaviour: behaviour)
        }
        if path.hasSuffix(":predict") {
            // Imagen (Gemini API and Vertex AI).
            var behaviour = behaviour
            applyPlannedFailure(&behaviour)
            if let status = behaviour.status, status >= 400 { return geminiError(status: status, message: "Mock failure with status \(status).") }
            guard let request = (try? JSONValue.parse(body))?.objectValue else {
                return geminiError(status: 400, message: "Invalid JSON payload received.")
            }
            return imagenPlan(request, behaviour: behaviour)
        }
        if path.hasSuffix(":batchEmbedContents") {
            guard let request = (try? JSONValue.parse(body))?.objectValue else {
                return geminiError(status: 400, message: "Invalid JSON payload received.")
            }
            let embeddings: [JSONValue] = (request["requests"]?.arrayValue ?? []).map { entry in
                let text = entry["content"]?["parts"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                let dimensions = entry["outputDimensionality"]?.intValue ?? behaviour.embeddingDimensions
                return ["values": .array(Self.embedding(for: text, dimensions: min(max(1, dimensions), 4096)).map { JSONValue(Double($0)) })]
            }
            return jsonPlan(["embeddings": .array(embeddings)], behaviour: behaviour)
        }
        if path.contains(":generateContent") || path.contains(":streamGenerateContent") {
            return geminiPlan(path: path, body: body, behaviour: behaviour)
        }
        let request: JSONObject
        do {
            guard let object = try JSONValue.parse(body).objectValue else {
                return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_json", message: "The body must be a JSON object.")
            }
            request = object
        } catch {
            return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_json", message: "Invalid JSON: \(error).")
        }
        if let mock = request["mock"]?.objectValue { behaviour.apply(mock) }
        applyPlannedFailure(&behaviour)
        if let status = behaviour.status, status >= 400 {
            var plan = errorPlan(
                status: status, type: Self.errorType(for: status), code: behaviour.errorCode, message: "Mock failure with status \(status).")
            if let retryAfter = behaviour.retryAfter { plan.headers.append(HeaderField("retry-after", retryAfter)) }
            plan.latency = .milliseconds(behaviour.latencyMilliseconds)
            return Self.holding(plan, behaviour)
        }
        let model = request["model"]?.stringValue ?? "mock-gpt"
        if path.hasSuffix("/embeddings") {
            return Self.holding(embeddingsPlan(request, model: model, behaviour: behaviour), behaviour)
        }
        if path.hasSuffix("/rerank") {
            // vLLM's and Jina's form: Cohere's results plus `usage.total_tokens`.
            var answer = Self.rerankAnswer(request)
            answer["model"] = .string(model)
            if !behaviour.omitUsage { answer["usage"] = ["total_tokens": JSONValue(Self.rerankTokens(request))] }
            return Self.holding(jsonPlan(.object(answer), behaviour: behaviour), behaviour)
        }
        if path.hasSuffix("/moderations") {
            return Self.holding(jsonPlan(Self.moderationAnswer(request, model: model), behaviour: behaviour), behaviour)
        }
        let isChat = path.hasSuffix("/chat/completions")
        guard isChat || path.hasSuffix("/completions") else {
            return errorPlan(status: 404, type: "invalid_request_error", code: "not_found", message: "Unknown path \(path).")
        }
        return Self.holding(completionPlan(request, chat: isChat, model: model, promptBytes: body.count, behaviour: behaviour), behaviour)
    }

    /// The `hold` knobs (OpenAI-dialect answers): where the answer waits at the gate.
    private static func holding(_ plan: Plan, _ behaviour: MockBehaviour) -> Plan {
        var plan = plan
        plan.holdBeforeAnswer = behaviour.hold
        if plan.isStream, let after = behaviour.holdAfterPieces { plan.holdBeforePiece = min(after, plan.pieces.count) }
        plan.holdLimit = .milliseconds(behaviour.holdLimitMilliseconds)
        return plan
    }

    /// The Anthropic Messages dialect: the request is translated to the canonical form, answered
    /// by the same engine, and the answer encoded as Anthropic would send it (the encoder the
    /// gateway uses for its own `/v1/messages`, which the official SDK validates in tests).
    private func anthropicPlan(path: String, headers: [HeaderField], body: [UInt8], behaviour: MockBehaviour) -> Plan {
        let translated: AnthropicRequestTranslator.Translated
        do {
            translated = try AnthropicRequestTranslator.translate(body)
        } catch {
            return anthropicError(error)
        }
        var canonical = translated.body.objectValue ?? JSONObject()
        var behaviour = behaviour
        if let mock = canonical["mock"]?.objectValue { behaviour.apply(mock) }
        // Claude thinks only when asked, and signs what it thought.
        if canonical["thinking"]?["type"]?.stringValue != "enabled" {
            behaviour.reasoning = nil
        } else if behaviour.reasoning != nil, behaviour.reasoningSignature == nil {
            behaviour.reasoningSignature = "mock-signature-" + String(behaviour.reasoning!.utf8.count)
        }
        canonical["mock"] = nil
        if translated.stream { canonical["stream_options"] = ["include_usage": true] }
        var plan = completionPlanFor(canonical, behaviour: behaviour)
        if plan.status >= 400 {
            let message =
                (try? JSONValue.parse(Array(buffer: plan.pieces.first?.bytes ?? ByteBuffer())))?["error"]?["message"]?.stringValue ?? "error"
            var error = anthropicError(.provider(status: plan.status, type: "api_error", code: nil, message: message))
            error.headers.append(contentsOf: plan.headers.filter { $0.name.lowercased() == "retry-after" })
            error.latency = plan.latency
            return error
        }
        let requestID = "req_mock"
        if !plan.isStream {
            guard let first = plan.pieces.first,
                let message = try? AnthropicResponseTranslator.message(fromOpenAI: Array(buffer: first.bytes), requestID: requestID)
            else { return plan }
            plan.pieces = [.init(delay: .zero, bytes: ByteBuffer(bytes: message.serializedBytes()))]
            return plan
        }
        var relay = OpenAIStreamRelay(forwardUsageChunk: false, provider: "mock")
        relay.encoder = .anthropic(AnthropicStreamEncoder(requestID: requestID))
        var pieces: [Plan.Piece] = []
        for piece in plan.pieces {
            var output = ByteBuffer()
            relay.consume(piece.bytes, into: &output)
            if relay.state == .done { relay.writeClientEnd(into: &output) }
            if relay.state == .failed, let error = relay.upstreamError {
                relay.writeClientError(error, into: &output)
                pieces.append(.init(delay: piece.delay, bytes: output))
                break
            }
            pieces.append(.init(delay: piece.delay, bytes: output))
            if relay.state == .done { break }
        }
        plan.pieces = pieces
        return plan
    }

    /// The Gemini dialect, generated natively from the Gemini request (not through the
    /// gateway's translators), so tests of the Gemini adapter check it against an independent
    /// implementation of the wire format.
    private func geminiPlan(path: String, body: [UInt8], behaviour: MockBehaviour) -> Plan {
        var behaviour = behaviour
        guard let request = (try? JSONValue.parse(body))?.objectValue else {
            return geminiError(status: 400, message: "Invalid JSON payload received.")
        }
        if let mock = request["mock"]?.objectValue { behaviour.apply(mock) }
        applyPlannedFailure(&behaviour)
        if let status = behaviour.status, status >= 400 {
            var plan = geminiError(status: status, message: "Mock failure with status \(status).")
            if let retryAfter = behaviour.retryAfter { plan.headers.append(HeaderField("retry-after", retryAfter)) }
            plan.latency = .milliseconds(behaviour.latencyMilliseconds)
            return plan
        }
        if request["generationConfig"]?["responseModalities"]?.arrayValue?.contains(where: { $0.stringValue?.uppercased() == "IMAGE" }) == true {
            return geminiImagePlan(request, bodyBytes: body.count, behaviour: behaviour)
        }
        let stream = path.contains(":streamGenerateContent")
        let model = path.components(separatedBy: "/models/").last?.components(separatedBy: ":").first?.removingPercentEncoding ?? "gemini-mock"
        let contents = request["contents"]?.arrayValue ?? []
        // Gemini 3 signs the function calls it makes and refuses a history in which the first
        // call of a model turn comes back without its signature.
        let signsCalls = model.hasPrefix("gemini-3")
        if signsCalls, let unsigned = Self.unsignedFunctionCall(in: contents) {
            return geminiError(
                status: 400,
                message: "Function call is missing a thought_signature in functionCall parts. Additional data, function call `\(unsigned)`.")
        }
        let last = contents.last
        let answersFunction = last?["parts"]?.arrayValue?.contains { $0["functionResponse"] != nil } == true
        let prompt =
            contents.last(where: { $0["role"]?.stringValue == "user" && $0["parts"]?.arrayValue?.contains { $0["text"] != nil } == true })?["parts"]?
            .arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: " ") ?? ""
        var calls: [JSONValue] = []
        let mode = request["toolConfig"]?["functionCallingConfig"]?["mode"]?.stringValue
        if !answersFunction, mode != "NONE", let declarations = request["tools"]?.arrayValue?.first?["functionDeclarations"]?.arrayValue {
            for declaration in declarations.prefix(behaviour.toolCalls) {
                let schema = declaration["parametersJsonSchema"] ?? declaration["parameters"]
                var part: JSONObject = ["functionCall": ["name": declaration["name"] ?? "", "args": Self.sampleArguments(for: schema)]]
                // Only the first of parallel calls carries the signature, as Gemini 3 sends them.
                if signsCalls, calls.isEmpty {
                    part["thoughtSignature"] = .string(Self.thoughtSignature(for: declaration["name"]?.stringValue ?? ""))
                }
                calls.append(.object(part))
            }
        }
        let text = behaviour.content ?? "This is a mock response to: \(String(prompt.prefix(200)))"
        let pieces = Self.split(text, into: behaviour.chunks)
        let usage: JSONValue = [
            "promptTokenCount": JSONValue(Self.approximateTokens(body.count)),
            "candidatesTokenCount": JSONValue(calls.isEmpty ? pieces.count : calls.count * 4),
            "totalTokenCount": JSONValue(Self.approximateTokens(body.count) + (calls.isEmpty ? pieces.count : calls.count * 4)),
        ]
        // Thought summaries only when the request asks for them.
        let thought: JSONValue? =
            request["generationConfig"]?["thinkingConfig"]?["includeThoughts"]?.boolValue == true
            ? behaviour.reasoning.map { ["text": .string($0), "thought": true] } : nil
        func response(_ parts: [JSONValue], finish: Bool) -> JSONValue {
            var candidate: JSONObject = ["content": ["role": "model", "parts": .array(parts)], "index": 0]
            if finish { candidate["finishReason"] = "STOP" }
            var object: JSONObject = ["candidates": [.object(candidate)], "modelVersion": .string(model), "responseId": "mock-gemini"]
            if finish { object["usageMetadata"] = usage }
            return .object(object)
        }
        if !stream {
            let parts: [JSONValue] = (thought.map { [$0] } ?? []) + (calls.isEmpty ? [["text": .string(pieces.joined())]] : calls)
            return jsonPlan(response(parts, finish: true), behaviour: behaviour)
        }
        var out: [Plan.Piece] = []
        var dropped = false
        func event(_ value: JSONValue) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeStaticString("data: ")
            buffer.writeBytes(value.serializedBytes())
            buffer.writeStaticString("\r\n\r\n")
            return buffer
        }
        func delay() -> Duration {
            .milliseconds(out.isEmpty ? behaviour.firstTokenDelayMilliseconds : behaviour.chunkDelayMilliseconds)
        }
        if let thought { out.append(.init(delay: delay(), bytes: event(response([thought], finish: false)))) }
        if calls.isEmpty {
            for (index, piece) in pieces.enumerated() {
                if let drop = behaviour.dropAfterChunks, index >= drop {
                    dropped = true
                    break
                }
                if let errorAfter = behaviour.errorAfterChunks, index >= errorAfter {
                    out.append(
                        .init(
                            delay: delay(),
                            bytes: event(["error": ["code": 500, "message": "Mock provider failed mid-stream.", "status": "INTERNAL"]])))
                    break
                }
                out.append(.init(delay: delay(), bytes: event(response([["text": .string(piece)]], finish: index == pieces.count - 1))))
            }
        } else {
            out.append(.init(delay: delay(), bytes: event(response(calls, finish: true))))
        }
        return Plan(
            status: 200,
            headers: [HeaderField("content-type", "text/event-stream")],
            latency: .milliseconds(behaviour.latencyMilliseconds),
            pieces: out,
            dropConnection: dropped,
            isStream: true
        )
    }

    /// The thought signature the mock gives a Gemini 3 function call: base64 of three bytes
    /// that encode to `+` and `/` followed by the function name, so a round trip that does not
    /// restore the signature exactly is caught.
    public static func thoughtSignature(for function: String) -> String {
        Data([0xFB, 0xEF, 0xFF] + Array(function.utf8)).base64EncodedString()
    }

    /// The name of the first function call of a model turn that lacks its signature, if any.
    static func unsignedFunctionCall(in contents: [JSONValue]) -> String? {
        for turn in contents where turn["role"]?.stringValue == "model" {
            guard let first = turn["parts"]?.arrayValue?.first(where: { $0["functionCall"] != nil }) else { continue }
            let name = first["functionCall"]?["name"]?.stringValue ?? ""
            if first["thoughtSignature"]?.stringValue != thoughtSignature(for: name) { return name }
        }
        return nil
    }

    /// The Bedrock Converse dialect, generated natively; streams use the binary event-stream
    /// framing with real CRC32 checksums.
    private func bedrockPlan(path: String, body: [UInt8], behaviour: MockBehaviour) -> Plan {
        var behaviour = behaviour
        guard let request = (try? JSONValue.parse(body))?.objectValue else {
            return bedrockError(status: 400, type: "ValidationException", message: "Malformed input request.")
        }
        if let mock = request["mock"]?.objectValue { behaviour.apply(mock) }
        applyPlannedFailure(&behaviour)
        if let status = behaviour.status, status >= 400 {
            let type = status == 429 ? "ThrottlingException" : status >= 500 ? "InternalServerException" : "ValidationException"
            var plan = bedrockError(status: status, type: type, message: "Mock failure with status \(status).")
            if let retryAfter = behaviour.retryAfter { plan.headers.append(HeaderField("retry-after", retryAfter)) }
            return plan
        }
        let stream = path.hasSuffix("/converse-stream")
        let messages = request["messages"]?.arrayValue ?? []
        let answersTool = messages.last?["content"]?.arrayValue?.contains { $0["toolResult"] != nil } == true
        let prompt =
            messages.last(where: { $0["role"]?.stringValue == "user" && $0["content"]?.arrayValue?.contains { $0["text"] != nil } == true })?[
                "content"]?
            .arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: " ") ?? ""
        var uses: [JSONValue] = []
        if !answersTool, let tools = request["toolConfig"]?["tools"]?.arrayValue {
            for (index, tool) in tools.prefix(behaviour.toolCalls).enumerated() {
                let spec = tool["toolSpec"]
                uses.append([
                    "toolUseId": .string("tooluse_mock_\(index)"), "name": spec?["name"] ?? "",
                    "input": Self.sampleArguments(for: spec?["inputSchema"]?["json"]),
                ])
            }
        }
        let text = behaviour.content ?? "This is a mock response to: \(String(prompt.prefix(200)))"
        let pieces = Self.split(text, into: behaviour.chunks)
        let outputTokens = uses.isEmpty ? pieces.count : uses.count * 4
        let usage: JSONValue = [
            "inputTokens": JSONValue(Self.approximateTokens(body.count)), "outputTokens": JSONValue(outputTokens),
            "totalTokens": JSONValue(Self.approximateTokens(body.count) + outputTokens),
        ]
        let stopReason = uses.isEmpty ? "end_turn" : "tool_use"
        // Reasoning only when the request enables thinking (Claude on Bedrock), signed.
        let reasoning = request["additionalModelRequestFields"]?["thinking"]?["type"]?.stringValue == "enabled" ? behaviour.reasoning : nil
        let signature = behaviour.reasoningSignature ?? "mock-bedrock-signature"
        if !stream {
            var content: [JSONValue] = uses.isEmpty ? [["text": .string(pieces.joined())]] : uses.map { ["toolUse": $0] }
            if let reasoning {
                content.insert(["reasoningContent": ["reasoningText": ["text": .string(reasoning), "signature": .string(signature)]]], at: 0)
            }
            return jsonPlan(
                [
                    "output": ["message": ["role": "assistant", "content": .array(content)]], "stopReason": .string(stopReason), "usage": usage,
                    "metrics": ["latencyMs": 1],
                ],
                behaviour: behaviour
            )
        }
        func frame(_ type: String, _ payload: JSONValue) -> ByteBuffer {
            let message = EventStreamMessage(
                headers: [":event-type": type, ":content-type": "application/json", ":message-type": "event"],
                payload: payload.serializedBytes()
            )
            return ByteBuffer(bytes: message.encoded())
        }
        var out: [Plan.Piece] = []
        func add(_ bytes: ByteBuffer) {
            out.append(
                .init(delay: .milliseconds(out.isEmpty ? behaviour.firstTokenDelayMilliseconds : behaviour.chunkDelayMilliseconds), bytes: bytes))
        }
        var dropped = false
        add(frame("messageStart", ["role": "assistant"]))
        let textBlock = reasoning == nil ? 0 : 1
        if let reasoning {
            add(frame("contentBlockDelta", ["contentBlockIndex": 0, "delta": ["reasoningContent": ["text": .string(reasoning)]]]))
            add(frame("contentBlockDelta", ["contentBlockIndex": 0, "delta": ["reasoningContent": ["signature": .string(signature)]]]))
            add(frame("contentBlockStop", ["contentBlockIndex": 0]))
        }
        if uses.isEmpty {
            for (index, piece) in pieces.enumerated() {
                if let drop = behaviour.dropAfterChunks, index >= drop {
                    dropped = true
                    break
                }
                if let errorAfter = behaviour.errorAfterChunks, index >= errorAfter {
                    let exception = EventStreamMessage(
                        headers: [
                            ":message-type": "exception", ":exception-type": behaviour.streamException ?? "internalServerException",
                            ":content-type": "application/json",
                        ],
                        payload: (["message": "Mock provider failed mid-stream."] as JSONValue).serializedBytes()
                    )
                    add(ByteBuffer(bytes: exception.encoded()))
                    return Plan(
                        status: 200, headers: [HeaderField("content-type", "application/vnd.amazon.eventstream")], latency: .zero, pieces: out,
                        dropConnection: false, isStream: true)
                }
                add(frame("contentBlockDelta", ["contentBlockIndex": JSONValue(textBlock), "delta": ["text": .string(piece)]]))
            }
            if !dropped { add(frame("contentBlockStop", ["contentBlockIndex": JSONValue(textBlock)])) }
        } else {
            for (index, use) in uses.enumerated() {
                add(
                    frame(
                        "contentBlockStart",
                        ["contentBlockIndex": JSONValue(index), "start": ["toolUse": ["toolUseId": use["toolUseId"]!, "name": use["name"]!]]]))
                let input = use["input"]!.serialized()
                let middle = input.index(input.startIndex, offsetBy: input.count / 2)
                for fragment in [String(input[..<middle]), String(input[middle...])] {
                    add(frame("contentBlockDelta", ["contentBlockIndex": JSONValue(index), "delta": ["toolUse": ["input": .string(fragment)]]]))
                }
                add(frame("contentBlockStop", ["contentBlockIndex": JSONValue(index)]))
            }
        }
        if !dropped {
            add(frame("messageStop", ["stopReason": .string(stopReason)]))
            add(frame("metadata", ["usage": usage, "metrics": ["latencyMs": 1]]))
        }
        return Plan(
            status: 200, headers: [HeaderField("content-type", "application/vnd.amazon.eventstream")],
            latency: .milliseconds(behaviour.latencyMilliseconds), pieces: out, dropConnection: dropped, isStream: true
        )
    }

    /// The Cohere v2 dialect (chat and embed), generated natively.
    private func coherePlan(path: String, body: [UInt8], behaviour: MockBehaviour) -> Plan {
        var behaviour = behaviour
        guard let request = (try? JSONValue.parse(body))?.objectValue else {
            return errorPlan(status: 400, type: "invalid_request_error", code: nil, message: "invalid request: body is not JSON")
        }
        if let mock = request["mock"]?.objectValue { behaviour.apply(mock) }
        applyPlannedFailure(&behaviour)
        if let status = behaviour.status, status >= 400 {
            let message: JSONValue = ["message": .string("Mock failure with status \(status).")]
            var plan = Plan(
                status: status, headers: [HeaderField("content-type", "application/json")], latency: .zero,
                pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: message.serializedBytes()))], dropConnection: false, isStream: false
            )
            if let retryAfter = behaviour.retryAfter { plan.headers.append(HeaderField("retry-after", retryAfter)) }
            return plan
        }
        if path == "/v2/rerank" {
            // Rerank v2: documents are strings, none echoed back, billed in search units.
            guard let documents = request["documents"]?.arrayValue, documents.allSatisfy({ $0.stringValue != nil }) else {
                let message: JSONValue = ["message": "invalid request: documents must be a list of strings"]
                return Plan(
                    status: 400, headers: [HeaderField("content-type", "application/json")], latency: .zero,
                    pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: message.serializedBytes()))], dropConnection: false, isStream: false)
            }
            var answer = Self.rerankAnswer(request)
            answer["id"] = "mock-rerank"
            answer["results"] = .array((answer["results"]?.arrayValue ?? []).map { result in
                var object = result.objectValue ?? JSONObject()
                object["document"] = nil
                return .object(object)
            })
            answer["meta"] = ["api_version": ["version": "2"], "billed_units": ["search_units": 1]]
            return jsonPlan(.object(answer), behaviour: behaviour)
        }
        if path == "/v2/embed" {
            let texts = request["texts"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let dimensions = request["output_dimension"]?.intValue ?? behaviour.embeddingDimensions
            let vectors: [JSONValue] = texts.map {
                .array(Self.embedding(for: $0, dimensions: min(max(1, dimensions), 4096)).map { JSONValue(Double($0)) })
            }
            let tokens = texts.reduce(0) { $0 + Self.approximateTokens($1.utf8.count) }
            return jsonPlan(
                [
                    "id": "mock-embed", "embeddings": ["float": .array(vectors)], "texts": .array(texts.map { .string($0) }),
                    "meta": ["billed_units": ["input_tokens": JSONValue(tokens)]],
                ],
                behaviour: behaviour
            )
        }
        let messages = request["messages"]?.arrayValue ?? []
        let lastUser = messages.last(where: { $0["role"]?.stringValue == "user" })?["content"]
        let prompt = lastUser?.stringValue ?? lastUser?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: " ") ?? ""
        var calls: [(id: String, name: String, arguments: String)] = []
        if messages.last?["role"]?.stringValue != "tool", request["tool_choice"]?.stringValue != "NONE", let tools = request["tools"]?.arrayValue {
            for (index, tool) in tools.prefix(behaviour.toolCalls).enumerated() {
                let function = tool["function"]
                calls.append(
                    ("mock_tool_\(index)", function?["name"]?.stringValue ?? "", Self.sampleArguments(for: function?["parameters"]).serialized()))
            }
        }
        let text = behaviour.content ?? "This is a mock response to: \(String(prompt.prefix(200)))"
        let pieces = Self.split(text, into: behaviour.chunks)
        let outputTokens = calls.isEmpty ? pieces.count : calls.count * 4
        let usage: JSONValue = [
            "billed_units": ["input_tokens": JSONValue(Self.approximateTokens(body.count)), "output_tokens": JSONValue(outputTokens)],
            "tokens": ["input_tokens": JSONValue(Self.approximateTokens(body.count)), "output_tokens": JSONValue(outputTokens)],
        ]
        let finish = calls.isEmpty ? "COMPLETE" : "TOOL_CALL"
        if request["stream"]?.boolValue != true {
            var message: JSONObject = ["role": "assistant"]
            if calls.isEmpty {
                message["content"] = [["type": "text", "text": .string(pieces.joined())]]
            } else {
                message["tool_plan"] = "I will call the tools."
                message["tool_calls"] = .array(
                    calls.map {
                        ["id": .string($0.id), "type": "function", "function": ["name": .string($0.name), "arguments": .string($0.arguments)]]
                    })
            }
            return jsonPlan(
                ["id": "mock-cohere", "finish_reason": .string(finish), "message": .object(message), "usage": usage], behaviour: behaviour)
        }
        var out: [Plan.Piece] = []
        func add(_ type: String, _ payload: JSONObject) {
            var event = payload
            event["type"] = .string(type)
            var buffer = ByteBuffer()
            buffer.writeString("event: \(type)\ndata: ")
            buffer.writeBytes(JSONValue.object(event).serializedBytes())
            buffer.writeStaticString("\n\n")
            out.append(
                .init(delay: .milliseconds(out.isEmpty ? behaviour.firstTokenDelayMilliseconds : behaviour.chunkDelayMilliseconds), bytes: buffer))
        }
        add("message-start", ["id": "mock-cohere", "delta": ["message": ["role": "assistant"]]])
        if calls.isEmpty {
            add("content-start", ["index": 0, "delta": ["message": ["content": ["type": "text", "text": ""]]]])
            for (index, piece) in pieces.enumerated() {
                if let errorAfter = behaviour.errorAfterChunks, index >= errorAfter {
                    add("message-end", ["delta": ["finish_reason": "ERROR"]])
                    return Plan(
                        status: 200, headers: [HeaderField("content-type", "text/event-stream")], latency: .zero, pieces: out, dropConnection: false,
                        isStream: true)
                }
                add("content-delta", ["index": 0, "delta": ["message": ["content": ["text": .string(piece)]]]])
            }
            add("content-end", ["index": 0])
        } else {
            add("tool-plan-delta", ["delta": ["message": ["tool_plan": "I will call the tools."]]])
            for (index, call) in calls.enumerated() {
                add(
                    "tool-call-start",
                    [
                        "index": JSONValue(index),
                        "delta": [
                            "message": [
                                "tool_calls": [
                                    "id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": ""],
                                ]
                            ]
                        ],
                    ])
                add(
                    "tool-call-delta",
                    ["index": JSONValue(index), "delta": ["message": ["tool_calls": ["function": ["arguments": .string(call.arguments)]]]]])
                add("tool-call-end", ["index": JSONValue(index)])
            }
        }
        add("message-end", ["delta": ["finish_reason": .string(finish), "usage": usage]])
        return Plan(
            status: 200, headers: [HeaderField("content-type", "text/event-stream")], latency: .milliseconds(behaviour.latencyMilliseconds),
            pieces: out, dropConnection: false, isStream: true)
    }

    func bedrockError(status: Int, type: String, message: String) -> Plan {
        Plan(
            status: status,
            headers: [HeaderField("content-type", "application/json"), HeaderField("x-amzn-errortype", type)],
            latency: .zero,
            pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: (["message": .string(message)] as JSONValue).serializedBytes()))],
            dropConnection: false,
            isStream: false
        )
    }

    /// Splits `text` into `count` pieces (fewer for short texts) on character boundaries.
    static func split(_ text: String, into count: Int) -> [String] {
        let characters = Array(text)
        guard count > 1, characters.count > 1 else { return [text] }
        let pieces = min(count, characters.count)
        return (0..<pieces).map { index in
            String(characters[(characters.count * index / pieces)..<(characters.count * (index + 1) / pieces)])
        }
    }

    func geminiError(status: Int, message: String) -> Plan {
        let statusName: String
        switch status {
        case 400: statusName = "INVALID_ARGUMENT"
        case 401, 403: statusName = "PERMISSION_DENIED"
        case 404: statusName = "NOT_FOUND"
        case 429: statusName = "RESOURCE_EXHAUSTED"
        case 503: statusName = "UNAVAILABLE"
        default: statusName = "INTERNAL"
        }
        let body: JSONValue = ["error": ["code": JSONValue(status), "message": .string(message), "status": .string(statusName)]]
        return Plan(
            status: status,
            headers: [HeaderField("content-type", "application/json")],
            latency: .zero,
            pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: body.serializedBytes()))],
            dropConnection: false,
            isStream: false
        )
    }

    private func anthropicError(_ error: GatewayError) -> Plan {
        Plan(
            status: error.status,
            headers: [HeaderField("content-type", "application/json")],
            latency: .zero,
            pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: AnthropicResponseTranslator.errorEnvelope(error).serializedBytes()))],
            dropConnection: false,
            isStream: false
        )
    }

    private func completionPlanFor(_ request: JSONObject, behaviour: MockBehaviour) -> Plan {
        if let status = behaviour.status, status >= 400 {
            var plan = errorPlan(
                status: status, type: Self.errorType(for: status), code: behaviour.errorCode, message: "Mock failure with status \(status).")
            if let retryAfter = behaviour.retryAfter { plan.headers.append(HeaderField("retry-after", retryAfter)) }
            plan.latency = .milliseconds(behaviour.latencyMilliseconds)
            return plan
        }
        let bytes = JSONValue.object(request).serializedBytes()
        return completionPlan(request, chat: true, model: request["model"]?.stringValue ?? "mock-gpt", promptBytes: bytes.count, behaviour: behaviour)
    }

    static func errorType(for status: Int) -> String {
        switch status {
        case 401: "invalid_request_error"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    func errorPlan(status: Int, type: String, code: String?, message: String) -> Plan {
        let body = JSONValue.object([
            "error": .object([
                "message": .string(message), "type": .string(type), "param": .null, "code": code.map(JSONValue.string) ?? .null,
            ])
        ])
        return Plan(
            status: status,
            headers: [HeaderField("content-type", "application/json")],
            latency: .zero,
            pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: body.serializedBytes()))],
            dropConnection: false,
            isStream: false
        )
    }

    func jsonPlan(_ value: JSONValue, behaviour: MockBehaviour) -> Plan {
        var bytes = value.serializedBytes()
        if behaviour.malformed { bytes = Array(bytes.prefix(max(1, bytes.count / 2))) }
        return Plan(
            status: 200,
            headers: [HeaderField("content-type", "application/json")],
            latency: .milliseconds(behaviour.latencyMilliseconds),
            pieces: [.init(delay: .zero, bytes: ByteBuffer(bytes: bytes))],
            dropConnection: false,
            isStream: false
        )
    }

    // MARK: Embeddings

    private func embeddingsPlan(_ request: JSONObject, model: String, behaviour: MockBehaviour) -> Plan {
        let inputs: [String]
        switch request["input"] {
        case .string(let text): inputs = [text]
        case .array(let items): inputs = items.map { $0.stringValue ?? $0.serialized() }
        default: inputs = []
        }
        let dimensions = request["dimensions"]?.intValue.map { min(max(1, $0), 4096) } ?? behaviour.embeddingDimensions
        let base64 = request["encoding_format"]?.stringValue == "base64"
        var data: [JSONValue] = []
        var promptTokens = 0
        for (index, input) in inputs.enumerated() {
            let vector =
                behaviour.embeddingMode == "words"
                ? Self.wordEmbedding(for: input, dimensions: dimensions) : Self.embedding(for: input, dimensions: dimensions)
            promptTokens += Self.approximateTokens(input.utf8.count)
            let embedding: JSONValue
            if base64 {
                var raw: [UInt8] = []
                raw.reserveCapacity(vector.count * 4)
                for value in vector {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { raw.append(contentsOf: $0) }
                }
                embedding = .string(Data(raw).base64EncodedString())
            } else {
                embedding = .array(vector.map { JSONValue(Double($0)) })
            }
            data.append(.object(["object": "embedding", "index": JSONValue(index), "embedding": embedding]))
        }
        return jsonPlan(
            .object([
                "object": "list", "data": .array(data), "model": .string(model),
                "usage": .object(["prompt_tokens": JSONValue(promptTokens), "total_tokens": JSONValue(promptTokens)]),
            ]),
            behaviour: behaviour
        )
    }

    /// A deterministic unit vector derived from the text (FNV-1a seeded generator).
    static func embedding(for text: String, dimensions: Int) -> [Float] {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            seed ^= UInt64(byte)
            seed = seed &* 0x100_0000_01b3
        }
        var values: [Float] = []
        values.reserveCapacity(dimensions)
        var norm: Float = 0
        for _ in 0..<dimensions {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let value = Float(Int64(bitPattern: seed >> 11) % 2000 - 1000) / 1000
            values.append(value)
            norm += value * value
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 1
        return values.map { ($0 * scale * 1_000_000).rounded() / 1_000_000 }
    }

    /// A hashed bag of lower-cased words, normalised: texts sharing most words are close.
    static func wordEmbedding(for text: String, dimensions: Int) -> [Float] {
        var values = [Float](repeating: 0, count: dimensions)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in word.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            values[Int(hash % UInt64(dimensions))] += 1
        }
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? values.map { $0 / norm } : values
    }

    static func approximateTokens(_ bytes: Int) -> Int { max(1, (bytes + 3) / 4) }

    // MARK: Rerank and moderations

    /// The text of a document: a string or a `{"text": ...}` object.
    static func documentText(_ document: JSONValue) -> String { document.stringValue ?? document["text"]?.stringValue ?? document.serialized() }

    /// Documents ranked by the share of the query's words they contain (ties keep their
    /// order), `top_n` of them, each with its text when `return_documents` is true.
    static func rerankAnswer(_ request: JSONObject) -> JSONObject {
        func words(_ text: String) -> Set<String> {
            Set(text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
        }
        let query = words(request["query"]?.stringValue ?? "")
        let documents = request["documents"]?.arrayValue ?? []
        let scored = documents.enumerated().map { index, document -> (index: Int, score: Double) in
            let shared = query.intersection(words(documentText(document))).count
            return (index, query.isEmpty ? 0 : (Double(shared) / Double(query.count) * 1_000_000).rounded() / 1_000_000)
        }
        let ranked = scored.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        let top = ranked.prefix(max(0, request["top_n"]?.intValue ?? ranked.count))
        let returnDocuments = request["return_documents"]?.boolValue == true
        return [
            "id": "mock-rerank",
            "results": .array(
                top.map { entry in
                    var result: JSONObject = ["index": JSONValue(entry.index), "relevance_score": JSONValue(entry.score)]
                    if returnDocuments { result["document"] = ["text": .string(documentText(documents[entry.index]))] }
                    return .object(result)
                }),
        ]
    }

    /// Tokens of a rerank request as vLLM counts them: the query with each document.
    static func rerankTokens(_ request: JSONObject) -> Int {
        let query = request["query"]?.stringValue?.utf8.count ?? 0
        return (request["documents"]?.arrayValue ?? []).reduce(0) { $0 + approximateTokens(query + documentText($1).utf8.count) }
    }

    /// OpenAI's moderation answer: one result per input, flagged for `violence` when the text
    /// contains "kill" or "bomb" (enough to tell the mock's verdict from anything else).
    static func moderationAnswer(_ request: JSONObject, model: String) -> JSONValue {
        let inputs: [String]
        switch request["input"] {
        case .string(let text)?: inputs = [text]
        case .array(let items)?: inputs = items.map { $0.stringValue ?? $0["text"]?.stringValue ?? "" }
        default: inputs = []
        }
        let categories = ["harassment", "hate", "illicit", "self-harm", "sexual", "violence"]
        let results: [JSONValue] = inputs.map { text in
            let lowered = text.lowercased()
            let violent = lowered.contains("kill") || lowered.contains("bomb")
            var flags = JSONObject()
            var scores = JSONObject()
            for category in categories {
                flags[category] = .bool(category == "violence" && violent)
                scores[category] = JSONValue(category == "violence" && violent ? 0.9 : 0.001)
            }
            return ["flagged": .bool(violent), "categories": .object(flags), "category_scores": .object(scores)]
        }
        return ["id": "modr-mock", "model": .string(model), "results": .array(results)]
    }

    // MARK: Completions

    private func completionPlan(_ request: JSONObject, chat: Bool, model: String, promptBytes: Int, behaviour: MockBehaviour) -> Plan {
        let stream = request["stream"]?.boolValue == true
        let includeUsage = request["stream_options"]?["include_usage"]?.boolValue == true && !behaviour.omitUsage
        let id = chat ? "chatcmpl-mock" : "cmpl-mock"
        let created = JSONValue(1_700_000_000)
        let promptTokens = Self.approximateTokens(promptBytes)
        let toolCalls = chat ? plannedToolCalls(request, behaviour: behaviour) : []
        let pieces = contentPieces(request, chat: chat, behaviour: behaviour)
        let completionTokens = toolCalls.isEmpty ? pieces.count : toolCalls.count * 4
        state.withLock { $0.tokens += promptTokens + completionTokens }
        let usage = JSONValue.object([
            "prompt_tokens": JSONValue(promptTokens),
            "completion_tokens": JSONValue(completionTokens),
            "total_tokens": JSONValue(promptTokens + completionTokens),
            "prompt_tokens_details": .object(["cached_tokens": JSONValue(0)]),
            "completion_tokens_details": .object(["reasoning_tokens": JSONValue(0)]),
        ])
        let finishReason = toolCalls.isEmpty ? "stop" : "tool_calls"

        if !stream {
            let choice: JSONValue
            if chat {
                var message: JSONObject = ["role": "assistant"]
                if let reasoning = behaviour.reasoning {
                    message["reasoning_content"] = .string(reasoning)
                    if let signature = behaviour.reasoningSignature {
                        message["thinking_blocks"] = [["type": "thinking", "thinking": .string(reasoning), "signature": .string(signature)]]
                    }
                }
                if toolCalls.isEmpty {
                    message["content"] = .string(pieces.joined())
                } else {
                    message["content"] = .null
                    message["tool_calls"] = .array(
                        toolCalls.map { call in
                            .object([
                                "id": .string(call.id), "type": "function",
                                "function": .object(["name": .string(call.name), "arguments": .string(call.arguments)]),
                            ])
                        }
                    )
                }
                message["refusal"] = .null
                choice = .object([
                    "index": JSONValue(0), "message": .object(message), "logprobs": .null, "finish_reason": .string(finishReason),
                ])
            } else {
                choice = .object(["index": JSONValue(0), "text": .string(pieces.joined()), "logprobs": .null, "finish_reason": "stop"])
            }
            return jsonPlan(
                .object([
                    "id": .string(id), "object": chat ? "chat.completion" : "text_completion", "created": created,
                    "model": .string(model), "choices": .array([choice]), "usage": behaviour.omitUsage ? .null : usage,
                    "system_fingerprint": "fp_mock",
                ]),
                behaviour: behaviour
            )
        }

        // Streaming.
        let object = chat ? "chat.completion.chunk" : "text_completion"
        func chunk(_ choice: JSONValue?, usage chunkUsage: JSONValue? = nil) -> ByteBuffer {
            var fields: JSONObject = [
                "id": .string(id), "object": .string(object), "created": created, "model": .string(model),
                "system_fingerprint": "fp_mock",
                "choices": .array(choice.map { [$0] } ?? []),
            ]
            if includeUsage { fields["usage"] = chunkUsage ?? .null }
            var buffer = ByteBuffer()
            buffer.writeStaticString("data: ")
            buffer.writeBytes(JSONValue.object(fields).serializedBytes())
            buffer.writeStaticString("\n\n")
            return buffer
        }
        func delta(_ delta: JSONObject, finish: String? = nil) -> JSONValue {
            if chat {
                return .object([
                    "index": JSONValue(0), "delta": .object(delta), "logprobs": .null,
                    "finish_reason": finish.map(JSONValue.string) ?? .null,
                ])
            }
            return .object([
                "index": JSONValue(0), "text": delta["content"] ?? .string(""), "logprobs": .null,
                "finish_reason": finish.map(JSONValue.string) ?? .null,
            ])
        }
        let chunkDelay = Duration.milliseconds(behaviour.chunkDelayMilliseconds)
        var out: [Plan.Piece] = []
        var contentChunks = 0
        var dropped = false
        func append(_ bytes: ByteBuffer) {
            let delay = out.isEmpty ? Duration.milliseconds(behaviour.firstTokenDelayMilliseconds) : chunkDelay
            out.append(.init(delay: delay, bytes: bytes))
        }
        /// Applies failure knobs before content chunk number `contentChunks`; true stops the stream.
        func failureHere() -> Bool {
            if let drop = behaviour.dropAfterChunks, contentChunks >= drop {
                dropped = true
                return true
            }
            if let errorAfter = behaviour.errorAfterChunks, contentChunks >= errorAfter {
                var buffer = ByteBuffer()
                buffer.writeStaticString("data: ")
                let error: JSONValue = [
                    "error": [
                        "message": .string(behaviour.errorMessage ?? "Mock provider failed mid-stream."), "type": "server_error",
                        "param": .null, "code": "mock_stream_error",
                    ]
                ]
                buffer.writeBytes(error.serializedBytes())
                buffer.writeStaticString("\n\n")
                append(buffer)
                return true
            }
            if behaviour.malformed && contentChunks >= 1 {
                var buffer = ByteBuffer()
                buffer.writeStaticString("data: {\"id\": \"broken\n\n")
                append(buffer)
                return true
            }
            return false
        }

        if chat { append(chunk(delta(["role": "assistant", "content": ""]))) }
        if chat, let reasoning = behaviour.reasoning {
            for piece in Self.split(reasoning, into: 3) { append(chunk(delta(["reasoning_content": .string(piece)]))) }
            if let signature = behaviour.reasoningSignature {
                append(chunk(delta(["thinking_blocks": [["type": "thinking", "thinking": "", "signature": .string(signature)]]])))
            }
        }
        var stopped = false
        if toolCalls.isEmpty {
            for piece in pieces {
                if failureHere() {
                    stopped = true
                    break
                }
                append(chunk(delta(["content": .string(piece)])))
                contentChunks += 1
            }
        } else {
            for (index, call) in toolCalls.enumerated() {
                if failureHere() {
                    stopped = true
                    break
                }
                let head: JSONObject = [
                    "index": JSONValue(index), "id": .string(call.id), "type": "function",
                    "function": .object(["name": .string(call.name), "arguments": ""]),
                ]
                append(chunk(delta(["tool_calls": .array([.object(head)])])))
                // Arguments arrive in fragments, as real providers send them.
                let arguments = Array(call.arguments)
                let step = max(1, arguments.count / 3)
                var start = 0
                while start < arguments.count {
                    let fragment = String(arguments[start..<min(arguments.count, start + step)])
                    let part: JSONObject = ["index": JSONValue(index), "function": .object(["arguments": .string(fragment)])]
                    append(chunk(delta(["tool_calls": .array([.object(part)])])))
                    start += step
                }
                contentChunks += 1
            }
        }
        if !stopped && !dropped {
            append(chunk(delta([:], finish: finishReason)))
            if includeUsage { append(chunk(nil, usage: usage)) }
            var done = ByteBuffer()
            done.writeStaticString("data: [DONE]\n\n")
            append(done)
        } else if !dropped {
            var done = ByteBuffer()
            done.writeStaticString("data: [DONE]\n\n")
            append(done)
        }
        return Plan(
            status: 200,
            headers: [HeaderField("content-type", "text/event-stream"), HeaderField("cache-control", "no-cache")],
            latency: .milliseconds(behaviour.latencyMilliseconds),
            pieces: out,
            dropConnection: dropped,
            isStream: true
        )
    }

    struct PlannedToolCall {
        var id: String
        var name: String
        var arguments: String
    }

    private func plannedToolCalls(_ request: JSONObject, behaviour: MockBehaviour) -> [PlannedToolCall] {
        guard let tools = request["tools"]?.arrayValue, !tools.isEmpty else { return [] }
        if request["tool_choice"]?.stringValue == "none" { return [] }
        // After a tool result, answer in text so that agent loops terminate (after `tool_rounds` turns of calls).
        let messages = request["messages"]?.arrayValue ?? []
        if messages.last?["role"]?.stringValue == "tool" {
            let turns = messages.filter { $0["role"]?.stringValue == "assistant" && $0["tool_calls"]?.arrayValue?.isEmpty == false }.count
            if turns >= behaviour.toolRounds { return [] }
        }
        if let name = behaviour.toolName {
            return [PlannedToolCall(id: "call_mock_0", name: name, arguments: behaviour.toolArguments ?? "{}")]
        }
        var chosen = tools
        if let forced = request["tool_choice"]?["function"]?["name"]?.stringValue {
            chosen = tools.filter { $0["function"]?["name"]?.stringValue == forced }
        }
        return chosen.prefix(behaviour.toolCalls).enumerated().compactMap { index, tool in
            guard let function = tool["function"], let name = function["name"]?.stringValue else { return nil }
            let arguments = behaviour.toolArguments ?? Self.sampleArguments(for: function["parameters"]).serialized()
            return PlannedToolCall(id: "call_mock_\(index)", name: name, arguments: arguments)
        }
    }

    /// Arguments that satisfy a JSON schema's required properties with placeholder values.
    static func sampleArguments(for schema: JSONValue?) -> JSONValue {
        guard let properties = schema?["properties"]?.objectValue else { return .object(JSONObject()) }
        let required = Set(schema?["required"]?.arrayValue?.compactMap(\.stringValue) ?? properties.keys)
        var result = JSONObject()
        for (name, property) in properties.members where required.contains(name) {
            result[name] = sampleValue(for: property)
        }
        return .object(result)
    }

    static func sampleValue(for schema: JSONValue) -> JSONValue {
        if let options = schema["enum"]?.arrayValue, let first = options.first { return first }
        switch schema["type"]?.stringValue {
        case "integer": return JSONValue(42)
        case "number": return JSONValue(1.5)
        case "boolean": return .bool(true)
        case "array": return .array([])
        case "object": return sampleArguments(for: schema)
        default: return .string("mock")
        }
    }

    /// The most bytes of text a mock answer made of `chunk_bytes` chunks holds.
    public static let maximumAnswerBytes = 16 * 1024 * 1024

    private func contentPieces(_ request: JSONObject, chat: Bool, behaviour: MockBehaviour) -> [String] {
        let count = behaviour.chunks
        if var size = behaviour.chunkBytes {
            // The whole answer is made at once: at most `maximumAnswerBytes`, however many
            // chunks of however many bytes a request asks for (any caller can set these knobs).
            size = max(1, min(size, Self.maximumAnswerBytes / count))
            let filler = Array("switchyard mock token stream ".utf8)
            return (0..<count).map { index in
                String(decoding: (0..<size).map { filler[($0 + index) % filler.count] }, as: UTF8.self)
            }
        }
        let text: String
        if behaviour.answerWithToolResult, chat, let last = request["messages"]?.arrayValue?.last, last["role"]?.stringValue == "tool" {
            let content = last["content"]
            text = "Tool result: " + (content?.stringValue ?? content?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: " ") ?? "")
        } else if let replies = behaviour.replies, !replies.isEmpty, chat {
            let turn = request["messages"]?.arrayValue?.filter { $0["role"]?.stringValue == "assistant" }.count ?? 0
            text = replies[min(turn, replies.count - 1)]
        } else if let content = behaviour.content {
            text = content
        } else {
            var prompt = ""
            if chat, let messages = request["messages"]?.arrayValue {
                let lastUser = messages.last(where: { $0["role"]?.stringValue == "user" })
                if let content = lastUser?["content"] {
                    prompt = content.stringValue ?? content.arrayValue?.compactMap { $0["text"]?.stringValue }.joined(separator: " ") ?? ""
                }
            } else if let promptValue = request["prompt"] {
                prompt = promptValue.stringValue ?? promptValue.arrayValue?.compactMap(\.stringValue).joined(separator: " ") ?? ""
            }
            text = "This is a mock response to: \(String(prompt.prefix(200)))"
        }
        return Self.split(text, into: count)
    }
}

/// Counters and the last request, for tests to inspect.
public struct MockStats: Sendable {
    public var requests = 0
    /// Tokens (prompt + completion) reported in OpenAI-dialect chat and completion answers.
    public var tokens = 0
    /// Streamed answers whose body the mock has begun to send.
    public var startedStreams = 0
    public var completedStreams = 0
    /// Streams whose reader went away before the end.
    public var cancelledStreams = 0
    public var lastPath: String?
    /// Path and query of the last request.
    public var lastURL: String?
    public var lastHeaders: [HeaderField] = []
    public var lastBody: [UInt8] = []
    /// Bytes of the last multipart upload (images edits, transcriptions, translations).
    public var lastUploadBytes = 0
    /// Spans received on `POST /v1/traces` (the mock as an OTLP collector).
    public var spansReceived = 0
    /// Requests by the body's `user` field.
    public var requestsByUser: [String: Int] = [:]
    /// When each request with a `user` field arrived.
    public var userRequestTimes: [ContinuousClock.Instant] = []
    /// Batches created on the mock's batch APIs (OpenAI's and Anthropic's).
    public var batchesCreated = 0
    /// Cancellations asked of them.
    public var batchCancels = 0
    /// Requests the batch APIs ran.
    public var batchRequestsRun = 0

    public var lastBodyJSON: JSONValue? { try? JSONValue.parse(lastBody) }

    public var json: JSONValue {
        .object([
            "requests": JSONValue(requests),
            "started_streams": JSONValue(startedStreams),
            "completed_streams": JSONValue(completedStreams),
            "cancelled_streams": JSONValue(cancelledStreams),
            "spans_received": JSONValue(spansReceived),
            "batches_created": JSONValue(batchesCreated),
            "batch_cancels": JSONValue(batchCancels),
            "batch_requests_run": JSONValue(batchRequestsRun),
            "last_path": lastPath.map(JSONValue.string) ?? .null,
            "last_headers": .object(
                JSONObject(lastHeaders.filter { $0.name.lowercased() != "authorization" }.map { ($0.name.lowercased(), JSONValue.string($0.value)) })),
            "last_body": lastBodyJSON ?? .null,
        ])
    }
}
