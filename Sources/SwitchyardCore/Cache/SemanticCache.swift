import Synchronization

/// `cache.semantic`: answer a new question from the cached answer of a near-identical one.
public struct SemanticCacheSettings: Sendable, Equatable {
    /// The embedding model group (called through the gateway's own router).
    public var model: String
    /// Least cosine similarity for a hit.
    public var threshold = 0.95
    /// Shorter prompts are only cached exactly (short texts are close to too many others).
    public var minPromptCharacters = 20
    /// Vectors kept in memory (oldest dropped first).
    public var maxEntries = 10_000
    /// Whether requests with tools or tool results may be answered semantically (off: a
    /// near-identical question with different tool state is a different question).
    public var allowTools = false
    /// A model (through the gateway, as the caller) that must confirm each semantic hit: asked
    /// whether the cached answer answers the new question; anything but YES is a miss.
    public var verifyModel: String?

    public init(model: String) {
        self.model = model
    }
}

/// What a semantic lookup needs and a store records: the request's context (everything but the
/// last user message) and the embedding of that message.
public struct SemanticProbe: Sendable {
    public var context: String
    public var vector: [Float]

    public init(context: String, vector: [Float]) {
        self.context = context
        self.vector = vector
    }
}

/// Keeps the semantic index across restarts (SQLite) or shares it between instances (Redis).
public protocol SemanticStore: Sendable {
    /// Entries to load at start, oldest first, at most `limit` (a shared store answers none:
    /// it is asked at lookup time instead).
    func loadSemanticEntries(limit: Int) async throws -> [(probe: SemanticProbe, key: CacheKey)]
    /// Adds one entry; the store keeps at most `maxEntries` (the oldest go first) for `ttl`.
    func saveSemanticEntry(_ probe: SemanticProbe, key: CacheKey, maxEntries: Int, ttl: Duration) async throws
    /// Entries other instances added for this conversation context; nil for a store that is
    /// not shared.
    func sharedSemanticEntries(context: String) async throws -> [(vector: [Float], key: CacheKey)]?
}

/// Embeddings of cached prompts, grouped by context, searched by cosine similarity. A request
/// can only match an entry with the same partition, namespace, model group, system prompt,
/// earlier turns, tools and parameters: only the last user message may differ.
public final class SemanticIndex: Sendable {
    struct Entry {
        var vector: [Float]
        var key: CacheKey
        var sequence: Int
    }

    private let state = Mutex<(entries: [String: [Entry]], count: Int, sequence: Int)>(([:], 0, 0))

    public init() {}

    /// The key of the closest entry at or above `threshold`, with its similarity.
    public func nearest(_ probe: SemanticProbe, threshold: Double) -> (key: CacheKey, similarity: Double)? {
        state.withLock { state in
            var best: (key: CacheKey, similarity: Double)?
            for entry in state.entries[probe.context] ?? [] {
                let similarity = Self.cosine(entry.vector, probe.vector)
                if similarity >= threshold, similarity > (best?.similarity ?? -1) { best = (entry.key, similarity) }
            }
            return best
        }
    }

    public func add(_ probe: SemanticProbe, key: CacheKey, maxEntries: Int) {
        state.withLock { state in
            state.sequence += 1
            state.entries[probe.context, default: []].append(Entry(vector: probe.vector, key: key, sequence: state.sequence))
            state.count += 1
            while state.count > maxEntries {
                // Drop the oldest entry overall.
                guard
                    let (context, index) = state.entries.flatMap({ context, list in list.indices.map { (context, $0) } })
                        .min(by: { state.entries[$0.0]![$0.1].sequence < state.entries[$1.0]![$1.1].sequence })
                else { break }
                state.entries[context]!.remove(at: index)
                if state.entries[context]!.isEmpty { state.entries[context] = nil }
                state.count -= 1
            }
        }
    }

    public var count: Int { state.withLock { $0.count } }

    /// The best of `candidates` at or above `threshold` for `probe`.
    public static func best(_ candidates: [(vector: [Float], key: CacheKey)], for probe: SemanticProbe, threshold: Double) -> (
        key: CacheKey, similarity: Double
    )? {
        var best: (key: CacheKey, similarity: Double)?
        for candidate in candidates {
            let similarity = cosine(candidate.vector, probe.vector)
            if similarity >= threshold, similarity > (best?.similarity ?? -1) { best = (candidate.key, similarity) }
        }
        return best
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var dot: Double = 0
        var na: Double = 0
        var nb: Double = 0
        for index in a.indices {
            dot += Double(a[index]) * Double(b[index])
            na += Double(a[index]) * Double(a[index])
            nb += Double(b[index]) * Double(b[index])
        }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
    }
}

extension ResponseCache {
    /// The context digest and the text to embed of a chat request, or nil when it is not
    /// eligible (not a chat, no final user message, or a prompt too short).
    public static func semanticContext(
        settings: CacheSettings, semantic: SemanticCacheSettings, key: CacheKey, canonicalBody: [UInt8], endpoint: Endpoint
    ) -> (context: String, text: String)? {
        guard endpoint == .chatCompletions, var object = (try? JSONValue.parse(canonicalBody))?.objectValue,
            var messages = object["messages"]?.arrayValue, let last = messages.last, last["role"]?.stringValue == "user",
            let text = last["content"]?.stringValue, text.count >= semantic.minPromptCharacters
        else { return nil }
        if !semantic.allowTools,
            object["tools"] != nil || object["functions"] != nil || messages.contains(where: { $0["role"]?.stringValue == "tool" })
        {
            return nil
        }
        messages.removeLast()
        object["messages"] = .array(messages)
        return (digest([key.partition, key.namespace, key.model, endpoint.rawValue], object, settings: settings), text)
    }
}
