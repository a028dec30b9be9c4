import NIOCore

/// The `application/vnd.amazon.eventstream` binary framing used by Bedrock streams.
///
/// A message is: total length (4 bytes, big endian), headers length (4), CRC32 of those 8
/// bytes, headers, payload, CRC32 of everything before it. Headers are name length (1), name,
/// value type (1) and a typed value. Both checksums are verified; a mismatch is an error, never
/// a silently accepted frame.
public struct EventStreamMessage: Sendable, Equatable {
    public var headers: [String: String]
    public var payload: [UInt8]

    public init(headers: [String: String], payload: [UInt8]) {
        self.headers = headers
        self.payload = payload
    }

    /// Encodes with string-typed headers (what the mock provider needs).
    public func encoded() -> [UInt8] {
        var headerBytes: [UInt8] = []
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            headerBytes.append(UInt8(name.utf8.count))
            headerBytes.append(contentsOf: name.utf8)
            headerBytes.append(7)
            let length = UInt16(value.utf8.count)
            headerBytes.append(UInt8(length >> 8))
            headerBytes.append(UInt8(length & 0xFF))
            headerBytes.append(contentsOf: value.utf8)
        }
        let total = UInt32(16 + headerBytes.count + payload.count)
        var bytes: [UInt8] = []
        bytes.append(contentsOf: total.bigEndianBytes)
        bytes.append(contentsOf: UInt32(headerBytes.count).bigEndianBytes)
        bytes.append(contentsOf: CRC32.checksum(bytes).bigEndianBytes)
        bytes.append(contentsOf: headerBytes)
        bytes.append(contentsOf: payload)
        bytes.append(contentsOf: CRC32.checksum(bytes).bigEndianBytes)
        return bytes
    }
}

public struct EventStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
}

/// Incremental decoder: feed bytes split anywhere, get complete messages.
public struct EventStreamDecoder: Sendable {
    private var buffer: [UInt8] = []
    /// Frames larger than this are rejected (Bedrock frames are small).
    public let maximumMessageLength = 16 * 1024 * 1024

    public init() {}

    public mutating func feed(_ bytes: ByteBuffer) throws(EventStreamError) -> [EventStreamMessage] {
        buffer.append(contentsOf: bytes.readableBytesView)
        var messages: [EventStreamMessage] = []
        while buffer.count >= 12 {
            let total = Int(UInt32(bigEndianBytes: buffer[0..<4]))
            let headersLength = Int(UInt32(bigEndianBytes: buffer[4..<8]))
            guard CRC32.checksum(buffer[0..<8]) == UInt32(bigEndianBytes: buffer[8..<12]) else {
                throw EventStreamError(description: "event stream prelude checksum mismatch")
            }
            guard total >= 16, total <= maximumMessageLength, headersLength <= total - 16 else {
                throw EventStreamError(description: "event stream frame has an invalid length")
            }
            guard buffer.count >= total else { break }
            let frame = Array(buffer[0..<total])
            buffer.removeFirst(total)
            guard CRC32.checksum(frame[0..<(total - 4)]) == UInt32(bigEndianBytes: frame[(total - 4)..<total]) else {
                throw EventStreamError(description: "event stream message checksum mismatch")
            }
            let headers = try Self.headers(frame[12..<(12 + headersLength)])
            messages.append(EventStreamMessage(headers: headers, payload: Array(frame[(12 + headersLength)..<(total - 4)])))
        }
        return messages
    }

    static func headers(_ bytes: ArraySlice<UInt8>) throws(EventStreamError) -> [String: String] {
        var headers: [String: String] = [:]
        var index = bytes.startIndex
        func need(_ count: Int) throws(EventStreamError) {
            if index + count > bytes.endIndex { throw EventStreamError(description: "event stream header is truncated") }
        }
        while index < bytes.endIndex {
            try need(1)
            let nameLength = Int(bytes[index])
            index += 1
            try need(nameLength + 1)
            let name = String(decoding: bytes[index..<(index + nameLength)], as: UTF8.self)
            index += nameLength
            let type = bytes[index]
            index += 1
            switch type {
            case 0, 1: headers[name] = type == 0 ? "true" : "false"
            case 2: try need(1); index += 1
            case 3: try need(2); index += 2
            case 4: try need(4); index += 4
            case 5, 8: try need(8); index += 8
            case 9: try need(16); index += 16
            case 6, 7:
                try need(2)
                let length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
                index += 2
                try need(length)
                if type == 7 { headers[name] = String(decoding: bytes[index..<(index + length)], as: UTF8.self) }
                index += length
            default:
                throw EventStreamError(description: "event stream header has unknown type \(type)")
            }
        }
        return headers
    }
}

/// CRC-32 (IEEE 802.3, the zlib polynomial), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

extension UInt32 {
    var bigEndianBytes: [UInt8] { [UInt8(self >> 24), UInt8((self >> 16) & 0xFF), UInt8((self >> 8) & 0xFF), UInt8(self & 0xFF)] }

    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        var value: UInt32 = 0
        for byte in bytes { value = value << 8 | UInt32(byte) }
        self = value
    }
}
