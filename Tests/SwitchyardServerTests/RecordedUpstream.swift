import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import Synchronization

/// A provider stand-in that answers with recorded or documented payloads, byte for byte, and
/// records what the gateway sent it. The test's script picks each answer from the request
/// (its path and JSON body) and its number (0 for the first request).
final class RecordedUpstream: Sendable {
    struct Answer: Sendable {
        var status: Int = 200
        var contentType = "application/json"
        var body: [UInt8]

        static func json(_ text: String, status: Int = 200) -> Answer {
            Answer(status: status, body: Array(text.utf8))
        }

        /// Server-sent events, one `data:` line per payload.
        static func sse(_ payloads: [String]) -> Answer {
            Answer(contentType: "text/event-stream", body: Array(payloads.map { "data: \($0)\r\n\r\n" }.joined().utf8))
        }

        /// AWS event-stream frames (Bedrock's ConverseStream).
        static func eventStream(_ messages: [EventStreamMessage]) -> Answer {
            Answer(contentType: "application/vnd.amazon.eventstream", body: messages.flatMap { $0.encoded() })
        }
    }

    struct Received: Sendable {
        var path: String
        var body: JSONValue?
    }

    let script: @Sendable (_ request: Received, _ number: Int) -> Answer
    private let log = Mutex<[Received]>([])

    init(_ script: @escaping @Sendable (_ request: Received, _ number: Int) -> Answer) {
        self.script = script
    }

    var received: [Received] { log.withLock { $0 } }

    func application(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.post("**") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 24)
            let path = request.uri.description
            let received = Received(path: path, body: try? JSONValue.parse(Array(buffer: body)))
            let number = self.log.withLock { log in
                log.append(received)
                return log.count - 1
            }
            let answer = self.script(received, number)
            return Response(
                status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
    }
}

/// Runs `test` against a live gateway whose providers (YAML list entries, given the recorded
/// upstream's port) point at `upstream`; `extra` is more top-level configuration.
func withGatewayOnRecordedUpstream(
    _ upstream: RecordedUpstream,
    providers: @escaping @Sendable (_ port: Int) -> String,
    models: String,
    extra: String = "",
    _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = upstream.application { port in continuation.yield(port) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        defer { group.cancelAll() }
        let yaml = """
            server:
              port: 0
              master_key: test-master-key
              reload_check_interval: off
            providers:
            \(providers(port))
            models:
            \(models)
            \(extra)
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in try await test(client) }
    }
}
