import Foundation
import NIOCore
import SwitchyardCore
import Synchronization

/// Images and audio: generated images are small real PNGs (their colour taken from the
/// prompt), transcripts describe the upload they were made from (its duration from the WAV
/// header, its size and name), speech is a real WAV whose length grows with the input.
extension MockProvider {
    /// Seconds of speech per input character.
    public static let speechSecondsPerCharacter = 0.05
    /// Sample rate of the mock's speech (16-bit mono PCM).
    public static let speechSampleRate = 8000

    /// The answer to a media path, or nil for other paths. `head` is the body (an upload's
    /// first bytes: its form fields and the file's header), `totalBytes` the whole body's size.
    func mediaPlan(path: String, headers: [HeaderField], head: [UInt8], totalBytes: Int, behaviour: MockBehaviour) -> Plan? {
        let media = ["/images/generations", "/images/edits", "/audio/transcriptions", "/audio/translations", "/audio/speech"]
        guard media.contains(where: { path.hasSuffix($0) }) else { return nil }
        var behaviour = behaviour
        let contentType = headers.first(where: { $0.name.lowercased() == "content-type" })?.value ?? ""
        var fields: [String: String] = [:]
        var file: MultipartPrefix.FilePart?
        var trailer = 0
        if let boundary = MultipartPrefix.boundary(contentType: contentType) {
            var parser = MultipartPrefix(boundary: boundary)
            guard (try? parser.parse(head)) != nil else {
                return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_multipart", message: "Could not parse multipart form.")
            }
            fields = parser.fields
            file = parser.file
            trailer = parser.boundary.count + 6  // \r\n--boundary--\r\n after the file
            state.withLock { $0.lastUploadBytes = totalBytes }
        } else if let object = (try? JSONValue.parse(head))?.objectValue {
            for key in object.keys { fields[key] = object[key].map { $0.stringValue ?? $0.serialized() } }
            if let mock = object["mock"]?.objectValue { behaviour.apply(mock) }
        } else {
            return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_json", message: "The body must be JSON or multipart.")
        }
        applyPlannedFailure(&behaviour)
        if let status = behaviour.status, status >= 400 {
            return errorPlan(
                status: status, type: Self.errorType(for: status), code: behaviour.errorCode, message: "Mock failure with status \(status).")
        }
        let model = fields["model"] ?? "mock"
        if path.hasSuffix("/audio/speech") {
            guard let input = fields["input"], !input.isEmpty else {
                return errorPlan(status: 400, type: "invalid_request_error", code: "missing_required_parameter", message: "'input' is required.")
            }
            let seconds = Double(input.unicodeScalars.count) * Self.speechSecondsPerCharacter
            let wav = Self.speechWAV(seconds: seconds)
            // Sent in pieces, as a provider streams audio.
            let pieceSize = 16 * 1024
            var pieces = stride(from: 0, to: wav.count, by: pieceSize).map { start in
                Plan.Piece(delay: .zero, bytes: ByteBuffer(bytes: wav[start..<min(start + pieceSize, wav.count)]))
            }
            // `drop_after`: the connection breaks after that many pieces.
            let drop = behaviour.dropAfterChunks.map { $0 < pieces.count } ?? false
            if drop, let keep = behaviour.dropAfterChunks { pieces = Array(pieces.prefix(keep)) }
            return Plan(
                status: 200, headers: [HeaderField("content-type", "audio/wav")], latency: .milliseconds(behaviour.latencyMilliseconds),
                pieces: pieces, dropConnection: drop, isStream: drop)
        }
        if path.hasSuffix("/images/generations") || path.hasSuffix("/images/edits") {
            guard let prompt = fields["prompt"] else {
                return errorPlan(status: 400, type: "invalid_request_error", code: "missing_required_parameter", message: "'prompt' is required.")
            }
            if path.hasSuffix("/edits") && file == nil {
                return errorPlan(status: 400, type: "invalid_request_error", code: "missing_required_parameter", message: "'image' is required.")
            }
            let count = min(max(1, Int(fields["n"] ?? "1") ?? 1), 10)
            let png = Self.png(for: prompt + (file?.fileName ?? ""))
            let asURL = fields["response_format"] == "url"
            let images: [JSONValue] = (0..<count).map { _ in
                asURL
                    ? ["url": .string("data:image/png;base64," + Data(png).base64EncodedString()), "revised_prompt": .string(prompt)]
                    : ["b64_json": .string(Data(png).base64EncodedString()), "revised_prompt": .string(prompt)]
            }
            var answer: JSONObject = ["created": JSONValue(1_700_000_000), "data": .array(images)]
            if model.hasPrefix("gpt-image") {
                let input = Self.approximateTokens(prompt.utf8.count)
                answer["usage"] = [
                    "input_tokens": JSONValue(input), "output_tokens": JSONValue(272 * count), "total_tokens": JSONValue(input + 272 * count),
                ]
            }
            return jsonPlan(.object(answer), behaviour: behaviour)
        }
        // Transcriptions and translations.
        guard let file else {
            return errorPlan(status: 400, type: "invalid_request_error", code: "missing_required_parameter", message: "'file' is required.")
        }
        let fileHead = Array(head[min(file.dataStart, head.count)...])
        let fileBytes = max(0, totalBytes - file.dataStart - trailer)
        let wav = WAVHeader(fileHead)
        let seconds = wav.map { header in
            let size =
                header.dataSize == 0 || header.dataSize == 0xFFFF_FFFF
                ? fileBytes - header.dataOffset : min(header.dataSize, fileBytes - header.dataOffset)
            return Double(max(0, size)) / Double(header.byteRate)
        }
        let rounded = seconds.map { ($0 * 100).rounded() / 100 }
        let verb = path.hasSuffix("/translations") ? "Translated" : "Transcribed"
        let text =
            "\(verb) \(rounded.map { "\($0) seconds of audio" } ?? "audio") from \(file.fileName) (\(fileBytes) bytes"
            + (wav.map { ", \($0.sampleRate) Hz" } ?? "") + ")."
        switch fields["response_format"] ?? "json" {
        case "text", "srt", "vtt":
            return Plan(
                status: 200, headers: [HeaderField("content-type", "text/plain; charset=utf-8")],
                latency: .milliseconds(behaviour.latencyMilliseconds),
                pieces: [.init(delay: .zero, bytes: ByteBuffer(string: text + "\n"))], dropConnection: false, isStream: false)
        case "verbose_json":
            var answer: JSONObject = [
                "task": .string(verb == "Translated" ? "translate" : "transcribe"), "language": "english", "text": .string(text),
            ]
            if let rounded { answer["duration"] = JSONValue(rounded) }
            return jsonPlan(.object(answer), behaviour: behaviour)
        default:
            var answer: JSONObject = ["text": .string(text)]
            if let rounded, !behaviour.omitUsage { answer["usage"] = ["type": "duration", "seconds": JSONValue(Int(rounded.rounded(.up)))] }
            return jsonPlan(.object(answer), behaviour: behaviour)
        }
    }

    /// A mono 16-bit PCM WAV of `seconds`: a 440 Hz tone.
    public static func speechWAV(seconds: Double) -> [UInt8] {
        let samples = Int(seconds * Double(speechSampleRate))
        var bytes = WAVHeader.pcm(sampleRate: speechSampleRate, dataSize: samples * 2)
        bytes.reserveCapacity(bytes.count + samples * 2)
        // A square-ish tone from a fixed table (no floating-point trigonometry per sample).
        let period = speechSampleRate / 440
        for index in 0..<samples {
            let value: Int16 = index % period < period / 2 ? 6000 : -6000
            bytes.append(UInt8(truncatingIfNeeded: value))
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        }
        return bytes
    }

    /// An 8×8 PNG in one colour taken from `seed`: valid signature, IHDR, a stored (uncompressed)
    /// zlib IDAT and IEND, each with its CRC.
    public static func png(for seed: String) -> [UInt8] {
        var hash: UInt32 = 2_166_136_261
        for byte in seed.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let colour = [UInt8(hash & 0xFF), UInt8(hash >> 8 & 0xFF), UInt8(hash >> 16 & 0xFF)]
        let side = 8
        var raw: [UInt8] = []
        for _ in 0..<side {
            raw.append(0)  // filter: none
            for _ in 0..<side { raw.append(contentsOf: colour) }
        }
        func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + data
            return be32(UInt32(data.count)) + typed + be32(crc32(typed))
        }
        var adlerA: UInt32 = 1
        var adlerB: UInt32 = 0
        for byte in raw {
            adlerA = (adlerA + UInt32(byte)) % 65521
            adlerB = (adlerB + adlerA) % 65521
        }
        let length = UInt16(raw.count)
        let zlib: [UInt8] =
            [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)] + raw
            + be32(adlerB << 16 | adlerA)
        let header = be32(UInt32(side)) + be32(UInt32(side)) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
