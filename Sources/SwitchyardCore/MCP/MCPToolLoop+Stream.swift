import NIOCore

/// Writes the events of a streamed MCP tool loop in a client's dialect.
public protocol MCPLoopStreamWriter: Sendable {
    /// The first events; `items`: what the loop did before the first round (lists, approved calls).
    mutating func begin(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer)
    /// A piece of the model's text, as it comes.
    mutating func text(_ delta: String, into buffer: inout ByteBuffer)
    /// A round is over: `items` are what its calls added.
    mutating func roundEnded(items: ArraySlice<MCPLoopItem>, into buffer: inout ByteBuffer)
    /// The loop is over.
    mutating func end(_ result: MCPLoopResult, into buffer: inout ByteBuffer)
    /// A round failed after the first byte: `error` is its error object.
    mutating func fail(_ error: JSONValue, into buffer: inout ByteBuffer)
}

extension MCPToolLoop {
    /// Answers a request with MCP tools as a stream: the tools are listed and the first round
    /// asked before anything is sent, so a refusal (limits, budget, guardrails, no deployment) is
    /// a normal HTTP error; then `writer` writes the events as the loop goes, each round's text
    /// as the model writes it, each call when it has run.
    public static func stream(_ loop: MCPToolLoop, writer: some MCPLoopStreamWriter, round: @escaping Round) async -> GatewayResponse {
        var loop = loop
        if let error = await loop.start() { return .error(error) }
        loop.recordsText = false
        let (body, index) = loop.nextRound(stream: true)
        let first = await round(body, index)
        guard first.status == 200 else { return first }
        let started = loop
        let headers =
            first.headers.filter { $0.name.hasPrefix("x-switchyard-") }
            + [HeaderField("content-type", "text/event-stream"), HeaderField("cache-control", "no-cache")]
        return GatewayResponse(
            status: 200, headers: headers,
            body: .produced(
                ProducedBody { emit in
                    var loop = started
                    var writer = writer
                    var output = ByteBuffer()
                    writer.begin(items: loop.result.items[...], into: &output)
                    var sent = loop.result.items.count
                    try await emit(output)
                    var response = first
                    while true {
                        let outcome = try await MCPRoundReader.read(response) { delta in
                            var piece = ByteBuffer()
                            writer.text(delta, into: &piece)
                            try await emit(piece)
                        }
                        var output = ByteBuffer()
                        guard case .completion(let completion) = outcome else {
                            if case .failed(let error) = outcome { writer.fail(error, into: &output) }
                            try await emit(output)
                            return
                        }
                        let again = await loop.finishRound(completion, headers: [])
                        writer.roundEnded(items: loop.result.items[sent...], into: &output)
                        sent = loop.result.items.count
                        guard again else {
                            writer.end(loop.result, into: &output)
                            try await emit(output)
                            return
                        }
                        try await emit(output)
                        let (body, index) = loop.nextRound(stream: true)
                        response = await round(body, index)
                    }
                }))
    }
}

/// A response body the gateway writes itself as it is produced (not relayed from a provider):
/// `run` writes through `emit` until the answer is complete; it throws when the client is gone.
public struct ProducedBody: Sendable {
    public let run: @Sendable @concurrent (_ emit: @concurrent (ByteBuffer) async throws -> Void) async throws -> Void

    public init(_ run: @escaping @Sendable @concurrent (_ emit: @concurrent (ByteBuffer) async throws -> Void) async throws -> Void) {
        self.run = run
    }
}

/// Reads one round's answer back into a chat completion, passing the text on as it arrives.
enum MCPRoundReader {
    enum Answer {
        case completion(JSONValue)
        /// The error object of a round that failed.
        case failed(JSONValue)
    }

    /// The completion, or the error object of a round that failed (an error status, or an error
    /// event in the stream). Throws when `onText` throws (the client is gone).
    @concurrent static func read(_ response: GatewayResponse, onText: @concurrent (String) async throws -> Void) async throws -> Answer {
        if response.status != 200 {
            guard case .buffer(let buffer) = response.body, let error = (try? JSONValue.parse(Array(buffer: buffer)))?["error"] else {
                return .failed(["message": .string("The model round failed with status \(response.status).")])
            }
            return .failed(error)
        }
        var accumulator = ChunkAccumulator()
        var parser = SSEParser()
        func take(_ buffer: ByteBuffer) async throws {
            var events: [SSEEvent] = []
            try? parser.feed(buffer) { events.append($0) }
            for event in events where event.data != Array("[DONE]".utf8) {
                guard let chunk = try? JSONValue.parse(event.data) else { continue }
                if let error = chunk["error"], !error.isNull {
                    accumulator.error = error
                } else if let text = accumulator.add(chunk) {
                    try await onText(text)
                }
            }
        }
        switch response.body {
        case .buffer(let buffer):
            if let completion = try? JSONValue.parse(Array(buffer: buffer)), completion["choices"] != nil {
                // A complete answer (a cached one): its text in one piece.
                if let text = completion["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue, !text.isEmpty { try await onText(text) }
                return .completion(completion)
            }
            try await take(buffer)
        case .chunks(let chunks):
            for chunk in chunks { try await take(chunk) }
        case .stream(let stream):
            var gone: (any Error)?
            await stream.run { buffer in
                do {
                    try await take(buffer)
                } catch {
                    gone = error
                    throw error
                }
            }
            if let gone { throw gone }
        case .bytes, .produced:
            return .failed(["message": "The model round's answer could not be read."])
        }
        if let error = accumulator.error { return .failed(error) }
        return .completion(accumulator.completion())
    }
}

/// Canonical stream chunks added up into the chat completion they stand for.
struct ChunkAccumulator {
    var head: JSONObject = [:]
    var text = ""
    var calls: [Int: (id: String, name: String, arguments: String)] = [:]
    var finishReason: String?
    var usage: JSONValue?
    var error: JSONValue?

    /// Takes one chunk; returns its text, if any.
    mutating func add(_ chunk: JSONValue) -> String? {
        for key in ["id", "model", "created"] where head[key] == nil {
            if let value = chunk[key], !value.isNull { head[key] = value }
        }
        if let value = chunk["usage"], !value.isNull { usage = value }
        guard let choice = chunk["choices"]?.arrayValue?.first else { return nil }
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
        let delta = choice["delta"]
        for call in delta?["tool_calls"]?.arrayValue ?? [] {
            let index = call["index"]?.intValue ?? 0
            var entry = calls[index] ?? ("", "", "")
            if let id = call["id"]?.stringValue, !id.isEmpty { entry.id = id }
            if let name = call["function"]?["name"]?.stringValue, !name.isEmpty { entry.name = name }
            if let fragment = call["function"]?["arguments"]?.stringValue { entry.arguments += fragment }
            calls[index] = entry
        }
        guard let piece = delta?["content"]?.stringValue, !piece.isEmpty else { return nil }
        text += piece
        return piece
    }

    func completion() -> JSONValue {
        var message: JSONObject = ["role": "assistant", "content": text.isEmpty ? .null : .string(text)]
        if !calls.isEmpty {
            message["tool_calls"] = .array(
                calls.keys.sorted().map { index in
                    let call = calls[index]!
                    return [
                        "id": .string(call.id.isEmpty ? "call_\(index)" : call.id), "type": "function",
                        "function": ["name": .string(call.name), "arguments": .string(call.arguments)],
                    ]
                })
        }
        var object = head
        object["object"] = "chat.completion"
        object["choices"] = [
            ["index": 0, "message": .object(message), "finish_reason": finishReason.map(JSONValue.string) ?? (calls.isEmpty ? "stop" : "tool_calls")]
        ]
        if let usage { object["usage"] = usage }
        return .object(object)
    }
}
