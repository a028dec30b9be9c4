import Foundation
import SwitchyardCore
import SwitchyardStores
import Synchronization

/// The virtual-key store, opened (and created) on first use so a gateway that never uses
/// virtual keys never creates a database.
public final class KeyService: Sendable {
    public let path: String
    private let secret: String?
    private let store = Mutex<SQLiteKeyStore?>(nil)

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

    public func open() throws -> SQLiteKeyStore {
        try store.withLock { store in
            if let store { return store }
            let opened = try SQLiteKeyStore(path: path, secret: secret)
            store = opened
            return opened
        }
    }

    /// The identity of a presented virtual key, or the reason it is refused.
    func authenticate(_ presented: String) async -> Result<Identity, GatewayError> {
        let verdict: SQLiteKeyStore.Verdict
        do {
            verdict = try await open().authenticate(presented)
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
