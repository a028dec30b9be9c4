import Foundation
import Hummingbird
import SwitchyardCore
import SwitchyardStores

extension DashboardRoutes {
    /// Every model group and its deployments with the router's live view (breaker, exclusion,
    /// requests in flight, latency, capacity used), the providers' health seen from traffic,
    /// and each deployment's last 24 hours from the ledger.
    func models(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        let snapshot = runtime.snapshot
        let now = WallClock.unixTime()
        var byDeployment: [String: UsageTotals] = [:]
        var latencyByDeployment: [String: [Double]] = [:]
        if let ledger {
            var query = UsageQuery(from: now - 86_400, groupBy: [.deployment])
            session.scope.restrict(&query)
            query.limit = 10_000
            for row in try await ledger.usage(query).rows {
                if let deployment = row.group["deployment"].flatMap({ $0 }) { byDeployment[deployment] = row }
            }
            for sample in try await ledger.latencySamples(query, by: .deployment, limit: 20_000) {
                if let deployment = sample.group { latencyByDeployment[deployment, default: []].append(sample.durationMs) }
            }
        }
        let aliases = Dictionary(snapshot.config.models.map { ($0.qualifiedName, $0.aliases) }, uniquingKeysWith: { $0 + $1 })
        var rows: [HTML] = []
        for group in snapshot.catalog.allGroups {
            let candidates = gateway.router.evaluate(group, features: nil, regions: nil, hasAdapter: { snapshot.adapters[$0] != nil })
            let names = [group.qualifiedName] + (aliases[group.qualifiedName] ?? [])
            for (index, candidate) in candidates.enumerated() {
                let deployment = candidate.deployment
                let usage = byDeployment[deployment.id]
                let latencies = (latencyByDeployment[deployment.id] ?? []).sorted()
                let modelCell: HTML =
                    index == 0
                    ? "<td rowspan=\"\(candidates.count)\"><strong>\(names[0])</strong>\(names.count > 1 ? "<br><small class=\"muted\">aliases: \(names.dropFirst().joined(separator: ", "))</small>" : HTML.empty)<br><small class=\"muted\">\(group.strategy.rawValue)</small></td>"
                    : .empty
                let capacity = deployment.rpm.map { "\(candidate.requestsLastMinute) / \($0)" } ?? String(candidate.requestsLastMinute)
                rows.append(
                    """
                    \(modelCell)<td data-deployment="\(deployment.id)">\(deployment.id)</td><td>\(deployment.provider)</td><td>\(deployment.upstreamModel)</td>\
                    <td>\(breakerBadge(candidate.breaker))</td><td>\(candidate.excluded.map { DashboardLayout.badge($0.rawValue.replacingOccurrences(of: "_", with: " "), "warn") } ?? DashboardLayout.badge("available", "ok"))</td>\
                    <td class="num">\(candidate.outstanding)</td><td class="num">\(Format.milliseconds(candidate.latency.map { $0 * 1000 }))</td><td class="num">\(capacity)</td>\
                    <td>\(providerBadge(deployment.provider))</td>\
                    <td class="num">\(usage.map { Format.count($0.requests) } ?? "0")</td><td class="num">\(usage.map { Format.count($0.errors) } ?? "0")</td>\
                    <td class="num">\(Format.milliseconds(latencies.isEmpty ? nil : RequestLogRoutes.percentile(latencies, 0.5)))</td>
                    """)
            }
        }
        let deployments = DashboardLayout.table(
            id: "deployments",
            headers: [
                "Model", "Deployment", "Provider", "Upstream model", "Breaker", "Routing", "In flight", "Latency (EWMA)", "Req/min",
                "Provider health", "Requests 24h", "Errors 24h", "p50 24h",
            ], rows: rows, empty: "No models are configured.")

        let providers = snapshot.config.providers.map { provider -> HTML in
            let status = health.status(of: provider.name)
            return """
                <td>\(provider.name)</td><td>\(provider.type)</td><td><code>\(provider.baseURL)</code></td><td>\(providerBadge(provider.name))</td>\
                <td class="num">\(status?.consecutiveFailures ?? 0)</td><td class="wrap">\(status?.lastError ?? "")</td>
                """
        }
        let patterns = snapshot.config.models.filter(\.isPattern).map { model -> HTML in
            "<td>\(model.name)</td><td>\(model.provider)</td>"
        }
        let ledgerNote: HTML = ledger == nil ? Self.ledgerOff : .empty
        let content: HTML = """
            \(ledgerNote)
            \(deployments)
            <h2>Providers</h2>
            \(DashboardLayout.table(id: "providers", headers: ["Provider", "Type", "Base URL", "Health", "Consecutive failures", "Last error"], rows: providers, empty: "No providers are configured."))
            \(patterns.isEmpty ? HTML.empty : "<h2>Patterns</h2>\(DashboardLayout.table(id: "patterns", headers: ["Pattern", "Provider"], rows: patterns, empty: ""))")
            """
        return DashboardPage(title: "Models and deployments", section: .models, content: content)
    }

    func breakerBadge(_ state: CircuitBreaker.State) -> HTML {
        switch state {
        case .closed: DashboardLayout.badge("closed", "ok")
        case .halfOpen: DashboardLayout.badge("half-open", "warn")
        case .open: DashboardLayout.badge("open", "bad")
        }
    }

    /// `ok`, `failing` (with the count) or `no traffic yet`, from real requests.
    func providerBadge(_ provider: String) -> HTML {
        guard let status = health.status(of: provider) else { return DashboardLayout.badge("no traffic yet", "muted") }
        return status.consecutiveFailures > 0 ? DashboardLayout.badge("failing", "bad") : DashboardLayout.badge("ok", "ok")
    }
}
