import Foundation
import Logging
import SwitchyardCore
import Synchronization

/// A `LogHandler` that writes one JSON object per line (to stdout by default).
///
/// Fields: `ts` (RFC 3339, UTC, microseconds), `level`, `logger`, `msg`, then the metadata.
/// Messages are constant strings; data goes in metadata, so lines stay machine-readable.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, output: LogOutput = .standardOutput) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object = JSONObject()
        object["ts"] = .string(Self.timestamp())
        object["level"] = .string(event.level.rawValue)
        object["logger"] = .string(label)
        object["msg"] = .string(event.message.description)
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() {
            object[key] = Self.json(merged[key]!)
        }
        var writer = JSONWriter(capacity: 256)
        writer.write(.object(object))
        var line = writer.bytes
        line.append(0x0A)
        output.write(line)
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible):
            if let number = convertible as? Int {
                JSONValue(number)
            } else if let number = convertible as? Double, number.isFinite {
                JSONValue(number)
            } else if let flag = convertible as? Bool {
                .bool(flag)
            } else {
                .string(convertible.description)
            }
        case .array(let values): .array(values.map(json))
        case .dictionary(let dictionary): .object(JSONObject(dictionary.keys.sorted().map { (key: $0, value: json(dictionary[$0]!)) }))
        }
    }

    static func timestamp() -> String {
        // `Date` rather than `clock_gettime`: the release build of the merged dependencies found
        // `timespec` only through CoreFoundation (MemberImportVisibility refused it).
        let now = Date().timeIntervalSince1970
        let seconds = now.rounded(.down)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let micros = Int32(min(999_999, ((now - seconds) * 1_000_000).rounded(.down)))
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(micros, 6))Z"
    }
}

/// Where log lines go. A line is appended to a buffer under a lock and written by a
/// background queue, so a request never waits on a slow terminal, pipe or disk; lines never
/// interleave and keep their order. Bounded: beyond 8 MiB waiting, lines are dropped and a
/// warning line says how many. ``flush()`` waits until everything queued is written.
public final class LogOutput: Sendable {
    private struct Pending {
        var bytes: [UInt8] = []
        var scheduled = false
        var dropped = 0
    }
    private let pending = Mutex(Pending())
    private let queue: DispatchQueue
    private let descriptor: Int32
    static let maximumPendingBytes = 8 * 1024 * 1024

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        self.queue = DispatchQueue(label: "switchyard.log-output.\(descriptor)")
    }

    public static let standardOutput = LogOutput(descriptor: 1)
    public static let standardError = LogOutput(descriptor: 2)

    func write(_ bytes: [UInt8]) {
        let schedule = pending.withLock { pending -> Bool in
            if pending.bytes.count + bytes.count > Self.maximumPendingBytes {
                pending.dropped += 1
                return false
            }
            pending.bytes.append(contentsOf: bytes)
            guard !pending.scheduled else { return false }
            pending.scheduled = true
            return true
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Blocks until every line written so far is out.
    public func flush() {
        queue.sync {}
        drain()
    }

    private func drain() {
        while true {
            let (chunk, dropped) = pending.withLock { pending -> ([UInt8], Int) in
                let chunk = pending.bytes
                let dropped = pending.dropped
                pending.bytes = []
                pending.dropped = 0
                if chunk.isEmpty { pending.scheduled = false }
                return (chunk, dropped)
            }
            if dropped > 0 {
                writeAll(Array(#"{"level":"warning","msg":"log output fell behind; lines dropped","dropped":\#(dropped)}"#.utf8) + [0x0A])
            }
            guard !chunk.isEmpty else { return }
            writeAll(chunk)
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
