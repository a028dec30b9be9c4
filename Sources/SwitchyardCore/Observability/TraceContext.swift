import Instrumentation
import Tracing

/// The W3C trace context of one span (`traceparent`): 32 and 16 lowercase hex digits and the
/// sampled flag, with the caller's `tracestate` carried along untouched.
public struct SpanIdentity: Sendable, Equatable {
    public var traceID: String
    public var spanID: String
    public var sampled: Bool
    public var traceState: String?

    public init(traceID: String, spanID: String, sampled: Bool, traceState: String? = nil) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
        self.traceState = traceState
    }

    /// `00-<trace id>-<span id>-<flags>`.
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    /// Parses a `traceparent` header by the W3C Trace Context rules: version `ff` and
    /// all-zero ids are invalid; a future version may append fields after a dash.
    public init?(traceparent: String, traceState: String? = nil) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else {
            return nil
        }
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
        guard isHex(0..<2), isHex(3..<35), isHex(36..<52), isHex(53..<55) else { return nil }
        let version = String(decoding: bytes[0..<2], as: UTF8.self)
        guard version != "ff" else { return nil }
        if version == "00" {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            guard bytes[55] == UInt8(ascii: "-") else { return nil }
        }
        let trace = String(decoding: bytes[3..<35], as: UTF8.self)
        let span = String(decoding: bytes[36..<52], as: UTF8.self)
        guard trace != String(repeating: "0", count: 32), span != String(repeating: "0", count: 16) else { return nil }
        let flags = UInt8(String(decoding: bytes[53..<55], as: UTF8.self), radix: 16) ?? 0
        self.init(traceID: trace, spanID: span, sampled: flags & 1 == 1, traceState: traceState)
    }

    /// A fresh random id of `bytes` bytes as lowercase hex (never all zero).
    public static func randomID(bytes: Int) -> String {
        let words = max(1, bytes / 8)
        while true {
            var nonZero = false
            let text = String(unsafeUninitializedCapacity: words * 16) { buffer in
                var position = 0
                for _ in 0..<words {
                    let value = IdentifierRandomness.next()
                    nonZero = nonZero || value != 0
                    for shift in stride(from: 60, through: 0, by: -4) {
                        buffer[position] = JSONWriter.hexDigit(UInt8((value >> UInt64(shift)) & 0xF))
                        position += 1
                    }
                }
                return position
            }
            if nonZero { return text }
        }
    }
}

/// Where a span's ``SpanIdentity`` travels in an `InstrumentationContext`.
public enum SpanIdentityKey: InstrumentationContextKey {
    public typealias Value = SpanIdentity
    public static var nameOverride: String? { "switchyard.span" }
}

extension InstrumentationContext {
    /// The span this context belongs to, when a Switchyard tracer made it.
    public var spanIdentity: SpanIdentity? {
        get { self[SpanIdentityKey.self] }
        set { self[SpanIdentityKey.self] = newValue }
    }
}

/// Reads and writes trace headers on the gateway's own header lists.
public struct HeaderFieldsExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [HeaderField]) -> String? {
        carrier.last { $0.name.lowercased() == key }?.value
    }
}

public struct HeaderFieldsInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [HeaderField]) {
        carrier.removeAll { $0.name.lowercased() == key }
        carrier.append(HeaderField(key, value))
    }
}
