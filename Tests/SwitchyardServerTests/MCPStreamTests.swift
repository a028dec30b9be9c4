import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Synchronization
import Testing

/// A `GET /mcp` stream of the gateway, read as it arrives until ``close()``.
final class MCPClientStream: Sendable {
    let status: Int
    let contentType: String?
    private let received = Mutex<[SSEEvent]>([])
    private let finished = Atomic<Bool>(false)
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(port: Int, session: String?, credential: String = "test-master-key", lastEventID: String? = nil, accept: String = "text/event-stream")
        async throws
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/mcp")
        request.headers.add(name: "authorization", value: "Bearer \(credential)")
        request.headers.add(name: "accept", value: accept)
        if let session { request.headers.add(name: "mcp-session-id", value: session) }
        if let lastEventID { request.headers.add(name: "last-event-id", value: lastEventID) }
        let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
        status = Int(response.status.code)
        contentType = response.headers.first(name: "content-type")
        let task = Task { [self] in
            var parser = SSEParser()
            do {
                for try await chunk in response.body {
                    try parser.feed(chunk) { event in self.received.withLock { $0.append(event) } }
                }
            } catch {}
            self.finished.store(true, ordering: .sequentiallyConsistent)
        }
        reader.withLock { $0 = task }
    }

    var events: [SSEEvent] { received.withLock { $0 } }
    /// The methods of the JSON-RPC messages received, in order.
    var methods: [String] { events.compactMap { try? JSONValue.parse($0.data)["method"]?.stringValue } }
    var ended: Bool { finished.load(ordering: .sequentiallyConsistent) }

    func count(_ method: String) -> Int { methods.count { $0 == method } }

    /// Hangs up.
    func close() async {
        let task = reader.withLock { $0 }
        task?.cancel()
        await task?.value
    }
}

/// The Streamable HTTP transport's GET stream on `/mcp`: `list_changed` notifications passed on
/// from upstream servers (their own notifications over HTTP and stdio, and servers coming and
/// going), resumption with `Last-Event-ID`, and streams bound to their session and caller.
@Suite struct MCPStreamTests {
    static let tools = "notifications/tools/list_changed"

    static func counter(_ server: String, _ notification: String) -> String {
        #"switchyard_mcp_notifications_total{server="\#(server)",notification="\#(notification)"}"#
    }

    /// Waits until the readiness of `servers` has been announced, so that no announcement of a
    /// server coming up lands on the streams a test opens afterwards.
    static func waitForReadiness(_ client: any TestClientProtocol, _ servers: [String]) async throws {
        for server in servers {
            _ = try await metricsText(client, containing: counter(server, "notifications/prompts/list_changed"))
        }
    }

    @Test func theStreamPassesOnListChangesOfServersAndServersComingAndGoingToTheCallersThatSeeThem() async throws {
        try await MCPTests.withServers(
            """
            access: {roles: {beta-only: {mcp_servers: [beta]}}}
            """
        ) { client, alpha, beta in
            let port = try #require(client.port)
            try await Self.waitForReadiness(client, ["alpha", "beta"])
            let initialized = try await client.execute(
                uri: "/mcp", method: .post, headers: MCPTests.headers(),
                body: ByteBuffer(
                    string: #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#))
            #expect(initialized.json?["result"]?["capabilities"]?["tools"]?["listChanged"]?.boolValue == true)
            let session = try #require(initialized.headers[HTTPField.Name("mcp-session-id")!])

            // The transport's refusals.
            #expect(try await MCPClientStream(port: port, session: session, accept: "application/json").status == 406)
            #expect(try await MCPClientStream(port: port, session: nil).status == 400)
            #expect(try await MCPClientStream(port: port, session: "0123456789abcdef0123456789abcdef").status == 404)

            let stream = try await MCPClientStream(port: port, session: session)
            #expect(stream.status == 200 && stream.contentType == "text/event-stream")
            let key = try await MCPTests.createKey(client, #"{"name":"beta-only","roles":["beta-only"]}"#)
            let betaSession = try await MCPTests.initialize(client, credential: key)
            let betaStream = try await MCPClientStream(port: port, session: betaSession, credential: key)

            // alpha announces on its own GET stream, which the gateway holds open.
            #expect(await eventually { alpha.server.stats.streams.count >= 1 }, "the gateway listens on alpha's stream")
            alpha.server.addTool("late", announce: .stream)
            #expect(await eventually { stream.count(Self.tools) == 1 }, "\(stream.methods)")
            let event = try #require(stream.events.first { $0.id != nil })
            #expect(event.event == "message" && event.id?.hasSuffix("-1") == true, "\(event)")
            #expect(try await MCPTests.toolNames(client, session).contains("a_late"))
            let late = try await MCPTests.result(client, session, "tools/call", MCPTests.call("a_late", ["text": "new"]))
            #expect(MCPTests.text(late) == "new", "the new tool is routed")

            // beta announces inside its SSE answer to a call.
            beta.server.addTool("later", announce: .nextAnswer)
            _ = try await MCPTests.result(client, session, "tools/call", MCPTests.call("b_echo", ["text": "x"]))
            #expect(await eventually { stream.count(Self.tools) == 2 }, "\(stream.methods)")

            // The caller who may see only beta was told only of beta's change: its stream's
            // buffer, replayed from its start, holds one event.
            #expect(await eventually { betaStream.count(Self.tools) == 1 })
            let streamID = try #require(betaStream.events.compactMap(\.id).first?.split(separator: "-").first)
            let replayed = try await MCPClientStream(port: port, session: betaSession, credential: key, lastEventID: "\(streamID)-0")
            #expect(await eventually { betaStream.ended }, "a new connection takes the stream over")
            #expect(await eventually { replayed.count(Self.tools) == 1 })
            #expect(replayed.methods == [Self.tools], "\(replayed.methods)")
            await replayed.close()

            // beta goes away: its tools leave the lists, and the clients are told.
            await beta.stop()
            #expect(await eventually { stream.count(Self.tools) == 3 }, "\(stream.methods)")
            // The three lists' notifications are written one after another: wait for all of them.
            #expect(
                await eventually { stream.count("notifications/prompts/list_changed") == 1 && stream.count("notifications/resources/list_changed") == 1 },
                "\(stream.methods)")
            #expect(try await MCPTests.toolNames(client, session).allSatisfy { $0.hasPrefix("a_") })
            let metrics = try await metricsText(client, containing: Self.counter("alpha", Self.tools) + " 1")
            #expect(metrics.contains(Self.counter("beta", Self.tools)))

            // Ending the session ends its stream.
            #expect(try await client.execute(uri: "/mcp", method: .delete, headers: MCPTests.headers(session: session)).status == .noContent)
            #expect(await eventually { stream.ended })
            await stream.close()
        }
    }

    @Test func aClientThatReconnectsWithLastEventIDGetsWhatItMissedAndNoOneElseMayOpenItsStream() async throws {
        let alpha = try await RunningMCPServer(MockMCPServer(name: "alpha"))
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            mcp: {servers: [{name: alpha, url: "\(alpha.url)", prefix: a}]}
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            try await Self.waitForReadiness(client, ["alpha"])
            #expect(await eventually { alpha.server.stats.streams.count >= 1 })
            let session = try await MCPTests.initialize(client)

            // Another caller cannot open (or resume) the session's stream.
            let key = try await MCPTests.createKey(client, #"{"name":"someone-else"}"#)
            #expect(try await MCPClientStream(port: port, session: session, credential: key).status == 404)

            let first = try await MCPClientStream(port: port, session: session)
            alpha.server.addTool("one", announce: .stream)
            #expect(await eventually { first.count(Self.tools) == 1 })
            let seen = try #require(first.events.last?.id)
            await first.close()

            // Announced while the client is away: kept for it.
            alpha.server.addTool("two", announce: .stream)
            _ = try await metricsText(client, containing: Self.counter("alpha", Self.tools) + " 2")
            let resumed = try await MCPClientStream(port: port, session: session, lastEventID: seen)
            #expect(await eventually { resumed.count(Self.tools) == 1 }, "\(resumed.methods)")
            let replayed = try #require(resumed.events.last?.id)
            let (stream, sequence) = (seen.split(separator: "-")[0], Int(seen.split(separator: "-")[1]) ?? 0)
            #expect(replayed == "\(stream)-\(sequence + 1)", "the missed event, on the same stream: \(seen) then \(replayed)")
            await resumed.close()

            // An id the gateway cannot resume from: a new stream that tells the client to fetch every list again.
            let unknown = try await MCPClientStream(port: port, session: session, lastEventID: "ffffffffffffffff-3")
            #expect(await eventually { unknown.methods.count == 3 }, "\(unknown.methods)")
            #expect(
                Set(unknown.methods) == [Self.tools, "notifications/prompts/list_changed", "notifications/resources/list_changed"])
            #expect(unknown.events.allSatisfy { $0.id?.hasPrefix(String(stream)) == false })
            await unknown.close()
        }
        await alpha.stop()
    }

    @Test func aStdioServerThatSaysItsToolsChangedIsPassedOnToTheClientsStream() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-stdio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("server.sh")
        try MockStdioMCPServer.script.write(to: script, atomically: true, encoding: .utf8)
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: p, type: mock}]
            models: [{name: chat, provider: p, model: m}]
            mcp: {servers: [{name: local, command: /bin/sh, args: ["\(script.path)"], prefix: l}]}
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            try await Self.waitForReadiness(client, ["local"])
            let session = try await MCPTests.initialize(client)
            #expect(try await MCPTests.toolNames(client, session) == ["l_echo", "l_grow"])
            let stream = try await MCPClientStream(port: port, session: session)
            let grown = try await MCPTests.result(client, session, "tools/call", MCPTests.call("l_grow"))
            #expect(MCPTests.text(grown) == "grown")
            #expect(await eventually { stream.count(Self.tools) == 1 }, "\(stream.methods)")
            #expect(try await MCPTests.toolNames(client, session) == ["l_echo", "l_grow", "l_grown"])
            await stream.close()
        }
    }
}
