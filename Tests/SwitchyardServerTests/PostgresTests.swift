import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

struct PostgresUnavailable: Error, CustomStringConvertible {
    let reason: String

    var description: String {
        "PostgreSQL cannot be started for the tests: \(reason). Install Debian's postgresql package (.ci/run does: apt-get install postgresql), "
            + "or set SWITCHYARD_POSTGRES_BINDIR to the directory holding initdb and postgres"
    }
}

/// A throwaway PostgreSQL cluster for the tests: found, owned and run as an unprivileged user.
enum TestPostgres {
    static let user = "switchyard"
    /// Spaces, '@', ':', '/' and '%' exercise the URL's %-decoding end to end.
    static let password = "pg p@ss:w/rd%"
    static let encodedPassword = "pg%20p%40ss%3Aw%2Frd%25"
    static let database = "switchyard_test"

    static func isExecutable(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// The directory with `initdb` and `postgres`: `SWITCHYARD_POSTGRES_BINDIR`, `pg_config --bindir`,
    /// Debian's `/usr/lib/postgresql/<newest>/bin`, then the usual prefixes.
    static func binDirectory() async throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let configured = environment["SWITCHYARD_POSTGRES_BINDIR"], !configured.isEmpty { candidates.append(configured) }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for directory in path where isExecutable(directory + "/pg_config") {
            if let reported = await pgConfigBinDirectory(directory + "/pg_config") { candidates.append(reported) }
            break
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        candidates += ["/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin", "/opt/homebrew/bin"]
        guard let found = candidates.first(where: { isExecutable($0 + "/initdb") && isExecutable($0 + "/postgres") }) else {
            throw PostgresUnavailable(reason: "no initdb and postgres found (looked in \(candidates.joined(separator: ", ")))")
        }
        return found
    }

    static func pgConfigBinDirectory(_ pgConfig: String) async -> String? {
        let output = NSTemporaryDirectory() + "/switchyard-pg-config-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let process = try? ChildProcess(pgConfig, ["--bindir"], output: output), await process.waitForExit(timeout: .seconds(10)) == 0,
            let text = try? String(contentsOfFile: output, encoding: .utf8)
        else { return nil }
        let directory = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return directory.isEmpty ? nil : directory
    }

    /// The unprivileged account the cluster runs as when the tests run as root (initdb and
    /// postgres refuse root): `SWITCHYARD_POSTGRES_USER` or `nobody`.
    static func owner() throws -> (uid: uid_t, gid: gid_t)? {
        guard geteuid() == 0 else { return nil }
        let name = ProcessInfo.processInfo.environment["SWITCHYARD_POSTGRES_USER"] ?? "nobody"
        guard let entry = getpwnam(name) else {
            throw PostgresUnavailable(reason: "running as root and there is no user '\(name)' to run postgres as")
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// `binary arguments`, through `setpriv` as `owner` when there is one.
    static func command(_ binary: String, _ arguments: [String], owner: (uid: uid_t, gid: gid_t)?) throws -> (String, [String]) {
        guard let owner else { return (binary, arguments) }
        guard let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: isExecutable) else {
            throw PostgresUnavailable(reason: "running as root, and setpriv (util-linux) is missing to drop privileges for initdb and postgres")
        }
        return (setpriv, ["--reuid=\(owner.uid)", "--regid=\(owner.gid)", "--clear-groups", "--", binary] + arguments)
    }

    static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }

    /// Runs `sql` on its own connection to the database of `url` (a URL `withPostgresServer`
    /// gave) and returns every row's columns as text (the SQL casts them).
    static func rows(_ url: String, _ sql: String, database: String? = nil) async throws -> [[String?]] {
        let parsed = try PostgresURL(parsing: url)
        let configuration = PostgresConnection.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password, database: database ?? parsed.database,
            tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quietLogger)
        do {
            var result: [[String?]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger) {
                result.append(try row.map { try $0.decode(String?.self) })
            }
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// Runs a fresh PostgreSQL cluster (initdb in a new directory, password authentication over
/// TCP on a free loopback port) with an empty database for the duration of `body`, which gets
/// its URL; then stops it and removes the directory. With `tls` the server also speaks TLS with a
/// self-signed certificate for 127.0.0.1, and the URL asks for `sslmode=require` trusting it.
func withPostgresServer<T: Sendable>(tls: Bool = false, _ body: @Sendable (String) async throws -> T) async throws -> T {
    let binaries = try await TestPostgres.binDirectory()
    let owner = try TestPostgres.owner()
    let directory = "/tmp/switchyard-pg-\(UUID().uuidString.prefix(8).lowercased())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let passwordFile = directory + "/password"
    try TestPostgres.password.write(toFile: passwordFile, atomically: false, encoding: .utf8)
    if let owner {
        for path in [directory, passwordFile] where chown(path, owner.uid, owner.gid) != 0 {
            throw PostgresUnavailable(reason: "cannot hand \(path) to the unprivileged user")
        }
    }
    var tlsOptions: [String] = []
    var parameters = ""
    if tls {
        let files = try await TLSTests.makeCertificate()
        let certificate = directory + "/server.crt"
        let key = directory + "/server.key"
        try FileManager.default.copyItem(atPath: files.certificate, toPath: certificate)
        try FileManager.default.copyItem(atPath: files.key, toPath: key)
        try? FileManager.default.removeItem(atPath: (files.certificate as NSString).deletingLastPathComponent)
        chmod(key, 0o600)
        if let owner { for path in [certificate, key] { _ = chown(path, owner.uid, owner.gid) } }
        tlsOptions = ["-c", "ssl=on", "-c", "ssl_cert_file=\(certificate)", "-c", "ssl_key_file=\(key)"]
        parameters = "?sslmode=require&sslrootcert=\(certificate)"
    }
    let data = directory + "/data"
    let (initdb, initdbArguments) = try TestPostgres.command(
        binaries + "/initdb",
        [
            "-D", data, "-U", TestPostgres.user, "--pwfile=" + passwordFile, "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
            "--no-locale", "--no-sync", "--no-instructions",
        ], owner: owner)
    let initdbLog = directory + "/initdb.log"
    let initialising = try ChildProcess(initdb, initdbArguments, output: initdbLog)
    guard await initialising.waitForExit(timeout: .seconds(120)) == 0 else {
        initialising.kill()
        throw PostgresUnavailable(reason: "initdb failed: \(TestPostgres.tail(initdbLog))")
    }
    let serverLog = directory + "/postgres.log"
    for _ in 0..<5 {
        let port = Int.random(in: 20_000..<60_000)
        let (postgres, arguments) = try TestPostgres.command(
            binaries + "/postgres",
            [
                "-D", data, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1", "-F", "-c", "shared_buffers=16MB",
                "-c", "max_connections=100",
            ] + tlsOptions, owner: owner)
        let server = try ChildProcess(postgres, arguments, output: serverLog)
        let administration = "postgres://\(TestPostgres.user):\(TestPostgres.encodedPassword)@127.0.0.1:\(port)/postgres"
        var ready = false
        _ = await eventually(timeout: .seconds(60)) {
            ready = (try? await TestPostgres.rows(administration, "SELECT 1::text")) != nil
            return ready || !server.isRunning
        }
        let outcome: Result<T, any Error>
        if ready {
            do {
                _ = try await TestPostgres.rows(administration, "CREATE DATABASE \(TestPostgres.database)")
                let url = "postgres://\(TestPostgres.user):\(TestPostgres.encodedPassword)@127.0.0.1:\(port)/\(TestPostgres.database)\(parameters)"
                outcome = .success(try await body(url))
            } catch {
                outcome = .failure(error)
            }
        } else {
            outcome = .failure(PostgresUnavailable(reason: "postgres did not start: \(TestPostgres.tail(serverLog))"))
        }
        // SIGINT is PostgreSQL's fast shutdown: it ends every session and exits.
        server.send(SIGINT)
        if await server.waitForExit(timeout: .seconds(10)) == nil {
            server.kill()
            _ = await server.waitForExit(timeout: .seconds(5))
        }
        // Only a taken port is worth another try.
        if !ready, TestPostgres.tail(serverLog).contains("could not bind") { continue }
        return try outcome.get()
    }
    throw PostgresUnavailable(reason: "postgres found no free port: \(TestPostgres.tail(serverLog))")
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing `body`.
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Every suite that runs a PostgreSQL server, one at a time (each starts its own).
@Suite(.serialized) struct PostgresBackedTests {}

extension PostgresBackedTests {
    /// Several gateway instances on one PostgreSQL: keys, revocation and usage are shared.
    @Suite struct PostgresSharedStoreTests {
        static let keySecret = "a-key-secret-every-instance-shares"

        static let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off, database: env:DATABASE_URL, key_secret: \(keySecret)}
            providers:
              - {name: p, type: mock}
            models:
              - name: chat
                deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
              - {name: free, provider: p, model: unpriced-model}
            """

        /// Two instances of the same configuration on the database at `url`, both live. Their
        /// first statements (connecting, both migrating the fresh database) run while the whole
        /// suite runs in parallel on a small CI machine, where the default 5 s operation_timeout
        /// was seen to run out (503 store_unavailable); these tests are about what each instance
        /// sees of the other's writes, not about timing, so they allow 30 s.
        static func withTwoInstances(
            _ url: String, _ test: @escaping @Sendable (any TestClientProtocol, any TestClientProtocol) async throws -> Void
        ) async throws {
            let patient = url + (url.contains("?") ? "&" : "?") + "operation_timeout=30"
            let (first, _) = try makeGateway(yaml, environment: ["DATABASE_URL": patient])
            let (second, _) = try makeGateway(yaml, environment: ["DATABASE_URL": patient])
            try await first.makeApplication().test(.live) { one in
                try await second.makeApplication().test(.live) { two in try await test(one, two) }
            }
        }

        static func chat(_ client: any TestClientProtocol, key: String = "test-master-key", model: String = "chat") async throws -> TestResponse {
            let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
            return try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: model))
        }

        static func admin(_ client: any TestClientProtocol, _ uri: String, _ method: HTTPRequest.Method = .get, body: String? = nil)
            async throws -> TestResponse
        {
            try await client.execute(uri: uri, method: method, headers: authorized, body: body.map { ByteBuffer(string: $0) })
        }

        @Test func teamsSavedOnOneInstanceGovernKeysOnEveryInstance() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, two in
                    let team = try await Self.admin(one, "/admin/teams", .post, body: #"{"id":"t9","models":["chat"],"budget":{"amount":3}}"#)
                    #expect(team.status == .created, "\(team.text)")
                    let key = try #require(
                        try await Self.admin(one, "/admin/keys", .post, body: #"{"name":"k","team_id":"t9"}"#).json?["key"]?.stringValue)
                    // The other instance reads the directory afresh on its first use.
                    #expect(try await Self.chat(two, key: key).status == .ok)
                    let denied = try await Self.chat(two, key: key, model: "free")
                    #expect(denied.status == .forbidden, "the team's model list holds on the other instance")
                    let listed = try await Self.admin(two, "/admin/teams/t9")
                    #expect(listed.json?["budget"]?["amount"]?.doubleValue == 3 && listed.json?["budget"]?["period"]?.stringValue == "monthly")
                    #expect(try await Self.admin(two, "/admin/teams/t9", .delete).status == .ok)
                    #expect(try await Self.admin(one, "/admin/teams/t9").status == .notFound)
                }
            }
        }

        @Test func aKeyMadeOnOneInstanceWorksOnAnotherAndRevocationReachesEveryInstance() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, two in
                    let created = try await Self.admin(
                        one, "/admin/keys", .post,
                        body:
                            #"{"name":"shared","models":["chat"],"team_id":"t1","metadata":{"owner":"search"},"budget":{"amount":5,"period":"weekly"}}"#
                    )
                    #expect(created.status == .created, "\(created.text)")
                    let key = try #require(created.json?["key"]?.stringValue)
                    let id = try #require(created.json?["id"]?.stringValue)

                    #expect(try await Self.chat(two, key: key).status == .ok, "a key created on one instance works on the other")
                    #expect(try await Self.chat(two, key: key, model: "free").status == .forbidden, "with the same restrictions")
                    let found = try await Self.admin(two, "/admin/keys/\(id)")
                    #expect(found.json?["name"]?.stringValue == "shared")
                    #expect(found.json?["models"] == .array(["chat"]) && found.json?["endpoints"]?.isNull == true)
                    #expect(found.json?["metadata"]?["owner"]?.stringValue == "search" && found.json?["team_id"]?.stringValue == "t1")
                    #expect(found.json?["budget"]?["amount"]?.doubleValue == 5 && found.json?["budget"]?["period"]?.stringValue == "weekly")
                    #expect(
                        found.json
                            == created.json.map { json -> JSONValue in
                                var object = json.objectValue ?? JSONObject()
                                object["key"] = nil
                                return .object(object)
                            }, "both instances read back exactly what was written")
                    let listed = try await Self.admin(two, "/admin/keys")
                    #expect(listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [id])

                    let rotated = try await Self.admin(two, "/admin/keys/\(id)/rotate", .post)
                    let newKey = try #require(rotated.json?["key"]?.stringValue)
                    #expect(try await Self.chat(one, key: key).status == .unauthorized, "rotation on one instance ends the old key everywhere")
                    #expect(try await Self.chat(one, key: newKey).status == .ok)

                    let revoked = try await Self.admin(one, "/admin/keys/\(id)/revoke", .post)
                    #expect(revoked.json?["status"]?.stringValue == "revoked")
                    let refused = try await Self.chat(two, key: newKey)
                    #expect(refused.status == .unauthorized)
                    #expect(refused.json?["error"]?["code"]?.stringValue == "key_revoked", "revocation takes effect at once on the other instance")
                    let revokedAt = revoked.json?["revoked_at"]?.doubleValue
                    let again = try await Self.admin(two, "/admin/keys/\(id)", .delete)
                    #expect(again.json?["revoked_at"]?.doubleValue == revokedAt, "revoking twice keeps the first time")
                    #expect(try await Self.admin(two, "/admin/keys/\(id)/rotate", .post).status == .badRequest, "a revoked key cannot be rotated")
                    #expect(try await Self.admin(one, "/admin/keys/key_0000000000000000/revoke", .post).status == .notFound)
                    #expect(try await Self.admin(one, "/admin/keys/key_0000000000000000").status == .notFound)
                    #expect(try await Self.chat(one, key: "sk-sy-" + String(repeating: "0", count: 48)).status == .unauthorized)
                }
            }
        }

        @Test func usageFromEveryInstanceIsReportedOnEach() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, two in
                    let key = try #require(try await Self.admin(one, "/admin/keys", .post, body: #"{"name":"app"}"#).json?["key"]?.stringValue)
                    for _ in 0..<3 { #expect(try await Self.chat(one).status == .ok) }
                    for _ in 0..<2 { #expect(try await Self.chat(two, key: key).status == .ok) }
                    #expect(try await Self.chat(two, model: "free").status == .ok)
                    #expect(try await Self.chat(one, model: "missing").status == .notFound)

                    // Each instance flushes its own journal every 250 ms; a query flushes the asking one's at once.
                    for client in [one, two] {
                        var totals: JSONValue?
                        _ = try await eventually {
                            totals = try await Self.admin(client, "/admin/usage").json?["totals"]
                            return totals?["requests"]?.intValue == 7
                        }
                        #expect(totals?["requests"]?.intValue == 7, "every instance's requests appear on each: \(String(describing: totals))")
                        #expect(totals?["errors"]?.intValue == 1)
                    }

                    let byKey = try await Self.admin(two, "/admin/usage?group_by=key,model")
                    let rows = try #require(byKey.json?["data"]?.arrayValue)
                    func row(_ key: String, _ model: String?) -> JSONValue? {
                        rows.first { $0["key"]?.stringValue == key && $0["model"]?.stringValue == model }
                    }
                    #expect(row("master", "chat")?["requests"]?.intValue == 3)
                    #expect(row("master", "free")?["requests"]?.intValue == 1)
                    #expect(row("master", "free")?["cost_usd"]?.doubleValue == 0)
                    let missing = rows.first { $0["model"]?.isNull == true }
                    #expect(missing?["errors"]?.intValue == 1 && missing?["key"]?.stringValue == "master", "a refused request has no model")
                    let app = try #require(rows.first { $0["key"]?.stringValue?.hasPrefix("key_") == true })
                    #expect(app["requests"]?.intValue == 2 && app["model"]?.stringValue == "chat")
                    let prompt = try #require(app["prompt_tokens"]?.intValue)
                    let completion = try #require(app["completion_tokens"]?.intValue)
                    let cost = try #require(app["cost_usd"]?.doubleValue)
                    #expect(prompt > 0 && completion > 0)
                    #expect(abs(cost - (Double(prompt) * 0.001 + Double(completion) * 0.002)) < 1e-9)
                    #expect(rows.first?["key"]?.stringValue == "master" || Self.cost(rows.first) >= Self.cost(rows.last), "biggest spenders first")

                    let today = CivilDate(daysSinceEpoch: CivilDate.days(Int64(WallClock.unixTime()))).iso
                    let byDay = try await Self.admin(one, "/admin/usage?group_by=day,status&model=chat")
                    let days = try #require(byDay.json?["data"]?.arrayValue)
                    #expect(days.count == 1 && days.first?["day"]?.stringValue == today && days.first?["status"]?.stringValue == "200")
                    #expect(days.first?["requests"]?.intValue == 5)
                    let notFound = try await Self.admin(one, "/admin/usage?status=404")
                    #expect(notFound.json?["totals"]?["requests"]?.intValue == 1, "status filters compare as text")
                    let tomorrow = try await Self.admin(one, "/admin/usage?from=\(Int(WallClock.unixTime()) + 86_400)")
                    #expect(tomorrow.json?["totals"]?["requests"]?.intValue == 0)

                    let own = try await one.execute(uri: "/v1/usage", method: .get, headers: [.authorization: "Bearer \(key)"])
                    #expect(own.status == .ok, "\(own.text)")
                    #expect(own.json?["totals"]?["requests"]?.intValue == 2, "a key sees its own usage from every instance")
                    let spend = try await Self.admin(one, "/admin/spend")
                    #expect(spend.status == .ok && spend.json?["data"]?.arrayValue?.count == 2)
                }
            }
        }

        static func cost(_ row: JSONValue?) -> Double { row?["cost_usd"]?.doubleValue ?? -1 }

        @Test func clientReusesOneRequestIDAcrossInstancesToBeBilledOnce() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, two in
                    var headers: HTTPFields = [.authorization: "Bearer test-master-key", .contentType: "application/json"]
                    headers[HTTPField.Name("x-request-id")!] = "replayed-id"
                    var ids: [String] = []
                    for client in [one, two, one] {
                        let response = try await client.execute(
                            uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "chat"))
                        #expect(response.status == .ok && response.headers[HTTPField.Name("x-request-id")!] == "replayed-id")
                        ids.append(response.headers[HTTPField.Name("x-switchyard-request-id")!] ?? "")
                    }
                    #expect(Set(ids).count == 3)
                    var requests = 0
                    for _ in 0..<50 {
                        requests = try await Self.admin(one, "/admin/usage?model=chat").json?["totals"]?["requests"]?.intValue ?? 0
                        if requests >= 3 { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(requests == 3, "three requests, three records")
                    let stored = try await TestPostgres.rows(url, "SELECT client_request_id FROM usage_records WHERE model_group = 'chat'")
                    #expect(stored.count == 3 && stored.allSatisfy { $0 == ["replayed-id"] })
                    let detail = try await Self.admin(two, "/admin/logs/\(ids[0])")
                    #expect(detail.json?["client_request_id"]?.stringValue == "replayed-id", "\(detail.text)")
                }
            }
        }

        @Test func theRequestLogAndAnalyticsCoverEveryInstance() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, two in
                    var ids: [String] = []
                    for client in [one, two, one] {
                        let response = try await Self.chat(client)
                        ids.append(response.headers[HTTPField.Name("x-request-id")!] ?? "")
                    }
                    #expect(try await Self.chat(two, model: "missing").status == .notFound)
                    // The other instance's journal reaches the database within its flush interval.
                    var listed: [String] = []
                    _ = try await eventually {
                        listed =
                            try await Self.admin(two, "/admin/logs?model=chat&limit=2").json?["data"]?.arrayValue?.compactMap {
                                $0["request_id"]?.stringValue
                            } ?? []
                        return listed.count == 2 && listed[0] == ids[2]
                    }
                    #expect(listed == [ids[2], ids[1]], "newest first across instances")
                    let first = try await Self.admin(two, "/admin/logs?model=chat&limit=2")
                    let cursor = try #require(first.json?["next_cursor"]?.stringValue)
                    let rest = try await Self.admin(two, "/admin/logs?model=chat&limit=2&cursor=\(cursor)")
                    #expect(rest.json?["data"]?.arrayValue?.compactMap { $0["request_id"]?.stringValue } == [ids[0]])
                    let detail = try #require(try await Self.admin(one, "/admin/logs/\(ids[1])").json)
                    #expect(detail["attempts"]?.arrayValue?.count == 1, "detail written by the other instance")
                    #expect(detail["upstream_ms"]?.doubleValue != nil)
                    let errors = try await Self.admin(one, "/admin/logs?errors=true")
                    #expect(errors.json?["data"]?.arrayValue?.first?["error_code"]?.stringValue == "model_not_found")
                    let summary = try #require(try await Self.admin(one, "/admin/analytics/summary").json)
                    #expect(summary["requests"]?.intValue == 4 && summary["errors"]?.intValue == 1)
                    let latency = try #require(try await Self.admin(one, "/admin/analytics/latency?group_by=deployment").json)
                    #expect(latency["data"]?.arrayValue?.contains { $0["requests"]?.intValue == 3 } == true)
                    let series = try #require(try await Self.admin(one, "/admin/analytics/timeseries?interval=hour").json)
                    #expect(series["data"]?.arrayValue?.reduce(0) { $0 + ($1["requests"]?.intValue ?? 0) } == 4)
                }
            }
        }

        @Test func theDatabaseHoldsOnlyKeyedHashesOfKeys() async throws {
            try await withPostgresServer { url in
                try await Self.withTwoInstances(url) { one, _ in
                    var keys: [String] = []
                    for index in 0..<4 {
                        keys.append(
                            try #require(try await Self.admin(one, "/admin/keys", .post, body: #"{"name":"k\#(index)"}"#).json?["key"]?.stringValue))
                    }
                    #expect(try await Self.chat(one, key: keys[0]).status == .ok)
                    // The list is oldest first: rotate the first key.
                    let rotated = try #require(try await Self.admin(one, "/admin/keys", .get).json?["data"]?.arrayValue?.first?["id"]?.stringValue)
                    keys.append(try #require(try await Self.admin(one, "/admin/keys/\(rotated)/rotate", .post).json?["key"]?.stringValue))

                    let rows = try await TestPostgres.rows(url, "SELECT key_hash, row_to_json(k)::text FROM virtual_keys k ORDER BY created_at")
                    #expect(rows.count == 4)
                    let dump = rows.compactMap { $0[1] }.joined(separator: "\n")
                    #expect(dump.contains("k3"), "the rows are the ones the gateway wrote")
                    for key in keys {
                        #expect(!dump.contains(key) && !dump.contains(String(key.dropFirst(6))), "no column holds a key")
                    }
                    let hasher = KeyHasher(secret: Self.keySecret)
                    let hashes = Set(rows.compactMap { $0[0] })
                    #expect(hashes == Set(keys.dropFirst().map(hasher.hash)), "each live key is stored as its HMAC under the shared key secret")
                    #expect(!hashes.contains(hasher.hash(keys[0])), "the rotated-away key's hash is gone")
                    #expect(!hashes.contains(KeyHasher(secret: "another secret").hash(keys[1])), "the hash is keyed")
                    #expect(try await Self.admin(one, "/admin/usage").status == .ok, "a usage query flushes the ledger")
                    let usage = try await TestPostgres.rows(url, "SELECT row_to_json(u)::text FROM usage_records u")
                    #expect(!usage.isEmpty && !usage.compactMap { $0[0] }.joined().contains(keys[0]), "nor does the usage ledger")
                }
            }
        }

        @Test func anUnreachableDatabaseCostsSecondsAndUsageWaitsInTheJournal() async throws {
            let unreachable = "postgres://switchyard:pw@127.0.0.1:1/switchyard?connect_timeout=1&operation_timeout=1"
            let (offline, path) = try makeGateway(Self.yaml, environment: ["DATABASE_URL": unreachable])
            // What ends the wait is operation_timeout (the pool itself would wait a minute).
            let backend = try PostgresBackend(url: try PostgresURL(parsing: unreachable), logger: quietLogger)
            let outcome = await Result { try await PostgresKeyStore(database: backend, secret: "s").authenticate("sk-sy-" + String(repeating: "0", count: 48)) }
            await backend.shutdown()
            guard case .failure(let error) = outcome, case .timeout(let limit) = error as? PostgresStoreError else {
                Issue.record("expected the operation_timeout to end the wait, got \(outcome)")
                return
            }
            #expect(limit == .seconds(1), "operation_timeout bounds the wait, not the pool's minute")
            try await offline.makeApplication().test(.live) { client in
                let refused = try await Self.chat(client, key: "sk-sy-" + String(repeating: "0", count: 48))
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.json?["error"]?["code"]?.stringValue == "key_store_unavailable")
                for _ in 0..<2 { #expect(try await Self.chat(client).status == .ok, "the master key needs no database") }
                #expect(try await Self.admin(client, "/admin/usage").status == .serviceUnavailable)
                // Saving to a database that does not answer is a retryable 503, not an internal error.
                let team = try await Self.admin(client, "/admin/teams", .post, body: #"{"id":"t1","models":["chat"]}"#)
                #expect(team.status == .serviceUnavailable, "\(team.text)")
                #expect(team.json?["error"]?["code"]?.stringValue == "store_unavailable")
                #expect(team.headers[.retryAfter] == "1")
                #expect(!team.text.contains("127.0.0.1") && !team.text.contains("pw"), "nothing about the database in the answer")
            }
            let journal = (path as NSString).deletingLastPathComponent + "/switchyard.usage-journal"
            let size = (try? FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int) ?? 0
            #expect(size > 0, "the usage waits in the local journal")

            // The same instance restarted once PostgreSQL is there replays its journal into it.
            try await withPostgresServer { url in
                let online = try SwitchyardApplication(
                    source: .file(path), registry: adapterRegistry(), logger: quietLogger, environment: ["DATABASE_URL": url])
                let totals = try await online.makeApplication().test(.live) { client in
                    try await Self.admin(client, "/admin/usage?key=master&model=chat").json?["totals"]
                }
                #expect(totals?["requests"]?.intValue == 2, "\(String(describing: totals))")
            }
        }

        @Test func aMissingKeySecretIsAConfigurationError() throws {
            let yaml = """
                server: {port: 0, master_key: test-master-key, database: "postgres://u:hunter22@127.0.0.1/db"}
                providers: [{name: p, type: mock}]
                models: [{name: chat, provider: p, model: m}]
                """
            let error = #expect(throws: (any Error).self) { _ = try makeGateway(yaml) }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains("server.key_secret is required"), "\(text)")
            #expect(!text.contains("hunter22"), "the error never quotes the URL's password")
        }
    }

    /// The schema: versioned, idempotent migrations that tolerate instances starting together,
    /// and the stores' semantics beside SQLite's.
    @Suite struct PostgresStoreTests {
        static func database(_ url: String) throws -> PostgresBackend {
            try PostgresBackend(url: try PostgresURL(parsing: url), logger: quietLogger)
        }

        @Test func migrationsRunOnceEvenWhenInstancesStartTogether() async throws {
            try await withPostgresServer { url in
                let databases = try (0..<6).map { _ in try Self.database(url) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for database in databases { group.addTask { try await database.ready() } }
                    try await group.waitForAll()
                }
                let applied = try await TestPostgres.rows(url, "SELECT version::text, name FROM switchyard_migrations ORDER BY version")
                #expect(
                    applied == [
                        ["1", "virtual keys"], ["2", "usage ledger"], ["3", "key roles"], ["4", "organisations, teams and users"],
                        ["5", "request log"], ["6", "client request ids"], ["7", "usage source"],
                    ],
                    "each migration is recorded exactly once")
                #expect(try await databases[0].migrate().isEmpty, "migrating again applies nothing")
                let tables = try await TestPostgres.rows(
                    url, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
                #expect(tables == [["directory"], ["request_logs"], ["switchyard_migrations"], ["usage_records"], ["virtual_keys"]])
                let indexes = try await TestPostgres.rows(
                    url, "SELECT indexname::text FROM pg_indexes WHERE tablename = 'usage_records' ORDER BY indexname")
                #expect(
                    indexes.compactMap { $0[0] }
                        == [
                            "usage_records_end_user_ts", "usage_records_model_group_ts", "usage_records_org_id_ts", "usage_records_pkey",
                            "usage_records_subject_ts",
                            "usage_records_team_id_ts", "usage_records_ts", "usage_records_user_id_ts",
                        ])
                for database in databases { await database.shutdown() }
                await #expect(throws: PostgresStoreError.self) { try await databases[0].ready() }

                // A gateway started twice on the same database keeps its keys.
                let yaml = PostgresSharedStoreTests.yaml
                let (first, _) = try makeGateway(yaml, environment: ["DATABASE_URL": url])
                let key = try await first.makeApplication().test(.live) { client in
                    try #require(
                        try await PostgresSharedStoreTests.admin(client, "/admin/keys", .post, body: #"{"name":"kept"}"#).json?["key"]?.stringValue)
                }
                let (again, _) = try makeGateway(yaml, environment: ["DATABASE_URL": url])
                let status = try await again.makeApplication().test(.live) { client in
                    try await PostgresSharedStoreTests.chat(client, key: key).status
                }
                #expect(status == .ok, "the key made before the restart still works")
                let recorded = try await TestPostgres.rows(url, "SELECT count(*)::text FROM usage_records WHERE subject LIKE 'key_%'")
                #expect(recorded == [["1"]], "the ledger's last flush at shutdown reaches PostgreSQL before the pool closes")
                #expect(try await TestPostgres.rows(url, "SELECT count(*)::text FROM switchyard_migrations") == [["7"]])
            }
        }

        /// Records over several days, statuses, owners and models, some without a price.
        static func records(count: Int) throws -> [UsageRecord] {
            let line = #"{"id":"r","ts":0,"identityKind":"virtual_key","subject":"s","endpoint":"chat","status":200,"outcome":"success"}"#
            let template = try #require(UsageRecord(journalLine: ArraySlice(line.utf8)))
            return (0..<count).map { index in
                var record = template
                record.id = "req-\(index)"
                record.ts = 1_700_000_000 + Double(index) * 97.5  // 2023-11-14 22:13:20 UTC onwards, across midnight
                record.subject = "key_\(index % 3)"
                record.userID = index % 4 == 0 ? nil : "user-\(index % 4)"
                record.teamID = index % 5 == 0 ? "team-a" : "team-b"
                record.modelGroup = index % 7 == 0 ? nil : "model-\(index % 2)"
                record.status = index % 11 == 0 ? 429 : 200
                record.outcome = index % 11 == 0 ? "rate_limited" : "success"
                record.stream = index % 2 == 0
                record.promptTokens = 10 + index % 13
                record.completionTokens = 5 + index % 17
                record.cachedTokens = index % 3
                record.reasoningTokens = index % 2
                record.cost = index % 6 == 0 ? nil : Double(index % 9) * 0.000_125
                record.durationMs = Double(index)
                record.ttftMs = index % 2 == 0 ? Double(index) / 2 : nil
                record.attempts = 1 + index % 2
                return record
            }
        }

        static func sorted(_ rows: [UsageTotals]) -> [UsageTotals] {
            rows.sorted { "\($0.group.sorted { $0.key < $1.key })" < "\($1.group.sorted { $0.key < $1.key })" }
        }

        static func same(_ a: UsageTotals, _ b: UsageTotals) -> Bool {
            var left = a
            var right = b
            guard abs(left.cost - right.cost) < 1e-9 else { return false }
            left.cost = 0
            right.cost = 0
            return left == right
        }

        @Test func theUsageStoreAnswersLikeSQLite() async throws {
            try await withPostgresServer { url in
                let database = try Self.database(url)
                let postgres = PostgresUsageStore(database: database)
                let directory = NSTemporaryDirectory() + "/switchyard-parity-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let sqlite = SQLiteUsageStore(database: try SwitchyardDatabase(path: directory + "/switchyard.db"))
                let records = try Self.records(count: 2_345)
                for store in [postgres, sqlite] as [any UsageStore] {
                    try await store.insert(records)
                    try await store.insert(Array(records.prefix(1_500)))  // a replayed journal inserts nothing twice
                    try await store.insert([])
                }
                #expect(try await postgres.count() == records.count)
                #expect(try await postgres.contains(id: "req-2344"))
                #expect(try await postgres.contains(id: "req-2345") == false)

                var queries: [UsageQuery] = [
                    UsageQuery(), UsageQuery(groupBy: [.day]), UsageQuery(groupBy: [.key, .model]), UsageQuery(groupBy: [.status, .user]),
                    UsageQuery(from: 1_700_050_000, to: 1_700_150_000, groupBy: [.team]),
                    UsageQuery(groupBy: [.day], filters: [(.team, "team-a"), (.status, "429")]),
                    UsageQuery(groupBy: Array(UsageDimension.allCases)),
                ]
                var limited = UsageQuery(groupBy: [.key, .day])
                limited.limit = 2
                queries.append(limited)
                for query in queries {
                    let expected = try await sqlite.usage(query)
                    let actual = try await postgres.usage(query)
                    #expect(Self.same(actual.totals, expected.totals), "\(query.groupBy): \(actual.totals) vs \(expected.totals)")
                    #expect(actual.rows.count == expected.rows.count, "\(query.groupBy)")
                    if query.limit == 2 {
                        #expect(zip(actual.rows, expected.rows).allSatisfy { abs($0.cost - $1.cost) < 1e-9 }, "the biggest spenders first")
                        continue
                    }
                    for (left, right) in zip(Self.sorted(actual.rows), Self.sorted(expected.rows)) {
                        #expect(Self.same(left, right), "\(query.groupBy): \(left) vs \(right)")
                    }
                }
                let days = try await postgres.usage(UsageQuery(groupBy: [.day])).rows.compactMap { $0.group["day"] ?? nil }.sorted()
                #expect(days.first == "2023-11-14" && days.count == 4, "days are UTC calendar days: \(days)")
                for (scope, value) in [(BudgetScope.key, "key_1"), (.user, "user-2"), (.team, "team-a"), (.global, "*")] {
                    let expected = try await sqlite.spend(scope: scope, value: value, since: 1_700_100_000)
                    #expect(abs(try await postgres.spend(scope: scope, value: value, since: 1_700_100_000) - expected) < 1e-9)
                }
                await database.shutdown()
            }
        }

        @Test func tlsIsUsedAndTheServerCertificateIsVerified() async throws {
            try await withPostgresServer(tls: true) { url in
                let backend = try Self.database(url)
                let store = PostgresKeyStore(database: backend, secret: "secret")
                let (_, plaintext) = try await store.create(KeyOptions(name: "over-tls"))
                #expect(try await store.authenticate(plaintext) != .unknown)
                let encrypted = try await TestPostgres.rows(
                    url, "SELECT count(*)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'switchyard'")
                #expect(encrypted != [["0"]], "the pool's connections are encrypted")
                await backend.shutdown()

                let certificate = try #require(try PostgresURL(parsing: url).rootCertificatePath)
                let plain = String(url.prefix { $0 != "?" })
                let byName = plain.replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
                let variants: [(url: String, works: Bool, why: String)] = [
                    (plain + "?sslmode=require&operation_timeout=2", false, "a self-signed certificate is not in the system's trust store"),
                    (byName + "?sslmode=verify-ca&operation_timeout=2&sslrootcert=\(certificate)", true, "verify-ca checks the chain"),
                    (byName + "?sslmode=prefer&operation_timeout=2&sslrootcert=\(certificate)", true, "prefer takes the TLS the server offers"),
                ]
                for variant in variants {
                    let database = try Self.database(variant.url)
                    let outcome = await Result { try await PostgresKeyStore(database: database, secret: "secret").list() }
                    #expect((try? outcome.get().count) == (variant.works ? 1 : nil), "\(variant.why)")
                    await database.shutdown()
                }
            }
        }

        @Test func theKeyStoreKeepsEveryFieldAndRefusesWhatItShould() async throws {
            try await withPostgresServer { url in
                let database = try Self.database(url)
                let store = PostgresKeyStore(database: database, secret: "secret")
                var options = KeyOptions(name: "full")
                options.models = ["a", "b"]
                options.endpoints = []
                options.regions = ["eu"]
                options.tier = "pro"
                options.organizationID = "org"
                options.userID = "u\"ser"
                options.metadata = ["k": "v with 'quotes' and \"double\"", "ü": "✓"]
                options.budget = BudgetLimit(amount: 1.5, period: .daily)
                options.expiresAt = WallClock.unixTime() + 3600
                let (key, plaintext) = try await store.create(options)
                #expect(try await store.find(id: key.id) == key, "every field reads back as written (an empty list stays empty)")
                guard case .valid(let found) = try await store.authenticate(plaintext) else {
                    Issue.record("the new key authenticates")
                    return
                }
                #expect(found == key)
                #expect(try await store.authenticate("not-a-key") == .unknown)
                #expect(try await store.authenticate(plaintext + "0") == .unknown)
                let other = PostgresKeyStore(database: database, secret: "another secret")
                #expect(try await other.authenticate(plaintext) == .unknown, "another key secret finds nothing")

                var expiring = KeyOptions(name: "old")
                expiring.expiresAt = 1000
                let expired = try await store.create(expiring)
                #expect(try await store.authenticate(expired.plaintext) == .expired)
                await #expect(throws: KeyStoreError.self) { try await store.create(KeyOptions(name: "")) }
                await #expect(throws: KeyStoreError.notFound("key_missing")) { try await store.revoke(id: "key_missing") }
                await #expect(throws: KeyStoreError.notFound("key_missing")) { try await store.rotate(id: "key_missing") }
                #expect(try await store.list().map(\.id) == [key.id, expired.key.id])
                _ = try await store.revoke(id: key.id)
                #expect(try await store.authenticate(plaintext) == .revoked)
                await #expect(throws: KeyStoreError.invalid("key '\(key.id)' is revoked")) { try await store.rotate(id: key.id) }
                await database.shutdown()
            }
        }
    }
}
