import Instrumentation
import Synchronization
import Testing
import Tracing

@testable import SwitchyardCore

/// The tracer's W3C trace context handling, sampling and OTLP JSON encoding.
@Suite struct TracingTests {
    final class Collected: SpanSink, Sendable {
        let spans = Mutex<[FinishedSpan]>([])
        func spanEnded(_ span: FinishedSpan) { spans.withLock { $0.append(span) } }
        func flush() {}
        var all: [FinishedSpan] { spans.withLock { $0 } }
    }

    static func tracer(ratio: Double = 1) -> (SwitchyardTracer, Collected) {
        let sink = Collected()
        var settings = TracingSettings()
        settings.enabled = true
        settings.sampleRatio = ratio
        let frozen = settings
        return (SwitchyardTracer(sink: sink) { frozen }, sink)
    }

    @Test func traceparentIsParsedByTheW3CRules() {
        let valid = SpanIdentity(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", traceState: "congo=t61rcWkgMzE")
        #expect(valid?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && valid?.spanID == "00f067aa0ba902b7")
        #expect(valid?.sampled == true && valid?.traceState == "congo=t61rcWkgMzE")
        #expect(SpanIdentity(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // A later version may add fields after a dash; a 00 header may not.
        #expect(SpanIdentity(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds") != nil)
        let invalid = [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 with more
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // no flags
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", "",
        ]
        for header in invalid { #expect(SpanIdentity(traceparent: header) == nil, "\(header)") }
    }

    @Test func aChildContinuesTheClientsTraceAndIsInjectedDownstream() {
        let (tracer, sink) = Self.tracer(ratio: 0)
        var context = InstrumentationContext.topLevel
        let incoming = [HeaderField("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), HeaderField("tracestate", "a=1")]
        tracer.extract(incoming, into: &context, using: HeaderFieldsExtractor())
        let server = tracer.startSpan("POST /v1/chat/completions", context: context, ofKind: .server)
        let client = tracer.startSpan("chat m", context: server.context, ofKind: .client)
        var outgoing = [HeaderField("traceparent", "00-11111111111111111111111111111111-2222222222222222-01")]
        tracer.inject(client.context, into: &outgoing, using: HeaderFieldsInjector())
        #expect(outgoing.count == 2, "the client's traceparent is replaced, tracestate carried: \(outgoing)")
        let sent = SpanIdentity(traceparent: outgoing.first { $0.name == "traceparent" }!.value)
        #expect(sent?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && sent?.spanID == client.identity.spanID && sent?.sampled == true)
        #expect(outgoing.first { $0.name == "tracestate" }?.value == "a=1")
        client.end()
        server.end()
        // A sampled parent is followed even when new traces are never sampled.
        let spans = sink.all
        #expect(spans.map(\.name) == ["chat m", "POST /v1/chat/completions"])
        #expect(spans[0].parentSpanID == server.identity.spanID && spans[1].parentSpanID == "00f067aa0ba902b7")
    }

    @Test func samplingDecidesNewTracesAndUnsampledSpansRecordNothing() {
        let (never, neverSink) = Self.tracer(ratio: 0)
        let span = never.startSpan("x", context: .topLevel, ofKind: .server)
        let child = never.startSpan("y", context: span.context, ofKind: .client)
        child.attributes["k"] = "v"
        #expect(!span.isRecording && !child.isRecording)
        #expect(child.identity.traceID == span.identity.traceID, "an unsampled trace still propagates one trace id")
        child.end()
        span.end()
        #expect(neverSink.all.isEmpty)

        let (sometimes, sometimesSink) = Self.tracer(ratio: 0.25)
        for _ in 0..<2000 { sometimes.startSpan("s", context: .topLevel, ofKind: .internal).end() }
        let kept = sometimesSink.all.count
        #expect(kept > 350 && kept < 650, "about a quarter of new traces: \(kept)")
    }

    @Test func manyAttributesAreWrittenOnceEachWithTheirLastValue() throws {
        let (tracer, sink) = Self.tracer()
        for count in [3, 48, 49, 120] {
            let span = tracer.startSpan("many", context: .topLevel)
            for round in 0..<3 {
                // Every third key is set again each round; the rest once, in the first round.
                span.set((0..<count).compactMap { i in
                    round == 0 || i % 3 == 0 ? ("k\(i)", .int64(Int64(round * 1000 + i))) : nil
                })
            }
            span.end()
            let json = OTLPTraceEncoding.request([try #require(sink.all.last)], serviceName: "s", serviceVersion: "1")
            let encoded = try #require(json["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue?.first?["attributes"]?
                .arrayValue)
            #expect(encoded.compactMap { $0["key"]?.stringValue } == (0..<count).map { "k\($0)" }, "\(count)")
            #expect(
                encoded.compactMap { $0["value"]?["intValue"]?.stringValue } == (0..<count).map { String($0 % 3 == 0 ? 2000 + $0 : $0) },
                "\(count)")
        }
    }

    @Test func spansAreEncodedAsOTLPJSON() throws {
        let (tracer, sink) = Self.tracer()
        let span = tracer.startSpan("chat gpt-4o", context: .topLevel, ofKind: .client)
        span.set([("gen_ai.usage.input_tokens", .int64(12)), ("gen_ai.request.model", .string("gpt-4o")), ("x.ratio", .double(0.5))])
        // A key set again keeps its last value, written once.
        span.set([("x.ratio", .double(0.75)), ("a.first", .bool(true))])
        span.set([("x.ratio", .double(0.5))])
        #expect(span.attributes["a.first"]?.toSpanAttribute() == .bool(true))
        #expect(span.attributes["x.ratio"]?.toSpanAttribute() == .double(0.5))
        span.recordError(GatewayError.internalError("boom"))
        span.setStatus(SpanStatus(code: .error, message: "failed"))
        span.end()
        span.end()
        #expect(sink.all.count == 1, "a span ends once")
        let json = OTLPTraceEncoding.request(sink.all, serviceName: "switchyard", serviceVersion: "1")
        let parsed = try JSONValue.parse(json.serializedBytes())
        let resource = try #require(parsed["resourceSpans"]?.arrayValue?.first)
        #expect(resource["resource"]?["attributes"]?.arrayValue?.first?["value"]?["stringValue"]?.stringValue == "switchyard")
        let encoded = try #require(resource["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue?.first)
        #expect(encoded["traceId"]?.stringValue?.count == 32 && encoded["spanId"]?.stringValue?.count == 16)
        #expect(encoded["kind"]?.intValue == 3)
        #expect(encoded["status"]?["code"]?.intValue == 2)
        #expect(encoded["parentSpanId"] == nil)
        let start = try #require(encoded["startTimeUnixNano"]?.stringValue.flatMap(UInt64.init))
        let end = try #require(encoded["endTimeUnixNano"]?.stringValue.flatMap(UInt64.init))
        #expect(start > 1_700_000_000_000_000_000 && end >= start)
        let attributes = try #require(encoded["attributes"]?.arrayValue)
        func value(_ key: String) -> JSONValue? { attributes.first { $0["key"]?.stringValue == key }?["value"] }
        #expect(value("gen_ai.usage.input_tokens")?["intValue"]?.stringValue == "12", "64-bit integers as strings")
        #expect(value("gen_ai.request.model")?["stringValue"]?.stringValue == "gpt-4o")
        #expect(value("x.ratio")?["doubleValue"]?.doubleValue == 0.5)
        #expect(
            attributes.compactMap { $0["key"]?.stringValue } == ["gen_ai.usage.input_tokens", "gen_ai.request.model", "x.ratio", "a.first"],
            "in the order first set, each key once")
        #expect(encoded["events"]?.arrayValue?.first?["name"]?.stringValue == "exception")
    }
}
