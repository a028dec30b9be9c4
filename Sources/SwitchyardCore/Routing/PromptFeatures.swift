/// What routing rules and the cost strategy look at in a request, read once from its body.
public struct PromptFeatures: Sendable, Equatable {
    /// Prompt tokens: exact for OpenAI-family model names (their BPE encoding, per-message
    /// framing as OpenAI counts it), estimated for others; images count 765 each.
    public var estimatedPromptTokens = 0
    /// `max_tokens` / `max_completion_tokens` when given.
    public var maxOutputTokens: Int?
    /// Answers asked for (`n`, chat and legacy completions; 1 when absent, at most 128).
    public var choices = 1
    /// False for embeddings, which write no completion.
    public var producesOutput = true
    public var hasImages = false
    public var hasTools = false
    public var jsonMode = false
    /// Text of the last user message (or the prompt / input).
    public var lastUserText = ""

    public init() {}

    public init(request: OpenAIRequest) {
        let scan = request.scan
        let model = request.model
        switch request.endpoint {
        case .chatCompletions:
            let tokenizer = Tokenizers.tokenizer(forModel: model)
            let chat =
                scan.member("messages").flatMap { $0.kind == .array ? PromptTokens.chat($0.valueRange, of: scan.bytes, tokenizer: tokenizer) : nil }
                ?? PromptTokens.Chat()
            estimatedPromptTokens = chat.tokens
            hasImages = chat.hasImages
            lastUserText = chat.lastUserText
            let tools = scan.value("tools")
            if let list = tools?.arrayValue, !list.isEmpty { hasTools = true }
            if let functions = scan.value("functions")?.arrayValue, !functions.isEmpty { hasTools = true }
            estimatedPromptTokens += PromptTokens.toolTokens(tools, tokenizer: tokenizer)
            let format = scan.value("response_format")?["type"]?.stringValue
            jsonMode = format == "json_object" || format == "json_schema"
            maxOutputTokens = scan.value("max_completion_tokens")?.intValue ?? scan.value("max_tokens")?.intValue
            choices = min(max(1, scan.value("n")?.intValue ?? 1), 128)
        case .completions:
            lastUserText = Self.flattenText(scan.value("prompt"))
            estimatedPromptTokens = PromptTokens.count(lastUserText, model: model)
            maxOutputTokens = scan.value("max_tokens")?.intValue
            choices = min(max(1, scan.value("n")?.intValue ?? 1), 128)
        case .embeddings, .moderations:
            producesOutput = false
            lastUserText = Self.flattenText(scan.value("input"))
            estimatedPromptTokens = PromptTokens.count(lastUserText, model: model)
        case .imageGenerations, .imageEdits:
            producesOutput = false
            lastUserText = scan.string("prompt") ?? ""
            estimatedPromptTokens = PromptTokens.count(lastUserText, model: model)
            choices = min(max(1, scan.value("n")?.intValue ?? 1), 10)
        case .audioSpeech:
            producesOutput = false
            lastUserText = scan.string("input") ?? ""
            estimatedPromptTokens = PromptTokens.count(lastUserText, model: model)
        case .audioTranscriptions, .audioTranslations:
            lastUserText = scan.string("prompt") ?? ""
        case .passthrough:
            producesOutput = false
        case .rerank:
            producesOutput = false
            // A reranker reads the query once with each document, and bills them that way
            // (vLLM, Jina): the prompt is every (query, document) pair.
            lastUserText = scan.string("query") ?? ""
            let query = PromptTokens.count(lastUserText, model: model)
            for document in scan.value("documents")?.arrayValue ?? [] {
                estimatedPromptTokens += query + PromptTokens.count(Self.flattenText(document), model: model)
            }
        }
    }

    /// The text of a string, a `{"text": ...}` object (a document, a content part) or an array
    /// of them, one per line.
    static func flattenText(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: return text
        case .object(let object)?: return object["text"]?.stringValue ?? ""
        case .array(let items)?: return items.map { flattenText($0) }.filter { !$0.isEmpty }.joined(separator: "\n")
        default: return ""
        }
    }

    /// Tokens the request may use in all: prompt plus the completion it allows.
    public var estimatedTotalTokens: Int { estimatedPromptTokens + (maxOutputTokens ?? 0) }

    /// Completion tokens to reserve before the call, for each of its `n` answers: the
    /// request's `max_tokens`; without one, the most the model can write (`outputLimit`, at
    /// most what its context window leaves after the prompt), or `defaultEstimate` when that is
    /// unknown. A `max_tokens` above the model's limit reserves the limit. Embeddings write none.
    public func reservedCompletionTokens(outputLimit: Int?, contextWindow: Int?, defaultEstimate: Int) -> Int {
        guard producesOutput else { return 0 }
        var perAnswer: Int
        if let maxOutputTokens {
            perAnswer = outputLimit.map { min($0, maxOutputTokens) } ?? maxOutputTokens
        } else {
            perAnswer = outputLimit ?? defaultEstimate
            if outputLimit != nil, let contextWindow { perAnswer = min(perAnswer, max(1, contextWindow - estimatedPromptTokens)) }
        }
        return max(0, perAnswer) * choices
    }
}

/// Guesses the language of a text: by script where it is distinctive, by frequent function
/// words for the major Latin-script languages. Returns nil when unsure.
public enum LanguageDetector {
    public static let supported: Set<String> = [
        "en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "el", "ar", "he", "hi", "th", "zh", "ja", "ko",
    ]

    private static let stopwords: [(String, Set<Substring>)] = [
        ("en", ["the", "and", "is", "are", "of", "to", "in", "that", "it", "you", "what", "how", "this", "with", "for", "please"]),
        ("de", ["der", "die", "das", "und", "ist", "nicht", "ich", "sie", "mit", "ein", "eine", "zu", "wie", "was", "bitte", "auf"]),
        ("fr", ["le", "la", "les", "et", "est", "une", "des", "je", "vous", "que", "pour", "dans", "avec", "pas", "ce", "qui"]),
        ("es", ["el", "la", "los", "las", "es", "y", "que", "una", "por", "para", "con", "como", "qué", "está", "pero", "del"]),
        ("it", ["il", "che", "di", "la", "è", "e", "non", "una", "per", "sono", "come", "con", "mi", "gli", "della", "questo"]),
        ("pt", ["o", "os", "que", "não", "uma", "é", "e", "do", "da", "para", "com", "como", "você", "se", "por", "em"]),
        ("nl", ["de", "het", "een", "en", "is", "niet", "dat", "van", "ik", "je", "met", "wat", "hoe", "zijn", "voor", "op"]),
    ]

    public static func detect(_ text: String) -> String? {
        var counts: [String: Int] = [:]
        var letters = 0
        for scalar in text.unicodeScalars.prefix(2000) {
            let value = scalar.value
            let script: String?
            switch value {
            case 0x3040...0x30FF: script = "ja"
            case 0xAC00...0xD7AF, 0x1100...0x11FF: script = "ko"
            case 0x4E00...0x9FFF, 0x3400...0x4DBF: script = "han"
            case 0x0400...0x04FF: script = (value == 0x0456 || value == 0x0457 || value == 0x0454 || value == 0x0491) ? "uk" : "cyrillic"
            case 0x0370...0x03FF: script = "el"
            case 0x0600...0x06FF: script = "ar"
            case 0x0590...0x05FF: script = "he"
            case 0x0900...0x097F: script = "hi"
            case 0x0E00...0x0E7F: script = "th"
            case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F: script = "latin"
            default: script = nil
            }
            if let script {
                counts[script, default: 0] += 1
                letters += 1
            }
        }
        guard letters > 0, let top = counts.max(by: { $0.value < $1.value }) else { return nil }
        switch top.key {
        case "han": return (counts["ja"] ?? 0) > 0 ? "ja" : "zh"
        case "cyrillic": return (counts["uk"] ?? 0) > 0 ? "uk" : "ru"
        case "uk": return "uk"
        case "latin": break
        default: return top.key
        }
        let words = text.lowercased().split(whereSeparator: { !$0.isLetter }).prefix(400)
        var best: (String, Int)?
        for (language, list) in stopwords {
            let hits = words.reduce(0) { $0 + (list.contains($1) ? 1 : 0) }
            if hits > (best?.1 ?? 0) { best = (language, hits) }
        }
        return best?.0
    }
}

/// A comparison against a request parameter: `true`, `gpt`, `0.7`, `>0.5`, `<=100`.
public struct ParamComparison: Sendable, Equatable {
    enum Operator: String { case equal = "=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=" }
    let op: Operator
    let text: String
    let number: Double?

    public init?(_ expression: String) {
        let trimmed = expression.trimmingSpaces()
        for op in [Operator.greaterOrEqual, .lessOrEqual, .greater, .less] where trimmed.hasPrefix(op.rawValue) {
            guard let value = Double(trimmed.dropFirst(op.rawValue.count).trimmingSpaces()) else { return nil }
            self.op = op
            self.text = ""
            self.number = value
            return
        }
        self.op = .equal
        self.text = trimmed
        self.number = Double(trimmed)
    }

    public func matches(_ value: JSONValue?) -> Bool {
        guard let value else { return false }
        switch op {
        case .equal:
            switch value {
            case .string(let string): return string == text
            case .bool(let flag): return (flag ? "true" : "false") == text.lowercased()
            case .number(let number, _): return self.number == number
            case .null: return text == "null"
            default: return false
            }
        default:
            guard case .number(let number, _) = value, let bound = self.number else { return false }
            switch op {
            case .less: return number < bound
            case .lessOrEqual: return number <= bound
            case .greater: return number > bound
            case .greaterOrEqual: return number >= bound
            case .equal: return false
            }
        }
    }
}
