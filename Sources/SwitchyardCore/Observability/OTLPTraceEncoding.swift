import Tracing

/// OTLP/HTTP's JSON encoding of spans (`ExportTraceServiceRequest`): ids as hex, enums as
/// integers, 64-bit integers as decimal strings, attributes as `{key, value: {stringValue…}}`.
public enum OTLPTraceEncoding {
    public static func request(
        _ spans: [FinishedSpan], serviceName: String, serviceVersion: String, resourceAttributes: [String: String] = [:]
    ) -> JSONValue {
        var attributes = [
            attribute("service.name", ["stringValue": .string(serviceName)]),
            attribute("service.version", ["stringValue": .string(serviceVersion)]),
            attribute("telemetry.sdk.name", ["stringValue": "switchyard"]), attribute("telemetry.sdk.language", ["stringValue": "swift"]),
        ]
        let fixed: Set<String> = ["service.name", "service.version", "telemetry.sdk.name", "telemetry.sdk.language"]
        for (key, value) in resourceAttributes.sorted(by: { $0.key < $1.key }) where !fixed.contains(key) {
            attributes.append(attribute(key, ["stringValue": .string(value)]))
        }
        let resource: JSONObject = ["attributes": .array(attributes)]
        let scope: JSONObject = ["name": "switchyard", "version": .string(serviceVersion)]
        return [
            "resourceSpans": [
                .object(["resource": .object(resource), "scopeSpans": [.object(["scope": .object(scope), "spans": .array(spans.map(span))])]])
            ]
        ]
    }

    static func span(_ span: FinishedSpan) -> JSONValue {
        var object: JSONObject = [
            "traceId": .string(span.identity.traceID),
            "spanId": .string(span.identity.spanID),
            "name": .string(span.name),
            "kind": JSONValue(kind(span.kind)),
            "startTimeUnixNano": .string(String(span.startNanoseconds)),
            "endTimeUnixNano": .string(String(span.endNanoseconds)),
            "attributes": .array(attributes(span.attributes)),
            "flags": JSONValue(0x100 | (span.identity.sampled ? 1 : 0)),
        ]
        if let parent = span.parentSpanID { object["parentSpanId"] = .string(parent) }
        if let state = span.identity.traceState, !state.isEmpty { object["traceState"] = .string(state) }
        if !span.events.isEmpty {
            object["events"] = .array(
                span.events.map {
                    .object([
                        "timeUnixNano": .string(String($0.nanosecondsSinceEpoch)), "name": .string($0.name),
                        "attributes": .array(attributes($0.attributes)),
                    ])
                })
        }
        if !span.links.isEmpty {
            object["links"] = .array(span.links.map { .object(["traceId": .string($0.traceID), "spanId": .string($0.spanID)]) })
        }
        if let status = span.status {
            var value: JSONObject = ["code": JSONValue(status.code == .ok ? 1 : 2)]
            if let message = status.message { value["message"] = .string(message) }
            object["status"] = .object(value)
        }
        return .object(object)
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

    static func attributes(_ attributes: SpanAttributes) -> [JSONValue] {
        var items: [(String, JSONValue)] = []
        attributes.forEach { key, value in
            if let encoded = self.value(value) { items.append((key, encoded)) }
        }
        return items.sorted { $0.0 < $1.0 }.map { attribute($0.0, $0.1) }
    }

    static func attribute(_ key: String, _ value: JSONValue) -> JSONValue {
        .object(["key": .string(key), "value": value])
    }

    static func value(_ attribute: SpanAttribute) -> JSONValue? {
        func array(_ values: [JSONValue]) -> JSONValue { .object(["arrayValue": .object(["values": .array(values)])]) }
        switch attribute {
        case .int32(let value): return .object(["intValue": .string(String(value))])
        case .int64(let value): return .object(["intValue": .string(String(value))])
        case .double(let value): return .object(["doubleValue": JSONValue(value)])
        case .bool(let value): return .object(["boolValue": .bool(value)])
        case .string(let value): return .object(["stringValue": .string(value)])
        case .int32Array(let values): return array(values.map { .object(["intValue": .string(String($0))]) })
        case .int64Array(let values): return array(values.map { .object(["intValue": .string(String($0))]) })
        case .doubleArray(let values): return array(values.map { .object(["doubleValue": JSONValue($0)]) })
        case .boolArray(let values): return array(values.map { .object(["boolValue": .bool($0)]) })
        case .stringArray(let values): return array(values.map { .object(["stringValue": .string($0)]) })
        case .stringConvertible(let value): return .object(["stringValue": .string(value.description)])
        case .stringConvertibleArray(let values): return array(values.map { .object(["stringValue": .string($0.description)]) })
        default: return nil
        }
    }
}
