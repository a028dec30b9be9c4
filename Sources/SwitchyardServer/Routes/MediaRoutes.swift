import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore

/// The multipart upload endpoints: `POST /v1/images/edits`, `/v1/audio/transcriptions` and
/// `/v1/audio/translations`. (Image generations and speech take JSON and are served with the
/// other JSON endpoints.)
///
/// The body is read only up to the start of the file: the form fields before it give the
/// model and what the checks and prices need; the file is streamed to the provider as it
/// arrives, within the endpoint's `max_body_size`.
struct MediaRoutes {
    let routes: GatewayRoutes

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        for prefix in ["/v1", ""] {
            for endpoint in Endpoint.allCases where endpoint.isUpload {
                router.post(RouterPath(prefix + endpoint.rawValue)) { request, context in
                    try await upload(endpoint, request: request, context: context)
                }
            }
        }
    }

    /// The form fields the gateway reads (and puts, as JSON, where the checks look).
    static let readFields: Set<String> = ["model", "prompt", "size", "quality", "user", "response_format", "language"]

    func upload(_ endpoint: Endpoint, request: Request, context: GatewayRequestContext) async throws -> Response {
        let contentType = request.headers.value(.contentType) ?? ""
        guard let boundary = MultipartPrefix.boundary(contentType: contentType) else {
            let found = contentType.isEmpty ? "none" : String(contentType.prefix { $0 != ";" }.prefix(100))
            throw GatewayError.unsupportedMediaType(
                "Send the body as multipart/form-data with a boundary (got \(found)).")
        }
        let limit = context.maxBodyBytes
        let length = request.headers.value(.contentLength).flatMap { Int($0) }
        var parser = MultipartPrefix(boundary: boundary)
        var head: [UInt8] = []
        let body = RequestBodyCursor(request.body.makeAsyncIterator())
        var outcome = MultipartPrefix.Outcome.needMore
        while outcome == .needMore {
            guard let chunk = try await body.next() else {
                throw GatewayError.invalidRequest(
                    "The multipart body could not be read: it ended before its closing boundary.", code: .invalidMultipart)
            }
            head.append(contentsOf: chunk.readableBytesView)
            if head.count > limit { throw GatewayError.bodyTooLarge(limit: limit) }
            outcome = try parser.parse(head)
        }
        let fileField = endpoint == .imageEdits ? "image" : "file"
        guard let file = parser.file else {
            throw GatewayError.invalidRequest(
                "The request has no file: send it as the multipart field '\(fileField)'.", param: fileField, code: .missingFile)
        }
        guard let model = parser.fields["model"], !model.isEmpty else {
            throw GatewayError.invalidRequest(
                "'model' is missing: send it as a form field before the file (the gateway does not read past the file).",
                param: "model", code: .missingRequiredParameter)
        }
        if endpoint != .imageEdits, file.field != "file" {
            throw GatewayError.invalidRequest(
                "The file must be sent as the multipart field 'file' (got '\(file.field.prefix(64))').", param: "file", code: .missingFile)
        }
        var summary: JSONObject = ["model": .string(model)]
        for (name, value) in parser.fields where Self.readFields.contains(name) && name != "model" {
            summary[name] = .string(value)
        }
        if let n = parser.fields["n"] {
            guard let count = Int(n) else { throw GatewayError.invalidType(field: "n", expected: "an integer", found: "'\(n.prefix(20))'") }
            summary["n"] = JSONValue(count)
        }
        let upload = MediaUpload(
            contentType: contentType, prefix: parser, head: head, length: length,
            rest: ByteStream { { try await body.next() } }, maxBytes: limit)
        return try await routes.inference(
            endpoint, request: request, body: ByteBuffer(bytes: JSONValue.object(summary).serializedBytes()), dialect: .openAI, upload: upload,
            context: context)
    }
}

/// The request body's iterator, shared between the route (which reads the form fields) and the
/// upload stream (which forwards the rest); read by one task at a time.
final class RequestBodyCursor: @unchecked Sendable {
    private var iterator: RequestBody.AsyncIterator

    init(_ iterator: RequestBody.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> ByteBuffer? { try await iterator.next() }
}
