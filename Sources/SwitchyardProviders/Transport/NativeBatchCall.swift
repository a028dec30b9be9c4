import NIOCore
import SwitchyardCore

/// One call of a provider's batch API (create, retrieve, results, cancel), made through the
/// adapter's passthrough leg so that it carries the provider's credentials and headers exactly
/// as the adapter's other calls do. The answer is read whole (bounded).
struct NativeBatchCall: Sendable {
    let provider: String
    let forward: @Sendable (PassthroughRequest) async throws -> UpstreamResponse
    /// Longest a single call may take (an upload of a large input file included).
    var timeout: Duration = .seconds(600)
    /// Largest answer read (a results file).
    var maximumBytes = 512 * 1024 * 1024

    /// Sends `method target` and returns the answer's body; a non-2xx answer throws the
    /// provider's refusal with its status and message.
    func send(_ method: String, _ target: String, body: [UInt8]? = nil, contentType: String = "application/json") async throws -> [UInt8] {
        let upload = body.map { bytes in
            UploadBody(contentType: contentType, stream: ByteStream(buffers: [ByteBuffer(bytes: bytes)]), length: bytes.count)
        }
        let request = PassthroughRequest(
            method: method, target: target, headers: [HeaderField("accept", "application/json")], body: upload, deadline: .now + timeout)
        let response = try await forward(request)
        let bytes = Array(buffer: try await response.body.collect(upTo: maximumBytes))
        guard (200..<300).contains(response.status) else {
            let parsed = try? JSONValue.parse(bytes)
            let message = parsed?["error"]?["message"]?.stringValue ?? parsed?["message"]?.stringValue ?? "HTTP \(response.status)"
            throw GatewayError.provider(
                status: response.status >= 500 ? 502 : response.status, type: response.status >= 500 ? "api_error" : "invalid_request_error",
                code: nil, message: "Provider '\(provider)' answered \(response.status) to its batch API: \(message.prefix(500))")
        }
        return bytes
    }

    /// `send` whose answer must be a JSON object.
    func json(_ method: String, _ target: String, body: [UInt8]? = nil, contentType: String = "application/json") async throws -> JSONValue {
        let bytes = try await send(method, target, body: body, contentType: contentType)
        guard let value = try? JSONValue.parse(bytes), value.objectValue != nil else {
            throw GatewayError.upstreamUnavailable(
                "Provider '\(provider)' answered its batch API with something that is not a JSON object.", code: .upstreamInvalidResponse)
        }
        return value
    }

    /// The JSON objects of a JSONL answer (lines that are not objects are skipped).
    static func lines(_ bytes: [UInt8]) -> [JSONValue] {
        bytes.split(separator: 10).compactMap { line in
            guard let value = try? JSONValue.parse(Array(line)), value.objectValue != nil else { return nil }
            return value
        }
    }
}
