import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// `/admin/...`: virtual keys. Only the master key (or, with authentication off on a loopback
/// listener, anyone local) may call it; virtual keys get 403.
struct AdminRoutes {
    let keys: StoreService

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/admin/openapi.json") { _, context in
            try requireAdmin(context)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: AdminOpenAPI.document)))
        }
        router.post("/admin/keys") { request, context in
            try requireAdmin(context)
            var request = request
            let body = try await request.collectBody(upTo: 1024 * 1024)
            let options = try Self.options(Array(buffer: body))
            let created = try await store().create(options)
            var json = created.key.json.objectValue ?? JSONObject()
            json["key"] = .string(created.plaintext)
            return GatewayResponse.json(.object(json), status: 201).hummingbirdResponse()
        }
        router.get("/admin/keys") { _, context in
            try requireAdmin(context)
            let list = try await store().list().map(\.json)
            return GatewayResponse.json(["object": "list", "data": .array(list)]).hummingbirdResponse()
        }
        router.get("/admin/keys/:id") { _, context in
            try requireAdmin(context)
            let id = try context.parameters.require("id")
            guard let key = try await store().find(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
            return GatewayResponse.json(key.json).hummingbirdResponse()
        }
        for method in ["revoke", "rotate"] {
            router.post(RouterPath("/admin/keys/:id/" + method)) { _, context in
                try requireAdmin(context)
                let id = try context.parameters.require("id")
                return try await change(id, method)
            }
        }
        router.delete("/admin/keys/:id") { _, context in
            try requireAdmin(context)
            return try await change(try context.parameters.require("id"), "revoke")
        }
    }

    func change(_ id: String, _ method: String) async throws -> Response {
        do {
            if method == "rotate" {
                let rotated = try await store().rotate(id: id)
                var json = rotated.key.json.objectValue ?? JSONObject()
                json["key"] = .string(rotated.plaintext)
                return GatewayResponse.json(.object(json)).hummingbirdResponse()
            }
            return GatewayResponse.json(try await store().revoke(id: id).json).hummingbirdResponse()
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

    func requireAdmin(_ context: GatewayRequestContext) throws { try Self.requireAdmin(context) }

    static func requireAdmin(_ context: GatewayRequestContext) throws {
        let identity = context.identity ?? .anonymous
        guard identity.kind == .master || identity.kind == .anonymous || identity.roles.contains("admin") else {
            throw GatewayError(status: 403, type: "permission_error", code: "admin_required", message: "This operation needs the master key.")
        }
    }

    /// Reads a key definition: name, models, endpoints, organization_id, team_id, user_id, tier,
    /// regions, metadata, budget ({amount, period}), and expires_at (Unix seconds) or expires_in (`30d`, `12h`, `90m`).
    static func options(_ body: [UInt8]) throws -> KeyOptions {
        guard let object = (try? JSONValue.parse(body))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw GatewayError.missingField("name") }
        var options = KeyOptions(name: name)
        func strings(_ field: String) throws -> [String]? {
            guard let value = object[field], !value.isNull else { return nil }
            guard let items = value.arrayValue?.compactMap(\.stringValue), items.count == value.arrayValue?.count else {
                throw GatewayError.invalidType(field: field, expected: "an array of strings", found: value.typeName)
            }
            return items
        }
        func string(_ field: String) throws -> String? {
            guard let value = object[field], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw GatewayError.invalidType(field: field, expected: "a string", found: value.typeName) }
            return text
        }
        options.models = try strings("models")
        options.endpoints = try strings("endpoints")
        options.regions = try strings("regions")
        options.organizationID = try string("organization_id")
        options.teamID = try string("team_id")
        options.userID = try string("user_id")
        options.tier = try string("tier")
        if let value = object["budget"], !value.isNull {
            guard let budget = value.objectValue, let amount = budget["amount"]?.doubleValue, amount >= 0, amount.isFinite else {
                throw GatewayError.invalidRequest(
                    "'budget' must be an object with a non-negative 'amount' in USD and an optional 'period'.", param: "budget", code: "invalid_value"
                )
            }
            let periodName = budget["period"]?.stringValue ?? "monthly"
            guard let period = BudgetPeriod(rawValue: periodName) else {
                throw GatewayError.invalidRequest(
                    "'budget.period' must be one of: \(BudgetPeriod.allCases.map(\.rawValue).joined(separator: ", ")).", param: "budget.period",
                    code: "invalid_value")
            }
            options.budget = BudgetLimit(amount: amount, period: period)
        }
        if let metadata = object["metadata"]?.objectValue {
            for (key, value) in metadata.members {
                guard let text = value.stringValue else {
                    throw GatewayError.invalidType(field: "metadata.\(key)", expected: "a string", found: value.typeName)
                }
                options.metadata[key] = text
            }
        }
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
