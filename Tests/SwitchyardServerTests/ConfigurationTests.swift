import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

@Suite struct ConfigurationTests {
    @Test func yamlProblemsAreReportedWithFileAndLine() throws {
        let yaml = """
            server:
              port: 8080
              max_body_sise: 1MiB
            providers:
              - name: openai
                type: openai
                api_key: env:SWITCHYARD_TEST_UNSET_VARIABLE
            models:
              - name: gpt
                provider: opnai
            """
        let node = try YAMLConfigReader.parse(yaml, file: "switchyard.yaml")
        let outcome = ConfigLoader(environment: [:], fileExists: { _ in false }).load(node, source: "switchyard.yaml")
        let lines = outcome.errors.map(\.description)
        #expect(
            lines.contains {
                $0.hasPrefix("switchyard.yaml:3:3: error: unknown key 'server.max_body_sise'") && $0.contains("did you mean 'max_body_size'")
            })
        #expect(lines.contains { $0.hasPrefix("switchyard.yaml:7:14: error:") && $0.contains("SWITCHYARD_TEST_UNSET_VARIABLE is not set") })
        #expect(
            lines.contains {
                $0.hasPrefix("switchyard.yaml:9:5: error:") && $0.contains("unknown provider 'opnai'") && $0.contains("did you mean 'openai'")
            })
    }

    @Test func yamlSyntaxErrorsHaveAPosition() {
        do {
            _ = try YAMLConfigReader.parse("server:\n  port: [1,\n", file: "bad.yaml")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.diagnostics.first?.location?.file == "bad.yaml")
            #expect((error.diagnostics.first?.location?.line ?? 0) >= 2)
        }
    }

    static func config(models: [String], extra: String = "") -> String {
        """
        server:
          port: 0
          reload_check_interval: 100ms
        \(extra)
        providers:
          - name: mock
            type: mock
        models:
        \(models.map { "  - name: \($0)\n    provider: mock\n    model: mock-gpt" }.joined(separator: "\n"))
        """
    }

    @Test func fileChangesAreReloadedAtomicallyAndInvalidFilesRejected() async throws {
        let (application, path) = try makeGateway(Self.config(models: ["alpha"]))
        let app = try application.makeApplication()
        try await app.test(.live) { client in
            let headers: HTTPFields = [.contentType: "application/json"]
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "alpha")).status == .ok)

            // A slow stream that started on the old configuration.
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(chatBody(#","stream":true,"mock":{"chunks":10,"hold_after":3}"#, model: "alpha"))
            let inFlight = Task {
                let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
                var text = ""
                for try await chunk in response.body { text += String(buffer: chunk) }
                return text
            }
            // The stream is held in the middle at the mock until the new configuration is live.
            let mock = try #require((application.runtime.snapshot.adapters["mock"] as? MockProviderAdapter)?.mock)
            #expect(await eventually { mock.gate.waiting == 1 })

            _ = try writeConfig(Self.config(models: ["beta"]), path: path)
            #expect(await eventually { application.runtime.snapshot.generation == 2 })
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "beta")).status == .ok)
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "alpha")).status
                    == .notFound)

            mock.gate.open()
            let streamed = try await inFlight.value
            #expect(sseData(streamed).last == "[DONE]", "the request in flight finished on the old configuration")
            #expect(!streamed.contains("\"error\""))

            // An invalid file is rejected and the running configuration stays.
            _ = try writeConfig("providers:\n  - name: broken\n    type: nonsense\n", path: path)
            #expect(
                try await eventually {
                    try await application.audit.list(kind: "config").contains { $0.action == "config.reload" && $0.outcome == "failed" }
                }, "the watcher read the file and rejected it")
            #expect(application.runtime.snapshot.generation == 2)
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "beta")).status == .ok)

            // An explicit reload (what SIGHUP triggers) picks up a valid file.
            _ = try writeConfig(Self.config(models: ["gamma"]), path: path)
            #expect(application.reload(reason: "test"))
            #expect(
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "gamma")).status == .ok)
        }
    }

    @Test func gracefulShutdownLetsStreamsInFlightFinish() async throws {
        let (application, _) = try makeGateway(Self.config(models: ["alpha"]))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try application.makeApplication { port in continuation.yield(port) }
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [], logger: quietLogger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            // Held in the middle at the mock until the shutdown has begun.
            request.body = .bytes(chatBody(#","stream":true,"mock":{"chunks":10,"hold_after":3}"#, model: "alpha"))
            let response = try await testHTTPClient.execute(request, timeout: .seconds(60))
            #expect(response.status == .ok)
            let mock = try #require((application.runtime.snapshot.adapters["mock"] as? MockProviderAdapter)?.mock)
            #expect(await eventually { mock.gate.waiting == 1 })
            await group.triggerGracefulShutdown()
            mock.gate.open()
            var text = ""
            for try await chunk in response.body { text += String(buffer: chunk) }
            #expect(sseData(text).last == "[DONE]")
            #expect(!text.contains("\"error\""))
            try await tasks.waitForAll()
        }
    }
}
