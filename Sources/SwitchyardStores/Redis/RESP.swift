import NIOCore

/// A value of the Redis serialization protocol (RESP2).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil is the null bulk string.
    case bulkString([UInt8]?)
    /// nil is the null array.
    case array([RESPValue]?)

    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString(let bytes?): Int64(String(decoding: bytes, as: UTF8.self))
        case .simpleString(let text): Int64(text)
        default: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }

    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

/// Writes commands as RESP arrays of bulk strings.
public enum RESPEncoder {
    public static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }
}

public enum RESPParseError: Error, Equatable {
    case invalidType(UInt8)
    case invalidLength
    case invalidInteger
    case tooDeep
}

/// Parses RESP values from a buffer; returns nil (consuming nothing) when the buffer does not
/// yet hold a whole value, so bytes can arrive split anywhere.
public enum RESPParser {
    static let maximumBulkLength = 512 * 1024 * 1024

    public static func parse(_ buffer: inout ByteBuffer) throws(RESPParseError) -> RESPValue? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPParseError) -> RESPValue? {
        guard depth < 64 else { throw .tooDeep }
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let line = readLine(&buffer, skipping: 1) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw .invalidInteger }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maximumBulkLength else { throw .invalidLength }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= 1_000_000 else { throw .invalidLength }
            if count == -1 { return .array(nil) }
            var values: [RESPValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count {
                guard let value = try parseValue(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            throw .invalidType(type)
        }
    }

    /// Reads up to CRLF (after skipping the type byte); nil when no full line is there yet.
    private static func readLine(_ buffer: inout ByteBuffer, skipping: Int) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex, view[cr + 1] == UInt8(ascii: "\n") else {
            return nil
        }
        let start = view.startIndex + skipping
        let text = String(decoding: view[start..<cr], as: UTF8.self)
        buffer.moveReaderIndex(to: cr + 2)
        return text
    }
}
