import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SwitchyardCore
import SwitchyardServer
import Testing

/// The access log as an operator's log shipper reads it: one JSON object per line.
@Suite struct AccessLogTests {
    /// Log lines written through `JSONLogHandler` into a temporary file.
    final class Capture: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-log-\(UUID().uuidString)").path
        let descriptor: Int32
        let output: LogOutput

        init() {
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            output = LogOutput(descriptor: descriptor)
        }

        func logger(metadata: Logger.Metadata = [:]) -> Logger {
            var logger = Logger(label: "switchyard") { JSONLogHandler(label: $0, output: self.output) }
            logger.logLevel = .info
            for (key, value) in metadata { logger[metadataKey: key] = value }
            return logger
        }

        /// The lines written so far, each as it was written and parsed.
        func lines() throws -> [(text: String, json: JSONValue)] {
            output.flush()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return try text.split(separator: "\n").map { (String($0), try JSONValue.parse(String($0))) }
        }

        deinit {
            close(descriptor)
            unlink(path)
        }
    }

    /// A gateway with the access log on (one mock model, `chat`), logging into `capture`.
    static func gateway(logging capture: Capture) throws -> SwitchyardApplication {
        let path = try writeConfig(
            """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off, access_log: true}
            providers:
              - {name: p, type: mock}
            models:
              - {name: chat, provider: p, model: m}
            """)
        return try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: capture.logger())
    }

    @Test func eachRequestIsOneJSONLineWithTypedSortedFields() async throws {
        let capture = Capture()
        let application = try Self.gateway(logging: capture)
        try await application.makeApplication().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post,
                headers: [.authorization: "Bearer test-master-key", .contentType: "application/json", HTTPField.Name("x-request-id")!: "client-7"],
                body: chatBody(model: "chat"))
            #expect(response.status == .ok)
        }
        // Written once the request has fully finished, which may be just after the answer.
        var lines: [(text: String, json: JSONValue)] = []
        _ = try await eventually {
            lines = try capture.lines().filter { $0.json["msg"]?.stringValue == "request" }
            return !lines.isEmpty
        }
        #expect(lines.count == 1)
        let (text, line) = try #require(lines.first)
        #expect(text.hasPrefix(#"{"ts":""#), "the fixed fields first: \(text)")
        #expect(text.contains(#""level":"info","logger":"switchyard","msg":"request","#))
        let ts = try #require(line["ts"]?.stringValue)
        #expect(ts.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z/#) != nil, "RFC 3339 with microseconds: \(ts)")
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
        #expect(ts.hasPrefix(String(year)))
        guard case .object(let object) = line else { throw CancellationError() }
        let metadataKeys = object.members.dropFirst(4).map(\.key)
        #expect(metadataKeys == metadataKeys.sorted(), "metadata in key order")
        #expect(line["request_id"]?.stringValue?.hasPrefix("req_") == true, "the gateway's own id, the client's beside it")
        #expect(line["client_request_id"]?.stringValue == "client-7")
        #expect(line["http_status"]?.intValue == 200, "integers as numbers")
        #expect(line["stream"] == .bool(false), "flags as booleans")
        #expect(line["duration_ms"]?.doubleValue ?? -1 >= 0)
        #expect(line["gen_ai.request.model"]?.stringValue == "chat")
        #expect(line["gen_ai.usage.output_tokens"]?.intValue ?? 0 > 0)
    }

    /// Requests that never reach the pipeline (health, a refused key) get their line from the
    /// outer middleware, with the gateway's request id (the one in the response header).
    @Test func requestsOutsideThePipelineAreLoggedWithTheirRequestID() async throws {
        let capture = Capture()
        let application = try Self.gateway(logging: capture)
        let ids: [String: String] = try await application.makeApplication().test(.router) { client in
            let header = HTTPField.Name("x-switchyard-request-id")!
            let health = try await client.execute(uri: "/health/live", method: .get)
            let refused = try await client.execute(
                uri: "/v1/chat/completions", method: .post,
                headers: [.authorization: "Bearer wrong-key", .contentType: "application/json"], body: chatBody(model: "chat"))
            #expect(refused.status == .unauthorized)
            return ["/health/live": health.headers[header] ?? "", "/v1/chat/completions": refused.headers[header] ?? ""]
        }
        var lines: [JSONValue] = []
        _ = try await eventually {
            lines = try capture.lines().map(\.json).filter { $0["msg"]?.stringValue == "request" && $0["http_path"] != nil }
            return lines.count == 2
        }
        #expect(lines.count == 2)
        for line in lines {
            let path = try #require(line["http_path"]?.stringValue)
            #expect(line["request_id"]?.stringValue == ids[path] && ids[path]?.hasPrefix("req_") == true, "\(line)")
            #expect(line["http_status"]?.intValue == (path == "/health/live" ? 200 : 401))
        }
    }

    /// The access log's path (fields built in key order, no dictionary) writes exactly what the
    /// same fields as metadata give, and steps aside for a handler with metadata of its own.
    @Test func fieldsInKeyOrderWriteTheSameLineAsMetadata() throws {
        let capture = Capture()
        let fields: [(key: String, value: Logger.Metadata.Value)] = [
            ("attempts", .stringConvertible(2)), ("cost_usd", .stringConvertible(0.000_012_5)), ("fallbacks", .array(["a", "b"])),
            ("gen_ai.request.model", "chat \"x\"\n"), ("http_status", .stringConvertible(200)), ("stream", .stringConvertible(false)),
        ]
        let logger = capture.logger()
        logger.info("request", metadata: Logger.Metadata(fields, uniquingKeysWith: { $1 }))
        let handler = try #require(logger.handler as? JSONLogHandler)
        #expect(handler.writeInKeyOrder(level: .info, message: "request", fields: fields))
        let withMetadata = capture.logger(metadata: ["instance": "a"])
        #expect(!(try #require(withMetadata.handler as? JSONLogHandler)).writeInKeyOrder(level: .info, message: "request", fields: fields))
        let lines = try capture.lines()
        #expect(lines.count == 2)
        func withoutTimestamp(_ text: String) -> Substring { text[text.range(of: #""level""#)!.lowerBound...] }
        #expect(withoutTimestamp(lines[0].text) == withoutTimestamp(lines[1].text), "\(lines[0].text)\n\(lines[1].text)")
    }

    @Test func handlerMetadataJoinsAndMayReplaceAFixedField() throws {
        let capture = Capture()
        let logger = capture.logger(metadata: ["instance": "a", "msg": "overridden"])
        logger.info("hello", metadata: ["list": .array(["x", .stringConvertible(2)]), "ratio": .stringConvertible(0.25), "instance": "b"])
        capture.logger().warning("plain \u{1}", metadata: ["nan": .stringConvertible(Double.nan)])
        let lines = try capture.lines()
        #expect(lines.count == 2)
        let first = try #require(lines.first?.json)
        #expect(first["msg"]?.stringValue == "overridden" && first["instance"]?.stringValue == "b")
        #expect(first["list"] == .array([.string("x"), JSONValue(2)]) && first["ratio"]?.doubleValue == 0.25)
        let second = try #require(lines.last)
        #expect(second.json["msg"]?.stringValue == "plain \u{1}" && second.json["level"]?.stringValue == "warning")
        #expect(second.json["nan"]?.stringValue == "nan", "a number JSON cannot hold is written as text")
        #expect(second.text.contains(#""msg":"plain \u0001""#))
    }

    /// Lines are written in batches by a background writer: lines from many threads arrive whole,
    /// each writer's in its order, and they reach the file on their own (no flush) shortly after.
    @Test func linesFromManyThreadsArriveWholeAndInOrderWithoutAFlush() async throws {
        let capture = Capture()
        let logger = capture.logger()
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for index in 0..<250 {
                        logger.info("line", metadata: ["writer": .stringConvertible(writer), "index": .stringConvertible(index)])
                    }
                }
            }
        }
        // No flush: the writer wakes by itself once lines are waiting.
        var text = ""
        for _ in 0..<200 {
            text = (try? String(contentsOfFile: capture.path, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").count == 2_000 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let lines = try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(lines.count == 2_000)
        var next = [Int](repeating: 0, count: 8)
        for line in lines {
            let writer = try #require(line["writer"]?.intValue)
            #expect(line["index"]?.intValue == next[writer], "each writer's lines in order")
            next[writer] += 1
        }
        #expect(next == [Int](repeating: 250, count: 8))
    }
}
