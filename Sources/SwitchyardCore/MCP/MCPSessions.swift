import Synchronization

/// One client's MCP session (`Mcp-Session-Id`), bound to the identity that opened it.
public struct MCPSession: Sendable, Equatable {
    public let id: String
    /// The identity that initialized the session (`kind:subject`); no one else may use it.
    public let owner: String
    public let protocolVersion: String
    public let clientName: String?
    public var lastUsed: ContinuousClock.Instant
}

/// The gateway's MCP sessions, in memory, forgotten after ``MCPSettings/sessionIdleTimeout``
/// unused; the least recently used goes first when ``MCPSettings/maxSessions`` are open.
public final class MCPSessionStore: Sendable {
    private let sessions = Mutex<[String: MCPSession]>([:])

    public init() {}

    public static func owner(of identity: Identity) -> String { "\(identity.kind.rawValue):\(identity.subject)" }

    /// A new session with a random id (128 bits, hex).
    public func create(owner: String, protocolVersion: String, clientName: String?, settings: MCPSettings, now: ContinuousClock.Instant) -> MCPSession {
        var generator = SystemRandomNumberGenerator()
        let id = String(generator.next() as UInt64, radix: 16).leftPadded(16) + String(generator.next() as UInt64, radix: 16).leftPadded(16)
        let session = MCPSession(id: id, owner: owner, protocolVersion: protocolVersion, clientName: clientName, lastUsed: now)
        sessions.withLock { sessions in
            Self.expire(&sessions, settings: settings, now: now)
            if sessions.count >= settings.maxSessions, let oldest = sessions.values.min(by: { $0.lastUsed < $1.lastUsed }) {
                sessions[oldest.id] = nil
            }
            sessions[id] = session
        }
        return session
    }

    /// The session `id` when it exists, has not expired and belongs to `owner` (marked used).
    public func use(_ id: String, owner: String, settings: MCPSettings, now: ContinuousClock.Instant) -> MCPSession? {
        sessions.withLock { sessions in
            guard var session = sessions[id], session.owner == owner else { return nil }
            if now - session.lastUsed > settings.sessionIdleTimeout {
                sessions[id] = nil
                return nil
            }
            session.lastUsed = now
            sessions[id] = session
            return session
        }
    }

    /// Ends the session; false when `owner` has no such session.
    public func end(_ id: String, owner: String) -> Bool {
        sessions.withLock { sessions in
            guard sessions[id]?.owner == owner else { return false }
            sessions[id] = nil
            return true
        }
    }

    public var count: Int { sessions.withLock { $0.count } }

    private static func expire(_ sessions: inout [String: MCPSession], settings: MCPSettings, now: ContinuousClock.Instant) {
        guard sessions.count >= settings.maxSessions / 2 else { return }
        sessions = sessions.filter { now - $0.value.lastUsed <= settings.sessionIdleTimeout }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
