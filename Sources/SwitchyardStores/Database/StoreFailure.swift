import GRDB
import PostgresNIO

/// Recognises the failures of the gateway's databases, so the HTTP layer can answer them as a
/// retryable 503 (`store_unavailable`) instead of an internal error.
public enum StoreFailure {
    /// What went wrong, when `error` comes from SQLite or PostgreSQL; nil for anything else.
    /// Holds the error code and the server's message, never the statement, its parameters or
    /// a credential.
    public static func describe(_ error: any Error) -> String? {
        if let error = error as? PostgresStoreError { return error.description }
        if error is PSQLError { return "PostgreSQL " + PostgresBackend.describe(error) }
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "no message")"
        }
        return nil
    }
}
