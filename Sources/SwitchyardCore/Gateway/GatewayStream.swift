import NIOCore

/// The rest of a stream after its first event: forwards upstream events to the client.
public struct GatewayStream: Sendable {
    var relay: OpenAIStreamRelay
    var iterator: ByteStream.AsyncIterator
    var pending: ByteBuffer
    var upstreamEnded: Bool
    var record: RequestRecord
    let receivedAt: ContinuousClock.Instant
    let upstreamStart: ContinuousClock.Instant
    let provider: String
    let observer: any RequestObserver
    let completion: AttemptCompletion
    /// Stores the whole stream once it completed (when the response cache is on).
    var cacheStore: (@Sendable ([UInt8], RequestRecord) -> Void)? = nil
    var cacheLimit = 0
    /// Prompt tokens estimated before sending, for the usage of a stream a guardrail cut short.
    var promptEstimate = 0

    /// Writes the stream through `emit` until it ends. Never throws: an upstream failure
    /// becomes an error event, a client that goes away (emit throws, or the task is
    /// cancelled) stops the upstream call. The request record is emitted in every case.
    public consuming func run(_ emit: (ByteBuffer) async throws -> Void) async {
        var record = self.record
        var relay = self.relay
        var iterator = self.iterator
        var output = self.pending
        var upstreamEnded = self.upstreamEnded
        var recorded = false
        // What the client receives, kept for the cache until it grows past the entry limit.
        var captured: [UInt8]? = cacheStore == nil ? nil : []
        func capture(_ buffer: ByteBuffer) {
            guard captured != nil else { return }
            if captured!.count + buffer.readableBytes > cacheLimit {
                captured = nil
            } else {
                captured!.append(contentsOf: buffer.readableBytesView)
            }
        }
        func finishRecord() {
            guard !recorded else { return }
            recorded = true
            record.usage = relay.usage
            if let textGuard = relay.textGuard {
                record.guardrails.append(contentsOf: textGuard.decisions)
                if record.usage == nil, textGuard.blocked != nil {
                    // The upstream was stopped before it reported usage: bill what was generated.
                    record.usage = TokenUsage(promptTokens: promptEstimate, completionTokens: (textGuard.textBytes + 3) / 4)
                }
            }
            record.chunks = relay.forwardedEvents
            record.servedModel = relay.responseModel ?? record.servedModel
            record.upstreamDuration = .now - upstreamStart
            record.duration = .now - receivedAt
            completion.finish(record: record, text: relay.captureText ? relay.capturedText : nil)
            if let limit = record.logBodyLimit { record.responseBody = RequestLogEntry.redact(Array(relay.capturedText.utf8), limit: limit) }
            observer.requestFinished(record)
        }
        defer { finishRecord() }
        record.status = 200
        do {
            while true {
                if relay.state == .failed, let error = relay.upstreamError {
                    relay.writeClientError(error, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = error.metricLabel
                    record.upstreamError = error.metricLabel
                    return
                }
                if upstreamEnded || relay.state == .done {
                    relay.writeClientEnd(into: &output)
                    // Recorded before the last bytes go out: a client that saw the whole stream
                    // always has its usage record (the ledger journals it synchronously).
                    record.outcome = .success
                    finishRecord()
                    capture(output)
                    if let captured, let cacheStore { cacheStore(captured, record) }
                    try await emit(output)
                    return
                }
                if output.readableBytes > 0 {
                    capture(output)
                    try await emit(output)
                    output.clear()
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await iterator.next()
                } catch {
                    if Task.isCancelled || error is CancellationError { throw error }
                    let mapped = Gateway.streamFailure(error, provider: provider)
                    relay.writeClientError(mapped, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = mapped.metricLabel
                    if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
                    return
                }
                if let chunk {
                    relay.consume(chunk, into: &output)
                } else {
                    upstreamEnded = true
                    _ = relay.finishUpstream()
                }
            }
        } catch {
            // The client is gone (write failed or the request task was cancelled). Dropping
            // the iterator here cancels the upstream request.
            record.outcome = .clientDisconnected
            record.status = 499
            record.errorCode = "client_closed_request"
        }
    }
}
