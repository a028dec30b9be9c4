/// Files and batches as the gateway stores them (OpenAI's `/v1/files` and `/v1/batches`).
///
/// A file's bytes live on disk under the files directory; its metadata, and every batch with the
/// outcome of each of its lines, live in the database. Files and batches belong to the identity
/// that created them, and to its team: any other caller is told they do not exist.

/// Who owns a file or a batch: the creator's qualified identity and its team.
public struct ResourceOwner: Sendable, Equatable {
    /// `kind:subject` of the creating identity (`virtual_key:key_…`, `master:master`, ...).
    public var subject: String
    public var teamID: String?

    public init(subject: String, teamID: String?) {
        self.subject = subject
        self.teamID = teamID
    }

    public init(_ identity: Identity) {
        self.init(subject: identity.kind.rawValue + ":" + identity.subject, teamID: identity.teamID)
    }

    /// Whether `identity` may see and change what this owner created: the same identity, or a
    /// member of the same team.
    public func admits(_ identity: Identity) -> Bool {
        let caller = ResourceOwner(identity)
        if caller.subject == subject { return true }
        if let teamID, caller.teamID == teamID { return true }
        return false
    }
}

/// An uploaded (or gateway-written) file's metadata.
public struct StoredFile: Sendable, Equatable {
    public var id: String
    public var owner: ResourceOwner
    public var purpose: String
    public var filename: String
    public var bytes: Int
    public var createdAt: Double
    public var expiresAt: Double?

    public init(id: String, owner: ResourceOwner, purpose: String, filename: String, bytes: Int, createdAt: Double, expiresAt: Double? = nil) {
        self.id = id
        self.owner = owner
        self.purpose = purpose
        self.filename = filename
        self.bytes = bytes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// The purposes OpenAI accepts on upload (`batch_output` is the gateway's own).
    public static let uploadPurposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]

    /// OpenAI's file object.
    public var json: JSONValue {
        [
            "id": .string(id), "object": "file", "bytes": JSONValue(bytes), "created_at": JSONValue(Int(createdAt)),
            "expires_at": expiresAt.map { JSONValue(Int($0)) } ?? .null, "filename": .string(filename), "purpose": .string(purpose),
            "status": "processed", "status_details": .null,
        ]
    }

    /// A new file id in OpenAI's form (`file-` and 24 letters and digits).
    public static func generateID() -> String { "file-" + randomAlphanumerics(24) }
}

/// A batch's life cycle (OpenAI's statuses).
public enum BatchStatus: String, Sendable, CaseIterable {
    case validating
    case inProgress = "in_progress"
    case finalizing
    case completed
    case cancelling
    case cancelled
    case failed
    case expired

    /// Whether the batch still has work to do (the runner resumes these after a restart).
    public var isActive: Bool { [.validating, .inProgress, .finalizing, .cancelling].contains(self) }
}

/// One batch: a JSONL file of requests the gateway runs itself, at a bounded rate, as its owner.
public struct BatchJob: Sendable, Equatable {
    public var id: String
    public var owner: ResourceOwner
    /// The owner's identity as it was at creation (``Identity/snapshotJSON``): what the lines run
    /// as when the identity cannot be looked up again (a JWT's token is not kept).
    public var identity: String
    /// The API path every line targets (`/v1/chat/completions`, ...).
    public var endpoint: String
    public var inputFileID: String
    public var completionWindow: String
    public var status: BatchStatus
    public var outputFileID: String?
    public var errorFileID: String?
    public var createdAt: Double
    public var expiresAt: Double
    public var inProgressAt: Double?
    public var finalizingAt: Double?
    public var completedAt: Double?
    public var failedAt: Double?
    public var expiredAt: Double?
    public var cancellingAt: Double?
    public var cancelledAt: Double?
    public var total = 0
    public var completed = 0
    public var failed = 0
    public var metadata: [String: String] = [:]
    /// Why the batch failed as a whole (`errors.data` of OpenAI's object): code, message, line.
    public var errors: [BatchError] = []
    /// Set when the batch was handed to the provider's own batch API (never shown to clients).
    public var native: NativeBatchRecord?

    public struct BatchError: Sendable, Equatable {
        public var code: String
        public var message: String
        public var line: Int?

        public init(code: String, message: String, line: Int? = nil) {
            self.code = code
            self.message = message
            self.line = line
        }
    }

    public init(
        id: String, owner: ResourceOwner, identity: String, endpoint: String, inputFileID: String, completionWindow: String, createdAt: Double,
        expiresAt: Double
    ) {
        self.id = id
        self.owner = owner
        self.identity = identity
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.completionWindow = completionWindow
        self.status = .validating
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public static func generateID() -> String { "batch_" + randomAlphanumerics(24) }

    /// OpenAI's batch object.
    public var json: JSONValue {
        func time(_ value: Double?) -> JSONValue { value.map { JSONValue(Int($0)) } ?? .null }
        let errorList: JSONValue =
            errors.isEmpty
            ? .null
            : [
                "object": "list",
                "data": .array(
                    errors.map { error in
                        ["code": .string(error.code), "message": .string(error.message), "param": .null, "line": error.line.map { JSONValue($0) } ?? .null]
                    }),
            ]
        return [
            "id": .string(id), "object": "batch", "endpoint": .string(endpoint), "errors": errorList, "input_file_id": .string(inputFileID),
            "completion_window": .string(completionWindow), "status": .string(status.rawValue),
            "output_file_id": outputFileID.map(JSONValue.string) ?? .null, "error_file_id": errorFileID.map(JSONValue.string) ?? .null,
            "created_at": time(createdAt), "in_progress_at": time(inProgressAt), "expires_at": time(expiresAt), "finalizing_at": time(finalizingAt),
            "completed_at": time(completedAt), "failed_at": time(failedAt), "expired_at": time(expiredAt), "cancelling_at": time(cancellingAt),
            "cancelled_at": time(cancelledAt),
            "request_counts": ["total": JSONValue(total), "completed": JSONValue(completed), "failed": JSONValue(failed)],
            "metadata": metadata.isEmpty
                ? .null : .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })),
        ]
    }
}

/// What became of one line of a batch.
public enum BatchLineState: String, Sendable {
    /// Sent (or about to be): a line found in this state after a restart was in flight when the
    /// gateway stopped, and is not sent again.
    case started
    case succeeded
    case failed
}

/// Where files' metadata and batches live (the gateway's database).
public protocol BatchStore: Sendable {
    func insertFile(_ file: StoredFile) async throws
    func file(id: String) async throws -> StoredFile?
    /// The owner's files (and its team's), newest first, after the file `after` when given.
    func files(visibleTo identity: Identity, purpose: String?, after: String?, limit: Int, ascending: Bool) async throws -> [StoredFile]
    func deleteFile(id: String) async throws -> Bool

    func insertBatch(_ batch: BatchJob) async throws
    /// Replaces a batch's status, times, counts and result files (not its lines).
    func updateBatch(_ batch: BatchJob) async throws
    func batch(id: String) async throws -> BatchJob?
    func batches(visibleTo identity: Identity, after: String?, limit: Int) async throws -> [BatchJob]
    /// Batches with work left (validating, in progress, finalizing, cancelling), oldest first.
    func activeBatches() async throws -> [BatchJob]

    /// Records that a line is about to be sent.
    func startLine(batchID: String, line: Int, customID: String) async throws
    /// Lines recorded as started and never finished (in flight when the gateway stopped), with
    /// their `custom_id`.
    func unfinishedLines(batchID: String) async throws -> [(line: Int, customID: String)]
    /// Records a line's result (a line of the output or error file) and counts it in the batch, in
    /// one transaction.
    func finishLine(batchID: String, line: Int, succeeded: Bool, result: [UInt8]) async throws
    /// The state of every line recorded so far.
    func lineStates(batchID: String) async throws -> [Int: BatchLineState]
    /// Up to `limit` results of finished lines after line `afterLine`, in line order: `succeeded`
    /// true for the output file, false for the error file.
    func lineResults(batchID: String, succeeded: Bool, afterLine: Int, limit: Int) async throws -> [(line: Int, result: [UInt8])]
    /// Registers the result files, stores the batch's final state and drops its line records, in
    /// one transaction.
    func finish(_ batch: BatchJob, files: [StoredFile]) async throws
}

extension ModelPrice {
    /// This price times `factor` (a batch discount of 50% is `0.5`).
    public func scaled(by factor: Double) -> ModelPrice {
        guard factor != 1 else { return self }
        return ModelPrice(
            input: input * factor, output: output * factor, cachedInput: cachedInput.map { $0 * factor }, cacheWrite: cacheWrite.map { $0 * factor },
            reasoning: reasoning.map { $0 * factor })
    }
}

extension Identity {
    /// What a batch needs to run its lines as this identity later (no secret: ids, roles,
    /// restrictions and budget).
    public var snapshotJSON: String {
        var object: JSONObject = ["kind": .string(kind.rawValue), "subject": .string(subject)]
        if let organizationID { object["organization_id"] = .string(organizationID) }
        if let teamID { object["team_id"] = .string(teamID) }
        if let userID { object["user_id"] = .string(userID) }
        if !roles.isEmpty { object["roles"] = .array(roles.sorted().map(JSONValue.string)) }
        if !attributes.isEmpty {
            object["attributes"] = .object(JSONObject(attributes.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) }))
        }
        if let allowedRegions { object["regions"] = .array(allowedRegions.map(JSONValue.string)) }
        if let allowedModels { object["models"] = .array(allowedModels.map(JSONValue.string)) }
        if let allowedEndpoints { object["endpoints"] = .array(allowedEndpoints.map(JSONValue.string)) }
        if let budget { object["budget"] = ["amount": JSONValue(budget.amount), "period": .string(budget.period.rawValue)] }
        return JSONValue.object(object).serialized()
    }

    /// The identity of a ``snapshotJSON``; nil when it is not one.
    public init?(snapshotJSON text: String) {
        guard let object = (try? JSONValue.parse(text))?.objectValue, let kind = object["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
            let subject = object["subject"]?.stringValue
        else { return nil }
        func strings(_ key: String) -> [String]? { object[key]?.arrayValue?.compactMap(\.stringValue) }
        self.init(
            kind: kind, subject: subject, organizationID: object["organization_id"]?.stringValue, teamID: object["team_id"]?.stringValue,
            userID: object["user_id"]?.stringValue, roles: Set(strings("roles") ?? []),
            attributes: Dictionary(uniqueKeysWithValues: (object["attributes"]?.objectValue?.members ?? []).compactMap { member in
                member.value.stringValue.map { (member.key, $0) }
            }))
        allowedRegions = strings("regions")
        allowedModels = strings("models")
        allowedEndpoints = strings("endpoints")
        if let amount = object["budget"]?["amount"]?.doubleValue {
            budget = BudgetLimit(amount: amount, period: object["budget"]?["period"]?.stringValue.flatMap(BudgetPeriod.init(rawValue:)) ?? .monthly)
        }
    }
}

/// `count` random letters and digits (ids of files, batches and batch request results).
public func randomAlphanumerics(_ count: Int) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    var generator = SystemRandomNumberGenerator()
    return String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
}
