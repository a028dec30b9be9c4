import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import Testing

/// `/admin/openapi.json` describes the whole HTTP interface: every route the router serves.
@Suite struct OpenAPITests {
    /// `/v1/models/{id}` and `/v1/models/*` (a wildcard) name the same route shape.
    static func shape(_ path: String) -> [String] {
        path.split(separator: "/").map { segment in
            segment.hasPrefix("{") || segment.hasPrefix(":") || segment.hasPrefix("*") ? "{}" : String(segment)
        }
    }

    @Test func everyRegisteredRouteIsInTheDocument() async throws {
        let (application, _) = try makeGateway(
            """
            server: {master_key: openapi-master-key}
            providers: [{name: mock, type: mock}]
            models: [{name: mock-gpt, provider: mock}]
            """)
        let router = application.makeRouter()
        let routes = router.routes.map { (method: $0.method.rawValue.lowercased(), path: $0.path.description) }
        #expect(routes.count > 40, "the router lists its routes")
        let app = Application(router: router)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/admin/openapi.json", method: .get, headers: [.authorization: "Bearer openapi-master-key"])
            #expect(response.status == .ok)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented: [[String]: Set<String>] = [:]
            for (path, operations) in paths { documented[Self.shape(path), default: []].formUnion(operations.keys) }
            var missing: [String] = []
            for route in routes where documented[Self.shape(route.path)]?.contains(route.method) != true {
                missing.append("\(route.method.uppercased()) \(route.path)")
            }
            #expect(missing.isEmpty, "routes missing from /admin/openapi.json: \(missing.sorted().joined(separator: ", "))")
            // Nothing documented that is not served.
            let served = Set(routes.map { Self.shape($0.path) })
            let stale = paths.keys.filter { !served.contains(Self.shape($0)) }
            #expect(stale.isEmpty, "documented but not served: \(stale.sorted())")
        }
    }
}
