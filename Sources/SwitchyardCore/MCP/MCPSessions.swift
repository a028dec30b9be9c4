import Crypto
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
///
/// With a signing secret (the server secret, which instances sharing a database share), a
/// session id carries its protocol version and an HMAC over it and its owner, so another
/// instance accepts a session it did not open (for the same caller) and adopts it.
public final class MCPSessionStore: Sendable {
    private let sessions = Mutex<[String: MCPSession]>([:])
    /// Sessions ended on this instance (an ended id is not adopted again here).
    private let ended = Mutex<Set<String>>([])
    private let secret: (@Sendable () -> String?)?
    /// The key derived from the secret, once it could be read.
    private let key = Mutex<SymmetricKey?>(nil)

    public init(secret: (@Sendable () -> String?)? = nil) {
        self.secret = secret
    }

    public static func owner(of identity: Identity) -> String { "\(identity.kind.rawValue):\(identity.subject)" }

    /// A new session with a random id (128 bits, hex), signed when there is a secret.
    public func create(owner: String, protocolVersion: String, clientName: String?, settings: MCPSettings, now: ContinuousClock.Instant) -> MCPSession
    {
        var generator = SystemRandomNumberGenerator()
        var id = String(generator.next() as UInt64, radix: 16).leftPadded(16) + String(generator.next() as UInt64, radix: 16).leftPadded(16)
        if let key = signingKey() {
            id += "." + protocolVersion
            id += "." + Self.mac(id, owner: owner, key: key)
        }
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

    /// The session `id` when it exists, has not expired and belongs to `owner` (marked used);
    /// a session another instance signed for `owner` is adopted.
    public func use(_ id: String, owner: String, settings: MCPSettings, now: ContinuousClock.Instant) -> MCPSession? {
        let found: MCPSession?? = sessions.withLock { sessions in
            guard var session = sessions[id] else { return .none }
            guard session.owner == owner else { return .some(nil) }
            if now - session.lastUsed > settings.sessionIdleTimeout {
                sessions[id] = nil
                return .some(nil)
            }
            session.lastUsed = now
            sessions[id] = session
            return .some(session)
        }
        if let found { return found }
        guard let adopted = verified(id, owner: owner, now: now), !ended.withLock({ $0.contains(id) }) else { return nil }
        sessions.withLock { $0[id] = adopted }
        return adopted
    }

    /// Ends the session; false when `owner` has no such session.
    public func end(_ id: String, owner: String) -> Bool {
        let removed = sessions.withLock { sessions in
            guard sessions[id]?.owner == owner else { return false }
            sessions[id] = nil
            return true
        }
        guard removed || verified(id, owner: owner, now: .now) != nil else { return false }
        ended.withLock { ended in
            if ended.count >= 100_000 { ended.removeAll() }
            ended.insert(id)
        }
        return true
    }

    /// A session of `owner` from a signed id (another instance's), or nil.
    private func verified(_ id: String, owner: String, now: ContinuousClock.Instant) -> MCPSession? {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let key = signingKey(), MCPProtocol.versions.contains(String(parts[1])) else { return nil }
        let signed = parts[0] + "." + parts[1]
        guard Self.mac(String(signed), owner: owner, key: key) == parts[2] else { return nil }
        return MCPSession(id: id, owner: owner, protocolVersion: String(parts[1]), clientName: nil, lastUsed: now)
    }

    private func signingKey() -> SymmetricKey? {
        if let key = key.withLock({ $0 }) { return key }
        guard let text = secret?(), !text.isEmpty else { return nil }
        let derived = SymmetricKey(data: SHA256.hash(data: Array(("mcp-session:" + text).utf8)))
        key.withLock { $0 = derived }
        return derived
    }

    private static func mac(_ signed: String, owner: String, key: SymmetricKey) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array((signed + "\n" + owner).utf8), using: key)
        return code.prefix(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
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
