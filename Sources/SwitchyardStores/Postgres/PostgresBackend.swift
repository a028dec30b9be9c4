import Logging
import NIOSSL
import PostgresNIO
import SwitchyardCore
import Synchronization

/// The PostgreSQL database shared by several gateway instances: a pooled ``PostgresClient``
/// and the schema's versioned migrations.
///
/// The pool runs in a task of its own, started on first use and ended by ``shutdown()``. The
/// first use also applies the migrations (again on a later use if that failed). Migrations
/// run in one transaction under a transaction-scoped advisory lock, so instances starting
/// together apply each one exactly once; every applied version is recorded in
/// `switchyard_migrations`.
///
/// The URL holds a password: nothing here logs it or puts it in an error.
public final class PostgresBackend: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Where it is, without the password (for logs).
    public let location: String
    /// The longest one store operation may take, waiting for a connection included.
    let operationTimeout: Duration
    private let state = Mutex(State())

    private struct State {
        var runner: Task<Void, Never>?
        var migration: Task<Void, any Error>?
        var migrated = false
        var closed = false
    }

    /// Prepares a client for `url`; connects only when first used.
    public init(url: PostgresURL, logger: Logger) throws {
        var configuration: PostgresClient.Configuration
        if let socket = url.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: url.username, password: url.password, database: url.database)
        } else {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let roots = url.rootCertificatePath { tls.trustRoots = .file(roots) }
            let mode: PostgresClient.Configuration.TLS
            switch url.tls {
            case .disable: mode = .disable
            case .prefer: mode = .prefer(tls)
            case .require, .verifyFull: mode = .require(tls)
            case .verifyCA:
                tls.certificateVerification = .noHostnameVerification
                mode = .require(tls)
            }
            configuration = .init(
                host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: mode)
        }
        configuration.options.connectTimeout = url.connectTimeout
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = url.poolSize
        configuration.options.additionalStartupParameters = [("application_name", url.applicationName)]
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.location = url.description
        self.operationTimeout = url.operationTimeout
    }

    /// Starts the connection pool (once); queries wait for it.
    public func start() {
        state.withLock { state in
            guard state.runner == nil, !state.closed else { return }
            let client = self.client
            state.runner = Task { await client.run() }
        }
    }

    /// Starts the pool and applies any pending migration; throws when the database cannot be
    /// reached or migrated (a later call tries again).
    public func ready() async throws {
        let (migrated, closed) = state.withLock { ($0.migrated, $0.closed) }
        if closed { throw PostgresStoreError.closed }
        if migrated { return }
        start()
        let task = try state.withLock { state -> Task<Void, any Error> in
            if state.closed { throw PostgresStoreError.closed }
            if let running = state.migration { return running }
            let task = Task { _ = try await self.migrate() }
            state.migration = task
            return task
        }
        do {
            try await task.value
            state.withLock { $0.migrated = true }
        } catch {
            state.withLock { state in
                if state.migration == task { state.migration = nil }
            }
            throw error
        }
    }

    /// Closes every connection; the database cannot be used afterwards.
    public func shutdown() async {
        let runner = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            defer { state.runner = nil }
            return state.runner
        }
        runner?.cancel()
        await runner?.value
    }

    // MARK: Queries

    /// Runs one statement on a pooled connection, once the schema is ready, and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withDeadline(operationTimeout) {
            try await self.ready()
            var rows: [PostgresRow] = []
            for try await row in try await self.client.query(query, logger: self.logger) { rows.append(row) }
            return rows
        }
    }

    /// Runs `body` in a transaction, once the schema is ready, allowing `extra` time beyond
    /// ``operationTimeout`` (for large batches).
    func transaction<Result: Sendable>(
        extra: Duration = .zero, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withDeadline(operationTimeout + extra) {
            try await self.ready()
            return try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection) }
        }
    }

    /// Runs `operation`, giving up after `timeout`: an unreachable server then costs a caller
    /// seconds, not the minute the pool waits before failing requests. The operation is
    /// cancelled and left to end on its own (a statement already sent runs to completion).
    func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.arm(continuation)
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    if race.finish(.failure(PostgresStoreError.timeout(timeout))) { race.cancelWork() }
                }
                race.attach(
                    Task {
                        let result: Swift.Result<T, any Error>
                        do {
                            result = .success(try await operation())
                        } catch {
                            result = .failure(error)
                        }
                        timer.cancel()
                        race.finish(result)
                    })
            }
        } onCancel: {
            race.cancelWork()
        }
    }

    // MARK: Migrations

    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    /// The advisory lock that serialises migrations across instances ("swyd" in ASCII).
    static let migrationLock: Int64 = 0x7377_7964

    /// Every schema version, in order. Never edit a released migration: add one.
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "virtual keys",
            statements: [
                """
                CREATE TABLE virtual_keys (
                    id text PRIMARY KEY,
                    name text NOT NULL,
                    key_hash text NOT NULL UNIQUE,
                    hint text NOT NULL,
                    created_at double precision NOT NULL,
                    expires_at double precision,
                    revoked_at double precision,
                    rotated_at double precision,
                    organization_id text,
                    team_id text,
                    user_id text,
                    models jsonb,
                    endpoints jsonb,
                    tier text,
                    regions jsonb,
                    metadata jsonb NOT NULL,
                    budget_amount double precision,
                    budget_period text
                )
                """
            ]),
        Migration(
            version: 2, name: "usage ledger",
            statements: [
                """
                CREATE TABLE usage_records (
                    id text PRIMARY KEY,
                    ts double precision NOT NULL,
                    identity_kind text NOT NULL,
                    subject text NOT NULL,
                    user_id text,
                    end_user text,
                    team_id text,
                    org_id text,
                    endpoint text NOT NULL,
                    requested_model text,
                    model_group text,
                    deployment text,
                    provider text,
                    served_model text,
                    status integer NOT NULL,
                    outcome text NOT NULL,
                    error_code text,
                    stream boolean NOT NULL,
                    prompt_tokens bigint NOT NULL,
                    completion_tokens bigint NOT NULL,
                    cached_tokens bigint NOT NULL,
                    cache_write_tokens bigint NOT NULL,
                    reasoning_tokens bigint NOT NULL,
                    cost double precision,
                    duration_ms double precision NOT NULL,
                    ttft_ms double precision,
                    attempts integer NOT NULL,
                    limited_by text
                )
                """,
                "CREATE INDEX usage_records_ts ON usage_records (ts)",
            ] + ["subject", "user_id", "end_user", "team_id", "org_id"].map { "CREATE INDEX usage_records_\($0)_ts ON usage_records (\($0), ts)" }
        ),
        Migration(version: 3, name: "key roles", statements: ["ALTER TABLE virtual_keys ADD COLUMN roles jsonb"]),
        Migration(
            version: 4, name: "organisations, teams and users",
            statements: [
                """
                CREATE TABLE directory (
                    kind text NOT NULL,
                    id text NOT NULL,
                    name text,
                    parent_id text,
                    tier text,
                    models jsonb,
                    roles jsonb,
                    budget_amount double precision,
                    budget_period text,
                    metadata jsonb NOT NULL,
                    created_at double precision NOT NULL,
                    updated_at double precision NOT NULL,
                    PRIMARY KEY (kind, id)
                )
                """
            ]),
        Migration(
            version: 5, name: "request log",
            statements: [
                """
                ALTER TABLE usage_records ADD COLUMN cache text, ADD COLUMN saved_cost double precision,
                    ADD COLUMN upstream_ms double precision, ADD COLUMN guardrails text
                """,
                "CREATE INDEX usage_records_model_group_ts ON usage_records (model_group, ts)",
                """
                CREATE TABLE request_logs (
                    id text PRIMARY KEY,
                    ts double precision NOT NULL,
                    detail text NOT NULL,
                    request_body text,
                    response_body text
                )
                """,
                "CREATE INDEX request_logs_ts ON request_logs (ts)",
            ]),
        // The record id is the gateway's; the client's x-request-id is kept beside it.
        Migration(version: 6, name: "client request ids", statements: ["ALTER TABLE usage_records ADD COLUMN client_request_id text"]),
        Migration(version: 7, name: "usage source", statements: ["ALTER TABLE usage_records ADD COLUMN usage_source text"]),
    ]

    /// Applies the pending migrations in one transaction under the advisory lock; returns the
    /// versions it applied (none when the schema is current).
    @discardableResult
    public func migrate() async throws -> [Int] {
        let logger = self.logger
        let applied = try await client.withTransaction(logger: logger) { connection -> [Int] in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS switchyard_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var done: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM switchyard_migrations", logger: logger).decode(Int.self) {
                done.insert(version)
            }
            var applied: [Int] = []
            for migration in Self.migrations where !done.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO switchyard_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                applied.append(migration.version)
            }
            if let newest = done.max(), let known = Self.migrations.last?.version, newest > known {
                logger.warning(
                    "the PostgreSQL schema is newer than this version of Switchyard knows",
                    metadata: ["schema_version": .stringConvertible(newest), "known_version": .stringConvertible(known)])
            }
            return applied
        }
        if !applied.isEmpty {
            logger.notice(
                "PostgreSQL schema migrated",
                metadata: ["database": .string(location), "versions": .array(applied.map { .stringConvertible($0) })])
        }
        return applied
    }
}

/// Failures of the PostgreSQL stores that are not the server's.
public enum PostgresStoreError: Error, CustomStringConvertible {
    /// The database was shut down.
    case closed
    /// A stored value could not be read back.
    case corrupt(String)
    /// The operation took longer than `operation_timeout` (the server is unreachable or overloaded).
    case timeout(Duration)

    public var description: String {
        switch self {
        case .closed: "the PostgreSQL connection pool is shut down"
        case .corrupt(let detail): "unreadable value in PostgreSQL: \(detail)"
        case .timeout(let limit): "PostgreSQL did not answer within \(limit.components.seconds)s"
        }
    }
}

/// The first of an operation and its timer to finish resumes the caller; the other is ignored.
final class DeadlineRace<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, work: Task<Void, Never>?, cancelled: Bool)>((nil, nil, false))

    func arm(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the operation's task, to cancel it (at once when cancelling came first).
    func attach(_ work: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.work = work
            return state.cancelled
        }
        if cancelled { work.cancel() }
    }

    func cancelWork() {
        let work = state.withLock { state in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }

    /// Resumes the caller with `result` unless it was resumed already; tells whether it did.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let continuation = state.withLock { state in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
        return continuation != nil
    }
}

extension PostgresBackend {
    /// A PostgreSQL failure in words an operator can act on: the server's SQLSTATE and message,
    /// or the connection error. PostgresNIO's own description is deliberately vague, and its
    /// debug description includes the statement; this includes neither the statement, its
    /// parameters nor any credential.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let server = error.serverInfo {
            let state = server[.sqlState].map { " \($0)" } ?? ""
            return "server error\(state): \(server[.message] ?? "no message")"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
