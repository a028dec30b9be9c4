import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// OpenAI's `/v1/files`: upload (multipart, streamed to disk), list, retrieve, content, delete.
/// A file belongs to the identity that uploaded it and to its team; to anyone else it does not
/// exist (404).
struct FilesRoutes {
    let stores: StoreService
    let storage: FileStorage
    let runtime: RuntimeHolder

    static let uploadPath = "/v1/files"

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.post(RouterPath(Self.uploadPath)) { request, context in try await upload(request, context: context) }
        router.get(RouterPath(Self.uploadPath)) { request, context in try await list(request, context: context) }
        router.get("/v1/files/:id") { _, context in
            try await owned(context).json.response()
        }
        router.get("/v1/files/:id/content") { _, context in
            let file = try await owned(context)
            let body = try await FileIO().loadFile(path: storage.path(of: file.id), context: context)
            return Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(file.filename.contentDispositionSafe)\""],
                body: body)
        }
        router.delete("/v1/files/:id") { _, context in
            let file = try await owned(context)
            _ = try await stores.batchStore().deleteFile(id: file.id)
            storage.remove(file.id)
            return JSONValue.object(["id": .string(file.id), "object": "file", "deleted": true]).response()
        }
    }

    static func notFound(_ id: String) -> GatewayError {
        .notFound("No such File object: \(id.prefix(100))", code: .fileNotFound, param: "file_id")
    }

    /// The file named in the path, when the caller may see it.
    func owned(_ context: GatewayRequestContext) async throws -> StoredFile {
        let id = context.parameters.get("id") ?? ""
        guard let file = try await stores.batchStore().file(id: id), file.owner.admits(context.identity ?? .anonymous) else {
            throw Self.notFound(id)
        }
        return file
    }

    func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.limit(query["limit"].map(String.init), default: 10_000, maximum: 10_000)
        let order = query["order"].map(String.init) ?? "desc"
        guard order == "asc" || order == "desc" else {
            throw GatewayError.invalidRequest("'order' must be asc or desc.", param: "order", code: .invalidValue)
        }
        let files = try await stores.batchStore().files(
            visibleTo: context.identity ?? .anonymous, purpose: query["purpose"].map(String.init), after: query["after"].map(String.init),
            limit: limit + 1, ascending: order == "asc")
        return Self.page(files.map(\.json), ids: files.map(\.id), limit: limit).response()
    }

    /// A list object with OpenAI's cursor fields, from one more item than the page holds.
    static func page(_ items: [JSONValue], ids: [String], limit: Int) -> JSONValue {
        let shown = Array(items.prefix(limit))
        return [
            "object": "list", "data": .array(shown), "first_id": ids.first.map(JSONValue.string) ?? .null,
            "last_id": ids.prefix(limit).last.map(JSONValue.string) ?? .null, "has_more": .bool(items.count > limit),
        ]
    }

    static func limit(_ text: String?, default value: Int, maximum: Int) throws -> Int {
        guard let text else { return value }
        guard let limit = Int(text), (1...maximum).contains(limit) else {
            throw GatewayError.invalidRequest("'limit' must be an integer from 1 to \(maximum).", param: "limit", code: .invalidValue)
        }
        return limit
    }

    /// `POST /v1/files`: a `multipart/form-data` body with `purpose` and `file`. The file's bytes
    /// go to disk as they arrive (never whole in memory), up to `files.max_file_size`. A `batch`
    /// file must be JSONL: an upload none of whose lines is a JSON object is refused.
    func upload(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let identity = context.identity ?? .anonymous
        if identity.kind == .anonymous, request.headers.value(HTTPField.Name("origin")!) != nil {
            // A web page may send a form cross-site without a preflight: an open gateway takes
            // uploads only from clients that are not browsers.
            throw GatewayError.permissionDenied(
                "Uploads from a web page need a key; the gateway has no master key configured.", code: .originNotAllowed)
        }
        guard let contentType = request.headers.value(.contentType), var parser = MultipartParser(contentType: contentType) else {
            throw GatewayError.unsupportedMediaType("Upload a file as multipart/form-data with the fields 'purpose' and 'file'.")
        }
        let limit = runtime.snapshot.config.files.maxFileBytes
        let writer = try storage.makeWriter()
        defer { writer.discard() }
        var fields: [String: String] = [:]
        var filename: String?
        var current: (name: String, isFile: Bool)?
        var sawFile = false
        var received = 0
        do {
            for try await chunk in request.body {
                received += chunk.readableBytes
                guard received <= limit + 64 * 1024 else { throw GatewayError.bodyTooLarge(limit: limit) }
                for event in try parser.feed(chunk.readableBytesView) {
                    switch event {
                    case .partStart(let headers):
                        let disposition = headers["content-disposition"] ?? ""
                        let name = MultipartParser.parameter("name", in: disposition) ?? ""
                        let isFile = name == "file" && !sawFile
                        if isFile {
                            sawFile = true
                            filename = MultipartParser.parameter("filename", in: disposition) ?? "file"
                        }
                        current = (name, isFile)
                    case .data(let bytes):
                        guard let part = current else { continue }
                        if part.isFile {
                            guard writer.bytes + bytes.count <= limit else { throw GatewayError.bodyTooLarge(limit: limit) }
                            try writer.write(bytes)
                        } else if (fields[part.name]?.utf8.count ?? 0) < 1024 {
                            fields[part.name, default: ""] += String(decoding: bytes, as: UTF8.self)
                        }
                    case .partEnd:
                        current = nil
                    }
                }
            }
            try parser.finish()
        } catch let error as MultipartParser.MalformedError {
            throw GatewayError.invalidRequest("The multipart body is malformed: \(error.description).", code: .invalidMultipart)
        }
        guard let purpose = fields["purpose"]?.trimmingCharacters(in: .whitespacesAndNewlines) else { throw GatewayError.missingField("purpose") }
        guard StoredFile.uploadPurposes.contains(purpose) else {
            throw GatewayError.invalidRequest(
                "'\(purpose.prefix(50))' is not a supported purpose. Use one of: \(StoredFile.uploadPurposes.joined(separator: ", ")).",
                param: "purpose", code: .invalidValue)
        }
        guard sawFile, let filename else { throw GatewayError.missingField("file") }
        if purpose == "batch" {
            // Checked from disk once whole (the purpose may come after the file).
            let jsonCheck = JSONLCheck(maximumLineBytes: runtime.snapshot.config.server.maxBodyBytes)
            try await storage.read(path: writer.temporaryPath) { chunk in
                jsonCheck.feed(chunk)
                return true
            }
            let lines = jsonCheck.finish()
            let maximum = runtime.snapshot.config.batches.maxRequests
            guard lines.objects > 0 else {
                throw GatewayError.invalidRequest(
                    "A batch file must be JSONL: one JSON request object per line. None of this file's lines is a JSON object.",
                    param: "file", code: .invalidFileFormat)
            }
            guard lines.total <= maximum else {
                throw GatewayError.invalidRequest(
                    "A batch file may hold at most \(maximum) requests; this one has \(lines.total).", param: "file", code: .tooManyRequestLines)
            }
        }
        let file = StoredFile(
            id: StoredFile.generateID(), owner: ResourceOwner(identity), purpose: purpose, filename: String(filename.prefix(255)), bytes: writer.bytes,
            createdAt: WallClock.unixTime())
        try writer.commit(as: file.id)
        do {
            try await stores.batchStore().insertFile(file)
        } catch {
            storage.remove(file.id)
            throw error
        }
        return file.json.response()
    }
}

/// Counts the lines of a JSONL upload as it streams past, and how many are JSON objects.
final class JSONLCheck {
    private var splitter: JSONLLineSplitter
    private var total = 0
    private var objects = 0

    init(maximumLineBytes: Int) {
        splitter = JSONLLineSplitter(maximumLineBytes: maximumLineBytes)
    }

    func feed(_ bytes: [UInt8]) {
        for line in splitter.feed(bytes) { count(line) }
    }

    func finish() -> (total: Int, objects: Int) {
        if let line = splitter.finish() { count(line) }
        return (total, objects)
    }

    private func count(_ line: JSONLLineSplitter.Line) {
        total += 1
        if case .line(let bytes) = line, bytes.first == UInt8(ascii: "{"), (try? JSONValue.parse(bytes))?.objectValue != nil { objects += 1 }
    }
}

extension JSONValue {
    /// A 200 JSON response.
    func response(status: Int = 200) -> Response {
        GatewayResponse.json(self, status: status).hummingbirdResponse()
    }
}

extension String {
    /// The name without quotes, backslashes or line breaks (for a Content-Disposition header).
    fileprivate var contentDispositionSafe: String {
        String(unicodeScalars.filter { $0.isASCII && $0.value >= 32 && $0 != "\"" && $0 != "\\" }.prefix(200).map(Character.init))
    }
}
