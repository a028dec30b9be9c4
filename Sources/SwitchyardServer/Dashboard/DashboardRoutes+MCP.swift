import Foundation
import Hummingbird
import SwitchyardCore
import SwitchyardStores

extension DashboardRoutes {
    /// The most calls on one page of the MCP page (`limit` may ask for fewer).
    static let mcpCallsPageSize = 50

    /// The MCP page: the configured servers (`mcp.servers`) with their health, the tools each
    /// lists now, and the recent MCP calls (`tools/call`, `prompts/get`, `resources/read`) from
    /// the audit trail, newest first and paged, filtered by server and caller. Servers and tools
    /// are shown to every administrator (as models are); calls only within the admin's scope: a
    /// team admin sees its team's callers' calls, an organisation admin its organisation's.
    func mcpPage(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        let parameters = request.uri.queryParameters
        let server = parameters.get("server").flatMap { $0.isEmpty ? nil : $0 }
        let actor = parameters.get("actor").flatMap { $0.isEmpty ? nil : $0 }
        let before = parameters.get("before").flatMap { Int64($0) }
        let pageSize = min(max(parameters.get("limit").flatMap { Int($0) } ?? Self.mcpCallsPageSize, 1), Self.mcpCallsPageSize)

        let overview: HTML
        if mcp.upstreams.isEmpty {
            overview = Self.noMCPServers
        } else {
            overview = await mcpServers()
        }

        var filters = session.scope.auditDetails
        if let server { filters.append((key: "server", value: Optional(server))) }
        let records = try await audit.list(
            kind: AuditEvent.Kind.tool.rawValue, actor: actor, before: before, newestFirst: true, limit: pageSize, details: filters)
        let rows = records.map(Self.mcpCallRow)
        let serverOptions = ([""] + mcp.upstreams.map(\.config.name)).map { option -> HTML in
            "<option value=\"\(option)\"\(option == (server ?? "") ? HTML(" selected") : .empty)>\(option.isEmpty ? "any" : option)</option>"
        }
        let form: HTML = """
            <form class="filters" method="get" action="/ui/mcp"><label>server<select name="server">\(serverOptions)</select></label>\
            <label>caller<input name="actor" value="\(actor ?? "")" size="16"></label><button type="submit">Filter</button> \
            <a class="button" href="/ui/mcp">Clear</a></form>
            """
        let query: [(String, String?)] = [("server", server), ("actor", actor), ("limit", parameters.get("limit"))]
        var pager: [HTML] = []
        if before != nil { pager.append("<a href=\"\(HTML.link("/ui/mcp", query))\">Newest</a>") }
        if records.count == pageSize, let last = records.last {
            pager.append("<a rel=\"next\" href=\"\(HTML.link("/ui/mcp", query + [("before", String(last.seq))]))\">Older →</a>")
        }
        let scopeNote: HTML =
            switch session.scope {
            case .all: .empty
            case .organization(let org): "<p class=\"muted\">Calls by callers of organisation \(org) only.</p>"
            case .team(let team, _): "<p class=\"muted\">Calls by callers of team \(team) only.</p>"
            }
        let content: HTML = """
            \(overview)
            <h2>Recent calls</h2>\(scopeNote)\(form)
            \(DashboardLayout.table(id: "mcp-calls", headers: ["Time (UTC)", "Caller", "Server", "Tool", "Method", "Outcome", "Duration", "Request"], rows: rows, empty: "No MCP calls match."))
            <div class="pager">\(pager)</div>
            """
        return DashboardPage(title: "MCP", section: .mcp, content: content)
    }

    static let noMCPServers: HTML = DashboardLayout.notice(
        "No MCP servers are configured. Add them under mcp.servers (Streamable HTTP with url, or stdio with command) and restart the gateway: their tools are then served at /mcp."
    )

    /// The servers and their tools, asked of every server at once (at most 5 s each); asking
    /// also refreshes the health of a server nobody has called yet.
    func mcpServers() async -> HTML {
        let hub = mcp
        let tools = await withTaskGroup(of: (String, [JSONValue]?).self) { group in
            for upstream in hub.upstreams {
                let name = upstream.config.name
                group.addTask { (name, (await withTimeout(.seconds(5)) { await hub.tools(of: name) }) ?? nil) }
            }
            var tools: [String: [JSONValue]] = [:]
            for await (name, list) in group { tools[name] = list }
            return tools
        }
        let servers = hub.upstreams.map { upstream -> HTML in
            let config = upstream.config
            let status = upstream.status
            let entry = mcpHealth.entry(config.name)
            let health: HTML =
                switch status {
                case .ready: DashboardLayout.badge("up", "ok")
                case .starting: DashboardLayout.badge("starting", "warn")
                case .down(let reason): "\(DashboardLayout.badge("down", "bad"))<br><small>\(reason)</small>"
                }
            let endpoint: String
            var restarts = "–"
            switch config.transport {
            case .streamableHTTP(let url): endpoint = RedactedConfiguration.redactURLPassword(url)
            case .sse(let url):
                // Its event stream is opened again when it drops: counted like a restart.
                endpoint = RedactedConfiguration.redactURLPassword(url)
                restarts = String(entry?.restarts ?? 0)
            case .stdio(let command, _, _):
                endpoint = command
                restarts = String(entry?.restarts ?? 0)
            }
            // Since when it is in its state; unknown when the last report was of another state.
            let since = entry.flatMap { $0.status.label == status.label ? Format.time($0.since) : nil } ?? "–"
            return """
                <td data-server="\(config.name)"><strong>\(config.name)</strong></td><td>\(config.transport.name.replacingOccurrences(of: "_", with: " "))</td>\
                <td class="wrap"><code>\(endpoint)</code></td><td>\(config.prefix.isEmpty ? "–" : config.prefix + "_")</td>\
                <td data-health="\(status.isReady ? "up" : status.label)">\(health)</td><td>\(since)</td>\
                <td class="num" data-restarts="\(restarts)">\(restarts)</td><td class="num">\(tools[config.name].map { String($0.count) } ?? "–")</td>
                """
        }
        var toolRows: [HTML] = []
        for upstream in hub.upstreams {
            for tool in tools[upstream.config.name] ?? [] {
                let name = tool["name"]?.stringValue ?? ""
                let description = tool["description"]?.stringValue ?? tool["title"]?.stringValue ?? ""
                toolRows.append(
                    """
                    <td data-tool="\(name)"><code>\(name)</code></td><td>\(upstream.config.name)</td>\
                    <td class="wrap">\(description.count > 300 ? String(description.prefix(300)) + "…" : description)</td>
                    """)
            }
        }
        let unavailable = hub.upstreams.filter { tools[$0.config.name] == nil }.map(\.config.name)
        let unavailableNote: HTML =
            unavailable.isEmpty
            ? .empty
            : DashboardLayout.notice(
                "Not listed: \(unavailable.joined(separator: ", ")) did not answer tools/list (their tools are not offered at /mcp while they are down).",
                tone: "warn")
        return """
            <h2>Servers</h2>
            \(DashboardLayout.table(id: "mcp-servers", headers: ["Server", "Transport", "Endpoint", "Prefix", "Health", "Since (UTC)", "Restarts", "Tools"], rows: servers, empty: ""))
            <h2>Tools</h2>\(unavailableNote)
            \(DashboardLayout.table(id: "mcp-tools", headers: ["Tool (as clients see it)", "Server", "Description"], rows: toolRows, empty: "No server lists a tool."))
            """
    }

    /// One audited MCP call as a table row.
    static func mcpCallRow(_ record: AuditRecord) -> HTML {
        let details = (try? JSONValue.parse(record.details)) ?? .object([:])
        let detail = { (key: String) in details[key]?.stringValue }
        let tone = record.outcome == "success" ? (detail("tool_error") == "true" ? "warn" : "ok") : record.outcome == "denied" ? "warn" : "bad"
        var problem = detail("error") ?? (detail("tool_error") == "true" ? "tool error" : nil)
        if let rule = detail("rule") { problem = (problem.map { $0 + ", " } ?? "") + "rule " + rule }
        let problemCell: HTML = problem.map { text -> HTML in "<br><small>\(text)</small>" } ?? .empty
        let reason: HTML = record.reason.map { text -> HTML in "<br><small class=\"muted\">\(text)</small>" } ?? .empty
        let duration = detail("duration_ms").flatMap(Double.init)
        let tool = detail("tool") ?? record.target ?? ""
        return """
            <td title="\(Format.time(record.ts))">\(Format.shortTime(record.ts))</td><td>\(record.actor)</td><td>\(detail("server") ?? "–")</td>\
            <td data-tool="\(tool)"><code>\(tool)</code></td><td>\(detail("method") ?? record.action)</td>\
            <td data-outcome="\(record.outcome)">\(DashboardLayout.badge(record.outcome, tone))\(problemCell)\(reason)</td>\
            <td class="num">\(Format.milliseconds(duration))</td><td><code class="muted">\(record.requestID ?? "")</code></td>
            """
    }
}

extension AdminScope {
    /// Keeps a question about audited traffic (MCP calls, whose records carry the caller's team
    /// and organisation in their details) inside the scope, as ``restrict(_:)`` does for usage.
    var auditDetails: [(key: String, value: String?)] {
        switch self {
        case .all: []
        case .organization(let org): [("org", org)]
        case .team(let team, let org): [("team", team), ("org", org)]
        }
    }
}
