import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Prometheus
import SwitchyardCore

/// Liveness, readiness and Prometheus metrics. Unauthenticated, as probes and scrapers expect,
/// unless `server.operational_token` is set: then readiness and metrics need it as a bearer token.
struct OperationalRoutes {
    let runtime: RuntimeHolder
    let prometheus: PrometheusCollectorRegistry
    let health: ProviderHealth
    let lifecycle: LifecycleState
    let router: RouterState
    let metrics: GatewayMetrics

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/health/live") { _, _ in
            GatewayResponse.json(["status": "ok", "version": .string(SwitchyardVersion.current)]).hummingbirdResponse()
        }
        router.get("/health/ready") { request, _ in
            try authorize(request)
            return readiness()
        }
        router.get("/metrics") { request, _ in
            try authorize(request)
            // Upstream connection use, read at scrape time: requests in flight per deployment.
            for (deployment, count) in self.router.inFlight() {
                metrics.gauge("switchyard_upstream_in_flight", [("deployment", deployment)]).record(count)
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            prometheus.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }

    /// Checks `server.operational_token` (constant time) when one is configured.
    func authorize(_ request: Request) throws {
        guard let token = runtime.snapshot.config.server.operationalToken else { return }
        let presented = AuthenticationMiddleware.bearer(request.headers.value(.authorization)) ?? ""
        guard MasterKeyAuthenticator.constantTimeEquals(Array(presented.utf8), Array(token.reveal().utf8)) else {
            throw GatewayError.unauthenticated(
                "This endpoint needs the operational token (server.operational_token) as a bearer token.", code: .invalidOperationalToken)
        }
    }

    func readiness() -> Response {
        let snapshot = runtime.snapshot
        let now = ContinuousClock.now
        let providers = snapshot.config.providers.map { provider -> JSONValue in
            var entry: JSONObject = ["name": .string(provider.name), "type": .string(provider.type)]
            if let status = health.status(of: provider.name) {
                entry["status"] = status.consecutiveFailures > 0 ? "failing" : "ok"
                if let lastError = status.lastError { entry["last_error"] = .string(lastError) }
                if let success = status.lastSuccess { entry["seconds_since_success"] = JSONValue(Double((now - success).components.seconds)) }
                entry["consecutive_failures"] = JSONValue(status.consecutiveFailures)
            } else {
                entry["status"] = "no_traffic_yet"
            }
            return .object(entry)
        }
        let ready = !lifecycle.isShuttingDown
        let body: JSONValue = [
            "status": ready ? "ready" : "shutting_down",
            "version": .string(SwitchyardVersion.current),
            "config": ["source": .string(snapshot.config.source), "generation": JSONValue(snapshot.generation)],
            "providers": .array(providers),
        ]
        return GatewayResponse.json(body, status: ready ? 200 : 503).hummingbirdResponse()
    }
}
