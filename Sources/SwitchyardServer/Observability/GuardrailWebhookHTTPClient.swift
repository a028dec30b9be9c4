import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Webhook guardrails over AsyncHTTPClient (the shared client; the caller bounds the time).
struct GuardrailWebhookHTTPClient: GuardrailWebhookClient {
    let client: HTTPClient

    func post(url: String, headers: [HeaderField], body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .milliseconds(Int64(durationSecondsValue(timeout) * 1000)))
        let collected = try await response.body.collect(upTo: 1024 * 1024)
        return (Int(response.status.code), Array(buffer: collected))
    }

    private func durationSecondsValue(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
