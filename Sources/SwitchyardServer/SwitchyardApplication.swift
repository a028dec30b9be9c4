import AsyncHTTPClient
import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SwitchyardCore
import SwitchyardStores
import Synchronization
import UnixSignals

/// Assembles the gateway: configuration, runtime snapshot, routes, middleware, reload service.
///
/// The executable (or a test) builds one, then runs ``makeApplication(onServerRunning:)``
/// inside a `ServiceGroup`.
public final class SwitchyardApplication: Sendable {
    public let source: ConfigurationSource
    public let runtime: RuntimeHolder
    public let gateway: Gateway
    public let metrics: GatewayMetrics
    public let providerHealth: ProviderHealth
    public let prometheus: PrometheusCollectorRegistry
    /// The shared Redis backend, when `redis:` is configured (read at start).
    public let redis: RedisClient?
    /// Virtual keys and usage (SQLite, opened on first use, or PostgreSQL).
    public let stores: StoreService
    /// Every request's usage and cost, when `server.usage_ledger` is on (read at start).
    public let ledger: UsageLedger?
    /// The request log's HTTP sink (idle unless `logging.webhook` is set).
    let logWebhook: RequestLogWebhookSink
    /// OpenTelemetry: the tracer behind every span and the OTLP exporter (idle unless `tracing.enabled`).
    public let tracer: SwitchyardTracer
    let spanExporter: OTLPSpanExporter
    /// JWT/OIDC issuers' authenticators and key caches.
    let tokens: JWTIdentities
    /// The tamper-evident audit trail (in the database, opened on the first event).
    public let audit: AuditLog
    /// The MCP servers federated behind `/mcp` (`mcp:`).
    public let mcp: MCPHub
    /// The MCP servers' health for the dashboard (state, since when, restarts).
    let mcpHealth: MCPServerHealth
    /// The dashboard's signed-in sessions (in memory: a restart signs everyone out).
    let dashboardSessions = DashboardSessions()
    /// Identifies this instance in shared state.
    public let instanceID = String(UInt64.random(in: .min ... .max), radix: 36)
    let registry: AdapterRegistry
    let logger: Logger
    let environment: [String: String]
    let overrides: @Sendable (inout GatewayConfig) -> Void
    let lifecycle = LifecycleState()
    /// Uploaded files' contents (`files:`) and the batches run over them.
    let fileStorage: FileStorage
    let batchRunner: BatchRunner
    private let lastFingerprint: Mutex<Data?>

    /// Loads the configuration and builds the first runtime snapshot. `routerClock` is the
    /// router's time (breaker cooldowns, windows); tests pass one they move by hand.
    public init(
        source: ConfigurationSource,
        registry: AdapterRegistry,
        prometheus: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        spanSink: (any SpanSink)? = nil,
        routerClock: any RouterClock = SystemRouterClock(),
        overrides: @escaping @Sendable (inout GatewayConfig) -> Void = { _ in }
    ) throws {
        self.overrides = overrides
        self.source = source
        self.registry = registry
        self.prometheus = prometheus
        self.logger = logger
        self.environment = environment
        var (config, warnings) = try source.load(environment: environment)
        overrides(&config)
        for warning in warnings {
            logger.warning("configuration warning", metadata: ["detail": .string(warning.description)])
        }
        if let settings = config.redis {
            let endpoint = try RedisEndpoint(url: settings.url.reveal())
            let tlsContext = try endpoint.tls ? RedisClient.tlsContext(caFile: settings.caFile) : nil
            self.redis = RedisClient(
                endpoint: endpoint,
                commandTimeout: .milliseconds(
                    settings.commandTimeout.components.seconds * 1000 + settings.commandTimeout.components.attoseconds / 1_000_000_000_000_000),
                tlsContext: tlsContext,
                logger: logger)
        } else {
            self.redis = nil
        }
        self.stores = try StoreService.make(settings: config.server, source: source, logger: logger)
        let stores = self.stores
        self.tokens = JWTIdentities(client: HTTPClient.shared, logger: logger)
        self.audit = AuditLog(
            logger: logger, secret: { try stores.serverSecret() }, database: { try stores.auditDatabase() },
            checkpointPath: stores.auditCheckpointPath)
        let adapters = try registry.makeAdapters(for: config)
        let runtime = RuntimeHolder(RuntimeSnapshot(config: config, adapters: adapters, generation: 1))
        self.runtime = runtime
        self.metrics = GatewayMetrics(
            factory: PrometheusMetricsFactory(registry: prometheus), identityLabels: { runtime.snapshot.config.server.metricsIdentityLabels })
        let ledgerFailures = metrics.counter("switchyard_usage_flush_errors_total", [])
        self.ledger =
            config.server.usageLedger
            ? UsageLedger(
                journalPath: stores.journalPath, logger: logger, withDetail: { runtime.snapshot.config.logging.database },
                insertFailed: { ledgerFailures.increment() }
            ) {
                try await stores.usageStore()
            } : nil
        self.lastFingerprint = Mutex(source.fingerprint())
        self.providerHealth = ProviderHealth()
        let accessLogger = logger
        let access = AccessLogObserver(logger: accessLogger, enabled: { runtime.snapshot.config.server.accessLog })
        let backend: any RateLimitBackend
        if let redis, let settings = config.redis, config.limits.backend != .memory {
            backend = RedisRateLimitBackend(client: redis, prefix: settings.keyPrefix)
        } else {
            backend = MemoryRateLimitBackend()
        }
        let limiterFailures = metrics.counter("switchyard_redis_errors_total", [("operation", "rate_limit")])
        let lastWarning = Mutex<ContinuousClock.Instant?>(nil)
        let limiterLogger = logger
        let limiter = RateLimiter(backend: backend) { error in
            limiterFailures.increment()
            let now = ContinuousClock.now
            let warn = lastWarning.withLock { last in
                guard last.map({ now - $0 > .seconds(10) }) ?? true else { return false }
                last = now
                return true
            }
            if warn {
                let policy = runtime.snapshot.config.limits.failOpen ? "letting requests through" : "refusing requests"
                limiterLogger.warning("rate-limit backend unavailable; \(policy)", metadata: ["error": .string("\(error)")])
            }
        }
        let budgetBackend: any BudgetBackend
        if let redis, let settings = config.redis, config.limits.backend != .memory {
            budgetBackend = RedisBudgetBackend(client: redis, prefix: settings.keyPrefix)
        } else {
            budgetBackend = MemoryBudgetBackend()
        }
        let budgetFailures = metrics.counter("switchyard_redis_errors_total", [("operation", "budget")])
        var spendSince: (@Sendable (BudgetCheck) async throws -> Double)?
        if let ledger = self.ledger {
            spendSince = { check in try await ledger.spend(scope: check.scope, value: check.value, since: check.periodStart) }
        }
        // Budget alerts, webhook guardrails, the request log sink and the trace exporter post through one client.
        let webhooks = WebhookHTTPClient(client: HTTPClient.shared)
        let budgets = BudgetGuard(
            backend: budgetBackend,
            alerts: BudgetAlertNotifier(logger: logger, metrics: metrics, runtime: runtime, client: webhooks),
            spendSince: spendSince,
            onBackendFailure: { error in
                budgetFailures.increment()
                limiterLogger.warning("budget backend unavailable", metadata: ["error": .string("\(error)")])
            })
        let cacheBackend: any CacheBackend
        var semanticStore: (any SemanticStore)?
        if let redis, let settings = config.redis, config.cache.backend == .redis {
            let shared = RedisCacheBackend(client: redis, prefix: settings.keyPrefix)
            cacheBackend = shared
            semanticStore = shared
        } else if config.cache.backend == .sqlite {
            let sqlite = try SQLiteCacheBackend(path: stores.cachePath, maxBytes: config.cache.maxBytes)
            cacheBackend = sqlite
            semanticStore = sqlite
        } else {
            cacheBackend = MemoryCacheBackend(maxBytes: config.cache.maxBytes)
        }
        let logWebhook = RequestLogWebhookSink(
            runtime: runtime, client: webhooks, metrics: metrics, logger: logger)
        self.logWebhook = logWebhook
        let spanExporter = OTLPSpanExporter(
            runtime: runtime, client: webhooks, metrics: metrics, logger: logger)
        self.spanExporter = spanExporter
        let tracer = SwitchyardTracer(sink: spanSink ?? spanExporter) { runtime.snapshot.config.tracing }
        self.tracer = tracer
        var observers: [any RequestObserver] = [
            metrics, providerHealth, access, AuditingObserver(sink: audit), logWebhook, TracingObserver(),
        ]
        if let ledger = self.ledger { observers.append(ledger) }
        var gateway = Gateway(
            runtime: runtime, observer: ObserverList(observers),
            router: RouterState(settings: config.router, clock: routerClock, events: metrics), limiter: limiter, budgets: budgets, cache: cacheBackend)
        gateway.guardrailWebhook = webhooks
        gateway.semanticStore = semanticStore
        gateway.tracer = tracer
        self.gateway = gateway
        // Session ids are signed with the server secret: instances that share it share sessions.
        let mcpHealth = MCPServerHealth(servers: config.mcp.servers.map(\.name))
        self.mcpHealth = mcpHealth
        self.mcp = MCPHub.make(
            settings: config.mcp, gateway: gateway, audit: audit, metrics: metrics, health: mcpHealth, logger: logger,
            sessionSecret: { try? stores.serverSecret() })
        self.fileStorage = FileStorage(settings: config.files, stores: stores)
        self.batchRunner = BatchRunner(gateway: gateway, runtime: runtime, stores: stores, storage: fileStorage, logger: logger)
        if semanticStore != nil { Task { await gateway.restoreSemanticIndex() } }
        // Load the BPE vocabularies the configured models use off the request path (about 40 ms).
        let encodings = Set(config.models.flatMap(\.deployments).compactMap { Tokenizers.encoding(forModel: $0.upstreamModel) })
        if !encodings.isEmpty {
            Task.detached(priority: .utility) { for name in encodings { _ = Tokenizers.encoding(named: name) } }
        }
        if config.server.masterKey == nil {
            logger.warning("no master key configured: the API is open to anyone who can reach \(config.server.host):\(config.server.port)")
        }
    }

    public var config: GatewayConfig { runtime.snapshot.config }

    /// Builds the router with all routes and middleware.
    public func makeRouter() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestMiddleware(runtime: runtime, metrics: metrics, accessLog: true, tracer: tracer))
        OperationalRoutes(
            runtime: runtime, prometheus: prometheus, health: providerHealth, lifecycle: lifecycle, router: gateway.router, metrics: metrics
        ).register(on: router)
        let api = router.group().add(middleware: AuthenticationMiddleware(runtime: runtime, keys: stores, tokens: tokens, audit: audit))
        let gatewayRoutes = GatewayRoutes(gateway: gateway, runtime: runtime, mcp: mcp)
        gatewayRoutes.register(on: api)
        MediaRoutes(routes: gatewayRoutes).register(on: api)
        PassthroughRoutes(routes: gatewayRoutes).register(on: api)
        AdminRoutes(keys: stores, runtime: runtime, audit: audit).register(on: api)
        let usage = UsageRoutes(ledger: ledger, gateway: gateway, runtime: runtime, stores: stores)
        usage.register(on: api)
        let logs = RequestLogRoutes(usage: usage)
        logs.register(on: api)
        AuditRoutes(audit: audit).register(on: api)
        DirectoryRoutes(stores: stores, audit: audit).register(on: api)
        CacheRoutes(gateway: gateway).register(on: api)
        // `/mcp` answers a refused credential with the MCP authorization flow's challenge.
        MCPProtectedResource.register(on: router, runtime: runtime)
        let mcpGroup = router.group().add(middleware: MCPChallengeMiddleware(runtime: runtime))
            .add(middleware: AuthenticationMiddleware(runtime: runtime, keys: stores, tokens: tokens, audit: audit))
        MCPRoutes(hub: mcp, runtime: runtime).register(on: mcpGroup)
        MCPLegacySSERoutes(routes: MCPRoutes(hub: mcp, runtime: runtime)).register(on: mcpGroup)
        FilesRoutes(stores: stores, storage: fileStorage, runtime: runtime).register(on: api)
        BatchesRoutes(stores: stores, runner: batchRunner).register(on: api)
        // The dashboard authenticates with its own session cookie, not with API key headers.
        DashboardRoutes(
            runtime: runtime, stores: stores, audit: audit, ledger: ledger, gateway: gateway, health: providerHealth, usage: usage, logs: logs,
            sessions: dashboardSessions, mcp: mcp, mcpHealth: mcpHealth
        ).register(on: router)
        return router
    }

    /// The Hummingbird application with the reload service attached.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let settings = config.server
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [DisconnectDetector()],
            idleTimeout: .seconds(Int64(settings.idleTimeout.components.seconds))
        )
        let server: HTTPServerBuilder
        if let tls = settings.tls {
            let certificates = try NIOSSLCertificate.fromPEMFile(tls.certificatePath)
            let key = try NIOSSLPrivateKey(file: tls.privateKeyPath, format: .pem)
            let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
            server = try .tls(.http1(configuration: http1), tlsConfiguration: tlsConfiguration)
        } else {
            server = .http1(configuration: http1)
        }
        let logger = self.logger
        let scheme = settings.tls == nil ? "http" : "https"
        return Application(
            router: makeRouter(),
            server: server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            // Services stop in reverse order: the stores last, after the usage ledger's final flush.
            services: [
                StoreLifecycleService(stores: stores, audit: audit), ConfigReloader(application: self), ShutdownWatcher(lifecycle: lifecycle),
                HealthCheckService(checker: ActiveHealthChecker(runtime: runtime, router: gateway.router)),
                RouterStateSync(application: self), UsageLedgerService(ledger: ledger), logWebhook, spanExporter,
                RequestLogRetention(ledger: ledger, runtime: runtime, logger: logger), MCPService(hub: mcp),
                // Last, so it stops first after the HTTP server: settlements, cache writes and
                // shadow requests of the last requests finish while the stores are still open.
                BackgroundWorkService(work: gateway.background),
                // Stops before the background work drains: batch lines in flight finish first.
                BatchRunnerService(runner: batchRunner),
            ],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                // Before the listening line, so whoever waits for that one has seen this.
                let missing = BundledResources.missingFiles()
                if !missing.isEmpty {
                    logger.warning(
                        "resource files not found next to the executable (switchyard_SwitchyardCore.resources): token counts are estimates and the injection guardrail's learned stage is off",
                        metadata: ["missing": .array(missing.map { .string($0) })])
                }
                // Where Swift Concurrency's jobs run, as seen from this task: on an event loop's
                // thread when the loops are the global executor (the request path then does not
                // hop between threads), else on the cooperative pool.
                let executor = MultiThreadedEventLoopGroup.currentEventLoop != nil ? "event_loops" : "cooperative_pool"
                logger.notice(
                    "switchyard listening",
                    metadata: [
                        "address": .string("\(scheme)://\(settings.host):\(port)"), "config": .string(self.source.description),
                        "executor": .string(executor),
                    ]
                )
                await onServerRunning(port)
            },
            logger: logger
        )
    }

    /// Re-reads the configuration; on success swaps it in atomically, otherwise keeps the old one.
    @discardableResult
    public func reload(reason: String) -> Bool {
        lastFingerprint.withLock { $0 = source.fingerprint() }
        var loaded: (config: GatewayConfig, warnings: [ConfigDiagnostic])
        do {
            loaded = try source.load(environment: environment)
            overrides(&loaded.config)
        } catch {
            logger.error(
                "configuration reload rejected; keeping the running configuration",
                metadata: ["reason": .string(reason), "problems": .array(error.diagnostics.map { .string($0.description) })]
            )
            audit.record(
                AuditEvent(
                    kind: .config, action: "config.reload", actor: "operator", outcome: "failed", target: source.description,
                    reason: error.diagnostics.first?.description, details: ["trigger": reason]))
            return false
        }
        let adapters: [String: any ProviderAdapter]
        do {
            adapters = try registry.makeAdapters(for: loaded.config)
        } catch {
            logger.error("configuration reload rejected; keeping the running configuration", metadata: ["error": .string("\(error)")])
            return false
        }
        let current = runtime.snapshot
        let old = current.config.server
        let new = loaded.config.server
        if old.host != new.host || old.port != new.port || old.tls != new.tls {
            logger.warning("listener settings (host, port, tls) changed; they take effect after a restart")
        }
        for warning in loaded.warnings {
            logger.warning("configuration warning", metadata: ["detail": .string(warning.description)])
        }
        runtime.replace(with: RuntimeSnapshot(config: loaded.config, adapters: adapters, generation: current.generation + 1))
        gateway.router.update(settings: loaded.config.router)
        audit.record(
            AuditEvent(
                kind: .config, action: "config.reload", actor: "operator", outcome: "success", target: source.description,
                details: ["trigger": reason, "generation": String(current.generation + 1)]))
        logger.notice(
            "configuration reloaded",
            metadata: [
                "reason": .string(reason), "generation": .stringConvertible(current.generation + 1),
                "providers": .stringConvertible(loaded.config.providers.count), "models": .stringConvertible(loaded.config.models.count),
            ]
        )
        return true
    }

    /// Reloads if the file's contents changed since the last load.
    func reloadIfChanged() {
        guard case .file = source else { return }
        let current = source.fingerprint()
        let changed = lastFingerprint.withLock { $0 != current }
        if changed { reload(reason: "file changed") }
    }
}

/// Watches the configuration file and SIGHUP, reloading on either.
struct ConfigReloader: Service {
    let application: SwitchyardApplication

    func run() async throws {
        guard case .file = application.source else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        application.reload(reason: "SIGHUP")
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        let interval = application.runtime.snapshot.config.server.reloadCheckInterval ?? .seconds(5)
                        try? await Task.sleep(for: interval)
                        if Task.isCancelled { break }
                        if application.runtime.snapshot.config.server.reloadCheckInterval != nil {
                            application.reloadIfChanged()
                        }
                    }
                }
                await group.waitForAll()
            }
        }
    }
}

/// Runs the active health checks of groups that configure them, until shutdown.
struct HealthCheckService: Service {
    let checker: ActiveHealthChecker

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await checker.run()
        }
    }
}

/// Exchanges breaker and latency state with the other instances through Redis, every
/// `router.sync_interval`. A Redis outage only means each instance decides alone until it is back.
struct RouterStateSync: Service {
    let application: SwitchyardApplication

    func run() async throws {
        guard let client = application.redis, let settings = application.config.redis else {
            try? await gracefulShutdown()
            return
        }
        let backend = RedisRouterStateBackend(client: client, prefix: settings.keyPrefix)
        let router = application.gateway.router
        let runtime = application.runtime
        let logger = application.logger
        let failures = application.metrics.counter("switchyard_redis_errors_total", [("operation", "router_sync")])
        let instance = application.instanceID
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                let config = runtime.snapshot.config
                if config.router.sharedState {
                    let keys = Array(Set(runtime.snapshot.catalog.allGroups.flatMap { $0.deployments.map(RouterState.key) })).sorted()
                    do {
                        let remote = try await backend.exchange(instance: instance, local: router.sharedView(), keys: keys)
                        router.applyShared(remote)
                        if failing { logger.notice("shared router state reachable again") }
                        failing = false
                    } catch {
                        failures.increment()
                        if !failing {
                            logger.warning("shared router state unavailable; routing on local state", metadata: ["error": .string("\(error)")])
                        }
                        failing = true
                    }
                }
                try? await Task.sleep(for: config.router.syncInterval)
            }
        }
        await client.close()
    }
}

/// Replays the usage journal left by the previous run, then flushes the ledger into the
/// database in batches until shutdown, and once more after it.
struct UsageLedgerService: Service {
    let ledger: UsageLedger?

    func run() async throws {
        guard let ledger else {
            try? await gracefulShutdown()
            return
        }
        await ledger.flushReporting()
        await cancelWhenGracefulShutdown {
            await ledger.run(interval: .milliseconds(250))
        }
    }
}

/// Starts the stores (PostgreSQL's connection pool and migrations) and closes them at the very
/// end of shutdown, once every other service, the usage ledger's last flush included, has ended.
struct StoreLifecycleService: Service {
    let stores: StoreService
    let audit: AuditLog

    func run() async throws {
        stores.start()
        try? await gracefulShutdown()
        // The audit trail's newest record is vouched for outside the database before it closes.
        await audit.checkpoint()
        await stores.shutdown()
    }
}

/// Drains the gateway's background work (settlement, cache writes, shadow requests) at shutdown.
struct BackgroundWorkService: Service {
    let work: BackgroundWork

    func run() async throws {
        try? await gracefulShutdown()
        await work.drain()
    }
}

/// Flips readiness to "shutting down" as soon as graceful shutdown starts.
struct ShutdownWatcher: Service {
    let lifecycle: LifecycleState

    func run() async throws {
        try? await gracefulShutdown()
        lifecycle.markShuttingDown()
    }
}

final class LifecycleState: Sendable {
    private let shuttingDown = Atomic<Bool>(false)
    let startedAt = ContinuousClock.now

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }
    func markShuttingDown() { shuttingDown.store(true, ordering: .relaxed) }
}
