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

    /// The identity of a presented virtual key, or the reason it is refused.
    func authenticate(_ presented: String) async -> Result<Identity, GatewayError> {
        let verdict: KeyVerdict
        do {
            verdict = try await keyStore().authenticate(presented)
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
