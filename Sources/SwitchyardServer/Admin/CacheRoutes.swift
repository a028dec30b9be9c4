import Hummingbird
import SwitchyardCore

/// `DELETE /admin/cache`: drops cached answers, all of them or those matching `namespace`,
/// `model`, `partition` (`virtual_key:key_…`, `team:…`, `org:…`, `global`) and `older_than`
/// (seconds). Master key or `admin` only.
struct CacheRoutes {
    let gateway: Gateway

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.delete("/admin/cache") { request, context in
            try AdminRoutes.requireOperator(context, for: "The cache")
            let parameters = request.uri.queryParameters
            let olderThan = parameters.get("older_than").flatMap(Double.init).map { WallClock.unixTime() - $0 }
            let removed = try await gateway.cache.invalidate(
                partition: parameters.get("partition"), namespace: parameters.get("namespace"), model: parameters.get("model"),
                olderThan: olderThan)
            return GatewayResponse.json(["deleted": JSONValue(removed)]).hummingbirdResponse()
        }
    }
}
