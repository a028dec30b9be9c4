import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// `/admin/...`: virtual keys. The master key (or, with authentication off on a loopback
/// listener, anyone local) and the `admin` role administer everything; `org_admin` and
/// `team_admin` administer the keys of their organisation or team; other callers get 403.
struct AdminRoutes {
    let keys: StoreService
    let runtime: RuntimeHolder
    let audit: any AuditSink

    /// Runs an admin operation and writes its outcome to the audit trail: changes that
    /// succeeded and every refusal (403). Reads are not audited.
    func audited(
        _ action: String, _ context: GatewayRequestContext, target: String? = nil,
        _ body: () async throws -> (Response, target: String?, details: [String: String])
    ) async throws -> Response {
        let actor = (context.identity ?? .anonymous).subject
        do {
            let (response, resolved, details) = try await body()
            audit.record(
                AuditEvent(
                    kind: .admin, action: action, actor: actor, outcome: "success", target: resolved ?? target, requestID: context.requestID,
                    details: details))
            return response
        } catch let error as GatewayError where error.status == 403 {
            audit.record(
                AuditEvent(
                    kind: .admin, action: action, actor: actor, outcome: "denied", target: target, reason: error.code?.rawValue,
                    requestID: context.requestID))
            throw error
        }
    }

    /// The caller's admin scope for a read; a refusal is audited.
    func requireAdmin(_ action: String, _ context: GatewayRequestContext) throws -> AdminScope {
        do {
            return try Self.requireAdmin(context)
        } catch let error as GatewayError {
            audit.record(
                AuditEvent(
                    kind: .admin, action: action, actor: (context.identity ?? .anonymous).subject, outcome: "denied", reason: error.code?.rawValue,
                    requestID: context.requestID))
            throw error
        }
    }

    static func details(_ key: VirtualKey) -> [String: String] {
        var details: [String: String] = ["name": key.name, "roles": (key.roles ?? ["developer"]).joined(separator: ",")]
        if let team = key.teamID { details["team"] = team }
        if let org = key.organizationID { details["org"] = org }
        if let budget = key.budget { details["budget"] = "\(budget.amount) \(budget.period.rawValue)" }
        return details
    }

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/admin/openapi.json") { _, context in
            _ = try requireAdmin("openapi.read", context)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: AdminOpenAPI.document)))
        }
        router.post("/admin/keys") { request, context in
            try await audited("key.create", context) {
                let scope = try Self.requireAdmin(context)
                var request = request
                let body = try await request.collectBody(upTo: 1024 * 1024)
                var options = try Self.options(Array(buffer: body))
                try scope.constrain(
                    &options, known: AccessPolicy.builtInRoles.union(runtime.snapshot.config.access.roles.keys),
                    directory: try await keys.reloadDirectory())
                let created = try await store().create(options)
                keys.noteKeyCreated()
                var json = created.key.json.objectValue ?? JSONObject()
                json["key"] = .string(created.plaintext)
                return (GatewayResponse.json(.object(json), status: 201).hummingbirdResponse(), created.key.id, Self.details(created.key))
            }
        }
        router.get("/admin/keys") { _, context in
            let scope = try requireAdmin("key.list", context)
            let directory = await keys.directory()
            let list = try await store().list().filter { scope.covers($0, in: directory) }.map(\.json)
            return GatewayResponse.json(["object": "list", "data": .array(list)]).hummingbirdResponse()
        }
        router.get("/admin/keys/:id") { _, context in
            let scope = try requireAdmin("key.read", context)
            let id = try context.parameters.require("id")
            guard let key = try await store().find(id: id), scope.covers(key, in: await keys.directory()) else {
                throw GatewayError.notFound("No key with id '\(id)'.")
            }
            return GatewayResponse.json(key.json).hummingbirdResponse()
        }
        for method in ["revoke", "rotate"] {
            router.post(RouterPath("/admin/keys/:id/" + method)) { _, context in
                let id = try context.parameters.require("id")
                return try await audited("key." + method, context, target: id) {
                    try await change(id, method, scope: try Self.requireAdmin(context))
                }
            }
        }
        router.delete("/admin/keys/:id") { _, context in
            let id = try context.parameters.require("id")
            return try await audited("key.revoke", context, target: id) {
                try await change(id, "revoke", scope: try Self.requireAdmin(context))
            }
        }
    }

    func change(_ id: String, _ method: String, scope: AdminScope) async throws -> (Response, target: String?, details: [String: String]) {
        do {
            guard let key = try await store().find(id: id), scope.covers(key, in: try await keys.reloadDirectory()) else {
                throw KeyStoreError.notFound(id)
            }
            // Rotating hands over the key's powers: only keys whose roles the caller could grant.
            guard scope.mayGrant(key.roles ?? ["developer"]) else {
                throw AdminScope.refuse(
                    "Key '\(id)' holds roles above the caller's (\((key.roles ?? []).joined(separator: ", "))); only a higher admin changes it.")
            }
            defer { keys.forgetVerifiedKeys() }
            if method == "rotate" {
                let rotated = try await store().rotate(id: id)
                var json = rotated.key.json.objectValue ?? JSONObject()
                json["key"] = .string(rotated.plaintext)
                return (GatewayResponse.json(.object(json)).hummingbirdResponse(), id, Self.details(key))
            }
            return (GatewayResponse.json(try await store().revoke(id: id).json).hummingbirdResponse(), id, Self.details(key))
        } catch let error as KeyStoreError {
            switch error {
            case .notFound: throw GatewayError.notFound("No key with id '\(id)'.")
            case .invalid(let detail): throw GatewayError.invalidRequest(detail)
            }
        }
    }

    func store() async throws -> any KeyStore {
        do {
            return try await keys.keyStore()
        } catch {
            throw GatewayError.unavailable("The key store could not be opened: \(error)", code: .keyStoreUnavailable)
        }
    }

    /// What the caller may administer; 403 for callers with no admin role.
    static func requireAdmin(_ context: GatewayRequestContext) throws -> AdminScope {
        try adminScope(of: context.identity ?? .anonymous)
    }

    /// For what only the operator may do (the cache, the audit trail, route explanations): the
    /// master key or `admin`; a delegated admin (org_admin, team_admin) is refused like anyone.
    /// The one rule every admin surface uses: ``adminScope(of:)`` and this on top of it.
    static func requireOperator(_ context: GatewayRequestContext, for what: String) throws {
        guard try requireAdmin(context) == .all else {
            throw GatewayError.permissionDenied("\(what) needs the master key or the admin role.", code: .adminRequired)
        }
    }

    /// What `identity` may administer (the API and the dashboard share this rule); 403 for
    /// identities with no admin role.
    static func adminScope(of identity: Identity) throws -> AdminScope {
        // An anonymous caller is an admin only while the gateway has no credentials at all
        // (``StoreService/anonymousIdentity(jwtConfigured:)`` gives it the role then).
        if identity.kind == .master || identity.roles.contains("admin") { return .all }
        if identity.roles.contains("org_admin"), let org = identity.organizationID { return .organization(org) }
        if identity.roles.contains("team_admin"), let team = identity.teamID { return .team(team, organization: identity.organizationID) }
        throw GatewayError.permissionDenied(
            "This operation needs the master key or an admin role (admin, org_admin, team_admin).", code: .adminRequired)
    }

    /// Reads a key definition: name, models, endpoints, organization_id, team_id, user_id, tier,
    /// regions, metadata, budget ({amount, period}), and expires_at (Unix seconds) or expires_in (`30d`, `12h`, `90m`).
    static func options(_ bytes: [UInt8]) throws -> KeyOptions {
        let body = try AdminBody(bytes)
        let object = body.object
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw GatewayError.missingField("name") }
        var options = KeyOptions(name: name)
        let string = body.string
        options.models = try body.strings("models")
        options.endpoints = try body.strings("endpoints")
        options.regions = try body.strings("regions")
        options.organizationID = try string("organization_id")
        options.teamID = try string("team_id")
        options.userID = try string("user_id")
        options.tier = try string("tier")
        options.roles = try body.strings("roles")
        options.budget = try body.budget()
        options.metadata = try body.metadata()
        if let expiry = object["expires_at"]?.doubleValue { options.expiresAt = expiry }
        if let text = try string("expires_in") {
            guard let seconds = KeyOptions.parseLifetime(text) else {
                throw GatewayError.invalidRequest("'expires_in' must look like 30d, 12h or 90m.", param: "expires_in", code: .invalidValue)
            }
            options.expiresAt = WallClock.unixTime() + seconds
        }
        return options
    }
}

/// What an administrator may act on: everything, one organisation, or one team of one
/// organisation.
///
/// Team ids are not unique across organisations (a key may name any team), so a team scope
/// is always the pair: a key, a record or a user is in `.team(t, organization: o)` only when
/// its team is `t` **and** its organisation is `o` (nil meaning none). A key's organisation is
/// its own `organization_id`, else its team's organisation in the directory.
enum AdminScope: Equatable {
    case all
    case organization(String)
    case team(String, organization: String?)

    /// The organisation a key belongs to.
    static func organization(of key: VirtualKey, in directory: Directory) -> String? {
        key.organizationID ?? key.teamID.flatMap { directory.teams[$0]?.parentID }
    }

    func covers(_ key: VirtualKey, in directory: Directory) -> Bool {
        switch self {
        case .all: true
        case .organization(let org): Self.organization(of: key, in: directory) == org
        case .team(let team, let org): key.teamID == team && Self.organization(of: key, in: directory) == org
        }
    }

    /// Whether a request log record is inside the scope.
    func covers(_ record: UsageRecord) -> Bool {
        switch self {
        case .all: true
        case .organization(let org): record.orgID == org
        case .team(let team, let org): record.teamID == team && record.orgID == org
        }
    }

    /// Keeps a usage or request-log question inside the scope.
    func restrict(_ query: inout UsageQuery) {
        switch self {
        case .all: break
        case .organization(let org): query.filters.append((.org, org))
        case .team(let team, let org):
            query.filters.append((.team, team))
            if let org { query.filters.append((.org, org)) } else { query.absent.append(.org) }
        }
    }

    /// Whether the caller may grant `roles`, and so also change (rotate, revoke, replace) a
    /// key or user that holds them: an organisation admin everything but `admin`, a team admin
    /// only `developer`, `service` and `team_admin`.
    func mayGrant(_ roles: some Sequence<String>) -> Bool {
        switch self {
        case .all: true
        case .organization: !roles.contains("admin")
        case .team: roles.allSatisfy(Self.teamGrantable.contains)
        }
    }

    static let teamGrantable: Set<String> = ["developer", "service", "team_admin"]

    /// The error for anything outside the caller's scope.
    static func refuse(_ message: String, param: String? = nil) -> GatewayError {
        .permissionDenied(message, code: .outsideAdminScope, param: param)
    }

    /// Refuses `tier` and `metadata` from a delegated administrator unless they leave what is
    /// stored unchanged: both are what rate-limit tiers and access rules match, so they belong
    /// to the operator (the master key or `admin`), like the limits of the organisation above.
    func checkOperatorSettings(tier: String?, metadata: [String: String], stored: (tier: String?, metadata: [String: String])) throws {
        guard self != .all else { return }
        if tier != stored.tier {
            throw Self.refuse("Only the master key or an admin sets 'tier'; a delegated admin's keys, users and teams inherit it.", param: "tier")
        }
        if metadata != stored.metadata {
            throw Self.refuse(
                "Only the master key or an admin sets 'metadata' (access rules match it); a delegated admin's keys, users and teams inherit it.",
                param: "metadata")
        }
    }

    /// Puts a new key inside the scope: its team must be one of the caller's organisation in
    /// the directory, its user one the caller administers, its roles ones the caller may grant,
    /// and `tier` and `metadata` are the operator's.
    func constrain(_ options: inout KeyOptions, known: Set<String>, directory: Directory) throws {
        for role in options.roles ?? [] where !known.contains(role) {
            throw GatewayError.invalidRequest(
                "Unknown role '\(role)'. Known roles: \(known.sorted().joined(separator: ", ")).", param: "roles", code: .invalidValue)
        }
        let granted = options.roles ?? ["developer"]
        switch self {
        case .all:
            return
        case .organization(let org):
            if let asked = options.organizationID, asked != org { throw Self.refuse("An org_admin creates keys only in its organisation '\(org)'.") }
            options.organizationID = org
            if let team = options.teamID, directory.teams[team]?.parentID != org {
                throw Self.refuse(
                    "Team '\(team)' is not a team of organisation '\(org)' (an org_admin names only teams stored under its organisation).",
                    param: "team_id")
            }
            if !mayGrant(granted) { throw Self.refuse("Only the master key or an admin may grant the admin role.", param: "roles") }
        case .team(let team, let org):
            if let asked = options.teamID, asked != team { throw Self.refuse("A team_admin creates keys only in its team '\(team)'.") }
            if let asked = options.organizationID, asked != org { throw Self.refuse("A team_admin creates keys only in its organisation.") }
            options.teamID = team
            options.organizationID = org
            if !mayGrant(granted) { throw Self.refuse("A team_admin may grant only the developer, service and team_admin roles.", param: "roles") }
        }
        if let user = options.userID, let entry = directory.users[user], !DirectoryRoutes.visible(entry, self, directory) {
            throw Self.refuse("User '\(user)' belongs to another organisation or team.", param: "user_id")
        }
        try checkOperatorSettings(tier: options.tier, metadata: options.metadata, stored: (nil, [:]))
    }
}
