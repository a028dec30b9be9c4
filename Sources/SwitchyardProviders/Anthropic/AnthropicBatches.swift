import SwitchyardCore

/// Anthropic's Message Batches: each chat line translated to a Messages request and submitted
/// as `{"requests": [{"custom_id", "params"}]}` (`POST /v1/messages/batches`), polled
/// (`GET /v1/messages/batches/{id}`), its results read from `results_url` (JSONL of
/// `{"custom_id", "result": {"type": succeeded | errored | canceled | expired, ...}}`) and
/// translated back to OpenAI's result lines, and cancelled (`POST .../{id}/cancel`).
struct AnthropicBatches: NativeBatchAPI {
    let call: NativeBatchCall
    let baseURL: String

    var defaultDiscount: Double { 0.5 }

    /// Paths under the base URL (which may or may not end in `/v1`).
    private var root: String { baseURL.hasSuffix("/v1") ? "/messages/batches" : "/v1/messages/batches" }

    func supports(_ endpoint: Endpoint) -> Bool { endpoint == .chatCompletions }

    func encode(customID: String, endpoint: Endpoint, body: [UInt8]) throws(GatewayError) -> [UInt8] {
        guard var params = try AnthropicOutbound.request(fromOpenAI: body).objectValue else {
            throw .invalidRequest("a batch line could not be translated to a Messages request", param: nil, code: nil)
        }
        params["stream"] = nil
        let request: JSONValue = ["custom_id": .string(customID), "params": .object(params)]
        return request.serializedBytes()
    }

    func submit(_ requests: [[UInt8]], endpoint: Endpoint) async throws -> String {
        var body = Array(#"{"requests":["#.utf8)
        for (index, request) in requests.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += request
        }
        body += Array("]}".utf8)
        let batch = try await call.json("POST", root, body: body)
        guard let id = batch["id"]?.stringValue else {
            throw GatewayError.upstreamUnavailable("Provider '\(call.provider)' did not return the batch's id.", code: .upstreamInvalidResponse)
        }
        return id
    }

    func poll(_ id: String) async throws -> NativeBatchState {
        let batch = try await call.json("GET", root + "/" + id.percentEncoded())
        guard batch["processing_status"]?.stringValue == "ended" else { return .running }
        // The results' own address, when it is under the provider's base URL (it is); else
        // the documented path.
        var results = root + "/" + id.percentEncoded() + "/results"
        if let url = batch["results_url"]?.stringValue, url.hasPrefix(baseURL + "/") { results = String(url.dropFirst(baseURL.count)) }
        let cancelled = !(batch["cancel_initiated_at"]?.isNull ?? true)
        return .ended(.init(locations: [results], cancelled: cancelled))
    }

    func results(_ ending: NativeBatchState.Ending) async throws -> [NativeBatchResult] {
        var results: [NativeBatchResult] = []
        for location in ending.locations {
            let bytes = try await call.send("GET", location)
            for line in NativeBatchCall.lines(bytes) {
                guard let customID = line["custom_id"]?.stringValue, let result = line["result"] else { continue }
                results.append(NativeBatchResult(customID: customID, outcome: Self.outcome(result)))
            }
        }
        return results
    }

    /// One result in OpenAI's terms: a chat completion, the provider's error as OpenAI's error
    /// envelope with the status Anthropic gives that error type, or why the request did not run.
    static func outcome(_ result: JSONValue) -> NativeBatchResult.Outcome {
        switch result["type"]?.stringValue {
        case "succeeded":
            guard let message = result["message"], let completion = try? AnthropicOutbound.completion(fromAnthropic: message.serializedBytes())
            else { return .error(code: "invalid_provider_result", message: "The provider's result could not be read.") }
            return .response(status: 200, body: completion)
        case "errored":
            let error = result["error"]?["error"] ?? result["error"]
            let type = error?["type"]?.stringValue ?? "api_error"
            let message = error?["message"]?.stringValue ?? "The provider could not run this request."
            let status =
                [
                    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403, "not_found_error": 404,
                    "request_too_large": 413, "rate_limit_error": 429, "overloaded_error": 503,
                ][type] ?? 500
            let envelope: JSONValue = [
                "error": [
                    "message": .string(message), "type": .string(status < 500 ? "invalid_request_error" : "api_error"), "param": .null,
                    "code": .string(type),
                ]
            ]
            return .response(status: status, body: envelope)
        case "canceled":
            return .error(code: "batch_cancelled", message: "The batch was cancelled before this request ran.")
        case "expired":
            return .error(code: "batch_expired", message: "The batch expired before this request could run.")
        default:
            return .error(code: "invalid_provider_result", message: "The provider's result could not be read.")
        }
    }

    func cancel(_ id: String) async throws {
        _ = try await call.send("POST", root + "/" + id.percentEncoded() + "/cancel")
    }
}
