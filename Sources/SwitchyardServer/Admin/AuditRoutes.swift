import Hummingbird
import SwitchyardCore
import SwitchyardStores

/// `GET /admin/audit` (records, filtered and paged) and `GET /admin/audit/verify` (the chain
/// checked end to end). Only the master key and the `admin` role.
struct AuditRoutes {
    let audit: AuditLog

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.get("/admin/audit") { request, context in
            try AdminRoutes.requireOperator(context, for: "The audit trail")
            let parameters = request.uri.queryParameters
            let records = try await audit.list(
                kind: parameters.get("kind"), actor: parameters.get("actor"), after: parameters.get("after").flatMap { Int64($0) } ?? 0,
                limit: min(max(1, parameters.get("limit").flatMap { Int($0) } ?? 100), 1000))
            return GatewayResponse.json(["object": "list", "data": .array(records.map(\.json))]).hummingbirdResponse()
        }
        router.get("/admin/audit/verify") { _, context in
            try AdminRoutes.requireOperator(context, for: "The audit trail")
            let result = try await audit.verify()
            var object: JSONObject = ["intact": .bool(result.intact), "records": JSONValue(result.records)]
            object["first_broken"] = result.firstBroken.map { ["seq": JSONValue(Int($0.seq)), "problem": .string($0.problem)] } ?? .null
            return GatewayResponse.json(.object(object)).hummingbirdResponse()
        }
    }
}
