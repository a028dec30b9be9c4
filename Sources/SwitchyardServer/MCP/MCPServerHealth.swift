import SwitchyardCore
import Synchronization

/// What the dashboard shows of each upstream MCP server's health: its state, since when (wall
/// clock), why it is down, and how often its process was started again (stdio servers), from
/// the upstreams' own reports (``MCPUpstreamEvents``).
final class MCPServerHealth: Sendable {
    struct Entry: Sendable, Equatable {
        var status: MCPServerStatus
        /// Unix time of the last change of state (or of the gateway's start).
        var since: Double
        /// Times a stdio server's process was started again after it exited.
        var restarts = 0
    }

    private let entries: Mutex<[String: Entry]>

    init(servers: [String], now: Double = WallClock.unixTime()) {
        entries = Mutex(Dictionary(servers.map { ($0, Entry(status: .starting, since: now)) }, uniquingKeysWith: { first, _ in first }))
    }

    func changed(_ server: String, to status: MCPServerStatus, now: Double = WallClock.unixTime()) {
        entries.withLock { entries in
            var entry = entries[server] ?? Entry(status: status, since: now)
            // Down for another reason is still down since the same moment.
            if entry.status.label != status.label { entry.since = now }
            entry.status = status
            entries[server] = entry
        }
    }

    /// A stdio server's process is started again: it is starting from now on.
    func restarted(_ server: String, now: Double = WallClock.unixTime()) {
        entries.withLock { entries in
            var entry = entries[server] ?? Entry(status: .starting, since: now)
            entry.restarts += 1
            entry.status = .starting
            entry.since = now
            entries[server] = entry
        }
    }

    func entry(_ server: String) -> Entry? { entries.withLock { $0[server] } }
}
