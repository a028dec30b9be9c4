import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Synchronization
import Testing

/// OpenTelemetry traces end to end: the client's traceparent continued, a server span per
/// request with stage and attempt spans under it, the provider called with the attempt as
/// parent, and every span exported over OTLP/HTTP to a collector.
@Suite struct TracingTests {
    static let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let clientSpan = "00f067aa0ba902b7"

    /// What a collector stub received: spans in arrival order, each export's resource and headers.
    struct Received: Sendable {
        var spans: [JSONValue] = []
        var resources: [JSONValue] = []
        var headers: [HTTPFields] = []
        /// Exports answered (after the collector's delay).
        var answered = 0
    }

    /// A collector stub: POST /v1/traces, OTLP JSON, spans kept in arrival order.
    static func withCollector(_ body: @Sendable (Int, @escaping @Sendable () -> [JSONValue]) async throws -> Void) async throws {
        try await withRecordingCollector { port, received in try await body(port) { received().spans } }
    }

    /// `delay`: how long the collector takes to answer each export (after recording it).
    static func withRecordingCollector(
        delay: Duration = .zero, _ body: @Sendable (Int, @escaping @Sendable () -> Received) async throws -> Void
    ) async throws {
        let received = Mutex(Received())
        let router = Router()
        router.post("/v1/traces") { request, _ -> HTTPResponse.Status in
            var request = request
            #expect(request.headers[.contentType] == "application/json")
            let body = try await request.collectBody(upTo: 16 << 20)
            let json = try JSONValue.parse(Array(buffer: body))
            received.withLock { received in
                received.headers.append(request.headers)
                for resource in json["resourceSpans"]?.arrayValue ?? [] {
                    received.resources.append(resource["resource"] ?? .null)
                    for scope in resource["scopeSpans"]?.arrayValue ?? [] { received.spans += scope["spans"]?.arrayValue ?? [] }
                }
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            received.withLock { $0.answered += 1 }
            return .ok
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { collector in
            try await body(try #require(collector.port)) { received.withLock { $0 } }
        }
    }

    static func attribute(_ span: JSONValue?, _ key: String) -> JSONValue? {
        span?["attributes"]?.arrayValue?.first { $0["key"]?.stringValue == key }?["value"]
    }

    static func tracing(_ port: Int, ratio: Double = 1) -> String {
        "tracing: {endpoint: \"http://127.0.0.1:\(port)/v1/traces\", export_interval: 100ms, sample_ratio: \(ratio)}"
    }

    @Test func aRequestIsOneTraceFromClientThroughGatewayToProviderAndReachesTheCollector() async throws {
        try await Self.withCollector { collectorPort, exported in
            try await withMockUpstream { mock, upstreamPort in
                let yaml = upstreamConfig(port: upstreamPort) + "\n" + Self.tracing(collectorPort) + "\ncache: {enabled: true}"
                let (application, _) = try makeGateway(yaml)
                try await application.makeApplication().test(.live) { client in
                    var headers = authorized
                    headers[HTTPField.Name("traceparent")!] = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
                    headers[HTTPField.Name("tracestate")!] = "vendor=abc"
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody())
                    #expect(response.status == .ok)
                    #expect(response.headers[HTTPField.Name("x-switchyard-trace-id")!] == Self.clientTrace)

                    // The provider was called inside the client's trace, with a new parent span.
                    let upstream = mock.stats.lastHeaders
                    let sent = try #require(upstream.first { $0.name.lowercased() == "traceparent" }.flatMap { SpanIdentity(traceparent: $0.value) })
                    #expect(sent.traceID == Self.clientTrace && sent.spanID != Self.clientSpan && sent.sampled)
                    #expect(upstream.first { $0.name.lowercased() == "tracestate" }?.value == "vendor=abc")

                    // Exported in the background: wait for the server, attempt and cache-lookup spans.
                    #expect(
                        await eventually {
                            let spans = exported()
                            return spans.contains { $0["kind"]?.intValue == 2 } && spans.contains { $0["kind"]?.intValue == 3 }
                                && spans.contains { $0["name"]?.stringValue == "switchyard.cache.lookup" }
                        })
                    let spans = exported()
                    #expect(spans.allSatisfy { $0["traceId"]?.stringValue == Self.clientTrace })
                    let server = try #require(spans.first { $0["kind"]?.intValue == 2 })
                    #expect(server["name"]?.stringValue == "POST /v1/chat/completions")
                    #expect(server["parentSpanId"]?.stringValue == Self.clientSpan)
                    #expect(Self.attribute(server, "http.response.status_code")?["intValue"]?.stringValue == "200")
                    #expect(Self.attribute(server, "gen_ai.request.model")?["stringValue"]?.stringValue == "gpt-test")
                    #expect(Self.attribute(server, "switchyard.cache.status")?["stringValue"]?.stringValue == "miss")
                    let serverID = server["spanId"]?.stringValue
                    let attempt = try #require(spans.first { $0["kind"]?.intValue == 3 })
                    #expect(attempt["name"]?.stringValue == "chat mock-gpt")
                    #expect(attempt["spanId"]?.stringValue == sent.spanID, "the provider's parent is the attempt span")
                    #expect(attempt["parentSpanId"]?.stringValue == serverID)
                    #expect(Self.attribute(attempt, "gen_ai.provider.name")?["stringValue"]?.stringValue == "upstream")
                    #expect(Self.attribute(attempt, "gen_ai.usage.output_tokens")?["intValue"]?.stringValue.flatMap(Int.init) ?? 0 > 0)
                    let lookup = try #require(spans.first { $0["name"]?.stringValue == "switchyard.cache.lookup" })
                    #expect(lookup["parentSpanId"]?.stringValue == serverID && lookup["kind"]?.intValue == 1)

                    // Counted once the export's POST has answered, just after the collector saw it.
                    let metrics = try await metricsText(client, containing: "switchyard_trace_spans_exported_total")
                    #expect(metrics.contains("switchyard_trace_spans_exported_total"))
                }
            }
        }
    }

    /// One chat request through a gateway on the mock upstream whose environment (and YAML
    /// tail, if any) are given the collector's port; `check` sees the answer, the mock and what
    /// the collector received.
    static func oneRequestWithEnvironment(
        _ environment: @escaping @Sendable (_ collectorPort: Int) -> [String: String],
        yaml: @escaping @Sendable (_ collectorPort: Int) -> String = { _ in "" },
        _ check: @escaping @Sendable (TestResponse, MockProvider, @escaping @Sendable () -> Received) async throws -> Void
    ) async throws {
        try await withRecordingCollector { collectorPort, received in
            try await withMockUpstream { mock, upstreamPort in
                let config = upstreamConfig(port: upstreamPort) + "\n" + yaml(collectorPort)
                let (application, _) = try makeGateway(config, environment: environment(collectorPort))
                try await application.makeApplication().test(.live) { client in
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
                    #expect(response.status == .ok)
                    try await check(response, mock, received)
                }
            }
        }
    }

    @Test func theStandardOpenTelemetryVariablesConfigureTracing() async throws {
        // No tracing: section at all: the environment alone turns tracing on.
        try await Self.oneRequestWithEnvironment { collectorPort in
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)/",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-key=key%20one,x-tenant=acme",
                "OTEL_SERVICE_NAME": "gateway-from-env",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,service.name=ignored",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.0",
            ]
        } _: { _, _, received in
            #expect(await eventually { received().spans.contains { $0["kind"]?.intValue == 2 } })
            let export = received()
            let resource = try #require(export.resources.first)
            #expect(Self.attribute(resource, "service.name")?["stringValue"]?.stringValue == "gateway-from-env")
            #expect(Self.attribute(resource, "deployment.environment")?["stringValue"]?.stringValue == "staging")
            let headers = try #require(export.headers.first)
            #expect(headers[HTTPField.Name("x-collector-key")!] == "key one")
            #expect(headers[HTTPField.Name("x-tenant")!] == "acme")
        }
    }

    @Test func theFileWinsOverTheOpenTelemetryVariables() async throws {
        try await Self.oneRequestWithEnvironment { _ in
            [
                // Nothing listens here: only the file's endpoint can receive the spans.
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces",
                "OTEL_SERVICE_NAME": "gateway-from-env",
                "OTEL_RESOURCE_ATTRIBUTES": "team=payments",
            ]
        } yaml: { collectorPort in
            "tracing: {endpoint: \"http://127.0.0.1:\(collectorPort)/v1/traces\", export_interval: 100ms, service_name: from-file}"
        } _: { _, _, received in
            #expect(await eventually { received().spans.contains { $0["kind"]?.intValue == 2 } })
            let resource = try #require(received().resources.first)
            #expect(Self.attribute(resource, "service.name")?["stringValue"]?.stringValue == "from-file")
            // Fields the file does not set still come from the environment.
            #expect(Self.attribute(resource, "team")?["stringValue"]?.stringValue == "payments")
        }
    }

    @Test func theSamplerVariableCanTurnSamplingOff() async throws {
        try await Self.oneRequestWithEnvironment { collectorPort in
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:\(collectorPort)/v1/traces", "OTEL_TRACES_SAMPLER": "always_off"]
        } _: { _, mock, received in
            // The trace is still propagated, but marked unsampled, and nothing is recorded.
            let sent = mock.stats.lastHeaders.first { $0.name.lowercased() == "traceparent" }.flatMap { SpanIdentity(traceparent: $0.value) }
            #expect(sent?.sampled == false)
            #expect(received().spans.isEmpty)
        }
    }

    @Test func streamsFailedAttemptsAndSamplingAreTraced() async throws {
        try await Self.withCollector { collectorPort, exported in
            let yaml = """
                server: {port: 0, master_key: test-master-key, reload_check_interval: off}
                router: {retry: {attempts: 0}}
                providers:
                  - {name: bad, type: mock, options: {fail_percent: 100}}
                  - {name: good, type: mock}
                models:
                  - {name: primary, provider: bad, model: m, fallbacks: [backup]}
                  - {name: backup, provider: good, model: m}
                \(Self.tracing(collectorPort))
                """
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in
                let streamed = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"#, model: "primary"))
                #expect(streamed.status == .ok)
                let trace = try #require(streamed.headers[HTTPField.Name("x-switchyard-trace-id")!])
                // Exported in the background: wait for the server span and both attempt spans.
                #expect(
                    await eventually {
                        let spans = exported().filter { $0["traceId"]?.stringValue == trace }
                        return spans.contains { $0["kind"]?.intValue == 2 } && spans.count(where: { $0["kind"]?.intValue == 3 }) >= 2
                    })
                let spans = exported().filter { $0["traceId"]?.stringValue == trace }
                let attempts = spans.filter { $0["kind"]?.intValue == 3 }
                #expect(attempts.count == 2, "the failed attempt and the fallback")
                let failed = try #require(attempts.first { Self.attribute($0, "gen_ai.provider.name")?["stringValue"]?.stringValue == "bad" })
                #expect(failed["status"]?["code"]?.intValue == 2)
                #expect(Self.attribute(failed, "error.type") != nil)
                let answered = try #require(attempts.first { Self.attribute($0, "gen_ai.provider.name")?["stringValue"]?.stringValue == "good" })
                #expect(answered["status"] == nil)
                #expect(Self.attribute(answered, "gen_ai.server.time_to_first_token")?["doubleValue"] != nil)
                let server = try #require(spans.first { $0["kind"]?.intValue == 2 })
                #expect(server["parentSpanId"] == nil, "no traceparent from the client: a new trace")
                // The server span ends after the stream's last byte.
                let serverEnd = server["endTimeUnixNano"]?.stringValue.flatMap(UInt64.init) ?? 0
                let answeredEnd = answered["endTimeUnixNano"]?.stringValue.flatMap(UInt64.init) ?? .max
                #expect(serverEnd >= answeredEnd)

                // An unsampled parent: nothing exported, but the trace id still reaches nobody's logs as sampled.
                var headers = authorized
                headers[HTTPField.Name("traceparent")!] = "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-00"
                let unsampled = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody(model: "backup"))
                #expect(unsampled.status == .ok)
                #expect(unsampled.headers[HTTPField.Name("x-switchyard-trace-id")!] == nil)
                // Spans are exported in the order they end: once a later sampled request's server
                // span has arrived, any span of the unsampled one would have arrived too.
                let marker = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "backup"))
                let markerTrace = try #require(marker.headers[HTTPField.Name("x-switchyard-trace-id")!])
                #expect(
                    await eventually {
                        exported().contains { $0["traceId"]?.stringValue == markerTrace && $0["kind"]?.intValue == 2 }
                    })
                #expect(!exported().contains { $0["traceId"]?.stringValue == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" })
            }
        }
    }

    /// Under load the exporter sends full batches: spans that end while a batch is out wait for
    /// the next full batch (or the interval), instead of going out as a stream of small exports.
    @Test func spansEndingDuringAnExportWaitForAFullBatch() async throws {
        try await Self.withRecordingCollector(delay: .milliseconds(400)) { collectorPort, received in
            try await withMockUpstream { _, upstreamPort in
                let yaml =
                    upstreamConfig(port: upstreamPort)
                    + "\ntracing: {endpoint: \"http://127.0.0.1:\(collectorPort)/v1/traces\", batch_size: 4, export_interval: 10m}"
                let (application, _) = try makeGateway(yaml)
                try await application.makeApplication().test(.live) { client in
                    func request() async throws {
                        let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
                        #expect(response.status == .ok)
                    }
                    // Two requests, a server and an attempt span each: a full batch leaves.
                    try await request()
                    try await request()
                    #expect(await eventually { received().headers.count == 1 })
                    // While the collector takes its time with it, two more spans end: half a batch,
                    // which stays queued when the export returns.
                    try await request()
                    #expect(await eventually { received().answered == 1 })
                    // The next two complete a batch, which leaves on its own.
                    try await request()
                    #expect(await eventually { received().spans.count >= 8 })
                    #expect(received().headers.count == 2, "two exports of four spans, no small export of the half batch")
                    #expect(received().spans.count == 8)
                    // One more request: less than a batch waits for the interval...
                    try await request()
                }
                // ...or for shutdown, which sends what is queued.
                #expect(received().spans.count == 10)
                #expect(received().headers.count == 3)
            }
        }
    }

    /// `max_queue` bounds what waits for export: the oldest spans go first, each one counted,
    /// and what is left is exported in order (here at shutdown: the interval never comes).
    @Test func aFullQueueDropsItsOldestSpansAndCountsThem() async throws {
        try await Self.withCollector { collectorPort, exported in
            try await withMockUpstream { _, upstreamPort in
                let yaml =
                    upstreamConfig(port: upstreamPort)
                    + "\ntracing: {endpoint: \"http://127.0.0.1:\(collectorPort)/v1/traces\", batch_size: 1000, export_interval: 10m, max_queue: 3}"
                let (application, _) = try makeGateway(yaml)
                let traces = (1...40).map { String(format: "%032x", 0xabc000 + $0) }
                try await application.makeApplication().test(.live) { client in
                    for trace in traces {
                        var headers = authorized
                        headers[HTTPField.Name("traceparent")!] = "00-\(trace)-\(Self.clientSpan)-01"
                        let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody())
                        #expect(response.status == .ok)
                    }
                    let metrics = try await client.execute(uri: "/metrics", method: .get).text
                    #expect(exported().isEmpty, "nothing leaves before the interval, a full batch or shutdown")
                    let dropped = metrics.split(separator: "\n").first { $0.hasPrefix("switchyard_trace_spans_dropped_total ") }
                    let count = dropped.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
                    // Every request ends at least a server span and an attempt span.
                    #expect(count >= 40 * 2 - 3, "dropped: \(dropped.map(String.init) ?? "none")")
                }
                let spans = exported()
                #expect(spans.count == 3)
                // The three spans that ended last, in order: the newest chat request's attempt and
                // server spans, then the server span of the request for /metrics.
                #expect(
                    spans.map { $0["name"]?.stringValue ?? "" } == ["chat mock-gpt", "POST /v1/chat/completions", "GET /metrics"])
                #expect(spans.prefix(2).allSatisfy { $0["traceId"]?.stringValue == traces.last })
            }
        }
    }

    @Test func propagationCanBeTurnedOffForProvidersOutsideTheTrustBoundary() async throws {
        try await Self.withCollector { collectorPort, _ in
            try await withMockUpstream { mock, port in
                let yaml = upstreamConfig(port: port) + "\ntracing: {endpoint: \"http://127.0.0.1:\(collectorPort)/v1/traces\", propagate: false}"
                let (application, _) = try makeGateway(yaml)
                try await application.makeApplication().test(.live) { client in
                    var headers = authorized
                    headers[HTTPField.Name("traceparent")!] = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
                    let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody())
                    #expect(response.headers[HTTPField.Name("x-switchyard-trace-id")!] == Self.clientTrace, "still traced")
                    #expect(!mock.stats.lastHeaders.contains { $0.name.lowercased() == "traceparent" })
                }
            }
        }
    }

    @Test func theMockProviderDoublesAsACollector() async throws {
        try await withMockUpstream { mock, port in
            let yaml = upstreamConfig(port: port) + "\ntracing: {endpoint: \"http://127.0.0.1:\(port)/v1/traces\", export_interval: 100ms}"
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody())
                #expect(response.status == .ok)
                #expect(await eventually { mock.stats.spansReceived >= 2 }, "the server and the attempt span")
                #expect(mock.stats.requests == 1, "trace exports are not counted as model requests")
            }
        }
    }

    @Test func tracingOffLeavesTheClientsTraceparentUntouched() async throws {
        try await withMockUpstream { mock, port in
            let (application, _) = try makeGateway(upstreamConfig(port: port))
            try await application.makeApplication().test(.live) { client in
                var headers = authorized
                let header = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
                headers[HTTPField.Name("traceparent")!] = header
                let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: chatBody())
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-switchyard-trace-id")!] == nil)
                #expect(mock.stats.lastHeaders.first { $0.name.lowercased() == "traceparent" }?.value == header)
            }
        }
    }
}
