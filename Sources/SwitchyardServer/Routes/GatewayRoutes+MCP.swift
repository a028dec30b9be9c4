import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

extension GatewayRoutes {
    /// A request with `{"type": "mcp"}` tools (Responses API, or chat completions as an
    /// extension): the gateway runs the tool loop (``MCPToolLoop``), each model round a request
    /// of its own through the pipeline (ids `<request id>-2`, `-3`, ... after the first), and
    /// answers in the client's dialect with what the loop did before the last round's answer.
    func mcpLoop(
        _ body: JSONObject, tools: MCPToolRequest, dialect: ClientDialect, stream: Bool, request: Request, nativeBody: ByteBuffer?,
        context: GatewayRequestContext
    ) async throws -> Response {
        let snapshot = context.snapshot ?? runtime.snapshot
        var base = makeInbound(
            .chatCompletions, request: request, body: ByteBuffer(), dialect: dialect, nativeBody: nil, untranslated: [], upload: nil, context: context)
        base.canonicalAnswer = true
        base.responsesEnvelope = nil
        let roundBase = base
        let envelope = ResponsesEnvelope(
            requestID: context.requestID, request: nativeBody.map { Array(buffer: $0) }, createdAt: Int(WallClock.unixTime()))
        let caller = MCPCaller(
            identity: context.identity ?? .anonymous, requestID: context.requestID,
            headers: request.headers.map { HeaderField($0.name.canonicalName, $0.value) }, traceContext: context.requestSpan?.context)
        var loop = MCPToolLoop(
            hub: mcp, request: tools, caller: caller, maxIterations: snapshot.config.mcp.maxToolIterations,
            idPrefix: String(envelope.responseID.dropFirst(5)), body: body)
        let gateway = self.gateway
        let requestID = context.requestID
        let round: MCPToolLoop.Round = { body, index in
            var inbound = roundBase
            inbound.body = ByteBuffer(bytes: body.serializedBytes())
            if index > 1 {
                inbound.requestID = "\(requestID)-\(index)"
                inbound.receivedAt = .now
            }
            switch gateway.prepare(inbound, snapshot: snapshot) {
            case .answered(let response): return response
            case .ready(let prepared): return await gateway.execute(prepared)
            }
        }
        if stream {
            let model = body["model"]?.stringValue ?? "unknown"
            if dialect == .responses {
                let writer = ResponsesMCPStreamWriter(envelope: envelope, model: model)
                return await MCPToolLoop.stream(loop, writer: writer, round: round).hummingbirdResponse()
            }
            let writer = ChatMCPStreamWriter(
                id: "chatcmpl-" + String(envelope.responseID.dropFirst(5)), model: model, created: Int(WallClock.unixTime()))
            return await MCPToolLoop.stream(loop, writer: writer, round: round).hummingbirdResponse()
        }
        let result: MCPLoopResult
        switch await loop.run(round: round) {
        case .failed(let response): return response.hummingbirdResponse()
        case .finished(let value): result = value
        }
        var headers = result.headers.filter { $0.name.hasPrefix("x-switchyard-") }
        headers.append(HeaderField("x-switchyard-mcp-rounds", String(result.rounds)))
        if dialect == .responses {
            let response = try ResponsesResponseTranslator.response(mcp: result, envelope: envelope)
            headers.append(HeaderField("content-type", "application/json"))
            return GatewayResponse(status: 200, headers: headers, body: .buffer(ByteBuffer(bytes: response.serializedBytes())))
                .hummingbirdResponse()
        }
        let completion = ChatMCPStreamWriter.completion(result)
        headers.append(HeaderField("content-type", "application/json"))
        return GatewayResponse(status: 200, headers: headers, body: .buffer(ByteBuffer(bytes: completion.serializedBytes())))
            .hummingbirdResponse()
    }
}
