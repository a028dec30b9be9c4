public import NIOCore

/// The OpenAI-dialect endpoints the gateway serves, relative to a provider's base URL.
public enum Endpoint: String, Sendable, CaseIterable {
    case chatCompletions = "/chat/completions"
    case completions = "/completions"
    case embeddings = "/embeddings"
    /// Cohere's rerank shape (also Jina's, Voyage's and vLLM's rerank servers).
    case rerank = "/rerank"
    /// OpenAI's moderations.
    case moderations = "/moderations"
    /// OpenAI's images (JSON in, JSON out) and image edits (a multipart upload).
    case imageGenerations = "/images/generations"
    case imageEdits = "/images/edits"
    /// OpenAI's audio: transcriptions and translations take a multipart upload, speech answers
    /// with audio bytes.
    case audioTranscriptions = "/audio/transcriptions"
    case audioTranslations = "/audio/translations"
    case audioSpeech = "/audio/speech"
    /// A provider path forwarded as it is (`passthrough:`); not served under this path.
    case passthrough = "/passthrough"

    /// The route label used in metrics and logs.
    public var label: String {
        switch self {
        case .chatCompletions: "chat_completions"
        case .completions: "completions"
        case .embeddings: "embeddings"
        case .rerank: "rerank"
        case .moderations: "moderations"
        case .imageGenerations: "image_generations"
        case .imageEdits: "image_edits"
        case .audioTranscriptions: "audio_transcriptions"
        case .audioTranslations: "audio_translations"
        case .audioSpeech: "audio_speech"
        case .passthrough: "passthrough"
        }
    }

    /// The GenAI semantic-convention operation name.
    public var operationName: String {
        switch self {
        case .chatCompletions: "chat"
        case .completions: "text_completion"
        case .embeddings: "embeddings"
        case .rerank: "rerank"
        case .moderations: "moderation"
        case .imageGenerations, .imageEdits: "image_generation"
        case .audioTranscriptions: "transcription"
        case .audioTranslations: "translation"
        case .audioSpeech: "speech"
        case .passthrough: "passthrough"
        }
    }

    /// Whether the request is a multipart upload (a file and form fields), streamed to the
    /// provider as it arrives instead of read whole.
    public var isUpload: Bool { self == .imageEdits || self == .audioTranscriptions || self == .audioTranslations }

    /// Images and audio: priced per image, second or character, answered outside the
    /// chat-shaped JSON path (binary audio, text transcripts).
    public var isMedia: Bool { isUpload || self == .imageGenerations || self == .audioSpeech }

    /// Whether answers carry generated text (chat and completions), as opposed to vectors,
    /// rankings or verdicts: only these stream, and only these have answers to guard or cache.
    public var generatesText: Bool { self == .chatCompletions || self == .completions }
}

/// A request on its way to one provider, already in that provider's wire format.
public struct UpstreamRequest: Sendable {
    public var endpoint: Endpoint
    public var body: ByteBuffer
    public var stream: Bool
    /// The upstream model name (also in the body); deployment-addressed APIs put it in the URL.
    public var model: String
    /// The dialect `body` is written in: canonical (OpenAI) unless the client's own dialect is
    /// the provider's and the body is passed through (see ``ProviderAdapter/nativeDialect``).
    public var bodyDialect: ClientDialect = .openAI
    public var requestID: String
    /// The latest instant the whole exchange (streams included) may end.
    public var deadline: ContinuousClock.Instant
    /// Headers propagated from the client (trace context).
    public var propagatedHeaders: [HeaderField]
    /// A multipart upload (``Endpoint/isUpload``): sent, streamed, instead of `body`.
    public var upload: UploadBody?

    public init(
        endpoint: Endpoint,
        body: ByteBuffer,
        stream: Bool,
        model: String = "",
        requestID: String,
        deadline: ContinuousClock.Instant,
        propagatedHeaders: [HeaderField] = []
    ) {
        self.endpoint = endpoint
        self.body = body
        self.stream = stream
        self.model = model
        self.requestID = requestID
        self.deadline = deadline
        self.propagatedHeaders = propagatedHeaders
    }
}

/// What a provider answered: status and headers at once, the body as it arrives.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: [HeaderField]
    public var body: ByteStream

    public init(status: Int, headers: [HeaderField], body: ByteStream) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first(where: { $0.name.equalsIgnoringCase(name) })?.value
    }
}

extension String {
    /// `lowercased() == other.lowercased()` without the two new strings: byte by byte for
    /// ASCII (header names are), through `lowercased()` otherwise.
    func equalsIgnoringCase(_ other: String) -> Bool {
        var text = self
        var other = other
        return text.withUTF8 { left in
            other.withUTF8 { right in
                guard left.count == right.count else {
                    // Lower-casing keeps an ASCII string's length; only other text can meet.
                    return left.allSatisfy { $0 < 0x80 } && right.allSatisfy { $0 < 0x80 } ? false : nil
                }
                for index in 0..<left.count {
                    let a = left[index]
                    let b = right[index]
                    guard a < 0x80, b < 0x80 else { return nil }
                    if a == b { continue }
                    guard a | 0x20 == b | 0x20, (a | 0x20) >= 0x61, (a | 0x20) <= 0x7A else { return false }
                }
                return true
            }
        } ?? (lowercased() == other.lowercased())
    }
}

/// A provider adapter: sends a request to one configured provider and returns its answer.
///
/// Transport failures (connection refused, timeouts, a dead connection) throw ``GatewayError``
/// with a 502/504 status; HTTP error statuses are returned as responses so the gateway can map
/// the provider's error body.
public protocol ProviderAdapter: Sendable {
    var providerName: String { get }
    /// A client dialect this provider speaks natively besides the canonical form: requests in it
    /// are forwarded as sent (only `model` rewritten) and answers come back untranslated.
    var nativeDialect: ClientDialect? { get }
    /// Whether the canonical body goes to the provider as it is (OpenAI-compatible APIs), so
    /// the gateway's own canonical extensions (reasoning blocks, Anthropic `thinking`) must be
    /// taken out first; adapters that translate build their own bodies.
    var forwardsCanonicalBody: Bool { get }
    func send(_ request: UpstreamRequest) async throws -> UpstreamResponse
    /// Forwards a passthrough request to a path under the provider's base URL, with the
    /// provider's credentials; adapters without a passthrough refuse it.
    func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse
    /// The provider's own batch API, when the adapter speaks it (see ``NativeBatchAPI``).
    var nativeBatches: (any NativeBatchAPI)? { get }
}

extension ProviderAdapter {
    public var nativeDialect: ClientDialect? { nil }
    public var forwardsCanonicalBody: Bool { false }
    public var nativeBatches: (any NativeBatchAPI)? { nil }
    public func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse {
        throw GatewayError.notImplemented("Provider '\(providerName)' has no passthrough.", code: .passthroughNotSupported)
    }
}

/// A request forwarded as it is to a provider path (``PassthroughRoute``).
public struct PassthroughRequest: Sendable {
    public var method: String
    /// The path (and query) after the provider's base URL.
    public var target: String
    /// The client's headers, without its credentials and hop-by-hop headers.
    public var headers: [HeaderField]
    public var body: UploadBody?
    public var deadline: ContinuousClock.Instant

    public init(method: String, target: String, headers: [HeaderField], body: UploadBody?, deadline: ContinuousClock.Instant) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.deadline = deadline
    }
}

/// A sequence of body chunks from an upstream, consumed once.
///
/// Type-erases whatever the transport yields (AsyncHTTPClient's body, the in-process mock)
/// without a per-chunk allocation or an extra task hop.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    private let makeNext: @Sendable () -> (@Sendable () async throws -> ByteBuffer?)

    public init(_ makeNext: @escaping @Sendable () -> (@Sendable () async throws -> ByteBuffer?)) {
        self.makeNext = makeNext
    }

    /// Wraps any sendable async sequence of buffers.
    public init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == ByteBuffer {
        self.makeNext = {
            let box = IteratorBox(base.makeAsyncIterator())
            return { try await box.next() }
        }
    }

    /// A body already in memory.
    public init(buffers: [ByteBuffer]) {
        self.makeNext = {
            let box = IteratorBox(buffers.makeIterator())
            return { box.nextSync() }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        let nextChunk: @Sendable () async throws -> ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? { try await nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextChunk: makeNext()) }

    /// Collects the whole body, throwing ``GatewayError`` when it exceeds `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await var chunk in self {
            guard result.readableBytes + chunk.readableBytes <= limit else {
                throw GatewayError.upstreamUnavailable("The provider's response exceeded \(limit) bytes.", code: .upstreamResponseTooLarge)
            }
            if result.readableBytes == 0 {
                result = chunk
            } else {
                result.writeBuffer(&chunk)
            }
        }
        return result
    }
}

/// Holds a non-Sendable iterator; a ByteStream is consumed by one task at a time.
private final class IteratorBox<Iterator>: @unchecked Sendable {
    var iterator: Iterator
    init(_ iterator: Iterator) { self.iterator = iterator }
}

extension IteratorBox where Iterator: AsyncIteratorProtocol, Iterator.Element == ByteBuffer {
    func next() async throws -> ByteBuffer? {
        var copy = iterator
        defer { iterator = copy }
        return try await copy.next()
    }
}

extension IteratorBox where Iterator: IteratorProtocol, Iterator.Element == ByteBuffer {
    func nextSync() -> ByteBuffer? { iterator.next() }
}
