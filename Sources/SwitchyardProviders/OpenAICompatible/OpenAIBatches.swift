import SwitchyardCore

/// OpenAI's batch API: the input uploaded as a JSONL file (`POST /files`, purpose `batch`), the
/// batch created on it (`POST /batches`), polled (`GET /batches/{id}`), its output and error
/// files read (`GET /files/{id}/content`), and cancelled (`POST /batches/{id}/cancel`).
struct OpenAIBatches: NativeBatchAPI {
    let call: NativeBatchCall

    var defaultDiscount: Double { 0.5 }

    func supports(_ endpoint: Endpoint) -> Bool {
        endpoint == .chatCompletions || endpoint == .completions || endpoint == .embeddings
    }

    func encode(customID: String, endpoint: Endpoint, body: [UInt8]) throws(GatewayError) -> [UInt8] {
        guard let request = try? JSONValue.parse(body), request.objectValue != nil else { throw .invalidJSON("a batch line's body is not JSON") }
        let line: JSONValue = ["custom_id": .string(customID), "method": "POST", "url": .string("/v1" + endpoint.rawValue), "body": request]
        return line.serializedBytes()
    }

    func submit(_ requests: [[UInt8]], endpoint: Endpoint) async throws -> String {
        let boundary = "switchyard-" + randomAlphanumerics(24)
        var form = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
        form += Array(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"switchyard-batch.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n"
                .utf8)
        for request in requests {
            form += request
            form.append(10)
        }
        form += Array("\r\n--\(boundary)--\r\n".utf8)
        let file = try await call.json("POST", "/files", body: form, contentType: "multipart/form-data; boundary=\(boundary)")
        guard let fileID = file["id"]?.stringValue else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(call.provider)' did not return the uploaded file's id.", code: .upstreamInvalidResponse)
        }
        let create: JSONValue = [
            "input_file_id": .string(fileID), "endpoint": .string("/v1" + endpoint.rawValue), "completion_window": "24h",
        ]
        let batch = try await call.json("POST", "/batches", body: create.serializedBytes())
        guard let id = batch["id"]?.stringValue else {
            throw GatewayError.upstreamUnavailable("Provider '\(call.provider)' did not return the batch's id.", code: .upstreamInvalidResponse)
        }
        return id
    }

    func poll(_ id: String) async throws -> NativeBatchState {
        let batch = try await call.json("GET", "/batches/" + id.percentEncoded())
        let files = ["output_file_id", "error_file_id"].compactMap { batch[$0]?.stringValue }
        switch batch["status"]?.stringValue ?? "" {
        case "completed": return .ended(.init(locations: files))
        case "expired": return .ended(.init(locations: files, expired: true))
        case "cancelled": return .ended(.init(locations: files, cancelled: true))
        case "failed":
            let messages = batch["errors"]?["data"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
            return .failed(messages.isEmpty ? "The provider failed the batch." : messages.joined(separator: " "))
        default: return .running
        }
    }

    func results(_ ending: NativeBatchState.Ending) async throws -> [NativeBatchResult] {
        var results: [NativeBatchResult] = []
        for file in ending.locations {
            let bytes = try await call.send("GET", "/files/" + file.percentEncoded() + "/content")
            for line in NativeBatchCall.lines(bytes) {
                guard let customID = line["custom_id"]?.stringValue else { continue }
                if let response = line["response"], let status = response["status_code"]?.intValue {
                    results.append(NativeBatchResult(customID: customID, outcome: .response(status: status, body: response["body"] ?? .null)))
                } else {
                    let code = line["error"]?["code"]?.stringValue ?? "provider_error"
                    let message = line["error"]?["message"]?.stringValue ?? "The provider returned no response for this request."
                    results.append(NativeBatchResult(customID: customID, outcome: .error(code: code, message: message)))
                }
            }
        }
        return results
    }

    func cancel(_ id: String) async throws {
        _ = try await call.send("POST", "/batches/" + id.percentEncoded() + "/cancel")
    }
}
