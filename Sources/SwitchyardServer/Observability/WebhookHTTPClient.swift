import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwitchyardCore

/// Webhooks over AsyncHTTPClient (the shared client; the caller bounds the time).
struct WebhookHTTPClient: WebhookClient {
    let client: HTTPClient

    func post(url: String, headers: [HeaderField], body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        try await post(url: url, headers: headers, buffer: ByteBuffer(bytes: body), timeout: timeout)
    }

    func post(url: String, headers: [HeaderField], buffer: ByteBuffer, timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(buffer)
        let response = try await client.execute(request, timeout: .milliseconds(Int64(durationSecondsValue(timeout) * 1000)))
        let collected = try await response.body.collect(upTo: 1024 * 1024)
        return (Int(response.status.code), Array(buffer: collected))
    }

    private func durationSecondsValue(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// One body POSTed to an endpoint and tried again while a failure may pass: at most `attempts`
/// tries, the second after `backoff`, each later one after twice the wait before (at most 30 s).
/// Transport errors are always tried again; an answer outside 2xx when `retryable` says so.
struct WebhookDelivery: Sendable {
    let client: any WebhookClient
    var attempts: Int
    var backoff: Duration = .milliseconds(500)
    var retryable: @Sendable (Int) -> Bool

    /// Posts; nil when delivered, else the last problem (`HTTP 503`, a transport error).
    /// `failed` hears every failed try: its number, and the status or the error.
    func post(
        url: String, headers: [HeaderField], body: [UInt8], timeout: Duration,
        failed: (_ attempt: Int, _ status: Int?, _ error: (any Error)?) -> Void = { _, _, _ in }
    ) async -> String? {
        await post(url: url, headers: headers, buffer: ByteBuffer(bytes: body), timeout: timeout, failed: failed)
    }

    /// The same with the body in a buffer.
    func post(
        url: String, headers: [HeaderField], buffer: ByteBuffer, timeout: Duration,
        failed: (_ attempt: Int, _ status: Int?, _ error: (any Error)?) -> Void = { _, _, _ in }
    ) async -> String? {
        var problem = ""
        var delay = backoff
        for attempt in 1...max(1, attempts) {
            if attempt > 1 {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
            do {
                let (status, _) = try await client.post(url: url, headers: headers, buffer: buffer, timeout: timeout)
                if (200..<300).contains(status) { return nil }
                problem = "HTTP \(status)"
                failed(attempt, status, nil)
                if !retryable(status) { break }
            } catch {
                problem = "\(error)"
                failed(attempt, nil, error)
            }
        }
        return problem
    }
}
