import CoreMetrics
import Logging
import Synchronization

/// A server's lists that changed.
struct MCPListChange: Sendable {
    var server: String
    var kinds: [MCPListKind]
}

/// `list_changed` passed on: when a server says one of its lists changed, or when a server comes
/// up or goes down (its items join or leave the merged lists), the gateway refreshes its routing
/// index from that server and sends the `list_changed` notification to the stream of every
/// session whose caller may see that server.
extension MCPHub {
    /// A server's notification. Called on the upstream's read path, so it only queues the change.
    public func upstreamNotified(server: String, method: String) {
        guard let kind = MCPListKind(changedNotification: method) else { return }
        changes.continuation.yield(MCPListChange(server: server, kinds: [kind]))
    }

    /// A server's status changed: its items are in the lists only while it is ready.
    public func upstreamStatusChanged(server: String, status: MCPServerStatus) {
        let changed = readiness.withLock { readiness in
            defer { readiness[server] = status.isReady }
            return (readiness[server] ?? false) != status.isReady
        }
        if changed { changes.continuation.yield(MCPListChange(server: server, kinds: MCPListKind.notified)) }
    }

    /// Announces the queued changes until cancelled.
    public func runNotifications() async {
        for await change in changes.stream {
            await announce(change)
        }
    }

    func announce(_ change: MCPListChange) async {
        if let upstream = upstream(named: change.server), upstream.status.isReady {
            for kind in change.kinds where kind != .resourceTemplates { _ = await fetchLists(kind, from: [upstream]) }
        }
        let snapshot = gateway.runtime.snapshot
        let unixTime = gateway.clock.unixTime
        for kind in change.kinds {
            let sent = streams.send(.notification(method: kind.changedNotification, params: nil)) { identity, headers in
                snapshot.access.checkMCP(identity: identity, server: change.server, tool: nil, headers: headers, unixTime: unixTime) == nil
            }
            metrics.counter("switchyard_mcp_notifications_total", [("server", change.server), ("notification", kind.changedNotification)]).increment(
                by: sent)
        }
        logger.info(
            "mcp lists changed",
            metadata: ["mcp_server": .string(change.server), "lists": .string(change.kinds.map(\.rawValue).joined(separator: ","))])
    }
}
