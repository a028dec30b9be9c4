import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwitchyardCore

/// The mock provider as an HTTP server (`switchyard mock-provider`, tests, benchmarks).
///
/// Serves `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/rerank`, `/v1/moderations`,
/// `/v1/images/generations`, `/v1/images/edits`, `/v1/audio/{transcriptions,translations,speech}`, the Anthropic dialect's
/// `POST /v1/messages`, `GET /v1/models`, OpenAI's batch API (`/v1/files`, `/v1/batches`) and
/// Anthropic's Message Batches (`/v1/messages/batches`),
/// `POST /v1/traces` (OTLP/HTTP JSON spans, counted: a collector stand-in),
/// plus `GET /mock/stats` and `POST /mock/reset` for tests. A planned connection drop ends the
/// response body with an error, which closes the connection without the final chunk.
public enum MockProviderServer {
    struct PlannedDrop: Error {}

    /// Builds the Hummingbird application; run it with `runService()` or in a ServiceGroup.
    public static func makeApplication(
        mock: MockProvider,
        host: String = "127.0.0.1",
        port: Int,
        logger: Logger = Logger(label: "switchyard.mock"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        for path in [
            "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/chat/completions", "/completions", "/embeddings", "/v1/messages",
            "/v1/rerank", "/rerank", "/v1/moderations", "/moderations", "/v1/images/generations", "/v1/images/edits",
            "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/speech",
        ] {
            router.post(RouterPath(path)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // Gemini's `models/{model}:generateContent` and `:streamGenerateContent`.
        for version in ["v1beta", "v1"] {
            router.post(RouterPath("/\(version)/models/:action")) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // Vertex AI's publisher models (Gemini and Imagen).
        router.post("/v1/projects/:project/locations/:location/publishers/google/models/:action") { request, context in
            try await respond(mock: mock, request: request, context: context)
        }
        // Cohere v2.
        for path in ["/v2/chat", "/v2/embed", "/v2/rerank"] {
            router.post(RouterPath(path)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // Bedrock Converse and InvokeModel (embeddings, images).
        for action in ["converse", "converse-stream", "invoke"] {
            router.post(RouterPath("/model/:model/" + action)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // Azure OpenAI's deployment-addressed paths.
        for endpoint in ["chat/completions", "completions", "embeddings"] {
            router.post(RouterPath("/openai/deployments/:deployment/" + endpoint)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        for path in ["/v1/models", "/models"] {
            router.get(RouterPath(path)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // OpenAI's batch API and Anthropic's Message Batches (see MockProvider+Batches).
        for path in ["/v1/files", "/v1/batches", "/v1/batches/:id/cancel", "/v1/messages/batches", "/v1/messages/batches/:id/cancel"] {
            router.post(RouterPath(path)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        for path in ["/v1/files/:id/content", "/v1/batches/:id", "/v1/messages/batches/:id", "/v1/messages/batches/:id/results"] {
            router.get(RouterPath(path)) { request, context in
                try await respond(mock: mock, request: request, context: context)
            }
        }
        // An OpenTelemetry collector stand-in: OTLP/HTTP JSON trace exports are counted.
        router.post("/v1/traces") { request, context in
            try await respond(mock: mock, request: request, context: context)
        }
        router.get("/mock/stats") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: mock.stats.json.serializedBytes()))
            )
        }
        router.post("/mock/reset") { _, _ in
            mock.resetStats()
            return Response(status: .noContent)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    static func respond(mock: MockProvider, request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024 * 1024)
        var headers = request.headers.map { HeaderField($0.name.canonicalName, $0.value) }
        // The authority, for answers that carry the mock's own URLs (Anthropic's `results_url`).
        if let authority = request.head.authority { headers.append(HeaderField("host", authority)) }
        let plan = mock.plan(
            method: request.method.rawValue,
            path: request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""),
            headers: headers,
            body: Array(buffer: body)
        )
        if plan.holdBeforeAnswer { await mock.gate.wait(limit: plan.holdLimit) }
        if plan.latency > .zero { try await Task.sleep(for: plan.latency) }
        var fields = HTTPFields()
        for header in plan.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: plan.status)
        if !plan.isStream, plan.pieces.count == 1 {
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: plan.pieces[0].bytes))
        }
        let pieces = plan.pieces
        let drop = plan.dropConnection
        let holdBeforePiece = plan.holdBeforePiece
        let holdLimit = plan.holdLimit
        let isStream = plan.isStream
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody { writer in
                if isStream { mock.recordStreamStart() }
                do {
                    for (index, piece) in pieces.enumerated() {
                        if index == holdBeforePiece { await mock.gate.wait(limit: holdLimit) }
                        // During long waits send SSE comments, as real providers send pings:
                        // a reader that went away is then noticed within ~100 ms.
                        var remaining = piece.delay
                        while remaining > .milliseconds(100) {
                            try await Task.sleep(for: .milliseconds(100))
                            remaining -= .milliseconds(100)
                            try await writer.write(ByteBuffer(string: ": ping\n\n"))
                        }
                        if remaining > .zero { try await Task.sleep(for: remaining) }
                        try await writer.write(piece.bytes)
                    }
                    if holdBeforePiece == pieces.count { await mock.gate.wait(limit: holdLimit) }
                } catch {
                    mock.recordStreamEnd(cancelled: true)
                    throw error
                }
                if drop {
                    mock.recordStreamEnd(cancelled: false)
                    // Let what was written reach the socket before the connection is torn down.
                    try await Task.sleep(for: .milliseconds(20))
                    throw PlannedDrop()
                }
                mock.recordStreamEnd(cancelled: false)
                try await writer.finish(nil)
            }
        )
    }
}
