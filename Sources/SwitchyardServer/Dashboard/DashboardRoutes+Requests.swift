import Hummingbird
import SwitchyardCore
import SwitchyardStores

extension DashboardRoutes {
    /// Filters of the request log form (the same names as `GET /admin/logs`).
    static let requestFilters = ["model", "key", "team", "status"]

    /// The request log, newest first, filtered and paged like `GET /admin/logs`.
    func requests(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        guard ledger != nil else { return DashboardPage(title: "Requests", section: .requests, content: Self.ledgerOff) }
        // An empty form field means "any", not "equal to the empty string".
        let parameters = Parameters(request.uri.queryParameters.filter { !$0.value.isEmpty })
        let (rows, nextCursor) = try await logs.logPage(try RequestLogRoutes.logQuery(parameters, scope: session.scope))
        let value = { (name: String) in parameters.get(name) ?? "" }
        let errorsOnly = parameters.get("errors") == "true"
        let inputs = Self.requestFilters.map { name -> HTML in
            "<label>\(name)<input name=\"\(name)\" value=\"\(value(name))\" size=\"14\"></label>"
        }
        let filters: HTML = """
            <form class="filters" method="get" action="/ui/requests">\(inputs)\
            <label>errors only<input type="checkbox" name="errors" value="true"\(errorsOnly ? HTML(" checked") : .empty)></label>\
            <button type="submit">Filter</button> <a class="button" href="/ui/requests">Clear</a></form>
            """
        let tableRows = rows.map { row -> HTML in
            // A stream that failed after its 200, or a client that hung up, is not a success either.
            let tone = row.status >= 500 ? "bad" : row.status >= 400 || row.outcome != "success" ? "warn" : "ok"
            let problem = row.errorCode ?? (row.outcome == "success" ? nil : row.outcome)
            let served = row.servedModel.map { served -> HTML in served == row.requestedModel ? .empty : " → \(served)" } ?? .empty
            return """
                <td title="\(Format.time(row.ts))">\(Format.shortTime(row.ts))</td><td><a href="/ui/requests/\(HTML.percentEncode(row.id))"><code>\(row.id)</code></a></td>\
                <td data-outcome="\(row.outcome)">\(DashboardLayout.badge(String(row.status), tone))\(problem.map { text -> HTML in " <small>\(text)</small>" } ?? .empty)</td>\
                <td>\(row.requestedModel ?? "")\(served)</td><td>\(row.deployment ?? "")</td><td>\(row.subject)</td><td>\(row.teamID ?? "")</td>\
                <td class="num">\(Format.count(row.promptTokens)) / \(Format.count(row.completionTokens))</td>\
                <td class="num">\(row.cost.map(Format.usd) ?? "–")</td><td class="num">\(Format.milliseconds(row.durationMs))</td>\
                <td>\(row.stream ? "stream" : "")\(row.cache.map { " cache " + $0 } ?? "")</td>
                """
        }
        let filterQuery: [(String, String?)] = (Self.requestFilters + ["errors", "outcome", "from", "to", "limit"]).map { ($0, parameters.get($0)) }
        var pager: [HTML] = []
        if parameters.get("cursor") != nil { pager.append("<a href=\"\(HTML.link("/ui/requests", filterQuery))\">Newest</a>") }
        if let nextCursor {
            pager.append("<a rel=\"next\" href=\"\(HTML.link("/ui/requests", filterQuery + [("cursor", nextCursor)]))\">Older →</a>")
        }
        let content: HTML = """
            \(filters)
            \(DashboardLayout.table(id: "requests", headers: ["Time (UTC)", "Request", "Status", "Model", "Deployment", "Key", "Team", "Tokens in / out", "Cost", "Duration", ""], rows: tableRows, empty: "No requests match."))
            <div class="pager">\(pager)</div>
            """
        return DashboardPage(title: "Requests", section: .requests, content: content)
    }

    /// One request: who, what, how it was routed (attempts), how long each part took,
    /// guardrail decisions, and the redacted bodies when `logging.bodies` covered it.
    func requestDetail(_ session: DashboardSession, id: String) async throws -> DashboardPage {
        guard ledger != nil else { return DashboardPage(title: "Request", section: .requests, content: Self.ledgerOff) }
        guard let record = try await logs.entry(id: id, scope: session.scope) else {
            return DashboardPage(
                title: "Request not found", section: .requests,
                content: DashboardLayout.notice("No request '\(id)' in the log (or it is outside your scope).", tone: "bad"), status: .notFound)
        }
        let entry = RequestLogEntry.json(record)
        let shown = ["request_body", "response_body", "attempts", "guardrail_decisions", "ts"]
        let fields = entry.members.filter { !shown.contains($0.key) }.map { member -> HTML in
            "<dt>\(member.key)</dt><dd>\(Self.describe(member.value))</dd>"
        }
        let latencies: [(label: String, value: Double)] = [
            ("total", record.durationMs), ("time to first token", record.ttftMs), ("upstream", record.upstreamMs),
            ("gateway", record.upstreamMs.map { max(0, record.durationMs - $0) }),
        ].compactMap { label, value in value.map { (label: label, value: $0) } }
        let attempts = (entry["attempts"]?.arrayValue ?? []).enumerated().map { index, attempt -> HTML in
            let outcome = attempt["outcome"]?.stringValue ?? ""
            return """
                <td class="num">\(index + 1)</td><td>\(attempt["model_group"]?.stringValue ?? "")</td><td>\(attempt["deployment"]?.stringValue ?? "")</td>\
                <td>\(attempt["provider"]?.stringValue ?? "")</td><td>\(DashboardLayout.badge(outcome, outcome == "success" ? "ok" : "bad"))</td>\
                <td>\(attempt["error_class"]?.stringValue ?? "")</td><td class="num">\(Format.milliseconds(attempt["duration_ms"]?.doubleValue))</td>
                """
        }
        let decisions = (entry["guardrail_decisions"]?.arrayValue ?? []).map { decision -> HTML in
            """
            <td>\(decision["name"]?.stringValue ?? "")</td><td>\(decision["direction"]?.stringValue ?? "")</td><td>\(decision["action"]?.stringValue ?? "")</td>\
            <td>\(decision["entities"].map(Self.describe) ?? "")</td><td>\(decision["score"].map(Self.describe) ?? "")</td>
            """
        }
        var bodies: HTML = DashboardLayout.notice("Bodies are not logged for this request (see logging.bodies).")
        if record.requestBody != nil || record.responseBody != nil {
            bodies = """
                <h3>Request</h3><pre data-body="request">\(record.requestBody ?? "")</pre>
                <h3>Response</h3><pre data-body="response">\(record.responseBody ?? "")</pre>
                """
        }
        let content: HTML = """
            <p><a href="/ui/requests">← Requests</a></p>
            <dl class="fields" data-request="\(record.id)">\(fields)</dl>
            <h2>Latency</h2>\(SVGChart.breakdown(id: "request-latency", title: "Latency", items: latencies, color: "#2563eb", format: { Format.milliseconds($0) }))
            <h2>Attempts</h2>\(DashboardLayout.table(id: "attempts", headers: ["#", "Model group", "Deployment", "Provider", "Outcome", "Error class", "Duration"], rows: attempts, empty: "No upstream attempt (answered or refused by the gateway)."))
            <h2>Guardrail decisions</h2>\(DashboardLayout.table(id: "guardrails", headers: ["Guardrail", "Direction", "Action", "Findings", "Score"], rows: decisions, empty: "No guardrail acted on this request."))
            <h2>Bodies</h2>\(bodies)
            """
        return DashboardPage(title: "Request \(record.id)", section: .requests, content: content)
    }

    /// A JSON value as short text (`a, b`, `email: 2`).
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .array(let items): items.map(describe).joined(separator: ", ")
        case .object(let object): object.members.map { "\($0.key): \(describe($0.value))" }.joined(separator: ", ")
        default: value.serialized()
        }
    }
}
