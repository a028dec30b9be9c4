import SwitchyardCore
import Synchronization

/// Tracks, from real traffic, whether each provider has been answering.
public final class ProviderHealth: RequestObserver, Sendable {
    public struct Status: Sendable {
        public var lastSuccess: ContinuousClock.Instant?
        public var lastFailure: ContinuousClock.Instant?
        public var lastError: String?
        public var consecutiveFailures = 0
    }

    private let statuses = Mutex<[String: Status]>([:])

    public init() {}

    public func requestFinished(_ record: RequestRecord) {
        guard let provider = record.provider else { return }
        statuses.withLock { statuses in
            var status = statuses[provider] ?? Status()
            if let upstreamError = record.upstreamError, !upstreamError.hasPrefix("client_") {
                status.lastFailure = .now
                status.lastError = upstreamError
                status.consecutiveFailures += 1
            } else if record.outcome == .success {
                status.lastSuccess = .now
                status.consecutiveFailures = 0
            }
            statuses[provider] = status
        }
    }

    public func status(of provider: String) -> Status? {
        statuses.withLock { $0[provider] }
    }
}
