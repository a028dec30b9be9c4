import NIOCore

/// The gateway's own answer to `POST /v1/moderations` when no moderation model is configured:
/// the built-in content detector's verdict on each text, in OpenAI's response shape.
///
/// It is served as an in-process provider (``providerName``, model ``model``) so that the
/// request goes through the same pipeline as any other: access rules, limits, budgets, the
/// request log, metrics and the ledger (usage counted by the gateway, no price).
public struct DetectorModerationAdapter: ProviderAdapter {
    /// The reserved provider name of the built-in detectors.
    public static let provider = "switchyard-detectors"
    /// The model name the built-in detectors answer as (and in the answer's `model`).
    public static let model = "switchyard-moderation"

    /// OpenAI's categories, each with the detector category that judges it (nil: not judged,
    /// always false with score 0).
    static let categories: [(openAI: String, detector: String?)] = [
        ("harassment", "harassment"), ("harassment/threatening", nil), ("hate", "hate"), ("hate/threatening", nil), ("illicit", "illegal"),
        ("illicit/violent", nil), ("self-harm", "self_harm"), ("self-harm/intent", nil), ("self-harm/instructions", nil),
        ("sexual", "sexual"), ("sexual/minors", nil), ("violence", "violence"), ("violence/graphic", nil),
    ]

    public var providerName: String { Self.provider }
    let detector = ContentDetector(categories: ContentDetector.categories)

    public init() {}

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard request.endpoint == .moderations else {
            throw GatewayError.unsupportedEndpoint(request.endpoint.rawValue, provider: Self.provider)
        }
        let answer = try moderation(of: Array(buffer: request.body), id: "modr-" + request.requestID)
        return UpstreamResponse(
            status: 200, headers: [HeaderField("content-type", "application/json")],
            body: ByteStream(buffers: [ByteBuffer(bytes: answer.serializedBytes())]))
    }

    /// One result per input text: a category's score is the summed weight of its phrases
    /// (at most 1), flagged at 1, the content guardrail's default threshold.
    func moderation(of body: [UInt8], id: String) throws(GatewayError) -> JSONValue {
        guard let request = (try? JSONValue.parse(body))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        var texts: [String] = []
        switch request["input"] {
        case .string(let text)?:
            texts = [text]
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                if let text = item.stringValue {
                    texts.append(text)
                } else if item["type"]?.stringValue == "text", let text = item["text"]?.stringValue {
                    texts.append(text)
                } else {
                    throw GatewayError.invalidRequest(
                        "The gateway's own detectors judge text only; input[\(index)] is not text. Configure a moderation model for images.",
                        param: "input[\(index)]", code: .unsupportedContent)
                }
            }
        default:
            throw GatewayError.missingField("input")
        }
        let results: [JSONValue] = texts.map { text in
            var totals: [String: Double] = [:]
            for finding in detector.findings(in: Array(text.utf8), context: []) {
                totals[String(finding.entity.dropFirst("content.".count)), default: 0] += finding.score
            }
            var flags = JSONObject()
            var scores = JSONObject()
            var applied = JSONObject()
            var flagged = false
            for (name, category) in Self.categories {
                let score = min(1, category.flatMap { totals[$0] } ?? 0)
                let hit = score >= 1 - 1e-9
                flagged = flagged || hit
                flags[name] = .bool(hit)
                scores[name] = JSONValue((score * 1_000_000).rounded() / 1_000_000)
                applied[name] = category == nil ? .array([]) : .array(["text"])
            }
            return [
                "flagged": .bool(flagged), "categories": .object(flags), "category_scores": .object(scores),
                "category_applied_input_types": .object(applied),
            ]
        }
        return ["id": .string(id), "model": .string(Self.model), "results": .array(results)]
    }
}
