import Crypto
import Foundation
import SwitchyardCore
import SwitchyardStores
import Synchronization

/// The stores of keys and usage: the embedded SQLite database, opened and created on first use
/// so a gateway that never records anything never creates a file.
public final class StoreService: Sendable {
    public let path: String
    private let secret: String?
    private let opened = Mutex<(database: SwitchyardDatabase?, keys: (any KeyStore)?, usage: (any UsageStore)?)>((nil, nil, nil))
    /// The directory in memory (organisations, teams, users), reloaded after every change and
    /// every `directoryRefresh` so instances sharing a database converge.
    private let directoryState = Mutex<(directory: Directory, loadedAt: ContinuousClock.Instant?)>((Directory(), nil))
    public let directoryRefresh: Duration = .seconds(10)
    /// Keys verified in the last `keyCacheLifetime`, by the SHA-256 of the presented key: the
    /// request path then needs no database read. A revocation or rotation made through this
    /// instance clears it at once; one made elsewhere (another instance on the same database)
    /// takes effect within the lifetime.
    private let verifiedKeys = Mutex<[[UInt8]: (key: VirtualKey, until: ContinuousClock.Instant)]>([:])
    public let keyCacheLifetime: Duration = .seconds(5)

    public init(path: String, secret: String?) {
        self.path = path
        self.secret = secret
    }

    /// The default database location: next to the configuration file, or in the working
    /// directory for the embedded default.
    public static func defaultPath(for source: ConfigurationSource) -> String {
        switch source {
        case .file(let file):
            let directory = (file as NSString).deletingLastPathComponent
            return directory.isEmpty ? "switchyard.db" : directory + "/switchyard.db"
        case .embeddedDefault:
            return "switchyard.db"
        }
    }

    public func database() throws -> SwitchyardDatabase {
        try opened.withLock { opened in
            if let database = opened.database { return database }
            let database = try SwitchyardDatabase(path: path)
            opened.database = database
            return database
        }
    }

    /// The virtual-key store.
    public func keyStore() async throws -> any KeyStore {
        if let keys = opened.withLock({ $0.keys }) { return keys }
        let database = try database()
        return try opened.withLock { opened in
            if let keys = opened.keys { return keys }
            let keys = try SQLiteKeyStore(database: database, secret: secret)
            opened.keys = keys
            return keys
        }
    }

    /// The directory store.
    public func directoryStore() async throws -> any DirectoryStore {
        SQLiteDirectoryStore(database: try database())
    }

    /// The directory as of the last load; loads it when it is older than `directoryRefresh`
    /// (never creating a database that does not exist yet).
    public func directory() async -> Directory {
        let (current, loadedAt) = directoryState.withLock { ($0.directory, $0.loadedAt) }
        if let loadedAt, ContinuousClock.now - loadedAt < directoryRefresh { return current }
        directoryState.withLock { $0.loadedAt = .now }
        let exists = opened.withLock { $0.database != nil } || FileManager.default.fileExists(atPath: path)
        guard exists else { return current }
        return (try? await reloadDirectory()) ?? current
    }

    /// Reads the directory again (after a change).
    @discardableResult
    public func reloadDirectory() async throws -> Directory {
        let directory = Directory(try await directoryStore().all())
        directoryState.withLock { $0 = (directory, .now) }
        return directory
    }

    /// The usage ledger's store.
    public func usageStore() async throws -> any UsageStore {
        if let usage = opened.withLock({ $0.usage }) { return usage }
        let database = try database()
        return opened.withLock { opened in
            if let usage = opened.usage { return usage }
            let usage = SQLiteUsageStore(database: database)
            opened.usage = usage
            return usage
        }
    }

    /// The server secret: `server.key_secret`, else the one generated into `<database>.secret`.
    public func serverSecret() throws -> String {
        try secret ?? KeyHasher.loadOrCreateSecret(path: path + ".secret")
    }

    /// Where the usage ledger journals records before they reach the database.
    public var journalPath: String { path + ".usage-journal" }

    /// Forgets every verified key (after a revocation or rotation).
    public func forgetVerifiedKeys() {
        verifiedKeys.withLock { $0.removeAll() }
    }

    /// The identity of a presented virtual key, or the reason it is refused.
    func authenticate(_ presented: String) async -> Result<Identity, GatewayError> {
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        let now = ContinuousClock.now
        if let cached = verifiedKeys.withLock({ $0[digest] }), cached.until > now {
            if let expiry = cached.key.expiresAt, expiry <= WallClock.unixTime() {
                verifiedKeys.withLock { $0[digest] = nil }
            } else {
                return .success(cached.key.identity)
            }
        }
        let verdict: KeyVerdict
        do {
            verdict = try await keyStore().authenticate(presented)
            if case .valid(let key) = verdict {
                verifiedKeys.withLock { cache in
                    // Bounded: a flood of distinct valid keys cannot grow it without limit.
                    if cache.count >= 10_000 { cache.removeAll() }
                    cache[digest] = (key, now + keyCacheLifetime)
                }
            }
        } catch {
            return .failure(
                GatewayError(status: 503, type: "api_error", code: "key_store_unavailable", message: "The key store is unavailable; retry shortly."))
        }
        switch verdict {
        case .valid(let key): return .success(key.identity)
        case .unknown: return .failure(.unauthenticated("Incorrect API key provided."))
        case .revoked:
            return .failure(GatewayError(status: 401, type: "authentication_error", code: "key_revoked", message: "This API key was revoked."))
        case .expired:
            return .failure(GatewayError(status: 401, type: "authentication_error", code: "key_expired", message: "This API key has expired."))
        }
    }
}
