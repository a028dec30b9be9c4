import NIOCore
import Synchronization

/// A multipart upload (image edits, transcriptions, translations) on its way to a provider:
/// the form fields before the file, read by the gateway, and the rest of the body, streamed.
///
/// The gateway reads the body only up to the start of the first file part: `model` and the
/// other fields must come before the file (as the OpenAI SDKs and curl's `-F` order them).
/// The file itself is never held in memory; it is forwarded chunk by chunk as the provider
/// takes it. The body can be sent once: a retry or fallback after a provider started reading
/// it is refused (``body(model:)`` throws), one before that is fine.
public struct MediaUpload: Sendable {
    /// `multipart/form-data; boundary=...` as the client sent it.
    public let contentType: String
    /// The form fields before the file (`model`, `prompt`, `language`, ...), by name.
    public let fields: [String: String]
    /// The file part's field name, file name and content type, when the body has a file.
    public let file: MultipartPrefix.FilePart?
    /// The whole body's length, when the client sent `Content-Length`.
    public let length: Int?
    /// The bytes read so far (the fields and the start of the file).
    let head: [UInt8]
    /// Where `model`'s value lies in `head`.
    let modelRange: Range<Int>?
    let rest: ByteStream
    let meter: UploadMeter

    public init(contentType: String, prefix: MultipartPrefix, head: [UInt8], length: Int?, rest: ByteStream, maxBytes: Int) {
        self.contentType = contentType
        self.fields = prefix.fields
        self.file = prefix.file
        self.length = length
        self.head = head
        self.modelRange = prefix.ranges["model"]
        self.rest = rest
        self.meter = UploadMeter(fileStart: prefix.file?.dataStart ?? head.count, boundaryLength: prefix.boundary.count, maxBytes: maxBytes)
    }

    /// The body with `model`'s value replaced by `model`, and its length when known; throws
    /// when the body was already (partly) sent to a provider.
    public func body(model: String) throws(GatewayError) -> UploadBody {
        guard !meter.isTaken else { throw Self.alreadySent }
        var first = head
        var length = length
        if let range = modelRange {
            let replacement = Array(model.utf8)
            first.replaceSubrange(range, with: replacement)
            length = length.map { $0 - range.count + replacement.count }
            // The file now starts that much earlier or later in what is sent.
            meter.shiftFileStart(by: replacement.count - range.count)
        }
        let meter = self.meter
        let rest = self.rest
        let opening = first
        return UploadBody(
            contentType: contentType,
            stream: ByteStream {
                guard meter.take() else { return { throw Self.alreadySent } }
                let cursor = UploadCursor(head: opening, rest: rest.makeAsyncIterator())
                return {
                    if let head = cursor.takeHead() {
                        meter.observe(head[...])
                        return ByteBuffer(bytes: head)
                    }
                    guard let chunk = try await cursor.next() else { return nil }
                    try meter.observe(chunk)
                    return chunk
                }
            }, length: length
        )
    }

    static let alreadySent = GatewayError.upstreamUnavailable(
        "The upload was already being sent to a provider that failed; an upload is not sent twice. Send the request again.",
        code: .uploadNotRetryable)

    /// Seconds of audio in the upload, from its WAV header (`nil` for other formats or before
    /// the header went through): the data chunk's size over the byte rate, or the bytes that
    /// followed the header when the size field is left open (a streamed WAV).
    public var wavSeconds: Double? { meter.wavSeconds }

    /// Bytes of the file sent so far (approximate: the closing boundary is included).
    public var fileBytes: Int { meter.fileBytes }
}

/// An upload's body as it goes to one provider: its content type, a stream that can be read
/// once, and its length when known.
public struct UploadBody: Sendable {
    public var contentType: String
    public var stream: ByteStream
    public var length: Int?

    public init(contentType: String, stream: ByteStream, length: Int?) {
        self.contentType = contentType
        self.stream = stream
        self.length = length
    }
}

/// The head of an upload, then the rest of the request body; read by one task at a time.
final class UploadCursor: @unchecked Sendable {
    private var head: [UInt8]?
    private var rest: ByteStream.AsyncIterator

    init(head: [UInt8], rest: ByteStream.AsyncIterator) {
        self.head = head
        self.rest = rest
    }

    func takeHead() -> [UInt8]? {
        defer { head = nil }
        return head
    }

    func next() async throws -> ByteBuffer? { try await rest.next() }
}

/// Counts an upload's bytes as they go out, keeps the first bytes of the file (its header),
/// enforces the endpoint's size limit and makes sure the body is sent only once.
final class UploadMeter: Sendable {
    private struct State {
        var taken = false
        var streamed = 0
        var header: [UInt8] = []
        /// How far renaming the model moved the file's start.
        var shift = 0
    }

    private let originalFileStart: Int
    let boundaryLength: Int
    let maxBytes: Int
    private let state = Mutex(State())
    static let headerBytes = 4096

    init(fileStart: Int, boundaryLength: Int, maxBytes: Int) {
        self.originalFileStart = fileStart
        self.boundaryLength = boundaryLength
        self.maxBytes = maxBytes
    }

    var isTaken: Bool { state.withLock { $0.taken } }

    func shiftFileStart(by delta: Int) {
        state.withLock { $0.shift = delta }
    }

    func take() -> Bool {
        state.withLock { state in
            guard !state.taken else { return false }
            state.taken = true
            return true
        }
    }

    func observe(_ bytes: ArraySlice<UInt8>) {
        state.withLock { state in
            Self.keepHeader(&state, bytes, fileStart: originalFileStart + state.shift)
            state.streamed += bytes.count
        }
    }

    func observe(_ chunk: ByteBuffer) throws(GatewayError) {
        let total: Int = state.withLock { state in
            let fileStart = originalFileStart + state.shift
            if state.header.count < Self.headerBytes && state.streamed + chunk.readableBytes > fileStart {
                Self.keepHeader(&state, ArraySlice(chunk.readableBytesView), fileStart: fileStart)
            }
            state.streamed += chunk.readableBytes
            return state.streamed
        }
        if total > maxBytes { throw GatewayError.bodyTooLarge(limit: maxBytes) }
    }

    /// Appends the part of `bytes` (which start at `state.streamed` in the body) that falls in
    /// the file's first ``headerBytes``.
    private static func keepHeader(_ state: inout State, _ bytes: ArraySlice<UInt8>, fileStart: Int) {
        guard state.header.count < headerBytes else { return }
        let start = max(fileStart - state.streamed, 0)
        guard start < bytes.count else { return }
        let from = bytes.startIndex + start
        let count = min(headerBytes - state.header.count, bytes.count - start)
        state.header.append(contentsOf: bytes[from..<(from + count)])
    }

    /// The closing delimiter after the file: `\r\n--boundary--\r\n` (`boundaryLength` counts
    /// the leading `--`).
    var trailerLength: Int { boundaryLength + 6 }

    var fileBytes: Int {
        state.withLock { max(0, $0.streamed - originalFileStart - $0.shift - trailerLength) }
    }

    var wavSeconds: Double? {
        let (header, streamed, fileStart) = state.withLock { ($0.header, $0.streamed, originalFileStart + $0.shift) }
        guard let wav = WAVHeader(header) else { return nil }
        let available = max(0, streamed - fileStart - wav.dataOffset - trailerLength)
        let size = wav.dataSize == 0 || wav.dataSize == 0xFFFF_FFFF ? available : min(wav.dataSize, available)
        return Double(size) / Double(wav.byteRate)
    }
}

/// The parts of a WAV (RIFF) header that give its duration.
public struct WAVHeader: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    public var bitsPerSample: Int
    /// Bytes of audio per second (`fmt ` chunk).
    public var byteRate: Int
    /// The `data` chunk's declared size (0 or 0xFFFFFFFF when streamed without a size).
    public var dataSize: Int
    /// Where the audio data starts in the file.
    public var dataOffset: Int

    /// Parses a RIFF/WAVE header from the file's first bytes; nil when it is not one (or the
    /// `data` chunk is not among them).
    public init?(_ bytes: [UInt8]) {
        func u32(_ at: Int) -> Int? {
            guard at >= 0, at + 4 <= bytes.count else { return nil }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8
        }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else { return nil }
        var offset = 12
        var format: (channels: Int, rate: Int, byteRate: Int, bits: Int)?
        while offset + 8 <= bytes.count {
            guard let size = u32(offset + 4) else { return nil }
            let id = bytes[offset..<(offset + 4)]
            if id.elementsEqual("fmt ".utf8) {
                guard let channels = u16(offset + 10), let rate = u32(offset + 12), let byteRate = u32(offset + 16), let bits = u16(offset + 22)
                else { return nil }
                format = (channels, rate, byteRate, bits)
            } else if id.elementsEqual("data".utf8) {
                guard let format, format.byteRate > 0 else { return nil }
                self.channels = format.channels
                self.sampleRate = format.rate
                self.byteRate = format.byteRate
                self.bitsPerSample = format.bits
                self.dataSize = size
                self.dataOffset = offset + 8
                return
            }
            // Chunks are padded to an even size.
            offset += 8 + size + (size & 1)
        }
        return nil
    }

    /// A PCM WAV header for `dataSize` bytes of audio.
    public static func pcm(sampleRate: Int, channels: Int = 1, bitsPerSample: Int = 16, dataSize: Int) -> [UInt8] {
        func u32(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24 & 0xFF)] }
        func u16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        let blockAlign = channels * bitsPerSample / 8
        return Array("RIFF".utf8) + u32(36 + dataSize) + Array("WAVE".utf8) + Array("fmt ".utf8) + u32(16) + u16(1) + u16(channels)
            + u32(sampleRate) + u32(sampleRate * blockAlign) + u16(blockAlign) + u16(bitsPerSample) + Array("data".utf8) + u32(dataSize)
    }
}

/// Reads a `multipart/form-data` body up to the start of its first file part: the form
/// fields before it, where each value lies, and the file part's headers. Pure: feed it the
/// bytes read so far; it says whether it needs more.
public struct MultipartPrefix: Sendable {
    public struct FilePart: Sendable, Equatable {
        public var field: String
        public var fileName: String
        public var contentType: String?
        /// Where the file's content starts in the body.
        public var dataStart: Int

        public init(field: String, fileName: String, contentType: String?, dataStart: Int) {
            self.field = field
            self.fileName = fileName
            self.contentType = contentType
            self.dataStart = dataStart
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// The first file part's content starts at `file.dataStart`.
        case file
        /// The body ended without a file part.
        case ended
        case needMore
    }

    public let boundary: [UInt8]
    public private(set) var fields: [String: String] = [:]
    public private(set) var ranges: [String: Range<Int>] = [:]
    public private(set) var file: FilePart?

    /// The boundary of a `multipart/form-data` content type; nil when it is something else.
    public static func boundary(contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingSpaces() }
        guard let first = parts.first, first.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            var value = part.dropFirst("boundary=".count)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return value.isEmpty || value.utf8.count > 200 ? nil : String(value)
        }
        return nil
    }

    public init(boundary: String) {
        self.boundary = Array("--\(boundary)".utf8)
    }

    /// Parses `bytes` (the body from its start) again from the beginning.
    public mutating func parse(_ bytes: [UInt8]) throws(GatewayError) -> Outcome {
        fields = [:]
        ranges = [:]
        file = nil
        guard var position = Self.find(boundary, in: bytes, from: 0) else {
            if bytes.count > 1024 { throw Self.invalid("the body does not start with the boundary of its Content-Type") }
            return .needMore
        }
        while true {
            position += boundary.count
            guard position + 2 <= bytes.count else { return .needMore }
            if bytes[position] == UInt8(ascii: "-") && bytes[position + 1] == UInt8(ascii: "-") { return .ended }
            guard let headersEnd = Self.find(Array("\r\n\r\n".utf8), in: bytes, from: position) else {
                if bytes.count - position > 16 * 1024 { throw Self.invalid("a part's headers are longer than 16 KiB") }
                return .needMore
            }
            let headerText = String(decoding: bytes[position..<headersEnd], as: UTF8.self)
            var name: String?
            var fileName: String?
            var contentType: String?
            for line in headerText.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon].trimmingSpaces().lowercased()
                let value = line[line.index(after: colon)...].trimmingSpaces()
                if key == "content-disposition" {
                    name = Self.parameter("name", in: value)
                    fileName = Self.parameter("filename", in: value)
                } else if key == "content-type" {
                    contentType = value
                }
            }
            guard let name else { throw Self.invalid("a part has no Content-Disposition name") }
            let dataStart = headersEnd + 4
            if let fileName {
                file = FilePart(field: name, fileName: fileName, contentType: contentType, dataStart: dataStart)
                return .file
            }
            let delimiter = Array("\r\n".utf8) + boundary
            guard let end = Self.find(delimiter, in: bytes, from: dataStart) else {
                if bytes.count - dataStart > 1024 * 1024 { throw Self.invalid("the form field '\(name.prefix(64))' is longer than 1 MiB") }
                return .needMore
            }
            fields[name] = String(decoding: bytes[dataStart..<end], as: UTF8.self)
            ranges[name] = dataStart..<end
            position = end + 2
        }
    }

    static func invalid(_ detail: String) -> GatewayError {
        GatewayError.invalidRequest("The multipart body could not be read: \(detail).", code: .invalidMultipart)
    }

    static func parameter(_ key: String, in value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let piece = piece.trimmingSpaces()
            guard piece.lowercased().hasPrefix(key + "=") else { continue }
            var found = piece.dropFirst(key.count + 1)
            if found.hasPrefix("\""), found.hasSuffix("\""), found.count >= 2 { found = found.dropFirst().dropLast() }
            return String(found)
        }
        return nil
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        let last = bytes.count - needle.count
        while index <= last {
            if bytes[index] == first {
                var matched = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}
