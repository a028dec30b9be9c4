import Crypto
import SwitchyardCore
import Synchronization

/// A logged-in dashboard user, held in memory on the server; the browser holds only its
/// random id in the `switchyard_session` cookie.
struct DashboardSession: Sendable {
    /// What the session was opened with; checked again on every request, so a changed master
    /// key or a revoked or rotated virtual key ends the sessions it opened.
    enum Credential: Sendable, Equatable {
        /// The SHA-256 of the master key at login.
        case master(digest: [UInt8])
        /// The key's id and its stored hash at login (rotation changes the hash).
        case virtualKey(id: String, keyHash: String)
        /// No master key was configured (authentication off on a loopback listener); ends
        /// when one is configured.
        case anonymous
    }

    let identity: Identity
    /// What this administrator may see: everything, or one organisation or team.
    let scope: AdminScope
    let credential: Credential
    /// Sent in a hidden field of every form; a POST without it is refused.
    let csrfToken: String
    let createdAt: ContinuousClock.Instant
    var lastSeen: ContinuousClock.Instant
}

/// The dashboard's sessions and login-form tokens.
///
/// Session ids are 32 random bytes from the system's generator; the table is keyed by their
/// SHA-256, so looking one up compares digests, never the secret itself. Sessions end after
/// `idleLimit` without a request, after `absoluteLimit` in any case, at logout, and at restart.
final class DashboardSessions: Sendable {
    static let cookieName = "switchyard_session"
    /// The login form's CSRF cookie (double submit: the same token is in the form).
    static let loginCookieName = "switchyard_login"

    let idleLimit: Duration
    let absoluteLimit: Duration
    /// The table never holds more; the least recently used session goes first.
    let capacity: Int
    /// How long a login form stays usable.
    let loginTokenLifetime: Double = 3600
    private let now: @Sendable () -> ContinuousClock.Instant
    private let table = Mutex<[[UInt8]: DashboardSession]>([:])
    /// Signs login-form tokens; new at every start.
    private let loginKey = SymmetricKey(size: .bits256)

    init(
        idleLimit: Duration = .seconds(12 * 3600), absoluteLimit: Duration = .seconds(24 * 3600), capacity: Int = 10_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.idleLimit = idleLimit
        self.absoluteLimit = absoluteLimit
        self.capacity = max(1, capacity)
        self.now = now
    }

    /// Failed sign-ins per client address: when its window (a minute from the first failure)
    /// started and how many it holds.
    private let failures = Mutex<[String: (since: Double, count: Int)]>([:])
    /// Failed sign-ins an address may make in a minute; further attempts wait for the window's end.
    static let failureLimit = 10

    /// Seconds until `address` may try to sign in again, or nil when it may now.
    func signInWait(_ address: String) -> Int? {
        let now = WallClock.unixTime()
        return failures.withLock { table in
            guard let entry = table[address], now - entry.since < 60, entry.count >= Self.failureLimit else { return nil }
            return max(1, Int((entry.since + 60 - now).rounded(.up)))
        }
    }

    /// Counts a failed sign-in from `address`.
    func recordFailedSignIn(_ address: String) {
        let now = WallClock.unixTime()
        failures.withLock { table in
            if table.count >= 100_000 { table = table.filter { now - $0.value.since < 60 } }
            if let entry = table[address], now - entry.since < 60 {
                table[address] = (entry.since, entry.count + 1)
            } else {
                table[address] = (now, 1)
            }
        }
    }

    /// Opens a session; returns the cookie value (shown to no one else) and the session.
    func open(identity: Identity, scope: AdminScope, credential: DashboardSession.Credential) -> (id: String, session: DashboardSession) {
        let id = VirtualKeyFormat.randomHex(32)
        let instant = now()
        let session = DashboardSession(
            identity: identity, scope: scope, credential: credential, csrfToken: VirtualKeyFormat.randomHex(32), createdAt: instant,
            lastSeen: instant)
        table.withLock { table in
            if table.count >= capacity {
                table = table.filter { isAlive($0.value, at: instant) }
                while table.count >= capacity, let oldest = table.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                    table[oldest.key] = nil
                }
            }
            table[Self.digest(id)] = session
        }
        return (id, session)
    }

    /// The live session a cookie value names (its idle clock restarted), or nil.
    func session(_ id: String?) -> DashboardSession? {
        guard let id, id.utf8.count == 64 else { return nil }
        let key = Self.digest(id)
        let instant = now()
        return table.withLock { table in
            guard var session = table[key] else { return nil }
            guard isAlive(session, at: instant) else {
                table[key] = nil
                return nil
            }
            session.lastSeen = instant
            table[key] = session
            return session
        }
    }

    /// Ends a session (logout, or a credential that no longer holds).
    func close(_ id: String) {
        let key = Self.digest(id)
        _ = table.withLock { $0.removeValue(forKey: key) }
    }

    var count: Int { table.withLock { $0.count } }

    private func isAlive(_ session: DashboardSession, at instant: ContinuousClock.Instant) -> Bool {
        instant - session.lastSeen < idleLimit && instant - session.createdAt < absoluteLimit
    }

    static func digest(_ value: String) -> [UInt8] { Array(SHA256.hash(data: Array(value.utf8))) }

    // MARK: Login-form tokens

    /// A token for the login form and its cookie: `expiry.nonce.signature`, so only tokens this
    /// process issued (and not yet expired) are accepted.
    func loginToken() -> String {
        let expiry = Int64(WallClock.unixTime() + loginTokenLifetime)
        let content = "\(expiry).\(VirtualKeyFormat.randomHex(16))"
        return content + "." + VirtualKeyFormat.hex(HMAC<SHA256>.authenticationCode(for: Array(content.utf8), using: loginKey))
    }

    /// Whether the form's token equals the cookie's (double submit) and is one this process
    /// signed that has not expired.
    func checkLoginToken(cookie: String?, field: String?) -> Bool {
        guard let cookie, let field, !cookie.isEmpty, Self.constantTimeEquals(cookie, field) else { return false }
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[0]), Double(expiry) > WallClock.unixTime() else { return false }
        let expected = VirtualKeyFormat.hex(HMAC<SHA256>.authenticationCode(for: Array("\(parts[0]).\(parts[1])".utf8), using: loginKey))
        return Self.constantTimeEquals(String(parts[2]), expected)
    }

    /// Compares two secrets in time that does not depend on where they differ.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        MasterKeyAuthenticator.constantTimeEquals(Array(lhs.utf8), Array(rhs.utf8))
    }
}
