import Foundation
import Hummingbird
import SwitchyardCore
import SwitchyardStores

/// Usage and spend from the ledger: `GET /admin/usage` and `GET /admin/spend` for
/// administrators, `GET /v1/usage` for a key's own usage and budget.
///
/// Query parameters: `group_by` (comma-separated: key, user, end_user, team, org, model,
/// requested_model, provider, deployment, day, endpoint, status), `from` and `to` (`YYYY-MM-DD`,
/// `YYYY-MM-DDTHH:MM:SSZ` or Unix seconds; `to` is exclusive), and filters named like the
/// dimensions (`team=research`).
struct UsageRoutes {
    let ledger: UsageLedger?
    let gateway: Gateway
    let runtime: RuntimeHolder
    let stores: StoreService

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/admin/usage") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            var query = try Self.query(request.uri.queryParameters, defaultGroups: [])
            scope.restrict(&query)
            return try await usageResponse(query, object: "usage").hummingbirdResponse()
        }
        router.get("/admin/spend") { request, context in
            let scope = try AdminRoutes.requireAdmin(context)
            var query = try Self.query(request.uri.queryParameters, defaultGroups: [.key])
            scope.restrict(&query)
            var response = try await usageJSON(query, object: "spend")
            response["budgets"] = .array(try await budgetStatus(nil, scope: scope))
            return GatewayResponse.json(.object(response)).hummingbirdResponse()
        }
        router.get("/v1/usage") { request, context in
            let identity = context.identity ?? .anonymous
            guard identity.kind != .anonymous else {
                throw GatewayError.unauthenticated("Usage is reported per API key; send one.")
            }
            var query = try Self.query(request.uri.queryParameters, defaultGroups: [.day, .model], allowFilters: false)
            query.filters = [(.key, identity.subject)]
            var response = try await usageJSON(query, object: "usage")
            response["key"] = .string(identity.subject)
            response["budgets"] = .array(try await budgetStatus(identity))
            return GatewayResponse.json(.object(response)).hummingbirdResponse()
        }
    }

    func requireLedger() throws -> UsageLedger {
        guard let ledger else {
            throw GatewayError.notFound("Usage is not recorded: server.usage_ledger is off.", code: .usageLedgerDisabled)
        }
        return ledger
    }

    func usageJSON(_ query: UsageQuery, object: String) async throws -> JSONObject {
        let ledger = try requireLedger()
        let result: (rows: [UsageTotals], totals: UsageTotals)
        do {
            result = try await ledger.usage(query)
        } catch {
            throw GatewayError.unavailable("The usage store is unavailable: \(error)", code: .usageStoreUnavailable)
        }
        var json: JSONObject = [
            "object": .string(object),
            "group_by": .array(query.groupBy.map { .string($0.rawValue) }),
            "data": .array(result.rows.map(\.json)),
            "totals": result.totals.json,
        ]
        json["from"] = query.from.map { .string(CivilDate.iso8601(Int64($0))) } ?? .null
        json["to"] = query.to.map { .string(CivilDate.iso8601(Int64($0))) } ?? .null
        return json
    }

    func usageResponse(_ query: UsageQuery, object: String) async throws -> GatewayResponse {
        GatewayResponse.json(.object(try await usageJSON(query, object: object)))
    }

    /// The budgets in force and what each has used this period: the caller's own when
    /// `identity` is given, else every configured budget with a fixed id, every key budget, and
    /// each value of per-scope rules seen this period.
    func budgetStatus(_ identity: Identity?, scope: AdminScope = .all) async throws -> [JSONValue] {
        let settings = runtime.snapshot.config.budgets
        let now = WallClock.unixTime()
        var checks: [BudgetCheck] = []
        if let identity {
            checks = BudgetGuard.checks(settings: settings, identity: identity, endUser: nil, reserveUSD: 0, now: now)
        } else {
            for rule in settings.rules where scope == .all || Self.within(scope, rule) {
                var values: [String] = rule.id.map { [$0] } ?? []
                if rule.id == nil {
                    if rule.scope == .global {
                        values = ["*"]
                    } else if let ledger, let dimension = UsageDimension(budgetScope: rule.scope) {
                        let window = rule.limit.period.window(containing: now)
                        let seen = try await ledger.usage(UsageQuery(from: Double(window.start), groupBy: [dimension]))
                        values = seen.rows.compactMap { $0.group[dimension.rawValue] ?? nil }
                    }
                }
                for value in values {
                    var single = BudgetSettings()
                    single.alerts = settings.alerts
                    single.rules = [BudgetRule(scope: rule.scope, id: value, limit: rule.limit, alerts: rule.alerts)]
                    checks += BudgetGuard.checks(settings: single, identity: Self.identity(rule.scope, value), endUser: nil, reserveUSD: 0, now: now)
                }
            }
            let directory = await stores.directory()
            for entry in [directory.organizations, directory.teams, directory.users].flatMap(\.values).sorted(by: { $0.id < $1.id }) {
                guard let limit = entry.budget, DirectoryRoutes.visible(entry, scope, directory) else { continue }
                var owner = Identity(kind: .virtualKey, subject: "-")
                owner.inheritedBudgets = [InheritedBudget(scope: entry.kind.budgetScope, id: entry.id, limit: limit)]
                checks += BudgetGuard.checks(settings: BudgetSettings(), identity: owner, endUser: nil, reserveUSD: 0, now: now)
            }
            if let keys = try? await stores.keyStore().list() {
                for key in keys where key.revokedAt == nil && scope.covers(key, in: directory) {
                    guard key.budget != nil else { continue }
                    checks += BudgetGuard.checks(settings: BudgetSettings(), identity: key.identity, endUser: nil, reserveUSD: 0, now: now)
                }
            }
        }
        guard !checks.isEmpty else { return [] }
        let spent: [Int64]
        do {
            spent = try await gateway.budgets.status(checks)
        } catch {
            throw GatewayError.unavailable("The budget backend is unavailable.", code: .budgetBackendUnavailable)
        }
        return zip(checks, spent).map { check, spent in
            var object: JSONObject = [
                "scope": .string(check.scope.rawValue), "id": .string(check.value), "period": .string(check.limit.period.rawValue),
                "period_id": .string(check.periodID), "limit_usd": JSONValue(check.limit.amount),
                "spent_usd": JSONValue((NanoUSD.usd(spent) * 1e9).rounded() / 1e9),
                "remaining_usd": JSONValue(max(0, ((check.limit.amount - NanoUSD.usd(spent)) * 1e9).rounded() / 1e9)),
            ]
            object["resets_at"] = check.periodEnd.map { .string(CivilDate.iso8601($0)) } ?? .null
            return .object(object)
        }
    }

    /// Whether a delegated administrator sees a budget rule: its own organisation's or team's.
    static func within(_ scope: AdminScope, _ rule: BudgetRule) -> Bool {
        switch scope {
        case .all: true
        case .organization(let org): rule.scope == .org && rule.id == org
        case .team(let team, _): rule.scope == .team && rule.id == team
        }
    }

    /// An identity that carries only `value` in `scope`'s position, for evaluating one rule.
    static func identity(_ scope: BudgetScope, _ value: String) -> Identity {
        var identity = Identity(kind: .virtualKey, subject: scope == .key ? value : "-")
        switch scope {
        case .user: identity.userID = value
        case .endUser: identity.endUser = value
        case .team: identity.teamID = value
        case .org: identity.organizationID = value
        case .key, .global: break
        }
        return identity
    }

    static func query(_ parameters: Parameters, defaultGroups: [UsageDimension], allowFilters: Bool = true) throws -> UsageQuery {
        var query = UsageQuery()
        if let text = parameters.get("group_by") {
            query.groupBy = try text.split(separator: ",").map { name in
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let dimension = UsageDimension(rawValue: name) else {
                    throw GatewayError.invalidRequest(
                        "Unknown group_by '\(name)'. Use: \(UsageDimension.allCases.map(\.rawValue).joined(separator: ", ")).", param: "group_by",
                        code: .invalidValue)
                }
                return dimension
            }
        } else {
            query.groupBy = defaultGroups
        }
        for (field, keyPath) in [("from", \UsageQuery.from), ("to", \UsageQuery.to)] {
            guard let text = parameters.get(field) else { continue }
            // Finite and within ±10^12 seconds (31,700 years): a time outside it is no date, and
            // the store's integer conversion of one would trap.
            guard let time = Double(text) ?? CivilDate.parseUnixTime(text).map(Double.init), time.isFinite, abs(time) <= 1e12 else {
                throw GatewayError.invalidRequest(
                    "'\(field)' must be a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or Unix seconds.", param: field, code: .invalidValue)
            }
            query[keyPath: keyPath] = time
        }
        if allowFilters {
            for dimension in UsageDimension.allCases where dimension != .day {
                if let value = parameters.get(dimension.rawValue) { query.filters.append((dimension, value)) }
            }
        }
        if let limit = parameters.get("limit").flatMap(Int.init) { query.limit = min(max(1, limit), 10_000) }
        return query
    }
}
