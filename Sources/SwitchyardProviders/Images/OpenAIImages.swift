import NIOCore
import SwitchyardCore

/// OpenAI's images request (`/v1/images/generations`, and the form fields of `/v1/images/edits`
/// as the gateway read them) for adapters that translate it to another image API (Gemini,
/// Imagen, Bedrock), and the OpenAI answer they build from what came back.
///
/// These APIs return image bytes, never URLs: `response_format: url` is refused (400), and
/// answers carry `b64_json`. Parameters they have no counterpart for (`style`, a transparent
/// `background`, streaming) are refused rather than dropped.
public struct OpenAIImageRequest: Sendable, Equatable {
    public var prompt: String
    /// `n`: how many images (1–10, the gateway checked the range).
    public var count: Int
    /// `size` as sent (`1024x1536`), nil when absent or `auto`.
    public var size: String?
    public var width: Int?
    public var height: Int?
    /// `quality` as sent (`standard`, `hd`, `low`, `medium`, `high`), nil when absent or `auto`.
    public var quality: String?
    /// `output_format` (`png`, `jpeg`, `webp`), nil when absent.
    public var outputFormat: String?
    /// `output_compression` (0–100, JPEG and WebP), nil when absent.
    public var outputCompression: Int?

    /// Reads the body the gateway forwards (JSON; for edits the form fields before the file).
    public static func parse(_ bytes: [UInt8], provider: String) throws(GatewayError) -> OpenAIImageRequest {
        guard let body = (try? JSONValue.parse(bytes))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        guard let prompt = body["prompt"]?.stringValue, !prompt.isEmpty else {
            throw GatewayError.invalidRequest("'prompt' must be a non-empty string.", param: "prompt", code: .invalidValue)
        }
        var request = OpenAIImageRequest(prompt: prompt, count: 1)
        switch body["n"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let count = Int(text) else { throw GatewayError.invalidType(field: "n", expected: "an integer", found: "'\(text.prefix(20))'") }
            request.count = count
        case let value?:
            guard let count = value.intValue else { throw GatewayError.invalidType(field: "n", expected: "an integer", found: value.typeName) }
            request.count = count
        }
        guard (1...10).contains(request.count) else {
            throw GatewayError.invalidRequest("Invalid 'n': \(request.count) is outside 1 to 10.", param: "n", code: .invalidValue)
        }
        if let size = try string(body, "size"), size != "auto" {
            let sides = size.split(separator: "x", omittingEmptySubsequences: false)
            guard sides.count == 2, let width = Int(sides[0]), let height = Int(sides[1]), (1...16384).contains(width), (1...16384).contains(height)
            else {
                throw GatewayError.invalidRequest(
                    "Invalid 'size' '\(size.prefix(40))': send WIDTHxHEIGHT in pixels (1024x1024, 1024x1536, ...) or 'auto'.", param: "size",
                    code: .invalidValue)
            }
            request.size = size
            request.width = width
            request.height = height
        }
        if let quality = try string(body, "quality"), quality != "auto" { request.quality = quality.lowercased() }
        if let format = try string(body, "output_format") { request.outputFormat = format.lowercased() }
        if let compression = body["output_compression"], compression != .null {
            guard let value = compression.intValue, (0...100).contains(value) else {
                throw GatewayError.invalidRequest(
                    "Invalid 'output_compression': use an integer from 0 to 100.", param: "output_compression", code: .invalidValue)
            }
            request.outputCompression = value
        }
        switch try string(body, "response_format") {
        case nil, "b64_json": break
        case "url":
            throw GatewayError.invalidRequest(
                "Provider '\(provider)' returns image bytes, not URLs: ask for response_format 'b64_json' (the default for this model).",
                param: "response_format", code: .unsupportedParameter)
        case let other?:
            throw GatewayError.invalidRequest(
                "Invalid 'response_format' '\(other.prefix(40))': use 'b64_json'.", param: "response_format", code: .invalidValue)
        }
        if body["stream"]?.boolValue == true {
            throw GatewayError.invalidRequest(
                "Provider '\(provider)' does not stream images: send the request without 'stream'.", param: "stream", code: .unsupportedParameter)
        }
        if let style = try string(body, "style") {
            throw GatewayError.invalidRequest(
                "Provider '\(provider)' has no image 'style' ('\(style.prefix(20))'): describe the style in the prompt.", param: "style",
                code: .unsupportedParameter)
        }
        if let background = try string(body, "background"), background != "auto", background != "opaque" {
            throw GatewayError.invalidRequest(
                "Provider '\(provider)' cannot make a '\(background.prefix(20))' background.", param: "background", code: .unsupportedParameter)
        }
        return request
    }

    private static func string(_ body: JSONObject, _ field: String) throws(GatewayError) -> String? {
        switch body[field] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let value?: throw GatewayError.invalidType(field: field, expected: "a string", found: value.typeName)
        }
    }

    /// Ratios by the names the APIs give them: 21:9 is 7:3 in lowest terms, and DALL·E 3's
    /// wide and tall sizes (1792x1024, 1024x1792: 7:4) are taken as 16:9 and 9:16.
    static let ratioNames = ["7:3": "21:9", "3:7": "9:21", "7:4": "16:9", "4:7": "9:16"]

    /// The aspect ratio of `size` among `accepted` (`16:9`): the size's own ratio in lowest
    /// terms, named as ``ratioNames`` says. Nil when no size was asked for; a size with no
    /// accepted ratio is refused (400) naming the ratios the model takes.
    public func aspectRatio(accepted: [String], model: String, provider: String) throws(GatewayError) -> String? {
        guard let width, let height, let size else { return nil }
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let divisor = gcd(width, height)
        let reduced = "\(width / divisor):\(height / divisor)"
        let ratio = Self.ratioNames[reduced] ?? reduced
        guard accepted.contains(ratio) else {
            throw GatewayError.invalidRequest(
                "Invalid 'size' '\(size)' for model '\(model)' on provider '\(provider)': it makes images in the aspect ratios "
                    + accepted.joined(separator: ", ") + " only; send a size with one of them (1024x1024 for 1:1, 1792x1024 for 16:9, ...).",
                param: "size", code: .invalidValue)
        }
        return ratio
    }

    /// Refuses an `output_format` other than those listed (the first is what the API returns
    /// by default), and an `output_compression` unless `compresses`.
    public func checkOutputFormat(_ formats: [String], compresses: Bool = false, model: String, provider: String) throws(GatewayError) {
        if outputCompression != nil && !(compresses && outputFormat == "jpeg") {
            throw GatewayError.invalidRequest(
                "Model '\(model)' on provider '\(provider)' takes no 'output_compression'" + (compresses ? " except for JPEG output." : "."),
                param: "output_compression", code: .unsupportedParameter)
        }
        guard let outputFormat, !formats.contains(outputFormat) else { return }
        throw GatewayError.invalidRequest(
            "Invalid 'output_format' '\(outputFormat.prefix(20))' for model '\(model)' on provider '\(provider)': it returns "
                + formats.joined(separator: " or ") + ".", param: "output_format", code: .unsupportedParameter)
    }
}

/// One image a provider made.
public struct GeneratedImage: Sendable, Equatable {
    public var base64: String
    public var mimeType: String?
    /// The prompt as the provider rewrote it (Imagen's prompt enhancement), when it says.
    public var revisedPrompt: String?

    public init(base64: String, mimeType: String? = nil, revisedPrompt: String? = nil) {
        self.base64 = base64
        self.mimeType = mimeType
        self.revisedPrompt = revisedPrompt
    }
}

public enum OpenAIImages {
    /// OpenAI's images answer: `created`, `data[{b64_json, revised_prompt?}]`, the `size` and
    /// `quality` asked for (what per-image prices are looked up by), `output_format` from the
    /// images' type, and `usage` (`input_tokens`, `output_tokens`) when the provider counted tokens.
    public static func response(
        _ images: [GeneratedImage], request: OpenAIImageRequest, created: Int, usage: (input: Int, output: Int)? = nil
    ) -> JSONValue {
        var answer: JSONObject = [
            "created": JSONValue(created),
            "data": .array(
                images.map { image in
                    var item: JSONObject = ["b64_json": .string(image.base64)]
                    if let revised = image.revisedPrompt { item["revised_prompt"] = .string(revised) }
                    return .object(item)
                }),
        ]
        if let size = request.size { answer["size"] = .string(size) }
        if let quality = request.quality { answer["quality"] = .string(quality) }
        if let mime = images.first?.mimeType?.lowercased(), mime.hasPrefix("image/") {
            answer["output_format"] = .string(mime == "image/jpg" ? "jpeg" : String(mime.dropFirst("image/".count)))
        }
        if let usage {
            answer["usage"] = [
                "input_tokens": JSONValue(usage.input), "output_tokens": JSONValue(usage.output),
                "total_tokens": JSONValue(usage.input + usage.output),
            ]
        }
        return .object(answer)
    }

    /// An answer already in memory, as adapters return translated bodies.
    static func upstreamResponse(_ answer: JSONValue) -> UpstreamResponse {
        UpstreamResponse(
            status: 200, headers: [HeaderField("content-type", "application/json")],
            body: ByteStream(buffers: [ByteBuffer(bytes: answer.serializedBytes())]))
    }

    /// The refusal for an answer that holds no image because the provider's filters held it back.
    static func filtered(provider: String, reason: String) -> GatewayError {
        GatewayError.provider(
            status: 400, type: "invalid_request_error", code: .contentFilter,
            message: "Provider '\(provider)' made no image: its safety filters blocked the request or the image (\(reason.prefix(200))).")
    }

    /// Whole seconds since 1970, for `created`.
    static var now: Int { Int(WallClock.unixTime()) }
}

/// The files of an image edit (`image`, or `image[]` for several), read whole from the
/// multipart body: APIs that take images inline (base64 in JSON) need all their bytes. The
/// body's size is bounded by the endpoint's `max_body_size` as it streams in.
public struct ImageEditUpload: Sendable {
    public struct File: Sendable, Equatable {
        public var field: String
        public var contentType: String?
        public var bytes: [UInt8]
    }

    public var images: [File] = []
    public var mask: File?

    /// Reads `upload` to its end.
    public static func read(_ upload: UploadBody) async throws -> ImageEditUpload {
        guard var parser = MultipartParser(contentType: upload.contentType) else {
            throw GatewayError.invalidRequest("The multipart body could not be read: it has no boundary.", code: .invalidMultipart)
        }
        var result = ImageEditUpload()
        var current: (name: String, fileName: String?, contentType: String?)?
        var bytes: [UInt8] = []
        for try await chunk in upload.stream {
            let events: [MultipartParser.Event]
            do {
                events = try parser.feed(chunk.readableBytesView)
            } catch {
                throw GatewayError.invalidRequest("The multipart body could not be read: \(error.description).", code: .invalidMultipart)
            }
            for event in events {
                switch event {
                case .partStart(let headers):
                    let disposition = headers["content-disposition"] ?? ""
                    current = (
                        MultipartParser.parameter("name", in: disposition) ?? "", MultipartParser.parameter("filename", in: disposition),
                        headers["content-type"]
                    )
                    bytes = []
                case .data(let data):
                    if current?.fileName != nil { bytes += data }
                case .partEnd:
                    if let part = current, part.fileName != nil {
                        let file = File(field: part.name, contentType: part.contentType, bytes: bytes)
                        if part.name == "mask" {
                            result.mask = file
                        } else if part.name == "image" || part.name == "image[]" {
                            result.images.append(file)
                        }
                    }
                    current = nil
                    bytes = []
                }
            }
        }
        guard parser.isComplete else {
            throw GatewayError.invalidRequest("The multipart body could not be read: it ended before its closing boundary.", code: .invalidMultipart)
        }
        guard !result.images.isEmpty else {
            throw GatewayError.invalidRequest("The request has no image: send it as the multipart field 'image'.", param: "image", code: .missingFile)
        }
        return result
    }

    /// The media type of an image file: what its first bytes say (PNG, JPEG, WebP), else the
    /// part's `Content-Type`; nil when neither names an image.
    public static func mimeType(of file: File) -> String? {
        let bytes = file.bytes
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) { return "image/webp" }
        if let type = file.contentType?.lowercased(), type.hasPrefix("image/") { return type }
        return nil
    }
}

extension HTTPTransport {
    /// Makes `count` calls at once (APIs that make one image per call), each answer read whole.
    /// Returns the bodies in call order, or the first failed answer as the provider sent it
    /// (status, headers and body, for the gateway to map).
    static func imageCalls(
        count: Int, provider: String, _ call: @escaping @Sendable () async throws -> UpstreamResponse
    ) async throws -> ImageCalls {
        let answers = try await withThrowingTaskGroup(of: (Int, UpstreamResponse, [UInt8]).self) { group in
            for index in 0..<count {
                group.addTask {
                    let response = try await call()
                    do {
                        return (index, response, Array(buffer: try await response.body.collect(upTo: 256 * 1024 * 1024)))
                    } catch {
                        throw HTTPTransport.streamError(error, provider: provider)
                    }
                }
            }
            var answers: [(Int, UpstreamResponse, [UInt8])] = []
            for try await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }
        }
        if let failed = answers.first(where: { !(200..<300).contains($0.1.status) }) {
            return .failed(
                UpstreamResponse(status: failed.1.status, headers: failed.1.headers, body: ByteStream(buffers: [ByteBuffer(bytes: failed.2)])))
        }
        return .answered(answers.map(\.2))
    }
}

/// What ``HTTPTransport/imageCalls(count:provider:_:)`` got back.
enum ImageCalls {
    /// Every call's body, in call order.
    case answered([[UInt8]])
    /// The first answer with an error status.
    case failed(UpstreamResponse)
}
