import Foundation

/// Turns a provider's HTTP error into the error the client sees.
///
/// Provider messages are kept where they help the caller (a bad parameter, an unknown upstream
/// model, a rate limit) and replaced where they could mislead or leak (credential failures
/// are the operator's problem, never the caller's, and their messages can echo a key).
public enum UpstreamErrorMapper {
    public static func map(status: Int, body: [UInt8], headers: [HeaderField], provider: String, scrubber: SecretScrubber) -> GatewayError {
        let parsed = try? JSONValue.parse(body)
        let errorObject = parsed?["error"]
        let upstreamMessage: String? = {
            if let message = errorObject?["message"]?.stringValue { return message }
            if let message = errorObject?.stringValue { return message }
            if let message = parsed?["message"]?.stringValue { return message }
            if let detail = parsed?["detail"]?.stringValue { return detail }
            return nil
        }()
        let message = upstreamMessage.map { scrubber.scrub(String($0.prefix(2000))) }
        let upstreamCode = errorObject?["code"]?.stringValue
        let upstreamType = errorObject?["type"]?.stringValue
        let upstreamParam = errorObject?["param"]?.stringValue
        let retryAfter = headers.first(where: { $0.name.lowercased() == "retry-after" })

        func described(_ fallback: String) -> String {
            "Provider '\(provider)' returned \(status): \(message ?? fallback)"
        }

        // Providers word "the prompt does not fit" differently; clients (and fallbacks to a
        // larger-context model) need one code for it, as OpenAI's `context_length_exceeded`.
        // Never for a 429: Bedrock throttles with "Too many tokens, please wait before trying again."
        if (400..<500).contains(status), status != 429, upstreamCode != "context_length_exceeded", let text = message?.lowercased(),
            contextLengthPhrases.contains(where: { text.contains($0) })
        {
            return .contextLengthExceeded(message!)
        }
        let policyRefusal =
            upstreamCode == "content_filter" || upstreamCode == "content_policy_violation"
            || (message ?? "").lowercased().contains("responsibleaipolicyviolation")
        if (400..<500).contains(status), policyRefusal {
            return .invalidRequest(message ?? "The provider's content policy blocked the request.", code: .contentFilter)
        }
        switch status {
        case 400, 404, 409, 413, 422:
            return .provider(
                status: status,
                type: upstreamType ?? "invalid_request_error",
                code: upstreamCode.map(GatewayError.Code.provider) ?? (status == 404 ? .upstreamNotFound : .upstreamInvalidRequest),
                param: upstreamParam,
                message: message ?? "Provider '\(provider)' rejected the request with status \(status)."
            )
        case 401, 403:
            return .upstreamUnavailable(
                "Provider '\(provider)' rejected the gateway's credentials (status \(status)). The gateway operator must check this provider's API key.",
                code: .upstreamAuthenticationError)
        case 408:
            return .upstreamTimeout("Provider '\(provider)' timed out (status 408).")
        case 429:
            var error = GatewayError.rateLimited(
                described("rate limit reached"), code: upstreamCode.map(GatewayError.Code.provider) ?? .rateLimitExceeded)
            error.headers.append(HeaderField("Retry-After", retryAfter?.value ?? "1"))
            if let value = retryAfter?.value.trimmingCharacters(in: .whitespaces), let seconds = Double(value), seconds >= 0, seconds < 86_400 {
                error.upstreamRetryAfter = .milliseconds(Int64(seconds * 1000))
            }
            return error
        case 503, 529:
            var error = GatewayError.unavailable(described("service unavailable"), code: .upstreamOverloaded)
            if let retryAfter { error.headers.append(HeaderField("Retry-After", retryAfter.value)) }
            return error
        case 504:
            return .upstreamTimeout(described("gateway timeout"))
        default:
            return .upstreamUnavailable(described("upstream error"), code: .upstreamError)
        }
    }
}

/// Phrases providers use for a prompt longer than the model's context window (lowercased):
/// OpenAI, Anthropic, Gemini, Bedrock, Cohere, vLLM.
let contextLengthPhrases = [
    "maximum context length", "context length", "context window", "prompt is too long",
    "exceeds the maximum number of tokens", "input is too long", "too many input tokens", "too many tokens",
]

/// Removes secrets from text that may reach a client or a log.
///
/// Masks the configured secret values themselves and anything shaped like a common API key
/// or bearer token, so an upstream error that echoes a credential does not pass it on.
public struct SecretScrubber: Sendable {
    private let secrets: [String]

    public init(secrets: [Secret]) {
        self.secrets = secrets.map { $0.reveal() }.filter { $0.count >= 6 }
    }

    public func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingAll(secret, with: "[redacted]")
        }
        return Self.maskKeyShapes(result)
    }

    /// Masks `sk-...`, `Bearer ...` and similar tokens of 16+ characters.
    static func maskKeyShapes(_ text: String) -> String {
        guard text.contains("sk-") || text.contains("Bearer ") || text.contains("key-") else { return text }
        var output = ""
        var words = text.split(separator: " ", omittingEmptySubsequences: false)
        var maskNext = false
        for index in words.indices {
            let word = words[index]
            if maskNext, word.count >= 8 {
                words[index] = "[redacted]"
                maskNext = false
                continue
            }
            maskNext = word == "Bearer"
            if (word.hasPrefix("sk-") || word.hasPrefix("key-")) && word.count >= 12 {
                words[index] = "[redacted]"
            }
        }
        output = words.joined(separator: " ")
        return output
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var remainder = self[...]
        while let range = remainder.range(of: target) {
            result += remainder[remainder.startIndex..<range.lowerBound]
            result += replacement
            remainder = remainder[range.upperBound...]
        }
        result += remainder
        return result
    }
}
