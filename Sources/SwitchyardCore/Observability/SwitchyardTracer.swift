import Instrumentation
import Synchronization
import Tracing

/// A span that ended, ready for export.
public struct FinishedSpan: Sendable {
    public var identity: SpanIdentity
    public var parentSpanID: String?
    public var name: String
    public var kind: SpanKind
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64
    /// In the order they were set; a key set twice appears twice, and the later value counts.
    public var attributes: [(key: String, value: SpanAttribute)]
    public var events: [SpanEvent]
    public var status: SpanStatus?
    public var links: [SpanIdentity]
}

/// Receives ended spans (the OTLP exporter's queue, or a test's list).
public protocol SpanSink: Sendable {
    func spanEnded(_ span: FinishedSpan)
    /// Exports what is queued now.
    func flush()
}

/// The gateway's OpenTelemetry tracer (swift-distributed-tracing's `Tracer`): W3C trace
/// context in and out, parent-based sampling with a ratio for new traces, spans handed to a
/// ``SpanSink`` when they end. Settings are read per span, so a reload changes them at once;
/// a span that is not sampled records nothing but still carries its context (flag 00), so a
/// provider downstream sees one consistent trace id.
public final class SwitchyardTracer: Tracer, Sendable {
    public typealias Span = RecordedSpan
    let sink: any SpanSink
    let settings: @Sendable () -> TracingSettings

    public init(sink: any SpanSink, settings: @escaping @Sendable () -> TracingSettings) {
        self.sink = sink
        self.settings = settings
    }

    /// Whether tracing is on in the current configuration.
    public var isEnabled: Bool { settings().enabled }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> RecordedSpan {
        let parentContext = context()
        let parent = parentContext.spanIdentity
        let identity: SpanIdentity
        if let parent {
            identity = SpanIdentity(
                traceID: parent.traceID, spanID: SpanIdentity.randomID(bytes: 8), sampled: parent.sampled, traceState: parent.traceState)
        } else {
            let ratio = settings().sampleRatio
            let sampled = ratio >= 1 || (ratio > 0 && Double.random(in: 0..<1) < ratio)
            identity = SpanIdentity(traceID: SpanIdentity.randomID(bytes: 16), spanID: SpanIdentity.randomID(bytes: 8), sampled: sampled)
        }
        var spanContext = parentContext
        spanContext.spanIdentity = identity
        return RecordedSpan(
            name: operationName, kind: kind, identity: identity, parentSpanID: parent?.spanID, context: spanContext,
            start: instant().nanosecondsSinceEpoch, sink: identity.sampled ? sink : nil)
    }

    public func forceFlush() { sink.flush() }

    public func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract: Extractor, Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier),
            let identity = SpanIdentity(traceparent: header, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.spanIdentity = identity
    }

    public func inject<Carrier, Inject>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Inject.Carrier == Carrier {
        guard let identity = context.spanIdentity else { return }
        injector.inject(identity.traceparent, forKey: "traceparent", into: &carrier)
        if let state = identity.traceState, !state.isEmpty { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}

/// A span of ``SwitchyardTracer``; thread-safe, ends once.
public final class RecordedSpan: Tracing.Span, Sendable {
    struct State {
        var name: String
        /// Appended as set (no dictionary per span: hashing and growing one was most of a
        /// span's cost); the exporter keeps the last value of a key set twice.
        var attributes: [(key: String, value: SpanAttribute)] = []
        var events: [SpanEvent] = []
        var status: SpanStatus?
        var links: [SpanIdentity] = []
        var ended = false
    }
    public let context: InstrumentationContext
    public let identity: SpanIdentity
    let kind: SpanKind
    let parentSpanID: String?
    let start: UInt64
    /// nil: not sampled, records nothing.
    let sink: (any SpanSink)?
    private let state: Mutex<State>

    init(
        name: String, kind: SpanKind, identity: SpanIdentity, parentSpanID: String?, context: InstrumentationContext, start: UInt64,
        sink: (any SpanSink)?
    ) {
        self.kind = kind
        self.identity = identity
        self.parentSpanID = parentSpanID
        self.context = context
        self.start = start
        self.sink = sink
        self.state = Mutex(State(name: name))
    }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    public var attributes: SpanAttributes {
        get {
            var attributes = SpanAttributes()
            for (key, value) in state.withLock({ $0.attributes }) { attributes[key] = value }
            return attributes
        }
        set {
            guard sink != nil else { return }
            var list: [(key: String, value: SpanAttribute)] = []
            newValue.forEach { key, value in list.append((key, value)) }
            state.withLock { $0.attributes = list }
        }
    }

    public var isRecording: Bool { sink != nil && !state.withLock { $0.ended } }

    public func setStatus(_ status: SpanStatus) {
        state.withLock { state in
            // OK is final; an error does not replace it (the OpenTelemetry rule).
            if state.status?.code == .ok { return }
            state.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard sink != nil else { return }
        state.withLock { $0.events.append(event) }
    }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard sink != nil else { return }
        var eventAttributes = attributes
        eventAttributes["exception.type"] = String(describing: type(of: error))
        eventAttributes["exception.message"] = String(describing: error)
        let event = SpanEvent(name: "exception", at: instant(), attributes: eventAttributes)
        state.withLock { $0.events.append(event) }
    }

    public func addLink(_ link: SpanLink) {
        guard sink != nil, let identity = link.context.spanIdentity else { return }
        state.withLock { $0.links.append(identity) }
    }

    /// Sets several attributes under one lock.
    public func set(_ values: [(String, SpanAttribute)]) {
        guard sink != nil else { return }
        state.withLock { state in
            for (key, value) in values { state.attributes.append((key, value)) }
        }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished, let sink else { return }
        sink.spanEnded(
            FinishedSpan(
                identity: identity, parentSpanID: parentSpanID, name: finished.name, kind: kind, startNanoseconds: start,
                endNanoseconds: max(start, instant().nanosecondsSinceEpoch), attributes: finished.attributes, events: finished.events,
                status: finished.status, links: finished.links))
    }
}
