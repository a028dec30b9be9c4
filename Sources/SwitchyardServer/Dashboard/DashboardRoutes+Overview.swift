import Hummingbird
import SwitchyardCore
import SwitchyardStores

/// The time window of the overview and how finely its charts are cut.
struct DashboardRange: Sendable {
    let name: String
    let seconds: Double
    let bucketSeconds: Int

    static let all = [
        DashboardRange(name: "1h", seconds: 3600, bucketSeconds: 300),
        DashboardRange(name: "24h", seconds: 86_400, bucketSeconds: 3600),
        DashboardRange(name: "7d", seconds: 7 * 86_400, bucketSeconds: 6 * 3600),
        DashboardRange(name: "30d", seconds: 30 * 86_400, bucketSeconds: 86_400),
    ]

    /// The named range, 24 hours by default.
    static func named(_ name: String?) -> DashboardRange { all.first { $0.name == name } ?? all[1] }
}

extension DashboardRoutes {
    /// Requests, errors, latency percentiles, tokens and spend over a window, as numbers and charts.
    func overview(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        let range = DashboardRange.named(request.uri.queryParameters.get("range"))
        let links = DashboardRange.all.map { item -> HTML in
            item.name == range.name ? "<strong>\(item.name)</strong>" : "<a href=\"/ui?range=\(item.name)\">\(item.name)</a>"
        }
        let picker: HTML = "<p class=\"muted\">Last \(HTML.join(links, separator: " · "))\(scopeNote(session))</p>"
        guard let ledger else {
            return DashboardPage(title: "Overview", section: .overview, content: "\(picker)\(Self.ledgerOff)")
        }
        let now = WallClock.unixTime()
        var query = UsageQuery(from: now - range.seconds)
        session.scope.restrict(&query)
        let totals = try await ledger.usage(query).totals
        let durations = try await ledger.latencySamples(query, by: nil, limit: RequestLogRoutes.sampleLimit).map(\.durationMs).sorted()

        // One point per bucket, empty buckets included.
        var seriesQuery = query
        seriesQuery.limit = 50_000
        let rows = try await ledger.timeSeries(seriesQuery, bucketSeconds: range.bucketSeconds)
        var byBucket: [Int64: UsageTotals] = [:]
        for row in rows {
            if let bucket = row.group["bucket"].flatMap({ $0 }).flatMap(Int64.init) { byBucket[bucket] = row }
        }
        let size = Int64(range.bucketSeconds)
        let first = Int64(query.from ?? now) / size * size
        let buckets = Array(stride(from: first, through: Int64(now) / size * size, by: Int(size)))
        let labels = buckets.map { Format.bucketLabel($0, bucketSeconds: range.bucketSeconds) }
        let points = buckets.map { byBucket[$0] ?? UsageTotals() }
        // Percentiles per bucket from that bucket's requests (only buckets that had any).
        var p50: [Double?] = []
        var p99: [Double?] = []
        for (bucket, totals) in zip(buckets, points) {
            guard totals.requests > 0 else {
                p50.append(nil)
                p99.append(nil)
                continue
            }
            var slice = query
            slice.from = Double(bucket)
            slice.to = Double(bucket + size)
            let sorted = try await ledger.latencySamples(slice, by: nil, limit: 5000).map(\.durationMs).sorted()
            p50.append(sorted.isEmpty ? nil : RequestLogRoutes.percentile(sorted, 0.5))
            p99.append(sorted.isEmpty ? nil : RequestLogRoutes.percentile(sorted, 0.99))
        }

        let errorRate = totals.requests == 0 ? 0 : Double(totals.errors) / Double(totals.requests)
        let p50Overall = durations.isEmpty ? nil : RequestLogRoutes.percentile(durations, 0.5)
        let p99Overall = durations.isEmpty ? nil : RequestLogRoutes.percentile(durations, 0.99)
        let tokenNote = "\(Format.compact(Double(totals.promptTokens))) in · \(Format.compact(Double(totals.completionTokens))) out"
        let stats = HTML.join([
            DashboardLayout.stat("Requests", Format.count(totals.requests), id: "requests"),
            DashboardLayout.stat("Errors", Format.count(totals.errors), note: Format.percent(errorRate) + " of requests", id: "errors"),
            DashboardLayout.stat("Latency p50", Format.milliseconds(p50Overall), id: "p50"),
            DashboardLayout.stat("Latency p99", Format.milliseconds(p99Overall), id: "p99"),
            DashboardLayout.stat("Tokens", Format.compact(Double(totals.totalTokens)), note: tokenNote, id: "tokens"),
            DashboardLayout.stat("Spend", Format.usd(totals.cost), id: "spend"),
            DashboardLayout.stat("Cache hits", Format.count(totals.cacheHits), note: Format.usd(totals.savedCost) + " saved", id: "cache"),
        ])
        let requestChart = SVGChart.line(
            id: "requests", title: "Requests and errors", labels: labels,
            series: [
                ChartSeries(name: "requests", values: points.map { Double($0.requests) }, color: "#2563eb"),
                ChartSeries(name: "errors", values: points.map { Double($0.errors) }, color: "#dc2626"),
            ], format: Format.compact)
        let latencyChart = SVGChart.line(
            id: "latency", title: "Latency (ms)", labels: labels,
            series: [ChartSeries(name: "p50", values: p50, color: "#16a34a"), ChartSeries(name: "p99", values: p99, color: "#d97706")],
            format: Format.compact)
        let tokenChart = SVGChart.line(
            id: "tokens", title: "Tokens", labels: labels,
            series: [
                ChartSeries(name: "prompt", values: points.map { Double($0.promptTokens) }, color: "#7c3aed"),
                ChartSeries(name: "completion", values: points.map { Double($0.completionTokens) }, color: "#0891b2"),
            ], format: Format.compact)
        let spendChart = SVGChart.bars(
            id: "spend", title: "Spend (USD)", labels: labels, series: ChartSeries(name: "spend", values: points.map { $0.cost }, color: "#0f766e"),
            format: Format.usd)
        let charts: HTML = "<div class=\"charts\">\(requestChart)\(latencyChart)\(tokenChart)\(spendChart)</div>"

        var top = query
        top.limit = 10
        top.groupBy = [.model]
        let models = try await ledger.usage(top).rows
        top.groupBy = [.key]
        let keys = try await ledger.usage(top).rows
        // Key ids with the names their owners gave them.
        var keyNames: [String: String] = [:]
        if keys.contains(where: { $0.group["key"].flatMap({ $0 })?.hasPrefix("key_") == true }) {
            for key in (try? await stores.keyStore().list()) ?? [] { keyNames[key.id] = key.name }
        }
        let breakdown = SVGChart.breakdown(
            id: "models", title: "Requests by model",
            items: models.map { (label: $0.group["model"].flatMap { $0 } ?? "(none)", value: Double($0.requests)) }, color: "#2563eb",
            format: Format.compact)
        let content: HTML = """
            \(picker)<div class="stats">\(stats)</div>\(charts)
            <h2>Models</h2>\(models.isEmpty ? .empty : breakdown)\(usageTable(id: "top-models", dimension: "model", label: "Model", rows: models))
            <h2>Keys</h2>\(usageTable(id: "top-keys", dimension: "key", label: "Key", rows: keys, names: keyNames))
            """
        return DashboardPage(title: "Overview", section: .overview, content: content)
    }

    /// Usage rows grouped by one dimension.
    /// Usage rows grouped by one dimension, each linked to its requests; `names` shows a name
    /// next to an id.
    func usageTable(id: String, dimension: String, label: String, rows: [UsageTotals], names: [String: String] = [:]) -> HTML {
        DashboardLayout.table(
            id: id, headers: [label, "Requests", "Errors", "Tokens", "Spend"],
            rows: rows.map { row -> HTML in
                var first: HTML = "<td class=\"muted\">(none)</td>"
                if let value = row.group[dimension].flatMap({ $0 }) {
                    let shown: HTML = names[value].map { name -> HTML in "\(name) <small class=\"muted\">\(value)</small>" } ?? "\(value)"
                    first = "<td><a href=\"\(HTML.link("/ui/requests", [(dimension, value)]))\">\(shown)</a></td>"
                }
                return """
                    \(first)<td class="num">\(Format.count(row.requests))</td><td class="num">\(Format.count(row.errors))</td>\
                    <td class="num">\(Format.count(row.totalTokens))</td><td class="num">\(Format.usd(row.cost))</td>
                    """
            }, empty: "No requests in this window.")
    }

    /// ` · team research only` for a delegated administrator.
    func scopeNote(_ session: DashboardSession) -> HTML {
        switch session.scope {
        case .all: .empty
        case .organization(let org): " · organisation \(org) only"
        case .team(let team, _): " · team \(team) only"
        }
    }
}
