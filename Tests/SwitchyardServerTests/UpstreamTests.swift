import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Synchronization
import Testing

/// End-to-end over real sockets: client → gateway → OpenAI-compatible adapter → mock upstream.
@Suite struct UpstreamTests {
    func withGateway(
        mock: MockProvider = MockProvider(requiredAPIKey: "provider-secret-key"),
        extraServer: String = "",
        extraProvider: String = "",
        _ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void
    ) async throws {
        try await withMockUpstream(mock) { mock, port in
            let (application, _) = try makeGateway(upstreamConfig(port: port, extraServer: extraServer, extraProvider: extraProvider))
            let app = try application.makeApplication()
            try await app.test(.live) { client in
                try await test(client, mock)
            }
        }
    }

    @Test func forwardsWithProviderKeyAndRewritesTheModel() async throws {
        try await withGateway { client, mock in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "gt"))
            #expect(response.status == .ok)
            #expect(response.json?["model"]?.stringValue == "mock-gpt")
            let sent = try #require(mock.stats.lastBodyJSON)
            #expect(sent["model"]?.stringValue == "mock-gpt")
            #expect(sent["messages"]?.arrayValue?.first?["content"]?.stringValue == "hello")
            #expect(
                !mock.stats.lastHeaders.contains { $0.name.lowercased().hasSuffix("request-id") },
                "an OpenAI-compatible server gets no request id header it did not ask for")
        }
    }

    @Test func aProviderThatEchoesItsKeyMidStreamDoesNotLeakIt() async throws {
        try await withGateway { client, _ in
            let body = chatBody(#","stream":true,"mock":{"error_after":2,"error_message":"Incorrect API key provided: provider-secret-key."}"#)
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: body)
            #expect(response.status == .ok)
            #expect(response.text.contains("reported an error mid-stream"), "the error event still arrives")
            #expect(!response.text.contains("provider-secret-key"), "the provider's key is scrubbed")
            #expect(response.text.contains("[redacted]"))
        }
    }

    @Test func theRequestIDHeaderUpstreamIsAPerProviderSetting() async throws {
        try await withGateway(extraProvider: "    request_id_header: X-Correlation-Id") { client, mock in
            var headers = authorized
            headers[HTTPField.Name("x-request-id")!] = "client-chosen-id-1"
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "gt"))
            #expect(response.status == .ok)
            let sent = mock.stats.lastHeaders.filter { $0.name.lowercased() == "x-correlation-id" }
            // The gateway's own record id (the client's id is echoed separately).
            #expect(sent.count == 1 && sent.first?.value == response.headers[HTTPField.Name("x-switchyard-request-id")!])
            #expect(sent.first?.value != "client-chosen-id-1")
            #expect(!mock.stats.lastHeaders.contains { $0.name.lowercased() == "x-request-id" })
        }
        #expect(throws: ConfigError.self) {
            try makeGateway(upstreamConfig(port: 1, extraProvider: "    request_id_header: \"bad header: name\""))
        }
    }

    @Test func aProviderThatReportsNoUsageIsCountedByTheGateway() async throws {
        let mock = MockProvider(defaults: { var behaviour = MockBehaviour(); behaviour.omitUsage = true; return behaviour }(), requiredAPIKey: "provider-secret-key")
        try await withGateway(mock: mock) { client, _ in
            // A stream whose client asked for usage: the gateway's count arrives as the usage chunk.
            let streamed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#, content: "Count the words of this prompt, please."))
            let events = sseData(streamed.text)
            #expect(events.last == "[DONE]")
            let usageChunk = try JSONValue.parse(try #require(events.dropLast().last))
            #expect(usageChunk["choices"]?.arrayValue?.isEmpty == true)
            #expect((usageChunk["usage"]?["prompt_tokens"]?.intValue ?? 0) > 5)
            #expect((usageChunk["usage"]?["completion_tokens"]?.intValue ?? 0) > 0)
            // Without include_usage the client sees no usage chunk, but the ledger still counts.
            let plain = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#))
            #expect(!sseData(plain.text).contains { $0.contains("\"usage\":{") })
            let complete = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
            #expect(complete.status == .ok)
            let usage = try await client.execute(uri: "/admin/logs?limit=10", method: .get, headers: authorized)
            let rows = usage.json?["data"]?.arrayValue ?? []
            #expect(rows.count == 3)
            for row in rows {
                #expect((row["completion_tokens"]?.intValue ?? 0) > 0, "counted by the gateway: \(row)")
                #expect(row["usage_source"]?.stringValue == "gateway")
            }
        }
    }

    @Test func streamForcesUsageUpstreamAndStripsItForTheClient() async throws {
        try await withGateway { client, mock in
            let plain = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#))
            #expect(plain.status == .ok)
            #expect(mock.stats.lastBodyJSON?["stream_options"]?["include_usage"]?.boolValue == true)
            let events = sseData(plain.text)
            #expect(events.last == "[DONE]")
            #expect(!events.contains { $0.contains("\"prompt_tokens\"") })

            let withUsage = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#)
            )
            let usageEvents = sseData(withUsage.text)
            let usageChunk = try JSONValue.parse(try #require(usageEvents.dropLast().last))
            #expect(usageChunk["choices"]?.arrayValue?.isEmpty == true)
            #expect(usageChunk["usage"]?["completion_tokens"]?.intValue == 8)
            #expect(usageEvents.filter { $0 == "[DONE]" }.count == 1)
        }
    }

    @Test func upstreamErrorsBecomeMappedEnvelopes() async throws {
        // Breaker off: these failures are requested per call, not a sick deployment.
        try await withGateway(extraServer: "router:\n  circuit_breaker: false") { client, _ in
            let serverError = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"status":500}"#))
            #expect(serverError.status == .badGateway)
            #expect(serverError.json?["error"]?["message"]?.stringValue?.contains("Mock failure") == true)

            let unavailable = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true,"mock":{"status":503}"#))
            #expect(unavailable.status == .serviceUnavailable, "a stream that fails before its first byte is a plain HTTP error")
            #expect(unavailable.json?["error"] != nil)

            let malformed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"malformed":true}"#))
            #expect(malformed.status == .badGateway)
            #expect(malformed.json?["error"]?["code"]?.stringValue == "upstream_invalid_response")

            // Last: a Retry-After keeps the deployment out of rotation for that long.
            let limited = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"status":429,"retry_after":"7"}"#))
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "7")
            #expect(limited.json?["error"]?["type"]?.stringValue == "rate_limit_error")
        }
    }

    @Test func providerCredentialFailureNeverLeaksTheKey() async throws {
        try await withGateway(mock: MockProvider(requiredAPIKey: "a-different-key")) { client, _ in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_authentication_error")
            #expect(!response.text.contains("provider-secret-key"))
        }
    }

    @Test func midStreamFailuresEndWithAnErrorEventAndDone() async throws {
        try await withGateway { client, _ in
            for knob in [#""drop_after":3"#, #""error_after":3"#, #""malformed":true"#] {
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized,
                    body: chatBody(#","stream":true,"mock":{\#(knob)}"#)
                )
                #expect(response.status == .ok, "\(knob)")
                let events = sseData(response.text)
                #expect(events.last == "[DONE]", "\(knob)")
                let error = try JSONValue.parse(try #require(events.dropLast().last))
                #expect(error["error"]?["message"]?.stringValue != nil, "\(knob)")
                #expect(error["error"]?["type"]?.stringValue == "api_error", "\(knob)")
                let content = events.dropLast(2).compactMap { try? JSONValue.parse($0) }
                    .compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
                #expect(!content.isEmpty, "\(knob): content before the failure reached the client")
            }
        }
    }

    @Test func unreachableProviderIs502() async throws {
        let (application, _) = try makeGateway(upstreamConfig(port: 1))
        let app = try application.makeApplication()
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
            #expect(response.status == .badGateway)
            #expect(response.json?["error"]?["code"]?.stringValue == "upstream_connection_error")
        }
    }

    @Test func slowProviderTimesOutWith504() async throws {
        try await withGateway(extraProvider: "    timeouts: {read: 300ms}") { client, mock in
            // The mock holds the answer at its gate, which opens only after the client's answer.
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"hold":true}"#))
            #expect(response.status == .gatewayTimeout)
            #expect(response.json?["error"]?["type"]?.stringValue == "timeout_error")
            #expect(mock.stats.requests >= 1, "each attempt (retries included) reached the mock")
            #expect(mock.gate.released == 0, "the read timeout answered while every upstream answer was still held")
            mock.gate.open()
        }
    }

    @Test func embeddingsAndCompletionsPassThrough() async throws {
        try await withGateway { client, mock in
            let embeddings = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"embed","input":"hello","encoding_format":"base64"}"#)
            )
            #expect(embeddings.status == .ok)
            #expect(embeddings.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue != nil)
            #expect(mock.stats.lastPath == "/v1/embeddings")
            let completion = try await client.execute(
                uri: "/v1/completions", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"gpt-test","prompt":"p","stream":true}"#)
            )
            #expect(sseData(completion.text).last == "[DONE]")
            #expect(mock.stats.lastPath == "/v1/completions")
        }
    }

    @Test func clientDisconnectBeforeFirstTokenCancelsUpstreamAtOnce() async throws {
        try await withGateway { client, mock in
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "application/json")
            // The first token would take ten minutes: only a cancellation ends the upstream stream
            // within the wait below.
            request.body = .bytes(chatBody(#","stream":true,"mock":{"first_token_delay_ms":600000}"#))
            let task = Task {
                _ = try await testHTTPClient.execute(request, timeout: .seconds(600))
            }
            #expect(await eventually { mock.stats.startedStreams == 1 }, "the upstream stream has begun")
            task.cancel()
            #expect(await eventually { mock.stats.cancelledStreams == 1 }, "upstream stream was not cancelled")
            #expect(mock.stats.completedStreams == 0)
            let metrics = try await metricsText(client, containing: #"status="499",outcome="client_disconnected"} 1"#)
            #expect(metrics.contains(#"status="499",outcome="client_disconnected"} 1"#))
        }
    }

    @Test func clientDisconnectMidStreamCancelsUpstream() async throws {
        try await withGateway { client, mock in
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(chatBody(#","stream":true,"mock":{"chunks":2400,"chunk_bytes":8,"chunk_delay_ms":50}"#))
            let response = try await testHTTPClient.execute(request, timeout: .seconds(600))
            #expect(response.status == .ok)
            var iterator = response.body.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first != nil)
            let reads = Mutex(0)
            let task = Task { [iterator] in
                var iterator = iterator
                while try await iterator.next() != nil { reads.withLock { $0 += 1 } }
            }
            #expect(await eventually { reads.withLock { $0 } >= 1 }, "the client is reading mid-stream")
            task.cancel()
            // The upstream stream lasts two minutes (2400 fixed-size chunks; without chunk_bytes the
            // mock splits its short answer into far fewer): only a cancellation ends it within the wait.
            #expect(await eventually { mock.stats.cancelledStreams == 1 }, "upstream stream was not cancelled")
            #expect(mock.stats.completedStreams == 0)
        }
    }

    @Test func streamedEventsArriveAsTheyAreProduced() async throws {
        try await withGateway { client, mock in
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "application/json")
            // The mock sends three events, then holds the rest of the stream at its gate.
            request.body = .bytes(chatBody(#","stream":true,"mock":{"chunks":5,"hold_after":3}"#))
            let response = try await testHTTPClient.execute(request, timeout: .seconds(60))
            var iterator = response.body.makeAsyncIterator()
            var text = ""
            func content() -> String {
                sseData(text).compactMap { try? JSONValue.parse($0) }
                    .compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            }
            while content().isEmpty, let chunk = try await iterator.next() { text += String(buffer: chunk) }
            // Unbuffered forwarding: content reached the client while the upstream stream was
            // still held in the middle.
            #expect(!content().isEmpty)
            #expect(mock.stats.completedStreams == 0, "the upstream stream is still unfinished")
            #expect(await eventually { mock.gate.waiting == 1 }, "held in the middle at the mock")
            mock.gate.open()
            while let chunk = try await iterator.next() { text += String(buffer: chunk) }
            #expect(sseData(text).last == "[DONE]")
            #expect(mock.stats.completedStreams == 1)
        }
    }
}
