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
            return GatewayError(status: 400, type: "invalid_request_error", code: "context_length_exceeded", param: "messages", message: message!)
        }
        let policyRefusal =
            upstreamCode == "content_filter" || upstreamCode == "content_policy_violation"
            || (message ?? "").lowercased().contains("responsibleaipolicyviolation")
        if (400..<500).contains(status), policyRefusal {
            return GatewayError(
                status: 400, type: "invalid_request_error", code: "content_filter",
                message: message ?? "The provider's content policy blocked the request.")
        }
        switch status {
        case 400, 404, 409, 413, 422:
            return GatewayError(
                status: status,
                type: upstreamType ?? "invalid_request_error",
                code: upstreamCode ?? (status == 404 ? "upstream_not_found" : "upstream_invalid_request"),
                param: upstreamParam,
                message: message ?? "Provider '\(provider)' rejected the request with status \(status)."
            )
        case 401, 403:
            return GatewayError(
                status: 502,
                type: "api_error",
                code: "upstream_authentication_error",
                message:
                    "Provider '\(provider)' rejected the gateway's credentials (status \(status)). The gateway operator must check this provider's API key."
            )
        case 408:
            return .upstreamTimeout("Provider '\(provider)' timed out (status 408).")
        case 429:
            var error = GatewayError(
                status: 429,
                type: "rate_limit_error",
                code: upstreamCode ?? "rate_limit_exceeded",
                message: described("rate limit reached")
            )
            error.headers.append(HeaderField("Retry-After", retryAfter?.value ?? "1"))
            if let value = retryAfter?.value.trimmingCharacters(in: .whitespaces), let seconds = Double(value), seconds >= 0, seconds < 86_400 {
                error.upstreamRetryAfter = .milliseconds(Int64(seconds * 1000))
            }
            return error
        case 503, 529:
            var error = GatewayError(status: 503, type: "api_error", code: "upstream_overloaded", message: described("service unavailable"))
            if let retryAfter { error.headers.append(HeaderField("Retry-After", retryAfter.value)) }
            return error
        case 504:
            return .upstreamTimeout(described("gateway timeout"))
        default:
            return GatewayError(status: 502, type: "api_error", code: "upstream_error", message: described("upstream error"))
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
