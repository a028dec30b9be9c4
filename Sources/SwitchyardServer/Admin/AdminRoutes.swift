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
                    kind: .admin, action: action, actor: actor, outcome: "denied", target: target, reason: error.code,
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
                    kind: .admin, action: action, actor: (context.identity ?? .anonymous).subject, outcome: "denied", reason: error.code,
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
                try scope.constrain(&options, known: AccessPolicy.builtInRoles.union(runtime.snapshot.config.access.roles.keys))
                let created = try await store().create(options)
                var json = created.key.json.objectValue ?? JSONObject()
                json["key"] = .string(created.plaintext)
                return (GatewayResponse.json(.object(json), status: 201).hummingbirdResponse(), created.key.id, Self.details(created.key))
            }
        }
        router.get("/admin/keys") { _, context in
            let scope = try requireAdmin("key.list", context)
            let list = try await store().list().filter(scope.covers).map(\.json)
            return GatewayResponse.json(["object": "list", "data": .array(list)]).hummingbirdResponse()
        }
        router.get("/admin/keys/:id") { _, context in
            let scope = try requireAdmin("key.read", context)
            let id = try context.parameters.require("id")
            guard let key = try await store().find(id: id), scope.covers(key) else { throw GatewayError.notFound("No key with id '\(id)'.") }
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
            guard let key = try await store().find(id: id), scope.covers(key) else { throw KeyStoreError.notFound(id) }
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
            throw GatewayError(status: 503, type: "api_error", code: "key_store_unavailable", message: "The key store could not be opened: \(error)")
        }
    }

    /// What the caller may administer; 403 for callers with no admin role.
    static func requireAdmin(_ context: GatewayRequestContext) throws -> AdminScope {
        try adminScope(of: context.identity ?? .anonymous)
    }

    /// What `identity` may administer (the API and the dashboard share this rule); 403 for
    /// identities with no admin role.
    static func adminScope(of identity: Identity) throws -> AdminScope {
        if identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") { return .all }
        if identity.roles.contains("org_admin"), let org = identity.organizationID { return .organization(org) }
        if identity.roles.contains("team_admin"), let team = identity.teamID { return .team(team, organization: identity.organizationID) }
        throw GatewayError(
            status: 403, type: "permission_error", code: "admin_required",
            message: "This operation needs the master key or an admin role (admin, org_admin, team_admin).")
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
                throw GatewayError.invalidRequest("'expires_in' must look like 30d, 12h or 90m.", param: "expires_in", code: "invalid_value")
            }
            options.expiresAt = WallClock.unixTime() + seconds
        }
        return options
    }
}

/// What an administrator may act on: everything, one organisation, or one team.
enum AdminScope: Equatable {
    case all
    case organization(String)
    case team(String, organization: String?)

    func covers(_ key: VirtualKey) -> Bool {
        switch self {
        case .all: true
        case .organization(let org): key.organizationID == org
        case .team(let team, _): key.teamID == team
        }
    }

    /// The usage filters that keep a delegated administrator inside its scope.
    var usageFilters: [(UsageDimension, String)] {
        switch self {
        case .all: []
        case .organization(let org): [(.org, org)]
        case .team(let team, _): [(.team, team)]
        }
    }

    /// Puts a new key inside the scope and checks the roles it may grant.
    func constrain(_ options: inout KeyOptions, known: Set<String>) throws {
        for role in options.roles ?? [] where !known.contains(role) {
            throw GatewayError.invalidRequest(
                "Unknown role '\(role)'. Known roles: \(known.sorted().joined(separator: ", ")).", param: "roles", code: "invalid_value")
        }
        let granted = Set(options.roles ?? ["developer"])
        func refuse(_ message: String) -> GatewayError {
            GatewayError(status: 403, type: "permission_error", code: "outside_admin_scope", message: message)
        }
        switch self {
        case .all:
            return
        case .organization(let org):
            if let asked = options.organizationID, asked != org { throw refuse("An org_admin creates keys only in its organisation '\(org)'.") }
            options.organizationID = org
            if granted.contains("admin") { throw refuse("Only the master key or an admin may grant the admin role.") }
        case .team(let team, let org):
            if let asked = options.teamID, asked != team { throw refuse("A team_admin creates keys only in its team '\(team)'.") }
            if let asked = options.organizationID, asked != org { throw refuse("A team_admin creates keys only in its organisation.") }
            options.teamID = team
            options.organizationID = org
            if !granted.isSubset(of: ["developer", "service", "team_admin"]) {
                throw refuse("A team_admin may grant only the developer, service and team_admin roles.")
            }
        }
    }
}
