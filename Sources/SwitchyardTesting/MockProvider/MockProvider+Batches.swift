import NIOCore
import SwitchyardCore
import Synchronization

/// The state of the mock's batch APIs: uploaded files and batches with their life cycle.
struct MockBatchState: Sendable {
    var files: [String: [UInt8]] = [:]
    var batches: [String: MockBatch] = [:]
    /// While set, batches stay in progress when polled (how tests hold a batch midway).
    var held = false
    var counter = 0
}

struct MockBatch: Sendable {
    enum Dialect: Sendable { case openAI, anthropic }
    var dialect: Dialect
    var id: String
    /// `(custom_id, body)`: OpenAI's request bodies or Anthropic's `params`.
    var requests: [(customID: String, body: [UInt8])]
    var endpoint: String
    var inputFileID: String?
    /// OpenAI: validating, in_progress, cancelling, completed, cancelled. Anthropic:
    /// in_progress, canceling, ended.
    var status: String
    var cancelled = false
    /// Result lines once ended (Anthropic), or the output and error file ids (OpenAI).
    var results: [JSONValue] = []
    var outputFileID: String?
    var errorFileID: String?
    var created: Int
}

/// OpenAI's batch API (`POST /v1/files`, `GET /v1/files/{id}/content`, `POST /v1/batches`,
/// `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`) and Anthropic's Message Batches
/// (`POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, `GET .../results`,
/// `POST .../cancel`), with real state transitions: each poll moves a batch one step on
/// (validating → in progress → ended, running every request through the mock once, unless
/// ``holdBatches(_:)`` holds them in progress); a cancelled batch ends with the requests that
/// had not run reported as cancelled.
extension MockProvider {
    /// Holds batches in progress (`true`) or lets them finish on the next poll (`false`).
    public func holdBatches(_ held: Bool) {
        batchState.withLock { $0.held = held }
    }

    func batchPlan(method: String, path: String, headers: [HeaderField], body: [UInt8]) -> Plan? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == "v1" else { return nil }
        let host = headers.first { $0.name.lowercased() == "host" }?.value ?? "127.0.0.1"
        switch (method, Array(parts.dropFirst())) {
        case ("POST", ["files"]): return uploadFile(headers: headers, body: body)
        case ("GET", let rest) where rest.count == 3 && rest[0] == "files" && rest[2] == "content":
            guard let bytes = batchState.withLock({ $0.files[rest[1]] }) else { return notFound("file", rest[1]) }
            var plan = jsonPlan(.null, behaviour: defaults)
            plan.headers = [HeaderField("content-type", "application/octet-stream")]
            plan.pieces = [.init(delay: .zero, bytes: ByteBuffer(bytes: bytes))]
            return plan
        case ("POST", ["batches"]): return createOpenAIBatch(body)
        case ("GET", let rest) where rest.count == 2 && rest[0] == "batches": return advance(rest[1], dialect: .openAI, host: host)
        case ("POST", let rest) where rest.count == 3 && rest[0] == "batches" && rest[2] == "cancel":
            return cancelBatch(rest[1], dialect: .openAI, host: host)
        case ("POST", ["messages", "batches"]): return createAnthropicBatch(body)
        case ("GET", let rest) where rest.count == 3 && rest[0] == "messages" && rest[1] == "batches":
            return advance(rest[2], dialect: .anthropic, host: host)
        case ("GET", let rest) where rest.count == 4 && rest[0] == "messages" && rest[1] == "batches" && rest[3] == "results":
            guard let batch = batchState.withLock({ $0.batches[rest[2]] }), batch.dialect == .anthropic else { return notFound("batch", rest[2]) }
            guard batch.status == "ended" else { return anthropicBatchError(400, "Message Batch \(batch.id) has not ended yet.") }
            var bytes: [UInt8] = []
            for line in batch.results {
                bytes += line.serializedBytes()
                bytes.append(10)
            }
            var plan = jsonPlan(.null, behaviour: defaults)
            plan.headers = [HeaderField("content-type", "application/binary")]
            plan.pieces = [.init(delay: .zero, bytes: ByteBuffer(bytes: bytes))]
            return plan
        case ("POST", let rest) where rest.count == 4 && rest[0] == "messages" && rest[1] == "batches" && rest[3] == "cancel":
            return cancelBatch(rest[2], dialect: .anthropic, host: host)
        default: return nil
        }
    }

    private func nextID(_ prefix: String) -> String {
        batchState.withLock { state in
            state.counter += 1
            return prefix + String(state.counter)
        }
    }

    private func notFound(_ kind: String, _ id: String) -> Plan {
        errorPlan(status: 404, type: "invalid_request_error", code: "not_found", message: "No such \(kind): \(id)")
    }

    private func anthropicBatchError(_ status: Int, _ message: String) -> Plan {
        var plan = jsonPlan(["type": "error", "error": ["type": "invalid_request_error", "message": .string(message)]], behaviour: defaults)
        plan.status = status
        return plan
    }

    private func uploadFile(headers: [HeaderField], body: [UInt8]) -> Plan {
        let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value ?? ""
        guard var parser = MultipartParser(contentType: contentType), let events = try? parser.feed(body), parser.isComplete else {
            return errorPlan(status: 400, type: "invalid_request_error", code: nil, message: "Expected a multipart/form-data upload.")
        }
        var current: String?
        var fields: [String: [UInt8]] = [:]
        for event in events {
            switch event {
            case .partStart(let partHeaders):
                current = partHeaders["content-disposition"].flatMap { MultipartParser.parameter("name", in: $0) }
            case .data(let bytes): if let current { fields[current, default: []] += bytes }
            case .partEnd: current = nil
            }
        }
        guard fields["purpose"].map({ String(decoding: $0, as: UTF8.self) }) == "batch", let file = fields["file"] else {
            return errorPlan(status: 400, type: "invalid_request_error", code: nil, message: "A batch upload needs purpose=batch and a file.")
        }
        let id = nextID("file-mock")
        batchState.withLock { $0.files[id] = file }
        return jsonPlan(
            [
                "id": .string(id), "object": "file", "bytes": JSONValue(file.count), "created_at": JSONValue(1_700_000_000),
                "filename": "input.jsonl",
                "purpose": "batch", "status": "processed",
            ],
            behaviour: defaults)
    }

    private func createOpenAIBatch(_ body: [UInt8]) -> Plan {
        guard let request = try? JSONValue.parse(body), let fileID = request["input_file_id"]?.stringValue,
            let endpoint = request["endpoint"]?.stringValue, request["completion_window"]?.stringValue == "24h"
        else {
            return errorPlan(
                status: 400, type: "invalid_request_error", code: nil, message: "input_file_id, endpoint and completion_window '24h' are required.")
        }
        guard let file = batchState.withLock({ $0.files[fileID] }) else { return notFound("file", fileID) }
        var requests: [(customID: String, body: [UInt8])] = []
        for line in file.split(separator: 10) {
            guard let value = try? JSONValue.parse(Array(line)), let customID = value["custom_id"]?.stringValue,
                value["url"]?.stringValue == endpoint,
                let requestBody = value["body"], requestBody.objectValue != nil
            else { return errorPlan(status: 400, type: "invalid_request_error", code: "invalid_request", message: "Invalid batch input line.") }
            requests.append((customID, requestBody.serializedBytes()))
        }
        let id = nextID("batch_mock")
        let batch = MockBatch(
            dialect: .openAI, id: id, requests: requests, endpoint: endpoint, inputFileID: fileID, status: "validating", created: 1_700_000_000)
        batchState.withLock { $0.batches[id] = batch }
        state.withLock { $0.batchesCreated += 1 }
        return jsonPlan(openAIObject(batch), behaviour: defaults)
    }

    private func createAnthropicBatch(_ body: [UInt8]) -> Plan {
        guard let list = (try? JSONValue.parse(body))?["requests"]?.arrayValue, !list.isEmpty else {
            return anthropicBatchError(400, "requests: a non-empty list is required")
        }
        var requests: [(customID: String, body: [UInt8])] = []
        var seen = Set<String>()
        for item in list {
            guard let customID = item["custom_id"]?.stringValue, (1...64).contains(customID.count),
                customID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }), seen.insert(customID).inserted,
                let params = item["params"], params["model"]?.stringValue != nil, params["max_tokens"]?.intValue != nil
            else {
                return anthropicBatchError(400, "requests: each needs a unique custom_id ([a-zA-Z0-9_-]{1,64}) and params with model and max_tokens")
            }
            requests.append((customID, params.serializedBytes()))
        }
        let id = nextID("msgbatch_mock")
        let batch = MockBatch(
            dialect: .anthropic, id: id, requests: requests, endpoint: "/v1/messages", status: "in_progress", created: 1_700_000_000)
        batchState.withLock { $0.batches[id] = batch }
        state.withLock { $0.batchesCreated += 1 }
        return jsonPlan(anthropicObject(batch, host: ""), behaviour: defaults)
    }

    /// A poll: the batch moves one step on, and its object is answered.
    private func advance(_ id: String, dialect: MockBatch.Dialect, host: String) -> Plan {
        guard var batch = batchState.withLock({ $0.batches[id] }), batch.dialect == dialect else { return notFound("batch", id) }
        let held = batchState.withLock { $0.held }
        switch batch.status {
        case "validating": batch.status = "in_progress"
        case "in_progress" where !held: run(&batch)
        case "cancelling", "canceling": run(&batch)
        default: break
        }
        batchState.withLock { $0.batches[id] = batch }
        return jsonPlan(dialect == .openAI ? openAIObject(batch) : anthropicObject(batch, host: host), behaviour: defaults)
    }

    private func cancelBatch(_ id: String, dialect: MockBatch.Dialect, host: String) -> Plan {
        guard var batch = batchState.withLock({ $0.batches[id] }), batch.dialect == dialect else { return notFound("batch", id) }
        state.withLock { $0.batchCancels += 1 }
        if ["validating", "in_progress"].contains(batch.status) {
            batch.cancelled = true
            batch.status = dialect == .openAI ? "cancelling" : "canceling"
        }
        batchState.withLock { $0.batches[id] = batch }
        return jsonPlan(dialect == .openAI ? openAIObject(batch) : anthropicObject(batch, host: host), behaviour: defaults)
    }

    /// Ends the batch: every request runs through the mock once, unless it was cancelled.
    private func run(_ batch: inout MockBatch) {
        var output: [UInt8] = []
        var errors: [UInt8] = []
        for (customID, body) in batch.requests {
            if batch.cancelled {
                if batch.dialect == .anthropic { batch.results.append(["custom_id": .string(customID), "result": ["type": "canceled"]]) }
                continue
            }
            state.withLock { $0.batchRequestsRun += 1 }
            if batch.dialect == .anthropic {
                let params = try? JSONValue.parse(body)
                if params?["user"] == nil, let user = params?["metadata"]?["user_id"]?.stringValue {
                    state.withLock { $0.requestsByUser[user, default: 0] += 1 }
                }
            }
            let path = batch.dialect == .anthropic ? "/v1/messages" : batch.endpoint
            let plan = plan(method: "POST", path: path, headers: [], body: body)
            var answer: [UInt8] = []
            for piece in plan.pieces { answer += Array(buffer: piece.bytes) }
            let parsed = (try? JSONValue.parse(answer)) ?? .null
            if batch.dialect == .anthropic {
                let result: JSONValue =
                    plan.status < 300 ? ["type": "succeeded", "message": parsed] : ["type": "errored", "error": parsed]
                batch.results.append(["custom_id": .string(customID), "result": result])
            } else {
                let line: JSONValue = [
                    "id": .string("batch_req_mock_\(customID)"), "custom_id": .string(customID),
                    "response": ["status_code": JSONValue(plan.status), "request_id": "req_mock", "body": parsed], "error": .null,
                ]
                if plan.status < 300 { output += line.serializedBytes() + [10] } else { errors += line.serializedBytes() + [10] }
            }
        }
        if batch.dialect == .openAI {
            if !output.isEmpty {
                let id = nextID("file-mock-output")
                batchState.withLock { $0.files[id] = output }
                batch.outputFileID = id
            }
            if !errors.isEmpty {
                let id = nextID("file-mock-errors")
                batchState.withLock { $0.files[id] = errors }
                batch.errorFileID = id
            }
            batch.status = batch.cancelled ? "cancelled" : "completed"
        } else {
            batch.status = "ended"
        }
    }

    private func openAIObject(_ batch: MockBatch) -> JSONValue {
        let succeeded = batch.outputFileID.flatMap { id in batchState.withLock { $0.files[id] } }?.split(separator: 10).count ?? 0
        let failed = batch.errorFileID.flatMap { id in batchState.withLock { $0.files[id] } }?.split(separator: 10).count ?? 0
        return [
            "id": .string(batch.id), "object": "batch", "endpoint": .string(batch.endpoint), "errors": .null,
            "input_file_id": batch.inputFileID.map(JSONValue.string) ?? .null, "completion_window": "24h", "status": .string(batch.status),
            "output_file_id": batch.outputFileID.map(JSONValue.string) ?? .null, "error_file_id": batch.errorFileID.map(JSONValue.string) ?? .null,
            "created_at": JSONValue(batch.created),
            "request_counts": ["total": JSONValue(batch.requests.count), "completed": JSONValue(succeeded), "failed": JSONValue(failed)],
        ]
    }

    private func anthropicObject(_ batch: MockBatch, host: String) -> JSONValue {
        let ended = batch.status == "ended"
        func count(_ type: String) -> JSONValue { JSONValue(batch.results.filter { $0["result"]?["type"]?.stringValue == type }.count) }
        return [
            "id": .string(batch.id), "type": "message_batch", "processing_status": .string(batch.status),
            "request_counts": [
                "processing": JSONValue(ended ? 0 : batch.requests.count), "succeeded": count("succeeded"), "errored": count("errored"),
                "canceled": count("canceled"), "expired": count("expired"),
            ],
            "ended_at": ended ? "2023-11-14T22:13:20Z" : .null, "created_at": "2023-11-14T22:13:20Z", "expires_at": "2023-11-15T22:13:20Z",
            "archived_at": .null, "cancel_initiated_at": batch.cancelled ? "2023-11-14T22:13:21Z" : .null,
            "results_url": ended ? .string("http://\(host)/v1/messages/batches/\(batch.id)/results") : .null,
        ]
    }
}
