import Hummingbird
import SwitchyardCore
import SwitchyardStores

extension DashboardRoutes {
    /// The audit trail, newest first, filtered by kind and actor, with the result of checking
    /// the whole hash chain and its checkpoints (as `GET /admin/audit/verify`). Like the admin
    /// API, only the master key and the `admin` role see it.
    func auditTrail(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        guard session.scope == .all else { return Self.adminOnly(title: "Audit trail", section: .audit) }
        let parameters = request.uri.queryParameters
        let kind = parameters.get("kind").flatMap { AuditEvent.Kind(rawValue: $0)?.rawValue }
        let actor = parameters.get("actor").flatMap { $0.isEmpty ? nil : $0 }
        let before = parameters.get("before").flatMap { Int64($0) }
        let pageSize = 100

        let verification = try await audit.verify()
        let banner: HTML
        if let broken = verification.firstBroken {
            banner = """
                <p class="notice bad" data-verification="broken"><strong>Chain broken</strong> at record \(broken.seq): \(broken.problem). \
                \(verification.records) records checked.</p>
                """
        } else {
            banner = """
                <p class="notice ok" data-verification="intact"><strong>Chain intact</strong>: all \(verification.records) records verified \
                (HMAC chain and signed checkpoints).</p>
                """
        }
        let records = try await audit.list(kind: kind, actor: actor, before: before, newestFirst: true, limit: pageSize)
        let rows = records.map { record -> HTML in
            let tone = record.outcome == "success" ? "ok" : record.outcome == "denied" ? "warn" : "bad"
            let details = ((try? JSONValue.parse(record.details)).map(Self.describe)) ?? record.details
            // Authorization and guardrail records name an inference request, which the log holds.
            let requestCell: HTML =
                record.requestID.map { id -> HTML in
                    record.kind == "authorization" || record.kind == "guardrail"
                        ? "<a href=\"/ui/requests/\(HTML.percentEncode(id))\"><code>\(id)</code></a>" : "<code class=\"muted\">\(id)</code>"
                } ?? .empty
            let reason: HTML = record.reason.map { reason -> HTML in "<br><small>\(reason)</small>" } ?? .empty
            return """
                <td class="num" title="MAC \(record.mac)">\(record.seq)</td><td>\(Format.shortTime(record.ts))</td>\
                <td>\(record.action)<br><small class="muted">\(record.kind)</small></td><td>\(record.actor)</td>\
                <td>\(DashboardLayout.badge(record.outcome, tone))\(reason)</td><td>\(record.target ?? "")</td><td>\(requestCell)</td>\
                <td class="wrap">\(details)</td>
                """
        }
        let options = ([""] + AuditEvent.Kind.allCases.map(\.rawValue)).map { option -> HTML in
            "<option value=\"\(option)\"\(option == (kind ?? "") ? HTML(" selected") : .empty)>\(option.isEmpty ? "any" : option)</option>"
        }
        let filters: HTML = """
            <form class="filters" method="get" action="/ui/audit"><label>kind<select name="kind">\(options)</select></label>\
            <label>actor<input name="actor" value="\(actor ?? "")" size="16"></label><button type="submit">Filter</button> \
            <a class="button" href="/ui/audit">Clear</a></form>
            """
        var pager: [HTML] = []
        if before != nil { pager.append("<a href=\"\(HTML.link("/ui/audit", [("kind", kind), ("actor", actor)]))\">Newest</a>") }
        if records.count == pageSize, let last = records.last {
            pager.append(
                "<a rel=\"next\" href=\"\(HTML.link("/ui/audit", [("kind", kind), ("actor", actor), ("before", String(last.seq))]))\">Older →</a>")
        }
        let content: HTML = """
            \(banner)\(filters)
            \(DashboardLayout.table(id: "audit", headers: ["Seq", "Time (UTC)", "Action", "Actor", "Outcome", "Target", "Request", "Details"], rows: rows, empty: "No audit records match."))
            <div class="pager">\(pager)</div>
            """
        return DashboardPage(title: "Audit trail", section: .audit, content: content)
    }

    /// The running configuration with every secret redacted (master key and `admin` only).
    func configuration(_ session: DashboardSession) -> DashboardPage {
        guard session.scope == .all else { return Self.adminOnly(title: "Configuration", section: .config) }
        let snapshot = runtime.snapshot
        let text = RedactedConfiguration.text(snapshot.config, scrubber: snapshot.scrubber)
        let content: HTML = """
            <dl class="fields"><dt>source</dt><dd>\(snapshot.config.source)</dd><dt>generation</dt><dd>\(snapshot.generation)</dd>\
            <dt>providers</dt><dd>\(snapshot.config.providers.count)</dd><dt>models</dt><dd>\(snapshot.config.models.count)</dd>\
            <dt>stores</dt><dd>\(stores.backend.description)</dd></dl>
            \(DashboardLayout.notice("Every secret is redacted: provider keys, the master key, key_secret, header values, passwords in URLs. The file reloads on change or SIGHUP; this page shows the running generation."))
            <pre data-config>\(text)</pre>
            """
        return DashboardPage(title: "Configuration", section: .config, content: content)
    }

    static func adminOnly(title: String, section: DashboardSection) -> DashboardPage {
        DashboardPage(
            title: title, section: section,
            content: DashboardLayout.notice("This page needs the master key or the admin role (it spans every team and organisation).", tone: "warn"),
            status: .forbidden)
    }
}
