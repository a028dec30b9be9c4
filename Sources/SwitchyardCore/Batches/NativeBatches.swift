/// Batches handed to a provider's own batch API (OpenAI's `/v1/files` + `/v1/batches`,
/// Anthropic's Message Batches) instead of run line by line by the gateway.
///
/// The gateway stays the client's only counterpart: the client sees the gateway's batch and file
/// ids and OpenAI's result lines; the provider's batch id lives in the batch's database row so
/// that a restart resumes polling and never submits twice.

/// The provider adapters with a native batch API the gateway can use.
public enum NativeBatchSupport {
    /// `openai-compatible` (OpenAI's `/v1/batches`) and `anthropic` (Message Batches).
    public static let adapters: Set<String> = [ProviderPresets.openAICompatible, ProviderPresets.anthropic]
}

/// A provider's own batch API, as one adapter speaks it.
public protocol NativeBatchAPI: Sendable {
    /// The provider's batch discount when the deployment sets no `batch_discount` (0.5: half price).
    var defaultDiscount: Double { get }
    /// Whether lines for `endpoint` can go to this API.
    func supports(_ endpoint: Endpoint) -> Bool
    /// One request in the provider's batch input form, from an OpenAI-dialect body whose
    /// `model` is already the upstream model. Throws when the request cannot be expressed there
    /// (the batch then runs in the gateway).
    func encode(customID: String, endpoint: Endpoint, body: [UInt8]) throws(GatewayError) -> [UInt8]
    /// Submits the encoded requests as one batch; returns the provider's batch id.
    func submit(_ requests: [[UInt8]], endpoint: Endpoint) async throws -> String
    /// Where the provider's batch stands.
    func poll(_ id: String) async throws -> NativeBatchState
    /// Every result of an ended batch, in OpenAI's result-line terms.
    func results(_ ending: NativeBatchState.Ending) async throws -> [NativeBatchResult]
    /// Asks the provider to cancel the batch (requests not yet run are not run).
    func cancel(_ id: String) async throws
}

/// A provider batch's status as the gateway needs it.
public enum NativeBatchState: Sendable, Equatable {
    /// Still being validated or run (or being cancelled).
    case running
    /// Processing ended: results can be read (some lines may be missing).
    case ended(Ending)
    /// The provider refused or failed the batch as a whole; nothing ran.
    case failed(String)

    public struct Ending: Sendable, Equatable {
        /// Where the results are: output and error file ids (OpenAI) or the results URL (Anthropic).
        public var locations: [String]
        /// The provider cancelled the batch (on request) or let it expire.
        public var cancelled: Bool
        public var expired: Bool

        public init(locations: [String], cancelled: Bool = false, expired: Bool = false) {
            self.locations = locations
            self.cancelled = cancelled
            self.expired = expired
        }
    }
}

/// One request's result from a provider batch, translated to OpenAI's terms.
public struct NativeBatchResult: Sendable {
    /// The `custom_id` the gateway gave the request at submission.
    public var customID: String
    public var outcome: Outcome

    public enum Outcome: Sendable {
        /// An answer (`response` of OpenAI's result line): the HTTP status and the body in
        /// OpenAI's dialect (a chat completion, or an error envelope).
        case response(status: Int, body: JSONValue)
        /// The request did not run (`error` of OpenAI's result line).
        case error(code: String, message: String)
    }

    public init(customID: String, outcome: Outcome) {
        self.customID = customID
        self.outcome = outcome
    }
}

/// What the gateway keeps about a batch it handed to a provider (a JSON column of the batch's row).
public struct NativeBatchRecord: Sendable, Equatable {
    public var provider: String
    public var deployment: String
    /// The model group every line routed to (recorded as the lines' requested model).
    public var group: String
    public var upstreamModel: String
    /// The deployment's price with the batch discount applied; nil when the model has no price.
    public var price: ModelPrice?
    /// The provider's batch id; nil while the submission is under way (a batch found so after a
    /// restart may or may not exist at the provider, so it is never submitted again).
    public var providerBatchID: String?
    /// Whether the owner's cancellation reached the provider.
    public var cancelForwarded = false

    public init(provider: String, deployment: String, group: String, upstreamModel: String, price: ModelPrice?) {
        self.provider = provider
        self.deployment = deployment
        self.group = group
        self.upstreamModel = upstreamModel
        self.price = price
    }

    /// The column's text.
    public var json: JSONValue {
        var object: JSONObject = [
            "provider": .string(provider), "deployment": .string(deployment), "group": .string(group), "upstream_model": .string(upstreamModel),
            "cancel_forwarded": .bool(cancelForwarded),
        ]
        if let providerBatchID { object["provider_batch_id"] = .string(providerBatchID) }
        if let price {
            var priced: JSONObject = ["input": JSONValue(price.input), "output": JSONValue(price.output)]
            if let value = price.cachedInput { priced["cached_input"] = JSONValue(value) }
            if let value = price.cacheWrite { priced["cache_write"] = JSONValue(value) }
            if let value = price.reasoning { priced["reasoning"] = JSONValue(value) }
            object["price"] = .object(priced)
        }
        return .object(object)
    }

    /// The record in a column's text; nil when it is not one.
    public init?(json value: JSONValue) {
        guard let provider = value["provider"]?.stringValue, let deployment = value["deployment"]?.stringValue,
            let group = value["group"]?.stringValue, let upstream = value["upstream_model"]?.stringValue
        else { return nil }
        var price: ModelPrice?
        if let priced = value["price"], let input = priced["input"]?.doubleValue, let output = priced["output"]?.doubleValue {
            price = ModelPrice(
                input: input, output: output, cachedInput: priced["cached_input"]?.doubleValue, cacheWrite: priced["cache_write"]?.doubleValue,
                reasoning: priced["reasoning"]?.doubleValue)
        }
        self.init(provider: provider, deployment: deployment, group: group, upstreamModel: upstream, price: price)
        providerBatchID = value["provider_batch_id"]?.stringValue
        cancelForwarded = value["cancel_forwarded"]?.boolValue ?? false
    }

    /// The `custom_id` the gateway gives line `line` at the provider: Anthropic accepts only
    /// `[a-zA-Z0-9_-]{1,64}`, and the client's ids never leave the gateway this way.
    public static func customID(line: Int) -> String { "line-\(line)" }

    /// The line number of a `custom_id` made by ``customID(line:)``.
    public static func line(of customID: String) -> Int? {
        guard customID.hasPrefix("line-") else { return nil }
        return Int(customID.dropFirst(5))
    }
}
