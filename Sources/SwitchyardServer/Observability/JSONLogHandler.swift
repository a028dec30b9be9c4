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

    /// Keys the handler writes itself; metadata under one of them replaces its value in place.
    static let fixedKeys: Set<String> = ["ts", "level", "logger", "msg"]

    public func log(event: LogEvent) {
        var merged = event.metadata ?? [:]
        if !metadata.isEmpty || metadataProvider != nil {
            merged = metadata
            if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
            if let extra = event.metadata { merged.merge(extra) { $1 } }
        }
        // One line a request (the access log): written straight into one byte buffer, no
        // intermediate JSON tree; the tree only for the rare line that overrides a fixed key.
        let members = merged.sorted { $0.key < $1.key }
        if members.contains(where: { Self.fixedKeys.contains($0.key) }) {
            var object = JSONObject()
            object["ts"] = .string(Self.timestamp())
            object["level"] = .string(event.level.rawValue)
            object["logger"] = .string(label)
            object["msg"] = .string(event.message.description)
            for (key, value) in members { object[key] = Self.json(value) }
            var writer = JSONWriter(capacity: 256)
            writer.write(.object(object))
            var line = writer.bytes
            line.append(0x0A)
            output.write(line)
            return
        }
        write(level: event.level, message: event.message.description, members: members)
    }

    /// Writes a line of `fields`, which are in key order and hold none of the fixed keys, as
    /// ``log(event:)`` would write them as metadata, when nothing else would join them (this
    /// handler has no metadata or metadata provider of its own); returns false, writing
    /// nothing, otherwise. For a caller that builds its fields in key order (the access log,
    /// once per request): no dictionary and no sort. The caller checks the level.
    public func writeInKeyOrder(level: Logger.Level, message: String, fields: [(key: String, value: Logger.Metadata.Value)]) -> Bool {
        guard metadata.isEmpty, metadataProvider == nil else { return false }
        assert(!fields.contains { Self.fixedKeys.contains($0.key) }, "a fixed key among the fields")
        write(level: level, message: message, members: fields)
        return true
    }

    /// One line: the fixed fields, then `members` (in key order, none of them a fixed key),
    /// straight into one byte buffer.
    private func write(level: Logger.Level, message: String, members: [(key: String, value: Logger.Metadata.Value)]) {
        var line: [UInt8] = []
        line.reserveCapacity(512)
        line.append(contentsOf: #"{"ts":""#.utf8)
        Self.appendTimestamp(to: &line)
        line.append(contentsOf: #"","level":""#.utf8)
        line.append(contentsOf: level.rawValue.utf8)
        line.append(contentsOf: #"","logger":"#.utf8)
        JSONWriter.appendQuoted(label, to: &line)
        line.append(contentsOf: #","msg":"#.utf8)
        JSONWriter.appendQuoted(message, to: &line)
        for (key, value) in members {
            line.append(UInt8(ascii: ","))
            JSONWriter.appendQuoted(key, to: &line)
            line.append(UInt8(ascii: ":"))
            Self.append(value, to: &line)
        }
        line.append(UInt8(ascii: "}"))
        line.append(0x0A)
        output.write(line)
    }

    /// The bytes ``json(_:)`` would give, without building the value first.
    static func append(_ value: Logger.Metadata.Value, to line: inout [UInt8]) {
        switch value {
        case .string(let text): JSONWriter.appendQuoted(text, to: &line)
        case .stringConvertible(let convertible):
            if let number = convertible as? Int {
                line.append(contentsOf: String(number).utf8)
            } else if let flag = convertible as? Bool {
                line.append(contentsOf: (flag ? "true" : "false").utf8)
            } else if convertible is Double {
                var writer = JSONWriter(capacity: 24)
                writer.write(json(value))
                line.append(contentsOf: writer.bytes)
            } else {
                JSONWriter.appendQuoted(convertible.description, to: &line)
            }
        case .array, .dictionary:
            var writer = JSONWriter(capacity: 64)
            writer.write(json(value))
            line.append(contentsOf: writer.bytes)
        }
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
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        appendTimestamp(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 3339 in UTC with microseconds (`2026-12-06T18:30:00.123456Z`), digit by digit.
    static func appendTimestamp(to bytes: inout [UInt8]) {
        // `Date` rather than `clock_gettime`: the release build of the merged dependencies found
        // `timespec` only through CoreFoundation (MemberImportVisibility refused it).
        let now = Date().timeIntervalSince1970
        let seconds = now.rounded(.down)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int32, _ width: Int) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        let micros = Int32(min(999_999, ((now - seconds) * 1_000_000).rounded(.down)))
        digits(parts.tm_year + 1900, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2)
        bytes.append(UInt8(ascii: "."))
        digits(micros, 6)
        bytes.append(UInt8(ascii: "Z"))
    }
}

/// Where log lines go. A line is appended to a buffer under a lock and written by a
/// background queue, so a request never waits on a slow terminal, pipe or disk; lines never
/// interleave and keep their order. Bounded: beyond 8 MiB waiting, lines are dropped and a
/// warning line says how many. ``flush()`` waits until everything queued is written.
///
/// Lines are written in batches: the first line into an empty buffer wakes the writer, which
/// lets ``batchWindow`` pass before it takes the buffer, so the lines of every request in that
/// window leave in one `write`. Waking a thread per line (an access log line per request) cost
/// more CPU than formatting the line: the futex wake-up, two context switches and a `write`
/// each. A line reaches the output at most a couple of milliseconds later; idle, nothing wakes.
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

    /// How long the writer waits, once woken, for more lines before writing.
    let batchWindow: UInt32

    public init(descriptor: Int32, batchWindowMicroseconds: UInt32 = 2_000) {
        self.descriptor = descriptor
        self.batchWindow = batchWindowMicroseconds
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
        if schedule {
            queue.async {
                // A serial queue of its own: only this output's writes wait behind the window.
                if self.batchWindow > 0 { usleep(self.batchWindow) }
                self.drain()
            }
        }
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
