import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

struct RedisUnavailable: Error, CustomStringConvertible {
    var description: String { "redis-server is not installed: scripts/test installs it (apt-get install redis-server)" }
}

/// A test CA and a server certificate it signed for 127.0.0.1, made with the system's openssl.
struct TestCertificateAuthority {
    var caCertificate: String
    var serverCertificate: String
    var serverKey: String

    static func make() async throws -> TestCertificateAuthority {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-ca-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let authority = TestCertificateAuthority(
            caCertificate: directory + "/ca.pem", serverCertificate: directory + "/server.pem", serverKey: directory + "/server-key.pem")
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Switchyard Test CA", "-keyout",
                directory + "/ca-key.pem", "-out", authority.caCertificate,
            ],
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE", "-CA", authority.caCertificate, "-CAkey",
                directory + "/ca-key.pem", "-keyout",
                authority.serverKey, "-out", authority.serverCertificate,
            ],
        ]
        for arguments in steps {
            let process = try ChildProcess("/usr/bin/openssl", arguments)
            guard await process.waitForExit() == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        return authority
    }
}

/// Runs a real `redis-server` on a free port for the duration of `body`, which gets its URL;
/// with `tls`, the server takes only TLS connections (`rediss://`) with that CA's certificate.
func withRedisServer<T: Sendable>(tls: TestCertificateAuthority? = nil, _ body: @Sendable (String) async throws -> T) async throws -> T {
    let candidates = [ProcessInfo.processInfo.environment["SWITCHYARD_REDIS_SERVER"], "/usr/bin/redis-server", "/usr/local/bin/redis-server"]
    guard let binary = candidates.compactMap({ $0 }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw RedisUnavailable()
    }
    for _ in 0..<5 {
        let port = Int.random(in: 20_000..<60_000)
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if let tls {
            arguments = ["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            arguments += ["--tls-cert-file", tls.serverCertificate, "--tls-key-file", tls.serverKey, "--tls-ca-cert-file", tls.caCertificate]
            arguments += ["--tls-auth-clients", "no"]
        }
        let process = try ChildProcess(binary, arguments)
        let url = "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)/0"
        let probe = try RedisClient(url: url, caFile: tls?.caCertificate)
        var ready = false
        _ = await eventually {
            ready = (try? await probe.send("PING")) == .simpleString("PONG")
            return ready || !process.isRunning  // an exit means the port was taken
        }
        await probe.close()
        let outcome: Result<T, any Error>
        if ready {
            do { outcome = .success(try await body(url)) } catch { outcome = .failure(error) }
        } else {
            outcome = .failure(RedisUnavailable())
        }
        // SIGKILL: the test process blocks SIGTERM for its signal handling and children inherit the mask.
        process.kill()
        _ = await process.waitForExit(timeout: .seconds(2))
        if !ready { continue }  // the port was taken: try another
        return try outcome.get()
    }
    throw RedisUnavailable()
}

@Suite struct RESPTests {
    @Test func parsesEveryTypeWhateverTheSplit() throws {
        let wire = Array("+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*3\r\n:1\r\n$0\r\n\r\n*-1\r\n*0\r\n".utf8)
        let expected: [RESPValue] = [
            .simpleString("OK"), .error("ERR bad thing"), .integer(-42), .bulkString(Array("he\r\no".utf8)), .bulkString(nil),
            .array([.integer(1), .bulkString([]), .array(nil)]), .array([]),
        ]
        for split in 0...wire.count {
            var buffer = ByteBuffer(bytes: wire[..<split])
            var values: [RESPValue] = []
            while let value = try RESPParser.parse(&buffer) { values.append(value) }
            buffer.writeBytes(wire[split...])
            while let value = try RESPParser.parse(&buffer) { values.append(value) }
            #expect(values == expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func rejectsGarbage() {
        var garbage = ByteBuffer(string: "?what\r\n")
        #expect(throws: RESPParseError.self) { try RESPParser.parse(&garbage) }
        var badLength = ByteBuffer(string: "$-7\r\n")
        #expect(throws: RESPParseError.self) { try RESPParser.parse(&badLength) }
    }

    @Test func encodesCommandsAsBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", "k", "välue"], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n")
    }

    @Test func parsesURLs() throws {
        let full = try RedisEndpoint(url: "redis://user:p%40ss@cache.internal:6380/2")
        #expect(full.host == "cache.internal" && full.port == 6380 && full.database == 2)
        #expect(full.username == "user" && full.password == "p%40ss")
        let bare = try RedisEndpoint(url: "redis://localhost")
        #expect(bare.port == 6379 && bare.database == 0 && bare.password == nil)
        #expect(!bare.tls)
        #expect(try RedisEndpoint(url: "rediss://:secret@cache.example.com:6380").tls)
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "http://localhost") }
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://host:99999") }
    }
}

@Suite struct RedisConfigurationTests {
    func errors(_ redis: String) throws -> String {
        do {
            _ = try makeGateway(upstreamConfig(port: 1) + "\n" + redis)
            Issue.record("the configuration must be rejected")
            return ""
        } catch let error as ConfigError {
            return error.description
        }
    }

    @Test func tlsSettingsAreChecked() throws {
        #expect(try errors("redis: {url: \"http://cache:6379\"}").contains("redis.url must start with redis:// or rediss://"))
        #expect(
            try errors("redis: {url: \"rediss://cache:6380\", ca_file: /nonexistent/ca.pem}").contains(
                "redis.ca_file '/nonexistent/ca.pem' does not exist"))
        let caFile = try writeConfig("not used")
        #expect(
            try errors("redis: {url: \"redis://cache:6379\", ca_file: \"\(caFile)\"}").contains(
                "redis.ca_file is set but redis.url is not rediss://"))
    }
}

/// Every suite that runs a redis-server, one at a time (each starts its own server).
@Suite(.serialized) struct RedisBackedTests {}

extension RedisBackedTests {
    @Suite struct RedisClientTests {
        @Test func commandsPipelinesScriptsAndReconnects() async throws {
            try await withRedisServer { url in
                let client = try RedisClient(url: url)
                #expect(try await client.send("SET", "greeting", "héllo") == .simpleString("OK"))
                #expect(try await client.send("GET", "greeting").string == "héllo")
                #expect(try await client.send("GET", "missing").isNull)
                let replies = try await client.pipeline((0..<200).map { _ in ["INCR", "counter"] })
                #expect(replies.last == .integer(200))
                await #expect(throws: RedisError.self) { try await client.send("INCR", "greeting") }

                let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
                #expect(try await client.evaluate(script, keys: ["scripted"], arguments: ["5"]) == .integer(5))
                _ = try await client.send("SCRIPT", "FLUSH")
                #expect(try await client.evaluate(script, keys: ["scripted"], arguments: ["5"]) == .integer(10), "NOSCRIPT falls back to EVAL")

                // Another client kills our connection; the next commands reconnect by themselves.
                let killer = try RedisClient(url: url)
                _ = try await killer.send("CLIENT", "KILL", "TYPE", "normal")
                #expect(await eventually { (try? await client.send("PING")) == .simpleString("PONG") })
                await killer.close()
                await client.close()
            }
        }

        @Test func rediss() async throws {
            let authority = try await TestCertificateAuthority.make()
            try await withRedisServer(tls: authority) { url in
                #expect(url.hasPrefix("rediss://"))
                let client = try RedisClient(url: url, caFile: authority.caCertificate)
                #expect(try await client.send("SET", "over-tls", "yes") == .simpleString("OK"))
                #expect(try await client.send("GET", "over-tls").string == "yes")
                await client.close()
                // A server whose certificate no trusted CA signed is refused (the system roots
                // do not know the test CA); so is a plain connection to a TLS port.
                let unverified = try RedisClient(url: url)
                await #expect(throws: RedisError.self) { try await unverified.send("PING") }
                await unverified.close()
                let plain = try RedisClient(url: url.replacingOccurrences(of: "rediss://", with: "redis://"))
                await #expect(throws: RedisError.self) { try await plain.send("PING") }
                await plain.close()
            }
        }

        @Test(.timeLimit(.minutes(1))) func anUnreachableServerIsAnErrorNotAWait() async throws {
            // A refused connection is reported as such, at once and again on the next command;
            // the time limit only catches a client that would wait forever.
            let client = try RedisClient(url: "redis://127.0.0.1:1/0")
            await #expect(throws: RedisError.connectionClosed) { try await client.send("PING") }
            await #expect(throws: RedisError.connectionClosed) { try await client.send("PING") }
            await client.close()
        }
    }

    @Suite struct SharedRouterStateTests {
        static func yaml(_ url: String) -> String {
            """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            redis: {url: "\(url)", key_prefix: "test-\(UInt32.random(in: 0...UInt32.max))"}
            router: {sync_interval: 100ms, retry: {attempts: 1, backoff: 1ms}, circuit_breaker: {consecutive_failures: 2, cooldown: 60s}}
            providers:
              - {name: bad, type: mock, options: {fail_percent: "100"}}
              - {name: good, type: mock}
            models:
              - name: pool
                strategy: round-robin
                deployments: [{provider: bad, model: m}, {provider: good, model: m}]
            """
        }

        @Test func aBreakerOpenedOnOneInstanceKeepsTheOthersAwayToo() async throws {
            try await withRedisServer { url in
                let yaml = Self.yaml(url)
                let (first, _) = try makeGateway(yaml)
                let (second, _) = try makeGateway(yaml)
                try await first.makeApplication().test(.live) { one in
                    try await second.makeApplication().test(.live) { two in
                        for _ in 0..<4 {
                            let response = try await one.execute(
                                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "pool"))
                            #expect(response.status == .ok)
                        }
                        let badOnFirst = (first.runtime.snapshot.adapters["bad"] as? MockProviderAdapter)?.mock.stats.requests ?? 0
                        #expect(badOnFirst == 2, "two failures opened the breaker on the first instance")
                        // The second instance learns it through Redis without any traffic of its own.
                        let open = try await eventually {
                            let explained = try await two.execute(
                                uri: "/v1/route/explain", method: .post, headers: authorized, body: chatBody(model: "pool"))
                            return explained.json?["candidates"]?.arrayValue?.first?["breaker"]?.stringValue == "open"
                        }
                        #expect(open)
                        for _ in 0..<6 {
                            let response = try await two.execute(
                                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "pool"))
                            #expect(response.headers[HTTPField.Name("x-switchyard-deployment")!] == "good/m")
                        }
                        let badOnSecond = (second.runtime.snapshot.adapters["bad"] as? MockProviderAdapter)?.mock.stats.requests ?? -1
                        #expect(badOnSecond == 0, "the second instance never sent the failing deployment a request")
                    }
                }
            }
        }

        @Test func redisOutagesOnlyMeanLocalDecisions() async throws {
            let yaml = Self.yaml("redis://127.0.0.1:1/0")
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in
                for _ in 0..<3 {
                    let response = try await client.execute(
                        uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "pool"))
                    #expect(response.status == .ok)
                }
                // The router syncs every 100 ms in the background; wait for its first failed sync.
                let metrics = try await metricsText(client, containing: #"switchyard_redis_errors_total{operation="router_sync"}"#)
                #expect(metrics.contains(#"switchyard_redis_errors_total{operation="router_sync"}"#))
            }
        }
    }
}
