import Crypto
import Foundation
import Logging
import SwitchyardCore
import SwitchyardStores
import Synchronization

/// The stores of keys and usage: the embedded SQLite database (opened and created on first use
/// so a gateway that never records anything never creates a file), or a PostgreSQL server
/// shared by several instances (`server.database: postgres://…`).
///
/// PostgreSQL's connection pool starts with ``start()`` or on first use and stops with
/// ``shutdown()``; the schema is migrated on first use.
public final class StoreService: Sendable {
    /// Where keys and usage live.
    public enum Backend: Sendable, CustomStringConvertible {
        case sqlite(path: String)
        /// The URL holds a password; the description leaves it out.
        case postgres(PostgresURL)

        public var description: String {
            switch self {
            case .sqlite(let path): "SQLite \(path)"
            case .postgres(let url): "PostgreSQL \(url)"
            }
        }
    }

    public let backend: Backend
    /// Where the usage ledger journals records before they reach the database.
    public let journalPath: String
    /// The audit trail's checkpoint file (outside the database), next to the journal.
    public var auditCheckpointPath: String { localFile(".audit-checkpoints") }
    /// This instance's response-cache file (`cache.backend: sqlite`), next to the journal.
    public var cachePath: String { localFile(".cache") }

    /// This instance's own file with `suffix` in place of the journal's `.usage-journal`.
    private func localFile(_ suffix: String) -> String {
        let journal = ".usage-journal"
        return (journalPath.hasSuffix(journal) ? String(journalPath.dropLast(journal.count)) : journalPath) + suffix
    }
    private let secret: String?
    private let postgres: PostgresBackend?
    private let logger: Logger
    private let opened = Mutex<(database: SwitchyardDatabase?, keys: (any KeyStore)?, usage: (any UsageStore)?)>((nil, nil, nil))
    /// The directory in memory (organisations, teams, users), reloaded after every change and
    /// every `directoryRefresh` so instances sharing a database converge.
    private let directoryState = Mutex<(directory: Directory, loadedAt: ContinuousClock.Instant?)>((Directory(), nil))
    public let directoryRefresh: Duration = .seconds(10)
    /// Keys verified in the last `keyCacheLifetime`, by the SHA-256 of the presented key: the
    /// request path then needs no database read. A revocation or rotation made through this
    /// instance clears it at once; one made elsewhere (another instance on the same database)
    /// takes effect within the lifetime. Each with the identity it runs as, built once rather
    /// than on every request.
    private let verifiedKeys = Mutex<[[UInt8]: (key: VirtualKey, identity: Identity, until: ContinuousClock.Instant)]>([:])
    public let keyCacheLifetime: Duration = .seconds(5)
    /// Keys the store refused (unknown, revoked or expired) in the last `refusedKeyLifetime`,
    /// by the SHA-256 of the presented key, so a client repeating a bad key costs one store
    /// read, not one per request (a flood must not exhaust PostgreSQL's pool). At most
    /// `refusedKeyLimit` entries (then it starts over); cleared when a key is created or rotated
    /// through this instance. A key made elsewhere is usable within the lifetime.
    private let refusedKeys = Mutex<[[UInt8]: (verdict: KeyVerdict, until: ContinuousClock.Instant)]>([:])
    public let refusedKeyLifetime: Duration = .seconds(10)
    public let refusedKeyLimit = 10_000
    /// Reads of the key store made to authenticate a request (for tests and diagnostics).
    private let keyStoreReads = Atomic<Int>(0)
    public var keyStoreLookups: Int { keyStoreReads.load(ordering: .relaxed) }

    /// The SQLite database at `path`; keys are hashed under `secret`, or under a secret kept in
    /// `<path>.secret` when nil.
    public init(path: String, secret: String?) {
        self.backend = .sqlite(path: path)
        self.journalPath = path + ".usage-journal"
        self.secret = secret
        self.postgres = nil
        self.logger = Logger(label: "switchyard.stores", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// The PostgreSQL database at `url`; keys are hashed under `secret`, which every instance
    /// sharing the database must share. Nothing connects before first use or ``start()``.
    public init(postgres url: PostgresURL, secret: String, journalPath: String, logger: Logger) throws {
        self.backend = .postgres(url)
        self.journalPath = journalPath
        self.secret = secret
        self.logger = logger
        let database = try PostgresBackend(url: url, logger: logger)
        self.postgres = database
        opened.withLock { opened in
            opened.keys = PostgresKeyStore(database: database, secret: secret)
            opened.usage = PostgresUsageStore(database: database)
        }
    }

    /// The stores `server.database` names: PostgreSQL for a `postgres://` URL, else SQLite
    /// (by default `switchyard.db` next to the configuration).
    public static func make(settings: ServerSettings, source: ConfigurationSource, logger: Logger) throws -> StoreService {
        guard let url = settings.databaseURL else {
            return StoreService(path: settings.databasePath ?? defaultPath(for: source), secret: settings.keySecret?.reveal())
        }
        guard let secret = settings.keySecret?.reveal() else {
            throw KeyStoreError.invalid("server.key_secret is required when server.database is a PostgreSQL URL")
        }
        let parsed: PostgresURL
        do {
            parsed = try PostgresURL(parsing: url.reveal())
        } catch {
            throw KeyStoreError.invalid("server.database is not a usable PostgreSQL URL: \(error.detail)")
        }
        return try StoreService(postgres: parsed, secret: secret, journalPath: defaultJournalPath(for: source), logger: logger)
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

    /// The usage journal of an instance whose database is PostgreSQL: `switchyard.usage-journal`
    /// next to the configuration file (so each instance on one machine needs its own directory).
    public static func defaultJournalPath(for source: ConfigurationSource) -> String {
        switch source {
        case .file(let file):
            let directory = (file as NSString).deletingLastPathComponent
            return directory.isEmpty ? "switchyard.usage-journal" : directory + "/switchyard.usage-journal"
        case .embeddedDefault:
            return "switchyard.usage-journal"
        }
    }

    /// The SQLite database (created on first use); an error for PostgreSQL.
    public func database() throws -> SwitchyardDatabase {
        guard case .sqlite(let path) = backend else { throw KeyStoreError.invalid("the stores are in PostgreSQL, not SQLite") }
        return try opened.withLock { opened in
            if let database = opened.database { return database }
            let database = try SwitchyardDatabase(path: path)
            opened.database = database
            return database
        }
    }

    /// The server secret: `server.key_secret`, else the one generated into `<database>.secret`.
    public func serverSecret() throws -> String {
        if let secret { return secret }
        guard case .sqlite(let path) = backend else { throw KeyStoreError.invalid("server.key_secret is required") }
        return try KeyHasher.loadOrCreateSecret(path: path + ".secret")
    }

    /// The audit trail's database: the SQLite database, or with PostgreSQL a local
    /// `switchyard-audit.db` next to the usage journal (the trail is then per instance).
    public func auditDatabase() throws -> SwitchyardDatabase {
        if case .sqlite = backend { return try database() }
        return try opened.withLock { opened in
            if let database = opened.database { return database }
            let directory = (journalPath as NSString).deletingLastPathComponent
            let database = try SwitchyardDatabase(path: (directory.isEmpty ? "" : directory + "/") + "switchyard-audit.db")
            opened.database = database
            return database
        }
    }

    /// The directory store (organisations, teams, users).
    public func directoryStore() async throws -> any DirectoryStore {
        if let postgres { return PostgresDirectoryStore(database: postgres) }
        return SQLiteDirectoryStore(database: try database())
    }

    /// The directory as of the last load; loads it when it is older than `directoryRefresh`
    /// (never creating a database that does not exist yet).
    public func directory() async -> Directory {
        let (current, loadedAt) = directoryState.withLock { ($0.directory, $0.loadedAt) }
        if let loadedAt, ContinuousClock.now - loadedAt < directoryRefresh { return current }
        directoryState.withLock { $0.loadedAt = .now }
        if case .sqlite(let path) = backend {
            let exists = opened.withLock { $0.database != nil } || FileManager.default.fileExists(atPath: path)
            guard exists else { return current }
        }
        return (try? await reloadDirectory()) ?? current
    }

    /// Reads the directory again (after a change).
    @discardableResult
    public func reloadDirectory() async throws -> Directory {
        let directory = Directory(try await directoryStore().all())
        directoryState.withLock { $0 = (directory, .now) }
        return directory
    }

    /// Whether a virtual key has been seen in the store (keys are never deleted, only revoked,
    /// so once true it stays true) and when the store was last asked while it had none.
    private let keysExist = Mutex<(found: Bool, checkedAt: ContinuousClock.Instant?)>((false, nil))

    /// A caller without credentials on a gateway without a master key (loopback only): the
    /// operator, with the `admin` role, while no virtual key and no JWT issuer exists; once
    /// either does, an anonymous caller with no admin power, so that a web page or another
    /// local process cannot administer a gateway that has started issuing credentials.
    func anonymousIdentity(jwtConfigured: Bool) async -> Identity {
        var identity = Identity.anonymous
        if !jwtConfigured, await !anyKeyExists() { identity.roles = ["admin"] }
        return identity
    }

    /// Whether the key store holds any key (without creating a database that does not exist).
    /// A store without keys is asked again at most once a second (a key made by the CLI or
    /// another instance counts within that); one made through this instance counts at once.
    func anyKeyExists() async -> Bool {
        let now = ContinuousClock.now
        let (found, checkedAt) = keysExist.withLock { $0 }
        if found { return true }
        if let checkedAt, now - checkedAt < .seconds(1) { return false }
        keysExist.withLock { $0.checkedAt = now }
        if case .sqlite(let path) = backend, !opened.withLock({ $0.database != nil }), !FileManager.default.fileExists(atPath: path) {
            return false
        }
        guard let keys = try? await keyStore().list() else { return true }  // unreadable: fail closed
        if !keys.isEmpty { noteKeyCreated() }
        return !keys.isEmpty
    }

    /// Records that the store now holds a key (and forgets refused keys, so a new key is never
    /// answered from the negative cache).
    func noteKeyCreated() {
        keysExist.withLock { $0.found = true }
        refusedKeys.withLock { $0.removeAll() }
    }

    /// Forgets every verified and refused key (after a revocation or rotation).
    public func forgetVerifiedKeys() {
        verifiedKeys.withLock { $0.removeAll() }
        refusedKeys.withLock { $0.removeAll() }
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

    /// Connects to PostgreSQL and migrates its schema in the background, logging a failure
    /// (the stores try again when next used). Nothing for SQLite, which opens on first use.
    public func start() {
        guard let postgres else { return }
        postgres.start()
        let logger = self.logger
        Task {
            do {
                try await postgres.ready()
                logger.info("PostgreSQL stores ready", metadata: ["database": .string(postgres.location)])
            } catch {
                logger.error(
                    "PostgreSQL stores unavailable; key checks answer 503 and usage stays in the journal until it is reachable",
                    metadata: ["database": .string(postgres.location), "error": .string(PostgresBackend.describe(error))])
            }
        }
    }

    /// Waits until the stores can be used: the PostgreSQL schema migrated (nothing for SQLite).
    public func ready() async throws {
        try await postgres?.ready()
    }

    /// Closes PostgreSQL's connections (after the usage ledger's last flush).
    public func shutdown() async {
        await postgres?.shutdown()
    }

    /// The identity of a key verified in the last `keyCacheLifetime` and not expired since; nil
    /// when ``authenticate(_:)`` must decide. Synchronous, so that a request with a known key
    /// does not suspend (and hop through the event loop's queue) to be authenticated.
    func verifiedIdentity(_ presented: String) -> Identity? {
        verifiedIdentity(digest: Array(SHA256.hash(data: Array(presented.utf8))), now: ContinuousClock.now)
    }

    private func verifiedIdentity(digest: [UInt8], now: ContinuousClock.Instant) -> Identity? {
        guard let cached = verifiedKeys.withLock({ $0[digest] }), cached.until > now else { return nil }
        if let expiry = cached.key.expiresAt, expiry <= WallClock.unixTime() {
            verifiedKeys.withLock { $0[digest] = nil }
            return nil
        }
        return cached.identity
    }

    /// The identity of a presented virtual key, or the reason it is refused.
    func authenticate(_ presented: String) async -> Result<Identity, GatewayError> {
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        let now = ContinuousClock.now
        if let identity = verifiedIdentity(digest: digest, now: now) { return .success(identity) }
        let verdict: KeyVerdict
        if !VirtualKeyFormat.isWellFormed(presented) {
            // Not a key the gateway could have issued: no store read.
            verdict = .unknown
        } else if let refused = refusedKeys.withLock({ $0[digest] }), refused.until > now {
            verdict = refused.verdict
        } else {
            do {
                keyStoreReads.add(1, ordering: .relaxed)
                verdict = try await keyStore().authenticate(presented)
            } catch {
                return .failure(
                    .unavailable("The key store is unavailable; retry shortly.", code: .keyStoreUnavailable))
            }
            if case .valid(let key) = verdict {
                verifiedKeys.withLock { cache in
                    // Bounded: a flood of distinct valid keys cannot grow it without limit.
                    if cache.count >= 10_000 { cache.removeAll() }
                    cache[digest] = (key, key.identity, now + keyCacheLifetime)
                }
            } else {
                let limit = refusedKeyLimit
                refusedKeys.withLock { cache in
                    if cache.count >= limit { cache.removeAll() }
                    cache[digest] = (verdict, now + refusedKeyLifetime)
                }
            }
        }
        switch verdict {
        case .valid(let key): return .success(key.identity)
        case .unknown: return .failure(.unauthenticated("Incorrect API key provided."))
        case .revoked:
            return .failure(.unauthenticated("This API key was revoked.", code: .keyRevoked))
        case .expired:
            return .failure(.unauthenticated("This API key has expired.", code: .keyExpired))
        }
    }
}
