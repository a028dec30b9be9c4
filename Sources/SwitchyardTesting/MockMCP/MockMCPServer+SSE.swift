import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import Synchronization

/// The mock server over the legacy HTTP+SSE transport (protocol 2024-11-05): `GET /sse` opens
/// an event stream whose first event names `/messages?session_id=<id>`; messages POSTed there
/// are answered 202 and their answers sent on the stream.
extension MockMCPServer {
    func registerLegacySSE(on router: Router<BasicRequestContext>) {
        router.get("/sse") { request, _ in
            if self.refuses(request) { return Response(status: .unauthorized) }
            let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
            let (events, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            self.legacyStreams.withLock { $0[id] = continuation }
            self.state.withLock { $0.stats.streamsOpened += 1 }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "event: endpoint\ndata: /messages?session_id=\(id)\n\n"))
                    for await event in events { try await writer.write(event) }
                    self.legacyStreams.withLock { $0[id] = nil }
                    try await writer.finish(nil)
                })
        }
        router.post("/messages") { request, _ in
            var request = request
            if self.refuses(request) { return Response(status: .unauthorized) }
            guard let id = request.uri.queryParameters.get("session_id"), let stream = self.legacyStreams.withLock({ $0[id] }) else {
                return Response(status: .notFound)
            }
            let body = try await request.collectBody(upTo: 1 << 20)
            guard let value = try? JSONValue.parse(Array(buffer: body)), let message = try? JSONRPCMessage(value) else {
                return Response(status: .badRequest)
            }
            guard case .request(let requestID, let method, let params) = message else { return Response(status: .accepted) }
            let answer =
                method == "initialize" ? self.initialized(id: requestID, params: params) : self.handle(id: requestID, method: method, params: params)
            stream.yield(ByteBuffer(bytes: Array("event: message\ndata: ".utf8) + answer.json.serializedBytes() + Array("\n\n".utf8)))
            return Response(status: .accepted)
        }
    }

    /// Ends every legacy event stream (a client must connect again).
    public func dropStreams() {
        let streams = legacyStreams.withLock { streams in
            defer { streams.removeAll() }
            return Array(streams.values)
        }
        for stream in streams { stream.finish() }
    }
}
