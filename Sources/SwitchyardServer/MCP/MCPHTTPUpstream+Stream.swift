import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// The server's GET stream: where a Streamable HTTP server sends the messages that belong to no
/// request, such as `notifications/tools/list_changed`. The gateway keeps one open per server
/// (as its only client), resuming with `Last-Event-ID`. While the server is down it reconnects
/// after ``MCPServerConfig/restartDelay``, doubling up to ``MCPServerConfig/maxRestartDelay``, so
/// a server that comes back is noticed (its items rejoin the lists) without waiting for a call. A
/// server without a stream (405) is instead pinged at that pace while it is down.
extension MCPHTTPUpstream {
    enum StreamOutcome {
        /// The server ended the stream: reconnect.
        case ended
        case unavailable
        /// The server offers no stream.
        case unsupported
        case sessionExpired
    }

    func listenForNotifications() async {
        var delay = config.restartDelay
        var lastEventID: String?
        while !Task.isCancelled {
            switch await listen(lastEventID: &lastEventID) {
            case .ended:
                delay = config.restartDelay
            case .unavailable:
                delay = min(delay * 2, config.maxRestartDelay)
            case .unsupported:
                delay = config.maxRestartDelay
                if !status.isReady { _ = try? await call("ping", params: nil) }
            case .sessionExpired:
                lastEventID = nil
                continue
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// One connection of the stream, read to its end.
    func listen(lastEventID: inout String?) async -> StreamOutcome {
        let established: Established
        do {
            established = try await establish()
        } catch {
            return .unavailable
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "accept", value: "text/event-stream")
        if let id = established.sessionID { request.headers.add(name: "mcp-session-id", value: id) }
        request.headers.add(name: "mcp-protocol-version", value: established.protocolVersion)
        if let lastEventID { request.headers.add(name: "last-event-id", value: lastEventID) }
        for (name, value) in config.headers { request.headers.replaceOrAdd(name: name, value: value.reveal()) }
        let response: HTTPClientResponse
        do {
            // The deadline covers the answer's head; the stream itself lasts as long as the server keeps it.
            response = try await client.execute(request, deadline: .now() + .nanoseconds(config.timeout.nanoseconds))
        } catch {
            if !Task.isCancelled { _ = fail(.serverUnavailable(config.name, reason: Self.describe(error))) }
            return .unavailable
        }
        if response.status == .notFound {
            // The session expired, or the server has no GET route at all: a ping tells them
            // apart (a call sets a new session up when the server forgot the old one).
            _ = try? await call("ping", params: nil)
            let current = try? await establish()
            return current != nil && current != established ? .sessionExpired : .unsupported
        }
        guard response.status == .ok, response.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true else {
            return .unsupported
        }
        setStatus(.ready)
        var parser = SSEParser()
        var requests: [(id: JSONValue, method: String)] = []
        do {
            for try await chunk in response.body {
                try parser.feed(chunk) { event in
                    if let id = event.id { lastEventID = String(id.prefix(200)) }
                    guard event.event == nil || event.event == "message", let value = try? JSONValue.parse(event.data),
                        let message = try? JSONRPCMessage(value)
                    else { return }
                    switch message {
                    case .notification(let method, _): events.notified(config.name, method)
                    case .request(let id, let method, _): requests.append((id, method))
                    case .response, .error: break
                    }
                }
                for (id, method) in requests {
                    _ = try? await exchange(MCPProtocol.answer(serverRequest: id, method: method), session: established)
                }
                requests.removeAll()
            }
        } catch {
            logger.debug("mcp server stream ended", metadata: ["mcp_server": .string(config.name), "error": .string(Self.describe(error))])
        }
        return .ended
    }
}
