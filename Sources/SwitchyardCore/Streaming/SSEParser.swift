#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field; nil for unnamed events (OpenAI's).
    public var event: String?
    /// The joined `data:` lines.
    public var data: [UInt8]
    public var id: String?

    public init(event: String? = nil, data: [UInt8], id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }

    public var dataString: String { String(decoding: data, as: UTF8.self) }

    /// Serialises the event with `\n` line endings and the closing blank line.
    public func write(to buffer: inout ByteBuffer) {
        if let event {
            buffer.writeStaticString("event: ")
            buffer.writeString(event)
            buffer.writeStaticString("\n")
        }
        data.withUnsafeBufferPointer { data in
            // One reservation, then a bulk copy per line (nearly always one line).
            buffer.reserveCapacity(minimumWritableBytes: data.count + 9)
            // Newlines found with memchr (vectorised): a byte loop over every event's JSON cost
            // more than writing it.
            var lineStart = 0
            while true {
                var end = data.count
                if lineStart < data.count, let base = data.baseAddress,
                    let found = memchr(base + lineStart, 0x0A, data.count - lineStart)
                {
                    end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                }
                buffer.writeStaticString("data: ")
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(data)[lineStart..<end]))
                buffer.writeStaticString("\n")
                guard end < data.count else { break }
                lineStart = end + 1
            }
        }
        buffer.writeStaticString("\n")
    }
}

/// Incremental parser for `text/event-stream`, per the WHATWG specification.
///
/// Feed it bytes as they arrive, split anywhere (inside a line, a CRLF pair or a UTF-8
/// sequence); it returns each event once its terminating blank line has been seen. Accepts LF,
/// CRLF and CR line endings, skips comment lines, strips one space after the colon and joins
/// multiple `data:` lines with `\n`. A line longer than `maximumLineLength` is an error, so a
/// misbehaving upstream cannot make the gateway buffer without bound.
public struct SSEParser: Sendable {
    public struct LineTooLong: Error, Sendable {}

    public let maximumLineLength: Int
    private var line: [UInt8] = []
    private var lastWasCR = false
    private var eventName: String?
    private var data: [UInt8] = []
    private var hasData = false
    private var lastEventID: String?

    public init(maximumLineLength: Int = 16 * 1024 * 1024) {
        self.maximumLineLength = maximumLineLength
    }

    /// Parses `bytes`, calling `onEvent` for each completed event.
    public mutating func feed(_ bytes: ByteBuffer, _ onEvent: (SSEEvent) throws -> Void) throws {
        try bytes.withUnsafeReadableBytes { raw in
            try feed(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count), onEvent)
        }
    }

    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ onEvent: (SSEEvent) throws -> Void) throws {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if lastWasCR {
                lastWasCR = false
                if byte == 0x0A {
                    index += 1
                    continue
                }
            }
            if byte == 0x0A || byte == 0x0D {
                lastWasCR = byte == 0x0D
                try processLine(onEvent)
                line.removeAll(keepingCapacity: true)
                index += 1
                continue
            }
            // Copy the run of ordinary bytes up to the next line break in one go.
            let end = ByteScan.lineBreak(bytes, from: index + 1)
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
            if line.count > maximumLineLength { throw LineTooLong() }
            index = end
        }
    }

    /// Call at the end of input: a final event without its blank line is discarded, per spec.
    /// Returns whether unterminated data was pending (a truncated stream).
    public mutating func finish() -> Bool {
        let truncated = hasData || !line.isEmpty
        line.removeAll()
        data.removeAll()
        hasData = false
        eventName = nil
        return truncated
    }

    private mutating func processLine(_ onEvent: (SSEEvent) throws -> Void) throws {
        if line.isEmpty {
            if hasData {
                let name = eventName
                hasData = false
                eventName = nil
                // Emptied after the handler is done with the event: emptied before, the event's
                // copy of the data would share its buffer, and keeping the capacity would
                // allocate a new one for every event.
                defer { data.removeAll(keepingCapacity: true) }
                try onEvent(SSEEvent(event: name, data: data, id: lastEventID))
            } else {
                eventName = nil
            }
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let fieldEnd = colon ?? line.count
        var valueStart = colon.map { $0 + 1 } ?? line.count
        if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let field = line[0..<fieldEnd]
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(0x0A) }
            data.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            eventName = String(decoding: value, as: UTF8.self)
        } else if field.elementsEqual("id".utf8) {
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        }
        // `retry` and unknown fields are ignored, as the specification says.
    }
}
