import AsyncHTTPClient
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

/// How the usage ledger and the request log reach the database: in batches (multi-row
/// statements, one transaction a batch), each request exactly once, nothing lost at shutdown or
/// when the database refuses a batch.
@Suite struct UsageWriteTests {
    static let config = UsageTests.config("logging: {bodies: true}")

    /// POSTs `count` chat completions at once; the request ids and usage of the answers, in the
    /// order the requests were made.
    static func burst(port: Int, count: Int) async throws -> [(id: String, prompt: Int, completion: Int)] {
        try await withThrowingTaskGroup(of: (Int, String, Int, Int).self) { group in
            for index in 0..<count {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "authorization", value: "Bearer test-master-key")
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(chatBody(model: "chat", content: "request \(index) " + String(repeating: "word ", count: index % 7)))
                    let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
                    let body = try await response.body.collect(upTo: 1 << 20)
                    #expect(response.status == .ok)
                    let json = try JSONValue.parse(Array(buffer: body))
                    return (
                        index, response.headers.first(name: "x-request-id") ?? "", json["usage"]?["prompt_tokens"]?.intValue ?? -1,
                        json["usage"]?["completion_tokens"]?.intValue ?? -1
                    )
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }.map { (id: $0.1, prompt: $0.2, completion: $0.3) }
        }
    }

    static func database(nextTo configPath: String) -> String {
        ((configPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("switchyard.db")
    }

    @Test func concurrentRequestsAreEachRecordedOnceWithExactSums() async throws {
        let (application, _) = try makeGateway(Self.config)
        try await application.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            let answers = try await Self.burst(port: port, count: 150)
            let prompt = answers.map(\.prompt).reduce(0, +)
            let completion = answers.map(\.completion).reduce(0, +)
            #expect(answers.allSatisfy { $0.prompt > 0 && $0.completion > 0 })

            let usage = try await UsageTests.get(client, "/admin/usage")
            let totals = try #require(usage.json?["totals"])
            #expect(totals["requests"]?.intValue == 150)
            #expect(totals["prompt_tokens"]?.intValue == prompt)
            #expect(totals["completion_tokens"]?.intValue == completion)
            #expect(abs(UsageTests.cost(totals) - (Double(prompt) * 0.001 + Double(completion) * 0.002)) < 1e-9)

            // The request log: one entry per request, the same ids the clients were given.
            let logs = try await UsageTests.get(client, "/admin/logs?limit=1000")
            let ids = try #require(logs.json?["data"]?.arrayValue).compactMap { $0["request_id"]?.stringValue }
            #expect(ids.count == 150)
            #expect(Set(ids) == Set(answers.map(\.id)))
            let detail = try await UsageTests.get(client, "/admin/logs/\(answers[17].id)")
            #expect(detail.text.contains("request 17"), "the logged body of that very request")
        }
    }

    @Test func shutdownWritesTheLastBatchIntoTheDatabase() async throws {
        let path = try writeConfig(Self.config)
        func start() throws -> SwitchyardApplication {
            try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: quietLogger)
        }
        let answers = try await start().makeApplication().test(.live) { client in
            try await Self.burst(port: try #require(client.port), count: 40)
        }
        // Read the database itself, before anything could replay the journal.
        let database = Self.database(nextTo: path)
        let journal = try FileManager.default.attributesOfItem(atPath: database + ".usage-journal")[.size] as? Int
        #expect(journal == 0, "the journal was drained into the database at shutdown")
        let queue = try DatabaseQueue(path: database)
        let (rows, logs, tokens) = try await queue.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_records") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM request_logs") ?? 0,
                try Int.fetchOne(db, sql: "SELECT SUM(promptTokens) FROM usage_records") ?? 0
            )
        }
        try queue.close()
        #expect(rows == 40 && logs == 40)
        #expect(tokens == answers.map(\.prompt).reduce(0, +))
        try await start().makeApplication().test(.live) { client in
            let usage = try await UsageTests.get(client, "/admin/usage")
            #expect(usage.json?["totals"]?["requests"]?.intValue == 40, "a restart counts nothing twice")
        }
    }

    @Test func aBatchTheDatabaseRefusesIsKeptAndWrittenOnceItRecovers() async throws {
        let (application, path) = try makeGateway(Self.config)
        try await application.makeApplication().test(.live) { client in
            #expect(try await UsageTests.chat(client).status == .ok)
            #expect(try await UsageTests.get(client, "/admin/usage").json?["totals"]?["requests"]?.intValue == 1)
            // From now on the database refuses every usage row (as a full disk or a broken
            // file would), until the switch is cleared.
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            let queue = try DatabaseQueue(path: Self.database(nextTo: path), configuration: configuration)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE refuse_usage (on_ INTEGER)")
                try db.execute(sql: "INSERT INTO refuse_usage VALUES (1)")
                try db.execute(
                    sql: """
                        CREATE TRIGGER refuse_usage_rows BEFORE INSERT ON usage_records WHEN EXISTS (SELECT 1 FROM refuse_usage)
                        BEGIN SELECT RAISE(ABORT, 'refused for the test'); END
                        """)
            }
            let answers = try await Self.burst(port: try #require(client.port), count: 20)
            let refused = try await UsageTests.get(client, "/admin/usage")
            #expect(refused.status == .serviceUnavailable, "a usage query does not answer with figures that miss records")
            let counted = try await eventually {
                let text = try await client.execute(uri: "/metrics", method: .get).text
                let line = text.split(separator: "\n").first { $0.hasPrefix("switchyard_usage_flush_errors_total ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } ?? false
            }
            #expect(counted, "each refused batch is counted in switchyard_usage_flush_errors_total")
            #expect(try await UsageTests.chat(client).status == .ok, "requests go on while the database refuses")

            try await queue.write { db in try db.execute(sql: "DELETE FROM refuse_usage") }
            try queue.close()
            let usage = try await UsageTests.get(client, "/admin/usage")
            #expect(usage.json?["totals"]?["requests"]?.intValue == 22, "the refused batch, then written once")
            #expect(usage.json?["totals"]?["prompt_tokens"]?.intValue ?? 0 > answers.map(\.prompt).reduce(0, +))
            let logs = try await UsageTests.get(client, "/admin/logs?limit=1000")
            let ids = try #require(logs.json?["data"]?.arrayValue).compactMap { $0["request_id"]?.stringValue }
            #expect(ids.count == 22 && Set(ids).isSuperset(of: answers.map(\.id)))
        }
    }
}
