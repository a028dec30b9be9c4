import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// OpenAI's `/v1/batches`: create (from an uploaded `batch` file), retrieve, list, cancel. The
/// gateway runs the lines itself (see ``BatchRunner``), whatever the provider behind each model.
struct BatchesRoutes {
    let stores: StoreService
    let runner: BatchRunner

    /// OpenAI's only completion window.
    static let completionWindow = "24h"

    func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.post("/v1/batches") { request, context in try await create(request, context: context) }
        router.get("/v1/batches") { request, context in
            let query = request.uri.queryParameters
            let limit = try FilesRoutes.limit(query["limit"].map(String.init), default: 20, maximum: 100)
            let batches = try await stores.batchStore().batches(
                visibleTo: context.identity ?? .anonymous, after: query["after"].map(String.init), limit: limit + 1)
            return FilesRoutes.page(batches.map(\.json), ids: batches.map(\.id), limit: limit).response()
        }
        router.get("/v1/batches/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let batch = try await stores.batchStore().batch(id: id), batch.owner.admits(context.identity ?? .anonymous) else {
                throw Self.notFound(id)
            }
            return batch.json.response()
        }
        router.post("/v1/batches/:id/cancel") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let batch = try await runner.cancel(id, by: context.identity ?? .anonymous) else { throw Self.notFound(id) }
            guard batch.status == .cancelling || batch.status == .cancelled else {
                throw GatewayError.conflict("A batch with status '\(batch.status.rawValue)' cannot be cancelled.", code: .batchNotCancellable)
            }
            return batch.json.response()
        }
    }

    static func notFound(_ id: String) -> GatewayError {
        .notFound("No such Batch object: \(id.prefix(100))", code: .batchNotFound)
    }

    func create(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxBodyBytes)
        guard let object = (try? JSONValue.parse(Array(buffer: body)))?.objectValue else {
            throw GatewayError.invalidJSON("the body must be a JSON object")
        }
        let identity = context.identity ?? .anonymous
        guard let fileValue = object["input_file_id"] else { throw GatewayError.missingField("input_file_id") }
        guard let fileID = fileValue.stringValue else {
            throw GatewayError.invalidType(field: "input_file_id", expected: "a string", found: fileValue.typeName)
        }
        guard let endpointValue = object["endpoint"] else { throw GatewayError.missingField("endpoint") }
        guard let endpoint = endpointValue.stringValue, BatchRequestLine.endpoints[endpoint] != nil else {
            throw GatewayError.invalidRequest(
                "'\(endpointValue.stringValue.map { String($0.prefix(100)) } ?? endpointValue.typeName)' is not an endpoint batches can target. Use one of: \(BatchRequestLine.endpoints.keys.sorted().joined(separator: ", ")).",
                param: "endpoint", code: .invalidValue)
        }
        guard let window = object["completion_window"] else { throw GatewayError.missingField("completion_window") }
        guard window.stringValue == Self.completionWindow else {
            throw GatewayError.invalidRequest("'completion_window' must be '24h'.", param: "completion_window", code: .invalidValue)
        }
        var metadata: [String: String] = [:]
        if let value = object["metadata"], !value.isNull {
            guard let members = value.objectValue?.members, members.count <= 16,
                members.allSatisfy({ $0.key.utf8.count <= 64 && ($0.value.stringValue?.utf8.count ?? 513) <= 512 })
            else {
                throw GatewayError.invalidRequest(
                    "'metadata' must be an object of at most 16 string values (keys up to 64 characters, values up to 512).", param: "metadata",
                    code: .invalidValue)
            }
            for member in members { metadata[member.key] = member.value.stringValue }
        }
        let store = try stores.batchStore()
        guard let file = try await store.file(id: fileID), file.owner.admits(identity) else {
            throw GatewayError.notFound("No such File object: \(fileID.prefix(100))", code: .fileNotFound, param: "input_file_id")
        }
        guard file.purpose == "batch" else {
            throw GatewayError.invalidRequest(
                "The input file's purpose is '\(file.purpose)'; a batch needs a file uploaded with purpose 'batch'.", param: "input_file_id",
                code: .invalidFilePurpose)
        }
        let now = WallClock.unixTime()
        var batch = BatchJob(
            id: BatchJob.generateID(), owner: ResourceOwner(identity), identity: identity.snapshotJSON, endpoint: endpoint, inputFileID: fileID,
            completionWindow: Self.completionWindow, createdAt: now, expiresAt: now + 24 * 3600)
        batch.metadata = metadata
        try await store.insertBatch(batch)
        runner.wake()
        return batch.json.response()
    }
}
