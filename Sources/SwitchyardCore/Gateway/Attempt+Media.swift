import NIOCore

extension Attempt {
    /// A guardrail that rewrote an upload's prompt cannot rewrite the multipart body the
    /// provider gets (it is forwarded as sent): such a request is refused rather than forwarded
    /// unchecked.
    func checkUploadFields(_ upload: MediaUpload, request: OpenAIRequest) throws(GatewayError) {
        if request.scan.string("prompt") != upload.fields["prompt"] {
            throw GatewayError.invalidRequest(
                "A guardrail rewrites this prompt, and the prompt of a multipart upload is forwarded as sent: the request is refused.",
                param: "prompt", code: .uploadPromptRewritten)
        }
    }

    /// The answer to an images or audio request: speech streams back as audio bytes; images,
    /// transcripts and translations are read whole (JSON or text) and passed on. The record
    /// carries what prices it: images, seconds of audio (the provider's `duration` or
    /// `usage.seconds`, else the WAV header of the upload) or characters spoken.
    func mediaAnswer(
        _ response: UpstreamResponse, pipeline: PipelineRequest, record: RequestRecord, headers: [HeaderField],
        upstreamStart: ContinuousClock.Instant
    ) async throws -> GatewayResponse {
        let inbound = pipeline.prepared.inbound
        let request = pipeline.prepared.request
        let provider = lease.deployment.provider
        let clock = gateway.clock
        var record = record
        var headers = headers
        let contentType = response.header("content-type")
        var media = MediaUsage()
        let feedback = AttemptFeedback(router: gateway.router, lease: lease, latency: durationSeconds(clock.now - upstreamStart), shadow: shadow)

        if inbound.endpoint == .audioSpeech {
            media.characters = request.scan.string("input")?.unicodeScalars.count ?? 0
            record.media = media
            record.status = 200
            headers.append(HeaderField("content-type", contentType ?? "application/octet-stream"))
            completion.setAbandonedRecord(record) { TokenUsage() }
            let relay = ByteRelay(
                iterator: response.body.makeAsyncIterator(), record: record, receivedAt: inbound.receivedAt, upstreamStart: upstreamStart,
                provider: provider, clock: clock, completion: completion, attemptFeedback: feedback)
            return GatewayResponse(status: 200, headers: headers, body: .bytes(relay))
        }

        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: gateway.maximumUpstreamBodyBytes)
        } catch {
            throw Gateway.gatewayError(from: error)
        }
        let json = (try? JSONValue.parse(Array(buffer: body)))?.objectValue
        if let json, let scan = try? JSONObjectScan(Array(buffer: body)) {
            record.usage = TokenUsage(openAIResponse: scan)
            // `usage: {type: "duration", seconds}` carries no tokens: it is not a token report.
            if json["usage"]?["type"]?.stringValue == "duration" { record.usage = nil }
        }
        switch inbound.endpoint {
        case .imageGenerations, .imageEdits:
            guard let data = json?["data"]?.arrayValue else {
                throw GatewayError.upstreamUnavailable(
                    "Provider '\(provider)' returned an images answer without 'data'.", code: .upstreamInvalidResponse)
            }
            media.images = data.count
            media.size = json?["size"]?.stringValue ?? request.scan.string("size")
            media.quality = json?["quality"]?.stringValue ?? request.scan.string("quality")
        case .audioTranscriptions, .audioTranslations:
            if let seconds = json?["duration"]?.doubleValue ?? json?["usage"]?["seconds"]?.doubleValue, seconds.isFinite, seconds >= 0 {
                media.seconds = seconds
                media.secondsSource = "provider"
            } else if let seconds = inbound.upload?.wavSeconds {
                media.seconds = seconds
                media.secondsSource = "wav_header"
            }
        default:
            break
        }
        record.media = media
        record.status = 200
        record.upstreamDuration = clock.now - upstreamStart
        record.duration = clock.now - inbound.receivedAt
        if let limit = record.logBodyLimit { record.responseBody = RequestLogEntry.redact(Array(buffer: body), limit: limit) }
        feedback.finish(record: record, text: nil)
        completion.finish(record)
        headers.append(HeaderField("content-type", contentType ?? "application/json"))
        if let seconds = media.seconds {
            headers.append(HeaderField("x-switchyard-audio-seconds", String(format3(seconds))))
        }
        return GatewayResponse(status: 200, headers: headers, body: .buffer(body))
    }
}

/// `seconds` rounded to milliseconds, for a header.
func format3(_ seconds: Double) -> String {
    let milliseconds = Int((seconds * 1000).rounded())
    let fraction = String(milliseconds % 1000)
    return "\(milliseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

/// A binary answer (speech audio) relayed to the client as it arrives; the request ends
/// (settled, recorded) when the relay does, however it ends.
public struct ByteRelay: Sendable {
    /// Thrown by the HTTP layer to cut the connection when the provider failed midway.
    public struct Interrupted: Error {
        public init() {}
    }

    var iterator: ByteStream.AsyncIterator
    var record: RequestRecord
    let receivedAt: ContinuousClock.Instant
    let upstreamStart: ContinuousClock.Instant
    let provider: String
    let clock: any RouterClock
    let completion: RequestCompletion
    let attemptFeedback: AttemptFeedback

    /// Writes the bytes through `emit` until the provider's answer ends; false when it did not
    /// end cleanly (the provider failed, or the client went away).
    @concurrent public consuming func run(_ emit: @concurrent (ByteBuffer) async throws -> Void) async -> Bool {
        var record = self.record
        var iterator = self.iterator
        var clean = false
        do {
            while true {
                let chunk: ByteBuffer?
                do {
                    chunk = try await iterator.next()
                } catch {
                    let failure = Gateway.streamFailure(error, provider: provider)
                    record.outcome = failure.status == 499 ? .clientDisconnected : .streamError
                    record.errorCode = failure.metricLabel
                    break
                }
                guard let chunk else {
                    clean = true
                    break
                }
                record.chunks += 1
                try await emit(chunk)
            }
        } catch {
            record.outcome = .clientDisconnected
            record.status = 499
            record.errorCode = "client_closed_request"
        }
        record.upstreamDuration = clock.now - upstreamStart
        record.duration = clock.now - receivedAt
        attemptFeedback.finish(record: record, text: nil)
        completion.finish(record)
        return clean
    }
}
