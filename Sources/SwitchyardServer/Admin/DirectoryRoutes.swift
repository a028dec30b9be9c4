import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// `/admin/orgs`, `/admin/teams`, `/admin/users`: the hierarchy above virtual keys.
///
/// `POST` creates or replaces an entry (`{"id", "name", "organization_id" | "team_id", "tier",
/// "models", "roles", "budget", "metadata"}`), `GET` lists or reads one, `DELETE` removes one.
/// The master key and `admin` manage everything; an `org_admin` manages the teams and users of
/// its organisation; a `team_admin` the users of its team.
struct DirectoryRoutes {
    let stores: StoreService
    let audit: any AuditSink

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        for (path, kind) in [("orgs", DirectoryEntry.Kind.organization), ("teams", .team), ("users", .user)] {
            router.post(RouterPath("/admin/" + path)) { request, context in
                var request = request
                let body = try await request.collectBody(upTo: 1024 * 1024)
                var entry = try Self.entry(kind, Array(buffer: body))
                let scope = try AdminRoutes.requireAdmin(context)
                do {
                    try await authorize(scope, &entry)
                } catch let error as GatewayError {
                    record("\(kind.rawValue).save", context, target: entry.id, outcome: "denied", reason: error.code?.rawValue)
                    throw error
                }
                let saved = try await stores.directoryStore().save(entry)
                try await stores.reloadDirectory()
                var details: [String: String] = [:]
                if let parent = saved.parentID { details["parent"] = parent }
                if let budget = saved.budget { details["budget"] = "\(budget.amount) \(budget.period.rawValue)" }
                record("\(kind.rawValue).save", context, target: saved.id, outcome: "success", details: details)
                return GatewayResponse.json(saved.json, status: 201).hummingbirdResponse()
            }
            router.get(RouterPath("/admin/" + path)) { _, context in
                let scope = try AdminRoutes.requireAdmin(context)
                let directory = try await stores.reloadDirectory()
                let all = try await stores.directoryStore().all().filter { $0.kind == kind && Self.visible($0, scope, directory) }
                return GatewayResponse.json(["object": "list", "data": .array(all.map(\.json))]).hummingbirdResponse()
            }
            router.get(RouterPath("/admin/" + path + "/:id")) { _, context in
                let scope = try AdminRoutes.requireAdmin(context)
                let id = try context.parameters.require("id")
                let directory = try await stores.reloadDirectory()
                guard let entry = directory.entry(kind, id), Self.visible(entry, scope, directory) else {
                    throw GatewayError.notFound("No \(kind.rawValue) with id '\(id)'.")
                }
                return GatewayResponse.json(entry.json).hummingbirdResponse()
            }
            router.delete(RouterPath("/admin/" + path + "/:id")) { _, context in
                let scope = try AdminRoutes.requireAdmin(context)
                let id = try context.parameters.require("id")
                let directory = try await stores.reloadDirectory()
                guard let entry = directory.entry(kind, id), Self.visible(entry, scope, directory), kind != .organization || scope == .all else {
                    throw GatewayError.notFound("No \(kind.rawValue) with id '\(id)'.")
                }
                guard scope.mayGrant(entry.roles ?? []) else {
                    record("\(kind.rawValue).delete", context, target: id, outcome: "denied", reason: "outside_admin_scope")
                    throw AdminScope.refuse("'\(id)' holds roles above the caller's; only a higher admin removes it.")
                }
                _ = try await stores.directoryStore().delete(kind: kind, id: id)
                try await stores.reloadDirectory()
                record("\(kind.rawValue).delete", context, target: id, outcome: "success")
                return GatewayResponse.json(["id": .string(id), "deleted": true]).hummingbirdResponse()
            }
        }
    }

    func record(
        _ action: String, _ context: GatewayRequestContext, target: String, outcome: String, reason: String? = nil, details: [String: String] = [:]
    ) {
        audit.record(
            AuditEvent(
                kind: .admin, action: action, actor: (context.identity ?? .anonymous).subject, outcome: outcome, target: target, reason: reason,
                requestID: context.requestID, details: details))
    }

    /// Keeps delegated administrators inside their organisation or team: what they save must
    /// sit in their scope (a team in their organisation, a user in one of its teams or in their
    /// team, a team of their own organisation), replace nothing outside it, carry no role they
    /// could not grant, and leave `tier` and `metadata` as the operator set them.
    func authorize(_ scope: AdminScope, _ entry: inout DirectoryEntry) async throws {
        let refuse = { (message: String) in AdminScope.refuse(message) }
        let directory = try await stores.reloadDirectory()
        switch (scope, entry.kind) {
        case (.all, _):
            return
        case (_, .organization):
            throw refuse("Only the master key or an admin manages organisations.")
        case (.organization(let org), .team):
            if let parent = entry.parentID, parent != org { throw refuse("An org_admin manages only the teams of '\(org)'.") }
            entry.parentID = org
        case (.organization(let org), .user):
            guard let team = entry.parentID, directory.teams[team]?.parentID == org else {
                throw refuse("An org_admin manages only users in teams of '\(org)' (give team_id).")
            }
        case (.team(let team, let org), .user):
            if let parent = entry.parentID, parent != team { throw refuse("A team_admin manages only the users of '\(team)'.") }
            guard directory.teams[team]?.parentID == org else {
                throw refuse("Team '\(team)' is not a team of the caller's organisation in the directory.")
            }
            entry.parentID = team
        case (.team, _):
            throw refuse("A team_admin manages only the users of its team.")
        }
        // What already exists must be in the scope too (no taking over another team's user),
        // and hold nothing the caller could not grant (no demoting a higher admin).
        let existing = directory.entry(entry.kind, entry.id)
        if let existing, !Self.visible(existing, scope, directory) || !scope.mayGrant(existing.roles ?? []) {
            throw refuse("'\(entry.id)' belongs to another organisation or team, or holds roles above the caller's.")
        }
        if !scope.mayGrant(entry.roles ?? []) {
            throw AdminScope.refuse(
                "A delegated admin grants no role above its own (\((entry.roles ?? []).joined(separator: ", "))).", param: "roles")
        }
        // A replacement that leaves them out keeps what the operator set.
        if entry.tier == nil { entry.tier = existing?.tier }
        if entry.metadata.isEmpty { entry.metadata = existing?.metadata ?? [:] }
        try scope.checkOperatorSettings(
            tier: entry.tier, metadata: entry.metadata, stored: (existing?.tier, existing?.metadata ?? [:]))
    }

    /// Whether `entry` is inside `scope`: for a team scope, a user of that team while the team
    /// belongs to the scope's organisation.
    static func visible(_ entry: DirectoryEntry, _ scope: AdminScope, _ directory: Directory) -> Bool {
        switch scope {
        case .all: return true
        case .organization(let org):
            switch entry.kind {
            case .organization: return entry.id == org
            case .team: return entry.parentID == org
            case .user: return entry.parentID.flatMap { directory.teams[$0]?.parentID } == org
            }
        case .team(let team, let org):
            switch entry.kind {
            case .organization: return false
            case .team: return entry.id == team && entry.parentID == org
            case .user: return entry.parentID == team && directory.teams[team]?.parentID == org
            }
        }
    }

    static func entry(_ kind: DirectoryEntry.Kind, _ bytes: [UInt8]) throws -> DirectoryEntry {
        let body = try AdminBody(bytes)
        guard let id = body.object["id"]?.stringValue, !id.isEmpty, id.utf8.count <= 200 else { throw GatewayError.missingField("id") }
        // An id is shown in logs, headers and the dashboard: no control characters.
        guard !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw GatewayError.invalidRequest("'id' must not contain control characters.", param: "id", code: .invalidValue)
        }
        var entry = DirectoryEntry(kind: kind, id: id)
        entry.name = try body.string("name")
        switch kind {
        case .organization: break
        case .team: entry.parentID = try body.string("organization_id")
        case .user: entry.parentID = try body.string("team_id")
        }
        entry.tier = try body.string("tier")
        entry.models = try body.strings("models")
        if kind == .user { entry.roles = try body.strings("roles") }
        if let budget = try body.budget() {
            entry.budgetAmount = budget.amount
            entry.budgetPeriod = budget.period.rawValue
        }
        entry.metadata = try body.metadata()
        return entry
    }
}
