import Tracing

/// OTLP/HTTP's JSON encoding of spans (`ExportTraceServiceRequest`): ids as hex, enums as
/// integers, 64-bit integers as decimal strings, attributes as `{key, value: {stringValue…}}`.
///
/// Written straight into one byte buffer: with every request traced, building a JSON tree of
/// each span's attributes (a few dozen small objects a request) cost more than sending them.
public enum OTLPTraceEncoding {
    /// The request as a JSON value (the bytes of ``requestBytes(_:serviceName:serviceVersion:resourceAttributes:)``, parsed).
    public static func request(
        _ spans: [FinishedSpan], serviceName: String, serviceVersion: String, resourceAttributes: [String: String] = [:]
    ) -> JSONValue {
        let bytes = requestBytes(spans, serviceName: serviceName, serviceVersion: serviceVersion, resourceAttributes: resourceAttributes)
        return (try? JSONValue.parse(bytes)) ?? .null
    }

    /// The body of one export request.
    public static func requestBytes(
        _ spans: [FinishedSpan], serviceName: String, serviceVersion: String, resourceAttributes: [String: String] = [:]
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        writeRequest(spans, serviceName: serviceName, serviceVersion: serviceVersion, resourceAttributes: resourceAttributes, into: &bytes)
        return bytes
    }

    /// ``requestBytes(_:serviceName:serviceVersion:resourceAttributes:)`` written into `bytes`,
    /// which it replaces keeping its capacity: an exporter that passes the same array for each
    /// batch allocates (and the kernel maps) a batch's worth of memory once, not per batch.
    public static func writeRequest(
        _ spans: [FinishedSpan], serviceName: String, serviceVersion: String, resourceAttributes: [String: String] = [:],
        into bytes: inout [UInt8]
    ) {
        var out = Output()
        swap(&out.bytes, &bytes)
        out.bytes.removeAll(keepingCapacity: true)
        out.bytes.reserveCapacity(512 + spans.count * 2048)
        defer { swap(&out.bytes, &bytes) }
        out.raw(#"{"resourceSpans":[{"resource":{"attributes":["#)
        var resource: [(String, String)] = [
            ("service.name", serviceName), ("service.version", serviceVersion), ("telemetry.sdk.name", "switchyard"),
            ("telemetry.sdk.language", "swift"),
        ]
        let fixed: Set<String> = ["service.name", "service.version", "telemetry.sdk.name", "telemetry.sdk.language"]
        for (key, value) in resourceAttributes.sorted(by: { $0.key < $1.key }) where !fixed.contains(key) { resource.append((key, value)) }
        for (index, (key, value)) in resource.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw(#"{"key":"#)
            out.string(key)
            out.raw(#","value":{"stringValue":"#)
            out.string(value)
            out.raw("}}")
        }
        out.raw(#"]},"scopeSpans":[{"scope":{"name":"switchyard","version":"#)
        out.string(serviceVersion)
        out.raw(#"},"spans":["#)
        for (index, span) in spans.enumerated() {
            if index > 0 { out.raw(",") }
            write(span, to: &out)
        }
        out.raw("]}]}]}")
    }

    struct Output {
        var bytes: [UInt8] = []
        mutating func raw(_ text: StaticString) {
            text.withUTF8Buffer { bytes.append(contentsOf: $0) }
        }
        mutating func string(_ text: String) { JSONWriter.appendQuoted(text, to: &bytes) }
        mutating func number(_ value: some BinaryInteger) { bytes.append(contentsOf: String(value).utf8) }
        /// A 64-bit integer as OTLP's JSON writes it: a decimal string.
        mutating func quotedNumber(_ value: some BinaryInteger) {
            bytes.append(UInt8(ascii: "\""))
            number(value)
            bytes.append(UInt8(ascii: "\""))
        }
    }

    static func write(_ span: FinishedSpan, to out: inout Output) {
        out.raw(#"{"traceId":"#)
        out.string(span.identity.traceID)
        out.raw(#","spanId":"#)
        out.string(span.identity.spanID)
        out.raw(#","name":"#)
        out.string(span.name)
        out.raw(#","kind":"#)
        out.number(kind(span.kind))
        out.raw(#","startTimeUnixNano":"#)
        out.quotedNumber(span.startNanoseconds)
        out.raw(#","endTimeUnixNano":"#)
        out.quotedNumber(span.endNanoseconds)
        out.raw(#","attributes":"#)
        write(span.attributes, to: &out)
        out.raw(#","flags":"#)
        out.number(0x100 | (span.identity.sampled ? 1 : 0))
        if let parent = span.parentSpanID {
            out.raw(#","parentSpanId":"#)
            out.string(parent)
        }
        if let state = span.identity.traceState, !state.isEmpty {
            out.raw(#","traceState":"#)
            out.string(state)
        }
        if !span.events.isEmpty {
            out.raw(#","events":["#)
            for (index, event) in span.events.enumerated() {
                if index > 0 { out.raw(",") }
                out.raw(#"{"timeUnixNano":"#)
                out.quotedNumber(event.nanosecondsSinceEpoch)
                out.raw(#","name":"#)
                out.string(event.name)
                out.raw(#","attributes":"#)
                write(event.attributes, to: &out)
                out.raw("}")
            }
            out.raw("]")
        }
        if !span.links.isEmpty {
            out.raw(#","links":["#)
            for (index, link) in span.links.enumerated() {
                if index > 0 { out.raw(",") }
                out.raw(#"{"traceId":"#)
                out.string(link.traceID)
                out.raw(#","spanId":"#)
                out.string(link.spanID)
                out.raw("}")
            }
            out.raw("]")
        }
        if let status = span.status {
            out.raw(#","status":{"code":"#)
            out.number(status.code == .ok ? 1 : 2)
            if let message = status.message {
                out.raw(#","message":"#)
                out.string(message)
            }
            out.raw("}")
        }
        out.raw("}")
    }

    /// SPAN_KIND_INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5.
    static func kind(_ kind: SpanKind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    /// `[{key, value}, ...]`; attribute kinds OTLP has no form for are left out.
    static func write(_ attributes: SpanAttributes, to out: inout Output) {
        var items: [(key: String, value: SpanAttribute)] = []
        attributes.forEach { key, value in items.append((key, value)) }
        write(items, to: &out)
    }

    /// The same for attributes in the order they were first set: a key set more than once is
    /// written once, with its last value.
    ///
    /// No sort: a span's attributes are a dozen or two, so finding a later setting of the same
    /// key by comparing keys costs less than ordering them (sorting with the values alongside
    /// was half of encoding a span).
    static func write(_ attributes: [(key: String, value: SpanAttribute)], to out: inout Output) {
        // Through the buffer: a key or a value read out of the array of pairs by subscript
        // copied the whole pair first.
        // The keys apart, read once: comparing keys of the pairs in place still copied both
        // pairs (key and value) for every comparison.
        let keys = attributes.map(\.key)
        attributes.withUnsafeBufferPointer { attributes in
            let count = attributes.count
            // last[i]: where attribute i's key was set last (i when it was set once);
            // repeated[j]: a later setting of a key set before, written (with the last value) at
            // the first place.
            var last = Array(0..<count)
            var repeated = [Bool](repeating: false, count: count)
            if count > 1 {
                if count <= 48 {
                    for i in 0..<count - 1 {
                        for j in i + 1..<count where keys[j] == keys[i] {
                            last[i] = j
                            repeated[j] = true
                        }
                    }
                } else {
                    var first: [String: Int] = [:]
                    first.reserveCapacity(count)
                    for j in 0..<count {
                        if let i = first[keys[j]] {
                            last[i] = j
                            repeated[j] = true
                        } else {
                            first[keys[j]] = j
                        }
                    }
                }
            }
            out.raw("[")
            var first = true
            for index in 0..<count where !repeated[index] {
                let mark = out.bytes.count
                if !first { out.raw(",") }
                out.raw(#"{"key":"#)
                out.string(keys[index])
                out.raw(#","value":"#)
                guard write(attributes[last[index]].value, to: &out) else {
                    out.bytes.removeLast(out.bytes.count - mark)
                    continue
                }
                out.raw("}")
                first = false
            }
            out.raw("]")
        }
    }

    /// One `AnyValue`; false (and nothing written) for a kind OTLP has no form for.
    static func write(_ attribute: SpanAttribute, to out: inout Output) -> Bool {
        func array<Element>(_ values: [Element], _ element: (Element, inout Output) -> Void) {
            out.raw(#"{"arrayValue":{"values":["#)
            for (index, value) in values.enumerated() {
                if index > 0 { out.raw(",") }
                element(value, &out)
            }
            out.raw("]}}")
        }
        func integer(_ value: some BinaryInteger, _ out: inout Output) {
            out.raw(#"{"intValue":"#)
            out.quotedNumber(value)
            out.raw("}")
        }
        func double(_ value: Double, _ out: inout Output) {
            out.raw(#"{"doubleValue":"#)
            out.bytes.append(contentsOf: JSONValue.format(value).utf8)
            out.raw("}")
        }
        func bool(_ value: Bool, _ out: inout Output) {
            out.raw(value ? #"{"boolValue":true}"# : #"{"boolValue":false}"#)
        }
        func string(_ value: String, _ out: inout Output) {
            out.raw(#"{"stringValue":"#)
            out.string(value)
            out.raw("}")
        }
        switch attribute {
        case .int32(let value): integer(value, &out)
        case .int64(let value): integer(value, &out)
        case .double(let value): double(value, &out)
        case .bool(let value): bool(value, &out)
        case .string(let value): string(value, &out)
        case .int32Array(let values): array(values) { integer($0, &$1) }
        case .int64Array(let values): array(values) { integer($0, &$1) }
        case .doubleArray(let values): array(values) { double($0, &$1) }
        case .boolArray(let values): array(values) { bool($0, &$1) }
        case .stringArray(let values): array(values) { string($0, &$1) }
        case .stringConvertible(let value): string(value.description, &out)
        case .stringConvertibleArray(let values): array(values) { string($0.description, &$1) }
        default: return false
        }
        return true
    }
}
