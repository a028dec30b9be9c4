import Foundation
import Hummingbird
import SwitchyardCore
import SwitchyardStores

/// The request log and analytics over it, for administrators (a delegated admin sees its own
/// team or organisation only):
/// - `GET /admin/logs`: newest first, filtered like `/admin/usage` (`key`, `team`, `model`,
///   `status`, `outcome`, `cache`, …, `from`, `to`, `errors=true`), paged with `cursor`.
/// - `GET /admin/logs/{id}`: one request with attempts, guardrail decisions and logged bodies.
/// - `GET /admin/analytics/summary`: totals, error rate, cache savings, latency percentiles,
///   top keys and models.
/// - `GET /admin/analytics/latency?group_by=model`: percentiles per model, deployment, provider…
/// - `GET /admin/analytics/timeseries?interval=hour&group_by=model`: usage per time bucket.
struct RequestLogRoutes {
    let usage: UsageRoutes

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/admin/logs") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            let page = try await logs(request.uri.queryParameters, scope: scope)
            return GatewayResponse.json(.object(page)).hummingbirdResponse()
        }
        router.get("/admin/logs/:id") { _, context in
            let scope = try AdminRoutes.requireAdmin(context)
            let id = context.parameters.get("id") ?? ""
            guard let record = try await entry(id: id, scope: scope) else {
                throw GatewayError.notFound("No request '\(id)' in the log.", code: .requestNotFound)
            }
            return GatewayResponse.json(.object(RequestLogEntry.json(record))).hummingbirdResponse()
        }
        router.get("/admin/analytics/summary") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            return GatewayResponse.json(.object(try await summary(request.uri.queryParameters, scope: scope))).hummingbirdResponse()
        }
        router.get("/admin/analytics/latency") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            return GatewayResponse.json(.object(try await latency(request.uri.queryParameters, scope: scope))).hummingbirdResponse()
        }
        router.get("/admin/analytics/timeseries") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            return GatewayResponse.json(.object(try await timeSeries(request.uri.queryParameters, scope: scope))).hummingbirdResponse()
        }
    }

    // MARK: Request log

    func logs(_ parameters: Parameters, scope: AdminScope) async throws -> JSONObject {
        let (rows, nextCursor) = try await logPage(try Self.logQuery(parameters, scope: scope))
        var page: JSONObject = [
            "object": "list",
            "data": .array(rows.map { .object(RequestLogEntry.json($0, bodies: false)) }),
            "has_more": .bool(nextCursor != nil),
        ]
        if let nextCursor { page["next_cursor"] = .string(nextCursor) }
        return page
    }

    /// The request log question the query parameters ask, kept inside the caller's scope.
    static func logQuery(_ parameters: Parameters, scope: AdminScope) throws -> RequestLogQuery {
        var query = RequestLogQuery()
        query.usage = try UsageRoutes.query(parameters, defaultGroups: [])
        scope.restrict(&query.usage)
        query.errorsOnly = parameters.get("errors") == "true"
        query.limit = min(max(1, parameters.get("limit").flatMap(Int.init) ?? 50), 1000)
        if let cursor = parameters.get("cursor") {
            guard let colon = cursor.firstIndex(of: ":"), let ts = Double(cursor[..<colon]) else {
                throw GatewayError.invalidRequest("'cursor' must be a next_cursor from a previous page.", param: "cursor", code: .invalidValue)
            }
            query.before = (ts, String(cursor[cursor.index(after: colon)...]))
        }
        return query
    }

    /// One page of the log, newest first, and the cursor of the next page when the page is full.
    func logPage(_ query: RequestLogQuery) async throws -> (rows: [UsageRecord], nextCursor: String?) {
        let rows = try await usage.requireLedger().logs(query)
        guard rows.count == query.limit, let last = rows.last else { return (rows, nil) }
        return (rows, "\(last.ts):\(last.id)")
    }

    func entry(id: String, scope: AdminScope) async throws -> UsageRecord? {
        guard let record = try await usage.requireLedger().log(id: id), scope.covers(record) else { return nil }
        return record
    }

    // MARK: Analytics

    func summary(_ parameters: Parameters, scope: AdminScope) async throws -> JSONObject {
        let ledger = try usage.requireLedger()
        var query = try UsageRoutes.query(parameters, defaultGroups: [])
        scope.restrict(&query)
        query.groupBy = []
        let totals = try await ledger.usage(query).totals
        var object: JSONObject = ["object": "analytics.summary"]
        if case .object(let members) = totals.json { for (key, value) in members.members { object[key] = value } }
        let samples = try await ledger.latencySamples(query, by: nil, limit: Self.sampleLimit)
        object["latency"] = .object(Self.percentiles(samples))
        for (name, dimension) in [("top_keys", UsageDimension.key), ("top_models", .model), ("top_end_users", .endUser)] {
            var top = query
            top.groupBy = [dimension]
            top.limit = min(max(1, parameters.get("top").flatMap(Int.init) ?? 5), 100)
            object[name] = .array(try await ledger.usage(top).rows.map(\.json))
        }
        return object
    }

    func latency(_ parameters: Parameters, scope: AdminScope) async throws -> JSONObject {
        let ledger = try usage.requireLedger()
        var query = try UsageRoutes.query(parameters, defaultGroups: [.model])
        scope.restrict(&query)
        guard query.groupBy.count <= 1, query.groupBy.first != .day else {
            throw GatewayError.invalidRequest("Latency groups by one dimension other than day.", param: "group_by", code: .invalidValue)
        }
        let dimension = query.groupBy.first
        let samples = try await ledger.latencySamples(query, by: dimension, limit: Self.sampleLimit)
        var groups: [String: [LatencySample]] = [:]
        for sample in samples { groups[sample.group ?? "", default: []].append(sample) }
        let rows = groups.sorted { $0.value.count > $1.value.count || $0.value.count == $1.value.count && $0.key < $1.key }.map {
            group, samples -> JSONValue in
            var row = Self.percentiles(samples)
            if let dimension { row[dimension.rawValue] = group.isEmpty ? .null : .string(group) }
            return .object(row)
        }
        return ["object": "analytics.latency", "sampled": JSONValue(samples.count), "data": .array(rows)]
    }

    func timeSeries(_ parameters: Parameters, scope: AdminScope) async throws -> JSONObject {
        let ledger = try usage.requireLedger()
        var query = try UsageRoutes.query(parameters, defaultGroups: [])
        scope.restrict(&query)
        let intervals = ["minute": 60, "hour": 3600, "day": 86_400]
        let name = parameters.get("interval") ?? "hour"
        guard let seconds = intervals[name] ?? Int(name).flatMap({ $0 >= 10 ? $0 : nil }) else {
            throw GatewayError.invalidRequest(
                "'interval' must be minute, hour, day or a number of seconds (at least 10).", param: "interval", code: .invalidValue)
        }
        guard !query.groupBy.contains(.day) else {
            throw GatewayError.invalidRequest("Use interval=day rather than group_by=day.", param: "group_by", code: .invalidValue)
        }
        if query.from == nil { query.from = WallClock.unixTime() - Double(seconds) * 48 }
        query.limit = min(max(1, parameters.get("limit").flatMap(Int.init) ?? 5000), 50_000)
        let rows = try await ledger.timeSeries(query, bucketSeconds: seconds)
        return [
            "object": "analytics.timeseries", "interval_seconds": JSONValue(seconds),
            "data": .array(
                rows.map { totals in
                    guard case .object(var row) = totals.json else { return totals.json }
                    if let bucket = totals.group["bucket"].flatMap({ $0 }).flatMap(Int64.init) {
                        row["bucket"] = JSONValue(Int(bucket))
                        row["time"] = .string(CivilDate.iso8601(bucket))
                    }
                    return .object(row)
                }),
        ]
    }

    /// Percentiles come from at most this many of the newest matching requests.
    static let sampleLimit = 100_000

    /// The nearest-rank percentile `p` (0...1) of values sorted ascending (not empty).
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// Count and p50/p90/p99 of the whole duration, time to first token, upstream time and
    /// the gateway's own share (whole minus upstream).
    static func percentiles(_ samples: [LatencySample]) -> JSONObject {
        func stats(_ values: [Double]) -> JSONValue {
            guard !values.isEmpty else { return .null }
            let sorted = values.sorted()
            func rank(_ p: Double) -> JSONValue { JSONValue((percentile(sorted, p) * 1000).rounded() / 1000) }
            return ["p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": JSONValue((sorted[sorted.count - 1] * 1000).rounded() / 1000)]
        }
        return [
            "requests": JSONValue(samples.count),
            "duration_ms": stats(samples.map(\.durationMs)),
            "ttft_ms": stats(samples.compactMap(\.ttftMs)),
            "upstream_ms": stats(samples.compactMap(\.upstreamMs)),
            "gateway_ms": stats(samples.compactMap { sample in sample.upstreamMs.map { max(0, sample.durationMs - $0) } }),
        ]
    }
}
