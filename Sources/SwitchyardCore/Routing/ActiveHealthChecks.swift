import NIOCore

/// Probes the deployments of every group that has `health_check:` configured, each at its own
/// interval, and feeds the results to the router's breakers. Runs until cancelled.
public struct ActiveHealthChecker: Sendable {
    public let runtime: RuntimeHolder
    public let router: RouterState

    public init(runtime: RuntimeHolder, router: RouterState) {
        self.runtime = runtime
        self.router = router
    }

    public func run() async {
        var lastProbe: [String: ContinuousClock.Instant] = [:]
        while !Task.isCancelled {
            let snapshot = runtime.snapshot
            var due: [(DeploymentConfig, HealthCheckConfig)] = []
            var shortest: Duration = .seconds(1)
            let now = ContinuousClock.now
            for group in snapshot.catalog.allGroups {
                guard let check = group.healthCheck else { continue }
                shortest = min(shortest, check.interval)
                for deployment in group.deployments {
                    let key = RouterState.key(deployment)
                    if let last = lastProbe[key], now - last < check.interval { continue }
                    lastProbe[key] = now
                    due.append((deployment, check))
                }
            }
            await withTaskGroup(of: Void.self) { tasks in
                for (deployment, check) in due {
                    tasks.addTask {
                        let healthy = await Self.probe(deployment, check: check, snapshot: snapshot)
                        router.recordHealthCheck(deployment, healthy: healthy)
                    }
                }
            }
            try? await Task.sleep(for: min(shortest, .seconds(1)) / 2)
        }
    }

    /// One minimal request (a one-token chat, or a one-word embedding) within the timeout.
    public static func probe(_ deployment: DeploymentConfig, check: HealthCheckConfig, snapshot: RuntimeSnapshot) async -> Bool {
        guard let adapter = snapshot.adapters[deployment.provider] else { return false }
        let model = JSONWriter.quoted(deployment.upstreamModel)
        var body: [UInt8] = Array(#"{"model":"#.utf8) + model
        body += Array(
            (check.endpoint == .embeddings
                ? #","input":"health check"}"#
                : #","messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#).utf8)
        let request = UpstreamRequest(
            endpoint: check.endpoint, body: ByteBuffer(bytes: body), stream: false, model: deployment.upstreamModel,
            requestID: "health-check", deadline: .now + check.timeout)
        do {
            _ = try await Gateway.withAttemptTimeout((check.timeout, .attemptTimeout), provider: deployment.provider) {
                let response = try await adapter.send(request)
                _ = try await response.body.collect(upTo: 1024 * 1024)
                guard (200..<300).contains(response.status) || response.status == 429 else {
                    throw GatewayError.upstreamUnavailable("unhealthy")
                }
                return GatewayResponse(status: response.status, headers: [], body: .buffer(ByteBuffer()))
            }
            return true
        } catch {
            return false
        }
    }
}
