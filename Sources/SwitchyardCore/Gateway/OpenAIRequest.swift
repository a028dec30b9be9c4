/// The parts of an OpenAI-dialect request body the gateway reads, validated in one pass.
///
/// Only top-level fields are typed; nested content travels to the provider byte for byte.
public struct OpenAIRequest: Sendable {
    public let endpoint: Endpoint
    public let scan: JSONObjectScan
    public let model: String
    public let stream: Bool
    /// Whether the client asked for the usage chunk (`stream_options.include_usage: true`).
    public let clientWantsUsage: Bool
    /// The `user` field, when present.
    public let user: String?

    private enum Expected {
        case string, number, integer, boolean, array, object
        case stringOrArray, stringOrObject
        var text: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .integer: "an integer"
            case .boolean: "a boolean"
            case .array: "an array"
            case .object: "an object"
            case .stringOrArray: "a string or an array"
            case .stringOrObject: "a string or an object"
            }
        }
    }

    private static let chatFields: [String: Expected] = [
        "model": .string, "messages": .array, "stream": .boolean, "stream_options": .object,
        "temperature": .number, "top_p": .number, "n": .integer, "max_tokens": .integer,
        "max_completion_tokens": .integer, "presence_penalty": .number, "frequency_penalty": .number,
        "logit_bias": .object, "logprobs": .boolean, "top_logprobs": .integer, "user": .string,
        "stop": .stringOrArray, "tools": .array, "tool_choice": .stringOrObject, "parallel_tool_calls": .boolean,
        "response_format": .object, "seed": .integer, "functions": .array, "function_call": .stringOrObject,
        "metadata": .object, "store": .boolean, "reasoning_effort": .string, "modalities": .array,
        "service_tier": .string, "prediction": .object, "audio": .object,
    ]

    private static let completionFields: [String: Expected] = [
        "model": .string, "prompt": .stringOrArray, "stream": .boolean, "stream_options": .object,
        "temperature": .number, "top_p": .number, "n": .integer, "max_tokens": .integer, "echo": .boolean,
        "presence_penalty": .number, "frequency_penalty": .number, "logit_bias": .object, "logprobs": .integer,
        "best_of": .integer, "user": .string, "stop": .stringOrArray, "seed": .integer, "suffix": .string,
    ]

    private static let embeddingFields: [String: Expected] = [
        "model": .string, "input": .stringOrArray, "dimensions": .integer, "encoding_format": .string, "user": .string,
    ]

    private static let rerankFields: [String: Expected] = [
        "model": .string, "query": .string, "documents": .array, "top_n": .integer, "return_documents": .boolean,
        "max_tokens_per_doc": .integer, "rank_fields": .array, "user": .string,
    ]

    private static let moderationFields: [String: Expected] = [
        "model": .string, "input": .stringOrArray, "user": .string,
    ]

    private static let imageFields: [String: Expected] = [
        "model": .string, "prompt": .string, "n": .integer, "size": .string, "quality": .string, "response_format": .string,
        "style": .string, "user": .string, "background": .string, "output_format": .string, "output_compression": .integer,
        "moderation": .string,
    ]

    private static let speechFields: [String: Expected] = [
        "model": .string, "input": .string, "voice": .string, "response_format": .string, "speed": .number, "instructions": .string,
    ]

    /// Uploads: the gateway's own summary of the form fields (see ``MediaUpload``).
    private static let uploadFields: [String: Expected] = [
        "model": .string, "prompt": .string, "n": .integer, "size": .string, "quality": .string, "user": .string,
        "response_format": .string, "language": .string,
    ]

    /// Parses and validates; throws ``GatewayError`` naming the offending field.
    public init(endpoint: Endpoint, body: [UInt8]) throws(GatewayError) {
        self.endpoint = endpoint
        let scan: JSONObjectScan
        do {
            scan = try JSONObjectScan(body)
        } catch {
            switch error {
            case .notAnObject:
                throw GatewayError.invalidJSON("the body must be a JSON object")
            case .invalid(let parseError):
                if body.isEmpty { throw GatewayError.invalidJSON("the body is empty") }
                throw GatewayError.invalidJSON(parseError.description)
            }
        }
        self.scan = scan
        let fields: [String: Expected]
        let required: [String]
        switch endpoint {
        case .chatCompletions:
            fields = Self.chatFields
            required = ["model", "messages"]
        case .completions:
            fields = Self.completionFields
            required = ["model", "prompt"]
        case .embeddings:
            fields = Self.embeddingFields
            required = ["model", "input"]
        case .rerank:
            fields = Self.rerankFields
            required = ["model", "query", "documents"]
        case .moderations:
            fields = Self.moderationFields
            required = ["model", "input"]
        case .imageGenerations:
            fields = Self.imageFields
            required = ["model", "prompt"]
        case .audioSpeech:
            fields = Self.speechFields
            required = ["model", "input", "voice"]
        case .imageEdits:
            fields = Self.uploadFields
            required = ["model", "prompt"]
        case .audioTranscriptions, .audioTranslations:
            fields = Self.uploadFields
            required = ["model"]
        case .passthrough:
            throw GatewayError.notFound("Passthrough requests are not model requests.")
        }
        for name in required where scan.member(name) == nil {
            throw GatewayError.missingField(name)
        }
        for member in scan.members {
            guard let expected = fields[member.key] else { continue }
            // Optional fields may be null; required ones may not.
            if member.kind == .null {
                if required.contains(member.key) { throw GatewayError.invalidType(field: member.key, expected: expected.text, found: "null") }
                continue
            }
            if !Self.matches(member, expected, in: scan.bytes) {
                throw GatewayError.invalidType(field: member.key, expected: expected.text, found: member.kind.typeName)
            }
        }
        guard let model = scan.string("model"), !model.isEmpty else {
            throw GatewayError.invalidRequest("'model' must not be empty.", param: "model", code: .invalidValue)
        }
        self.model = model
        if endpoint == .chatCompletions, scan.isEmptyArray("messages") {
            throw GatewayError.invalidRequest("'messages' must contain at least one message.", param: "messages", code: .invalidValue)
        }
        try Self.validate(scan, endpoint: endpoint)
        self.stream = endpoint.generatesText && scan.bool("stream") == true
        self.clientWantsUsage = scan.value("stream_options")?["include_usage"]?.boolValue == true
        self.user = scan.string("user")
    }

    /// `original` with its body replaced by `body`, which differs from the original's only
    /// inside message texts (masked in place by the input guardrails): the body is scanned
    /// again for its new offsets; what was validated and read from the original (types, model,
    /// stream flags, user) carries over instead of being checked again.
    init(rewrittenTextsOf original: OpenAIRequest, body: [UInt8]) throws(GatewayError) {
        do {
            scan = try JSONObjectScan(body)
        } catch {
            throw GatewayError.invalidJSON("the rewritten body is not a JSON object")
        }
        endpoint = original.endpoint
        model = original.model
        stream = original.stream
        clientWantsUsage = original.clientWantsUsage
        user = original.user
    }

    private static func matches(_ member: JSONObjectScan.Member, _ expected: Expected, in bytes: [UInt8]) -> Bool {
        switch expected {
        case .string: return member.kind == .string
        case .number: return member.kind == .number
        case .integer:
            guard member.kind == .number else { return false }
            return !bytes[member.valueRange].contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
        case .boolean: return member.kind == .true || member.kind == .false
        case .array: return member.kind == .array
        case .object: return member.kind == .object
        case .stringOrArray: return member.kind == .string || member.kind == .array
        case .stringOrObject: return member.kind == .string || member.kind == .object
        }
    }

    /// The body to send upstream: `model` renamed and, for streams, usage forced on so the
    /// gateway always learns the token counts. Every other byte is kept as sent.
    public func upstreamBody(upstreamModel: String) -> [UInt8] {
        var replacements: [(key: String, rawValue: [UInt8]?)] = []
        if upstreamModel != model {
            replacements.append(("model", JSONWriter.quoted(upstreamModel)))
        }
        if stream && !clientWantsUsage {
            var options = scan.value("stream_options")?.objectValue ?? JSONObject()
            options["include_usage"] = .bool(true)
            replacements.append(("stream_options", JSONValue.object(options).serializedBytes()))
        }
        if replacements.isEmpty { return scan.bytes }
        return scan.rewriting(replacements)
    }
}
