/// Uploaded files (`files:`): where their bytes live and how large one may be.
public struct FileSettings: Sendable {
    /// The directory of file contents; nil: `switchyard-files` next to the database (with
    /// PostgreSQL, next to the usage journal).
    public var directory: String?
    /// Largest upload accepted (`max_file_size`); larger ones get 413. Default 200 MiB
    /// (OpenAI's limit for a batch input file).
    public var maxFileBytes = 200 * 1024 * 1024

    public init() {}
}

/// Batches the gateway runs itself (`batches:`).
public struct BatchSettings: Sendable {
    /// Lines of all batches in flight at once. Default 4.
    public var concurrency = 4
    /// Lines started per second, all batches together. Default 10.
    public var requestsPerSecond: Double = 10
    /// The share of the usual price a batch line costs: OpenAI's batch discount is 50%, so
    /// `discount: 0.5` (the default) prices every line at half. 0 disables the discount.
    public var discount: Double = 0.5
    /// Most lines one input file may hold. Default 50,000 (OpenAI's limit).
    public var maxRequests = 50_000
    /// How often a batch handed to a provider's own batch API is polled (`poll_interval`).
    /// Default 30 s.
    public var pollInterval: Duration = .seconds(30)

    public init() {}

    /// The factor each line's price is multiplied by.
    public var priceFactor: Double { 1 - discount }
}

/// Decoding of `files:` and `batches:`.
extension Context {
    mutating func decodeFiles(_ node: ConfigNode) -> FileSettings {
        var settings = FileSettings()
        guard var mapping = MappingReader(node, path: "files", context: &self) else { return settings }
        if let node = mapping.take("directory"), let value = string(node, path: "files.directory") {
            if value.isEmpty { error("files.directory is empty", at: node.location, hint: "a directory path, or leave it out") }
            settings.directory = value
        }
        if let node = mapping.take("max_file_size"), let value = byteSize(node, path: "files.max_file_size") {
            if value <= 0 { error("files.max_file_size must be positive", at: node.location) }
            settings.maxFileBytes = value
        }
        mapping.finish(known: ["directory", "max_file_size"], context: &self)
        return settings
    }

    mutating func decodeBatches(_ node: ConfigNode) -> BatchSettings {
        var settings = BatchSettings()
        guard var mapping = MappingReader(node, path: "batches", context: &self) else { return settings }
        if let node = mapping.take("concurrency"), let value = integer(node, path: "batches.concurrency") {
            if value < 1 || value > 1000 { error("batches.concurrency must be between 1 and 1000", at: node.location) }
            settings.concurrency = min(max(value, 1), 1000)
        }
        if let node = mapping.take("requests_per_second"), let value = number(node, path: "batches.requests_per_second") {
            if value <= 0 { error("batches.requests_per_second must be positive", at: node.location, hint: "for example 10 or 0.5") }
            settings.requestsPerSecond = max(value, 0.001)
        }
        if let node = mapping.take("discount"), let value = number(node, path: "batches.discount") {
            if value < 0 || value > 1 { error("batches.discount must be between 0 and 1", at: node.location, hint: "0.5 is OpenAI's 50% discount") }
            settings.discount = min(max(value, 0), 1)
        }
        if let node = mapping.take("max_requests"), let value = integer(node, path: "batches.max_requests") {
            if value < 1 { error("batches.max_requests must be positive", at: node.location) }
            settings.maxRequests = max(value, 1)
        }
        if let node = mapping.take("poll_interval"), let value = duration(node, path: "batches.poll_interval") {
            if value <= .zero { error("batches.poll_interval must be positive", at: node.location, hint: "for example 30s") }
            settings.pollInterval = max(value, .milliseconds(10))
        }
        mapping.finish(known: ["concurrency", "requests_per_second", "discount", "max_requests", "poll_interval"], context: &self)
        return settings
    }
}
