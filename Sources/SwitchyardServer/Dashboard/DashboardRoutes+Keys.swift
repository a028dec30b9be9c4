import Foundation
import Hummingbird
import SwitchyardCore
import SwitchyardStores

extension DashboardRoutes {
    /// Virtual keys and teams (within the administrator's scope) with their usage over the
    /// last 30 days, and every budget in force with how much of it is spent.
    func keys(_ session: DashboardSession, _ request: Request) async throws -> DashboardPage {
        let scope = session.scope
        let now = WallClock.unixTime()
        let directory = try await stores.reloadDirectory()
        let keys = try await stores.keyStore().list().filter { scope.covers($0, in: directory) }.sorted { $0.createdAt > $1.createdAt }
        var usageByKey: [String: UsageTotals] = [:]
        var usageByTeam: [String: UsageTotals] = [:]
        if let ledger {
            var query = UsageQuery(from: now - 30 * 86_400, groupBy: [.key])
            scope.restrict(&query)
            query.limit = 10_000
            for row in try await ledger.usage(query).rows {
                if let key = row.group["key"].flatMap({ $0 }) { usageByKey[key] = row }
            }
            query.groupBy = [.team]
            for row in try await ledger.usage(query).rows {
                if let team = row.group["team"].flatMap({ $0 }) { usageByTeam[team] = row }
            }
        }
        // Budgets as `/admin/spend` reports them: spent this period, reservations included.
        let budgets = try await usage.budgetStatus(nil, scope: scope).compactMap(Budget.init)
        func budget(_ scopeName: String, _ id: String) -> Budget? { budgets.first { $0.scope == scopeName && $0.id == id } }

        let keyRows = keys.map { key -> HTML in
            let used = usageByKey[key.id]
            let status = key.json["status"]?.stringValue ?? "active"
            return """
                <td><strong>\(key.name)</strong><br><code class="muted">\(key.hint)</code></td><td><code>\(key.id)</code></td>\
                <td>\(DashboardLayout.badge(status, status == "active" ? "ok" : "bad"))</td>\
                <td>\(key.teamID ?? "")</td><td>\(key.organizationID ?? "")</td><td>\((key.roles ?? ["developer"]).joined(separator: ", "))</td>\
                <td class="wrap">\(key.models?.joined(separator: ", ") ?? "all")</td>\
                <td class="num">\(used.map { Format.count($0.requests) } ?? "0")</td><td class="num">\(used.map { Format.count($0.totalTokens) } ?? "0")</td>\
                <td class="num">\(Format.usd(used?.cost ?? 0))</td><td>\(budgetCell(budget("key", key.id)))</td>
                """
        }
        let teams = directory.teams.values.filter { DirectoryRoutes.visible($0, scope, directory) }.sorted { $0.id < $1.id }
        let teamRows = teams.map { team -> HTML in
            let used = usageByTeam[team.id]
            return """
                <td><strong>\(team.id)</strong>\(team.name.map { name -> HTML in "<br><small class=\"muted\">\(name)</small>" } ?? .empty)</td>\
                <td>\(team.parentID ?? "")</td><td>\(team.tier ?? "")</td><td>\(team.models?.joined(separator: ", ") ?? "all")</td>\
                <td class="num">\(used.map { Format.count($0.requests) } ?? "0")</td><td class="num">\(Format.usd(used?.cost ?? 0))</td>\
                <td>\(budgetCell(budget("team", team.id)))</td>
                """
        }
        let budgetRows = budgets.map { item -> HTML in
            """
            <td>\(item.scope)</td><td>\(item.id)</td><td>\(item.period)</td><td class="num">\(Format.usd(item.limit))</td>\
            <td class="num">\(Format.usd(item.spent))</td><td class="num">\(Format.usd(item.remaining))</td><td>\(DashboardLayout.meter(item.ratio))</td>\
            <td>\(item.resetsAt ?? "never")</td>
            """
        }
        let ledgerNote: HTML = ledger == nil ? Self.ledgerOff : .empty
        let content: HTML = """
            \(ledgerNote)<p class="muted">Usage over the last 30 days\(scopeNote(session)). Keys are created, rotated and revoked through <code>/admin/keys</code> or <code>switchyard keys</code>.</p>
            <h2>Virtual keys</h2>
            \(DashboardLayout.table(id: "keys", headers: ["Name", "ID", "Status", "Team", "Organisation", "Roles", "Models", "Requests", "Tokens", "Spend", "Budget"], rows: keyRows, empty: "No virtual keys yet."))
            <h2>Teams</h2>
            \(DashboardLayout.table(id: "teams", headers: ["Team", "Organisation", "Tier", "Models", "Requests", "Spend", "Budget"], rows: teamRows, empty: "No teams in the directory."))
            <h2>Budgets</h2>
            \(DashboardLayout.table(id: "budgets", headers: ["Scope", "Owner", "Period", "Limit", "Spent", "Remaining", "Used", "Resets"], rows: budgetRows, empty: "No budgets in force."))
            """
        return DashboardPage(title: "Keys & teams", section: .keys, content: content)
    }

    func budgetCell(_ budget: Budget?) -> HTML {
        guard let budget else { return "<span class=\"muted\">none</span>" }
        return "\(Format.usd(budget.spent)) of \(Format.usd(budget.limit)) \(budget.period)<br>\(DashboardLayout.meter(budget.ratio))"
    }

    /// One entry of ``UsageRoutes/budgetStatus(_:scope:)``.
    struct Budget {
        var scope: String
        var id: String
        var period: String
        var limit: Double
        var spent: Double
        var remaining: Double
        var resetsAt: String?

        var ratio: Double { limit > 0 ? spent / limit : 0 }

        init?(_ json: JSONValue) {
            guard let scope = json["scope"]?.stringValue, let id = json["id"]?.stringValue, let limit = json["limit_usd"]?.doubleValue else {
                return nil
            }
            self.scope = scope
            self.id = id
            self.limit = limit
            period = json["period"]?.stringValue ?? ""
            spent = json["spent_usd"]?.doubleValue ?? 0
            remaining = json["remaining_usd"]?.doubleValue ?? 0
            resetsAt = json["resets_at"]?.stringValue.map { $0.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC") }
        }
    }
}
